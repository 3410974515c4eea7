import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Color } from 'sharp';
import { ItemError } from '../errors.js';
import { toHalf } from './float16.js';
import { RECIPES, decodeForRecipe, pixelTable, recipeGeometry, writePixels } from './recipes.js';

const { biomedica, dinov2 } = RECIPES;
const RED = { r: 255, g: 0, b: 0 };
const GREEN = { r: 0, g: 255, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

const solid = (width: number, height: number, background: Color, channels: 3 | 4 = 3) => sharp({ create: { width, height, channels, background } });

/** Vertical bands of colour, left to right, as PNG. */
async function bands(height: number, parts: [number, Color][]): Promise<Buffer> {
  const width = parts.reduce((s, [w]) => s + w, 0);
  const lefts = parts.map((_, i) => parts.slice(0, i).reduce((s, [w]) => s + w, 0));
  const composite = await Promise.all(parts.map(async ([w, colour], i) => ({ input: await solid(w, height, colour).png().toBuffer(), left: lefts[i]!, top: 0 })));
  return solid(width, height, { r: 0, g: 0, b: 0 }).composite(composite).png().toBuffer();
}

function pixel(rgb: Buffer, x: number, y: number, size = 224): number[] {
  const i = (y * size + x) * 3;
  return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
}

function allPixels(rgb: Buffer, expected: number[], tolerance = 0): void {
  for (let i = 0; i < rgb.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      if (Math.abs(rgb[i + c]! - expected[c]!) > tolerance) assert.fail(`pixel ${i / 3}: ${[rgb[i], rgb[i + 1], rgb[i + 2]]} ≠ ${expected}`);
    }
  }
}

describe('recipeGeometry: torchvision Resize(256) and CenterCrop(224)', () => {
  test('shortest edge to 256, long edge int(256·long/short), crop offsets round half to even', () => {
    assert.deepEqual(recipeGeometry(dinov2, 640, 480), { width: 341, height: 256, left: 58, top: 16 }); // (341-224)/2 = 58.5 → 58
    assert.deepEqual(recipeGeometry(dinov2, 480, 640), { width: 256, height: 341, left: 16, top: 58 });
    assert.deepEqual(recipeGeometry(dinov2, 300, 300), { width: 256, height: 256, left: 16, top: 16 });
    assert.deepEqual(recipeGeometry(dinov2, 257, 256), { width: 257, height: 256, left: 16, top: 16 }); // 16.5 → 16
    assert.deepEqual(recipeGeometry(dinov2, 227, 1000), { width: 256, height: 1127, left: 16, top: 452 }); // 451.5 → 452
    assert.deepEqual(recipeGeometry(dinov2, 100, 50), { width: 512, height: 256, left: 144, top: 16 });
  });

  test('biomedica ignores the aspect ratio', () => {
    assert.deepEqual(recipeGeometry(biomedica, 3000, 17), { width: 224, height: 224, left: 0, top: 0 });
  });
});

describe('pixelTable and writePixels', () => {
  test('biomedica: v/255, no normalisation; dinov2: ImageNet mean and std', () => {
    const b = pixelTable(biomedica, 'float32');
    assert.equal(b[0], 0);
    assert.equal(b[255], 1);
    assert.equal(b[512 + 51], Math.fround(0.2));
    const d = pixelTable(dinov2, 'float32');
    for (const [c, v] of [[0, 0], [1, 128], [2, 255]] as const) {
      const expected = (v / 255 - dinov2.mean[c]) / dinov2.std[c];
      assert.ok(Math.abs(d[c * 256 + v]! - expected) < 1e-6, `channel ${c} value ${v}`);
    }
    const h = pixelTable(dinov2, 'float16');
    assert.ok(h instanceof Uint16Array);
    assert.equal(h[256 + 128], toHalf(d[256 + 128]!));
  });

  test('interleaved RGB becomes planar CHW at the offset', () => {
    const rgb = Uint8Array.from([0, 51, 102, 153, 204, 255, 10, 20, 30, 40, 50, 60]); // 2×2 pixels
    const out = new Float32Array(2 + 12).fill(-1);
    writePixels(rgb, pixelTable(biomedica, 'float32'), out, 2);
    const expected = [0, 153, 10, 40, 51, 204, 20, 50, 102, 255, 30, 60].map((v) => Math.fround(v / 255));
    assert.deepEqual(Array.from(out), [-1, -1, ...expected]);
  });
});

describe('decodeForRecipe', () => {
  test('stretching keeps both halves of a wide image where they were', async () => {
    const rgb = await decodeForRecipe(await bands(100, [[224, RED], [224, BLUE]]), biomedica);
    assert.equal(rgb.length, 224 * 224 * 3);
    assert.deepEqual(pixel(rgb, 50, 10), [255, 0, 0]);
    assert.deepEqual(pixel(rgb, 50, 213), [255, 0, 0]);
    assert.deepEqual(pixel(rgb, 173, 100), [0, 0, 255]);
  });

  test('dinov2 crops the centre: the outer bands of a 2:1 image are cut away', async () => {
    // 512×256: shortest edge already 256, so only the crop at left 144 applies; green spans 128–384.
    const rgb = await decodeForRecipe(await bands(256, [[128, RED], [256, GREEN], [128, BLUE]]), dinov2);
    allPixels(rgb, [0, 255, 0]);
  });

  test('enlarging keeps a flat image flat to its edges (no border from outside the image)', async () => {
    for (const recipe of [biomedica, dinov2]) {
      for (const [w, h] of [[10, 10], [300, 17], [17, 300]] as const) {
        allPixels(await decodeForRecipe(await solid(w, h, { r: 200, g: 100, b: 50 }).png().toBuffer(), recipe), [200, 100, 50], 1);
      }
    }
  });

  test('transparency on white, greyscale and 16-bit as 8-bit sRGB', async () => {
    allPixels(await decodeForRecipe(await solid(50, 50, { r: 255, g: 0, b: 0, alpha: 0 }, 4).png().toBuffer(), biomedica), [255, 255, 255]);
    const grey = await solid(300, 300, { r: 90, g: 90, b: 90 }).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(grey).metadata()).channels, 1);
    allPixels(await decodeForRecipe(grey, dinov2), [90, 90, 90], 1);
    const deep = await solid(300, 300, { r: 128, g: 64, b: 32 }).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(deep).metadata()).depth, 'ushort');
    allPixels(await decodeForRecipe(deep, biomedica), [128, 64, 32], 1);
  });

  test('EXIF orientation is applied, as the image is displayed', async () => {
    // Stored 448×100 red|blue, tagged "rotate 90° clockwise": displayed 100×448, red on top.
    const stored = await sharp(await bands(100, [[224, RED], [224, BLUE]])).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const rgb = await decodeForRecipe(stored, biomedica);
    assert.ok(pixel(rgb, 112, 20)[0]! > 200 && pixel(rgb, 112, 20)[2]! < 60, `top is red: ${pixel(rgb, 112, 20)}`);
    assert.ok(pixel(rgb, 112, 200)[2]! > 200 && pixel(rgb, 112, 200)[0]! < 60, `bottom is blue: ${pixel(rgb, 112, 200)}`);
  });

  test('broken inputs are item errors with stable codes', async () => {
    const jpeg = await solid(400, 300, RED).jpeg().toBuffer();
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'IMAGE_EMPTY'],
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'IMAGE_UNSUPPORTED'],
      [jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'IMAGE_CORRUPT'],
    ];
    for (const [input, code] of cases) {
      await assert.rejects(decodeForRecipe(input, biomedica), (e: unknown) => e instanceof ItemError && e.code === code, code);
    }
    await assert.rejects(decodeForRecipe(jpeg, biomedica, { maxInputBytes: 1e6, maxPixels: 1000 }), (e: unknown) => e instanceof ItemError && e.code === 'IMAGE_TOO_LARGE');
  });
});
