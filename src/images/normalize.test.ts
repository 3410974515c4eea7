import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDeflate, crc32 } from 'node:zlib';
import sharp, { type Color, type Metadata, type Sharp } from 'sharp';
import { ItemError } from '../errors.js';
import { isSrgbProfile } from './jpeg.js';
import { DEFAULT_IMAGE_OPTIONS, normalizeImage, sniffFormat } from './normalize.js';
import type { ImageOptions } from './types.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const imagesDir = resolve(repoRoot, '../shared/corpus/images');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
const corpusImages = walk(imagesDir)
  .filter((p) => /\.(jpe?g|png|gif|tiff?)$/i.test(p))
  .sort();
const real = (rel: string): Buffer => readFileSync(join(imagesDir, rel));

const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

function solid(width: number, height: number, background: Color, channels: 3 | 4 = 3): Sharp {
  return sharp({ create: { width, height, channels, background } });
}

/** Two equal pages stacked vertically, as sharp's raw input takes multi-page images. */
async function twoPages(first: Color, second: Color, width = 40, height = 30): Promise<Sharp> {
  const pages = Buffer.concat([
    await solid(width, height, first).raw().toBuffer(),
    await solid(width, height, second).raw().toBuffer(),
  ]);
  return sharp(pages, { raw: { width, height: height * 2, channels: 3, pageHeight: height } });
}

async function pixelAt(jpeg: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i] ?? -1, data[i + 1] ?? -1, data[i + 2] ?? -1];
}

function assertNear(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  for (const [i, value] of expected.entries()) {
    assert.ok(Math.abs((actual[i] ?? NaN) - value) <= tolerance, `${what}: got ${actual.join(',')}, want ${expected.join(',')}`);
  }
}

/** The frame markers of a JPEG, read up to the first scan: SOF0 is baseline, SOF2 progressive. */
function jpegFrameMarkers(jpeg: Buffer): number[] {
  const markers: number[] = [];
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1] ?? 0;
    if (marker === 0xda) break;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) markers.push(marker);
    at += 2 + jpeg.readUInt16BE(at + 2);
  }
  return markers;
}

/**
 * Checks every promise of the stored format that does not depend on the input. A passed-through
 * file may keep an sRGB profile; a re-encoded one has none. A passed-through file must also
 * decode without a warning, as verify demands (for the corpus, conformsByLibvips decodes it).
 */
async function assertStoredFormat(bytes: Buffer, what: string, passThrough = false): Promise<Metadata> {
  const m = await sharp(bytes).metadata();
  assert.equal(m.format, 'jpeg', what);
  assert.equal(m.space, 'srgb', what);
  assert.equal(m.channels, 3, what);
  assert.equal(m.hasAlpha, false, what);
  assert.equal(m.isProgressive, false, what);
  assert.equal(m.depth, 'uchar', what);
  assert.deepEqual(jpegFrameMarkers(bytes), [0xc0], `${what}: baseline SOF0`);
  assert.equal(m.exif, undefined, `${what}: no EXIF`);
  if (passThrough && m.icc) assert.ok(isSrgbProfile(m.icc), `${what}: an sRGB profile`);
  else assert.equal(m.icc, undefined, `${what}: no ICC`);
  assert.equal(m.xmp, undefined, `${what}: no XMP`);
  assert.equal(m.iptc, undefined, `${what}: no IPTC`);
  return m;
}

/**
 * The pass-through rule restated from libvips' own reading of the file, as an oracle for the
 * JavaScript header reader that normalizeImage uses.
 */
async function conformsByLibvips(input: Buffer): Promise<boolean> {
  const m = await sharp(input).metadata();
  if (m.format !== 'jpeg' || m.isProgressive || m.channels !== 3 || m.space !== 'srgb' || m.depth !== 'uchar') return false;
  if (m.exif || m.xmp || m.iptc || (m.icc && !isSrgbProfile(m.icc))) return false;
  if (Math.max(m.width, m.height) > DEFAULT_IMAGE_OPTIONS.maxSide) return false;
  try {
    await sharp(input, { failOn: 'warning' }).raw().toBuffer();
    return true;
  } catch {
    return false;
  }
}

async function rejects(input: Buffer, code: string, options: ImageOptions = DEFAULT_IMAGE_OPTIONS): Promise<void> {
  await assert.rejects(normalizeImage(input, options), (error: unknown) => {
    assert.ok(error instanceof ItemError, `an ItemError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A decompression bomb: a valid 1-bit grey PNG of zeros, width × height pixels, about 110 KB for
 * 30000×30000. The rows are streamed through zlib from one reused 1 MiB buffer, so the test itself
 * never holds the image (900 MB once decoded to 8 bits).
 */
async function bombPng(width: number, height: number): Promise<Buffer> {
  const rowBytes = 1 + Math.ceil(width / 8);
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((done) => deflate.on('end', done));
  const zeros = Buffer.alloc(1 << 20);
  for (let left = rowBytes * height; left > 0; left -= zeros.length) {
    if (!deflate.write(zeros.subarray(0, Math.min(left, zeros.length)))) await new Promise((d) => deflate.once('drain', d));
  }
  deflate.end();
  await ended;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, grey, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.concat(out)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * An uncompressed 16-bit RGB TIFF, written by hand: sharp's TIFF writer only emits 8-bit (or less).
 */
function tiff16(width: number, height: number, rgb: [number, number, number]): Buffer {
  const entries: Array<[tag: number, type: number, count: number, value: number]> = [];
  const pixelBytes = width * height * 6;
  const ifdAt = 8;
  const entryCount = 10;
  const bitsAt = ifdAt + 2 + entryCount * 12 + 4;
  const dataAt = bitsAt + 6;
  const SHORT = 3;
  const LONG = 4;
  entries.push(
    [256, SHORT, 1, width],
    [257, SHORT, 1, height],
    [258, SHORT, 3, bitsAt],
    [259, SHORT, 1, 1], // no compression
    [262, SHORT, 1, 2], // RGB
    [273, LONG, 1, dataAt],
    [277, SHORT, 1, 3],
    [278, SHORT, 1, height],
    [279, LONG, 1, pixelBytes],
    [284, SHORT, 1, 1], // chunky
  );
  const out = Buffer.alloc(dataAt + pixelBytes);
  out.write('II*\0', 0, 'latin1');
  out.writeUInt32LE(ifdAt, 4);
  out.writeUInt16LE(entryCount, ifdAt);
  entries.forEach(([tag, type, count, value], i) => {
    const at = ifdAt + 2 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    if (type === SHORT && count === 1) out.writeUInt16LE(value, at + 8);
    else out.writeUInt32LE(value, at + 8);
  });
  out.writeUInt32LE(0, ifdAt + 2 + entryCount * 12);
  for (let i = 0; i < 3; i++) out.writeUInt16LE(16, bitsAt + i * 2);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) out.writeUInt16LE(rgb[c] ?? 0, dataAt + p * 6 + c * 2);
  }
  return out;
}

describe('normalizeImage on the real corpus', () => {
  test('the corpus has images of every kind this suite relies on', () => {
    assert.ok(corpusImages.length >= 200, `found ${corpusImages.length}`);
    for (const ext of ['.jpg', '.png', '.gif', '.tif']) {
      assert.ok(corpusImages.some((p) => p.endsWith(ext)), ext);
    }
  });

  test('every real jpg, png, gif and tif becomes a bounded baseline sRGB JPEG; conforming JPEGs byte for byte', async () => {
    const passed: string[] = [];
    const jpegs = corpusImages.filter((p) => /\.jpe?g$/i.test(p));
    for (const path of corpusImages) {
      const what = relative(imagesDir, path);
      const input = readFileSync(path);
      const before = await sharp(input).metadata();
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      assert.equal(out.passThrough, await conformsByLibvips(input), `${what}: pass-through agrees with libvips' reading`);
      if (out.passThrough) {
        passed.push(what);
        assert.ok(out.bytes.equals(input), `${what}: stored byte for byte`);
      }
      const m = await assertStoredFormat(out.bytes, what, out.passThrough);
      assert.equal(m.width, out.width, what);
      assert.equal(m.height, out.height, what);
      assert.equal(out.originalFormat, before.format, what);
      assert.equal(out.originalWidth, before.autoOrient.width, what);
      assert.equal(out.originalHeight, before.autoOrient.height, what);
      assert.equal(out.originalBytes, input.length, what);
      assert.equal(out.sha256, createHash('sha256').update(out.bytes).digest('hex'), what);
      const longest = Math.max(before.width, before.height);
      if (longest <= DEFAULT_IMAGE_OPTIONS.maxSide) {
        assert.deepEqual([out.width, out.height], [before.width, before.height], `${what}: never enlarged or cropped`);
      } else {
        assert.equal(Math.max(out.width, out.height), DEFAULT_IMAGE_OPTIONS.maxSide, what);
        const ratio = (before.width / before.height) / (out.width / out.height);
        assert.ok(Math.abs(ratio - 1) < 0.01, `${what}: aspect kept`);
      }
    }
    // 68 of the 101 real JPEGs: the others are progressive, greyscale, larger than 2048 px, carry EXIF or
    // decode with a warning.
    assert.ok(passed.length >= jpegs.length / 2, `${passed.length} of ${jpegs.length} JPEGs passed through`);
    assert.ok(passed.every((p) => /\.jpe?g$/i.test(p)));
  });

  test('a real translucent TIFF (eLife) is flattened on white', async () => {
    const input = real('elife_bot/elife-19405/elife-19405-inf1.tif');
    const src = await sharp(input).raw().toBuffer({ resolveWithObject: true });
    assert.equal(src.info.channels, 4, 'the fixture has alpha');
    const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
    assert.deepEqual([out.width, out.height], [src.info.width, src.info.height]);
    const stored = await sharp(out.bytes).raw().toBuffer();
    // Over the translucent pixels, the stored colour must match the colour blended on white, and
    // not the colour with its alpha dropped.
    let onWhite = 0;
    let alphaDropped = 0;
    let count = 0;
    for (let p = 0; p < src.info.width * src.info.height; p++) {
      const a = (src.data[p * 4 + 3] ?? 255) / 255;
      if (a === 1) continue;
      count++;
      for (let c = 0; c < 3; c++) {
        const colour = src.data[p * 4 + c] ?? 0;
        const got = stored[p * 3 + c] ?? 0;
        onWhite += Math.abs(got - (colour * a + 255 * (1 - a)));
        alphaDropped += Math.abs(got - colour);
      }
    }
    assert.ok(count > 1000, `${count} translucent pixels`);
    const meanOnWhite = onWhite / (count * 3);
    const meanDropped = alphaDropped / (count * 3);
    assert.ok(meanOnWhite < 4 && meanOnWhite * 3 < meanDropped, `on white ${meanOnWhite}, alpha dropped ${meanDropped}`);
  });

  test('a real grey JPEG and a real GIF with transparency come out as 3-channel sRGB', async () => {
    for (const rel of ['open_pmc/brain_MRI.jpg', 'pubmed_client_pkgs/PMC1064083/bcr936-1.gif']) {
      const out = await normalizeImage(real(rel), DEFAULT_IMAGE_OPTIONS);
      await assertStoredFormat(out.bytes, rel);
    }
  });

  test('the same input gives byte-identical output, also when decoded concurrently', async () => {
    const rels = [
      'open_pmc/chest_X-ray.jpg',
      'encoda/plosone-0091296/g002.png',
      'pubmed_client_pkgs/PMC1064083/bcr936-1.gif',
      'elife_bot/elife-00353/elife-00353-fig1-v1.tif',
    ];
    const big = corpusImages.find((p) => p.endsWith('.jpg') && readFileSync(p).length > 500_000);
    assert.ok(big, 'a large real JPEG, so that resizing is part of the check');
    const inputs = [...rels.map(real), readFileSync(big)];
    const first = await Promise.all(inputs.map((b) => normalizeImage(b, DEFAULT_IMAGE_OPTIONS)));
    const second = await Promise.all([...inputs].reverse().map((b) => normalizeImage(b, DEFAULT_IMAGE_OPTIONS)));
    second.reverse();
    for (const [i, a] of first.entries()) {
      assert.ok(a.bytes.equals(second[i]?.bytes ?? Buffer.alloc(0)), `input ${i} differs`);
      assert.equal(a.sha256, second[i]?.sha256);
    }
  });
});

describe('normalizeImage on generated images', () => {
  test('CMYK JPEG and CMYK TIFF become sRGB', async () => {
    for (const [name, make] of [
      ['jpeg', (s: Sharp) => s.jpeg()],
      ['tiff', (s: Sharp) => s.tiff()],
    ] as const) {
      const input = await make(solid(40, 30, RED).toColourspace('cmyk')).toBuffer();
      assert.equal((await sharp(input).metadata()).space, 'cmyk', name);
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      await assertStoredFormat(out.bytes, name);
      const [r, g, b] = await pixelAt(out.bytes, 20, 15);
      assert.ok(r > 200 && g < 60 && b < 60, `${name}: still red, got ${r},${g},${b}`);
    }
  });

  test('16-bit PNG and 16-bit TIFF are reduced to 8 bits without losing the colour', async () => {
    const png = await solid(40, 30, { r: 255, g: 128, b: 0 }).toColourspace('rgb16').png().toBuffer();
    const tif = tiff16(40, 30, [65535, 32896, 0]);
    for (const [name, input] of [['png', png], ['tiff', tif]] as const) {
      assert.equal((await sharp(input).metadata()).depth, 'ushort', `${name} fixture is 16-bit`);
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      await assertStoredFormat(out.bytes, name);
      assert.deepEqual([out.width, out.height], [40, 30]);
      assertNear(await pixelAt(out.bytes, 20, 15), [255, 128, 0], 6, name);
    }
  });

  test('multi-page TIFF and animated GIF keep only the first page or frame', async () => {
    const tif = await (await twoPages(RED, BLUE)).tiff().toBuffer();
    const gif = await (await twoPages(RED, BLUE)).gif().toBuffer();
    for (const [name, input] of [['tiff', tif], ['gif', gif]] as const) {
      assert.equal((await sharp(input).metadata()).pages, 2, `${name} fixture has two pages`);
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      assert.deepEqual([out.width, out.height, out.originalWidth, out.originalHeight], [40, 30, 40, 30], name);
      for (const [x, y] of [[1, 1], [20, 15], [38, 28]] as const) {
        assertNear(await pixelAt(out.bytes, x, y), [255, 0, 0], 40, `${name} (${x},${y})`);
      }
    }
  });

  test('transparent, palette and grey PNG and a transparent WebP are flattened on white', async () => {
    const cases: Array<[string, Buffer, number[]]> = [
      ['clear png', await solid(30, 30, { r: 0, g: 0, b: 0, alpha: 0 }, 4).png().toBuffer(), [255, 255, 255]],
      ['half-alpha palette png', await solid(30, 30, { r: 0, g: 0, b: 255, alpha: 0.5 }, 4).png({ palette: true }).toBuffer(), [128, 128, 255]],
      ['grey png', await solid(30, 30, { r: 90, g: 90, b: 90 }).toColourspace('b-w').png().toBuffer(), [90, 90, 90]],
      ['clear webp', await solid(30, 30, { r: 255, g: 0, b: 0, alpha: 0 }, 4).webp({ lossless: true }).toBuffer(), [255, 255, 255]],
    ];
    for (const [name, input, expected] of cases) {
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      await assertStoredFormat(out.bytes, name);
      assertNear(await pixelAt(out.bytes, 15, 15), expected, 8, name);
    }
    const palette = await sharp(cases[1]?.[1] ?? Buffer.alloc(0)).metadata();
    assert.equal(palette.isPalette, true, 'the palette fixture is a palette PNG');
  });

  test('EXIF orientation is applied and then dropped', async () => {
    // Stored 40×20, left half red, right half blue; orientation 6 shows it turned 90° clockwise,
    // so the red half ends on top.
    const halves = await sharp({ create: { width: 40, height: 20, channels: 3, background: BLUE } })
      .composite([{ input: await solid(20, 20, RED).png().toBuffer(), left: 0, top: 0 }])
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    assert.equal((await sharp(halves).metadata()).orientation, 6);
    const out = await normalizeImage(halves, DEFAULT_IMAGE_OPTIONS);
    assert.deepEqual([out.width, out.height, out.originalWidth, out.originalHeight], [20, 40, 20, 40]);
    await assertStoredFormat(out.bytes, 'rotated');
    assert.equal((await sharp(out.bytes).metadata()).orientation, undefined);
    assertNear(await pixelAt(out.bytes, 10, 5), [255, 0, 0], 40, 'top');
    assertNear(await pixelAt(out.bytes, 10, 35), [0, 0, 255], 40, 'bottom');
  });

  test('EXIF, ICC and XMP of the input are stripped', async () => {
    const input = await solid(30, 30, RED).jpeg().withMetadata({ exif: { IFD0: { Copyright: 'someone' } } }).withIccProfile('p3').toBuffer();
    const before = await sharp(input).metadata();
    assert.ok(before.exif && before.icc, 'fixture carries EXIF and ICC');
    await assertStoredFormat((await normalizeImage(input, DEFAULT_IMAGE_OPTIONS)).bytes, 'stripped');
  });

  test('the longest side shrinks to maxSide, keeping the aspect; small images are never enlarged', async () => {
    const wide = await solid(3000, 1500, RED).png().toBuffer();
    const out = await normalizeImage(wide, DEFAULT_IMAGE_OPTIONS);
    assert.deepEqual([out.width, out.height, out.originalWidth, out.originalHeight], [2048, 1024, 3000, 1500]);
    const tall = await normalizeImage(await solid(100, 400, RED).png().toBuffer(), { ...DEFAULT_IMAGE_OPTIONS, maxSide: 200 });
    assert.deepEqual([tall.width, tall.height], [50, 200]);
    const small = await normalizeImage(await solid(100, 50, RED).png().toBuffer(), DEFAULT_IMAGE_OPTIONS);
    assert.deepEqual([small.width, small.height], [100, 50]);
  });

  test('quality is configurable', async () => {
    const input = real('open_pmc/chest_X-ray.jpg');
    const low = await normalizeImage(input, { ...DEFAULT_IMAGE_OPTIONS, quality: 40 });
    const high = await normalizeImage(input, { ...DEFAULT_IMAGE_OPTIONS, quality: 95 });
    assert.ok(low.bytes.length < high.bytes.length * 0.7, `${low.bytes.length} vs ${high.bytes.length}`);
  });
});

describe('the pass-through path', () => {
  const conforming = () => solid(120, 80, RED).jpeg({ quality: 75 }).toBuffer();

  test('a conforming JPEG is stored byte for byte, with or without an sRGB profile', async () => {
    for (const [name, input] of [
      ['plain', await conforming()],
      ['sRGB profile', await solid(120, 80, BLUE).jpeg({ quality: 75 }).withIccProfile('srgb').toBuffer()],
      ['4:4:4, quality 100', await solid(120, 80, BLUE).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer()],
    ] as const) {
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      assert.equal(out.passThrough, true, name);
      assert.ok(out.bytes.equals(input), name);
      assert.deepEqual([out.width, out.height, out.originalWidth, out.originalHeight, out.originalBytes], [120, 80, 120, 80, input.length], name);
      assert.equal(out.sha256, createHash('sha256').update(input).digest('hex'), name);
      await assertStoredFormat(out.bytes, name, true);
      await sharp(out.bytes, { failOn: 'warning' }).raw().toBuffer();
    }
  });

  test('passThrough: false re-encodes even a conforming JPEG', async () => {
    const input = await conforming();
    const out = await normalizeImage(input, { ...DEFAULT_IMAGE_OPTIONS, passThrough: false });
    assert.equal(out.passThrough, false);
    assert.ok(!out.bytes.equals(input));
    await assertStoredFormat(out.bytes, 'forced');
  });

  test('progressive, CMYK, grey, EXIF (rotated or not), wide-gamut, oversize and 16-bit inputs are normalised', async () => {
    const exifOnly = await solid(60, 40, RED).jpeg().withMetadata({ exif: { IFD0: { Copyright: 'someone' } } }).toBuffer();
    const rotated = await solid(60, 40, RED).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const cases: [string, Buffer, [number, number]][] = [
      ['progressive', await solid(60, 40, RED).jpeg({ progressive: true }).toBuffer(), [60, 40]],
      ['cmyk', await solid(60, 40, RED).toColourspace('cmyk').jpeg().toBuffer(), [60, 40]],
      ['grey', await solid(60, 40, RED).toColourspace('b-w').jpeg().toBuffer(), [60, 40]],
      ['exif without orientation', exifOnly, [60, 40]],
      ['exif rotated', rotated, [40, 60]],
      ['display-p3 profile', await solid(60, 40, RED).jpeg().withIccProfile('p3').toBuffer(), [60, 40]],
      ['oversize', await solid(3000, 1000, RED).jpeg().toBuffer(), [2048, 683]],
      ['16-bit png', await solid(60, 40, RED).toColourspace('rgb16').png().toBuffer(), [60, 40]],
    ];
    for (const [name, input, size] of cases) {
      const out = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
      assert.equal(out.passThrough, false, name);
      assert.deepEqual([out.width, out.height], size, name);
      await assertStoredFormat(out.bytes, name);
    }
  });

  test('a JPEG whose scan is cut short is not stored as it is, even with its end marker in place', async () => {
    const whole = real('encoda/elife-30274-v1/fig2-figsupp1.jpg');
    assert.equal((await normalizeImage(whole, DEFAULT_IMAGE_OPTIONS)).passThrough, true, 'the uncut file passes through');
    const cut = Buffer.concat([whole.subarray(0, whole.length >> 1), Buffer.from([0xff, 0xd9])]);
    // The header reader sees a complete file; only the decode check can tell.
    await normalizeImage(cut, DEFAULT_IMAGE_OPTIONS).then(
      (out) => assert.equal(out.passThrough, false),
      (error: unknown) => assert.ok(error instanceof ItemError && error.code === 'IMAGE_CORRUPT', String(error)),
    );
    await rejects(whole.subarray(0, whole.length >> 1), 'IMAGE_CORRUPT');
  });
});

describe('normalizeImage on hostile input', () => {
  test('a zero-byte file is IMAGE_EMPTY', async () => {
    await rejects(Buffer.alloc(0), 'IMAGE_EMPTY');
  });

  test('a file over maxInputBytes is IMAGE_TOO_LARGE before any decoding', async () => {
    const input = real('open_pmc/chest_X-ray.jpg');
    await rejects(input, 'IMAGE_TOO_LARGE', { ...DEFAULT_IMAGE_OPTIONS, maxInputBytes: input.length - 1 });
    await normalizeImage(input, { ...DEFAULT_IMAGE_OPTIONS, maxInputBytes: input.length });
  });

  test('decompression-bomb PNGs fail fast with IMAGE_TOO_LARGE and allocate no pixels', async () => {
    // 30000² is over sharp's own limit too; 15000² (225 M) is under sharp's default (268 M), so only
    // our maxPixels check stands between it and a 225 MB allocation.
    for (const side of [30000, 15000]) {
      const bomb = await bombPng(side, side);
      assert.ok(bomb.length < 200_000, `bomb is ${bomb.length} bytes`);
      const header = await sharp(bomb, { limitInputPixels: false }).metadata();
      assert.deepEqual([header.width, header.height], [side, side], 'the bomb is a readable PNG');
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      await rejects(bomb, 'IMAGE_TOO_LARGE');
      const ms = performance.now() - started;
      assert.ok(ms < 500, `${side}²: took ${ms.toFixed(0)} ms`);
      const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
      assert.ok(grownMb < 100, `${side}²: rss grew ${grownMb.toFixed(0)} MB`);
    }
  });

  test('maxPixels is ours to set, not sharp default', async () => {
    const input = await solid(1100, 1000, RED).png().toBuffer();
    await rejects(input, 'IMAGE_TOO_LARGE', { ...DEFAULT_IMAGE_OPTIONS, maxPixels: 1_000_000 });
    await normalizeImage(input, { ...DEFAULT_IMAGE_OPTIONS, maxPixels: 1_100_000 });
  });

  test('PDF, HTML, SVG, BMP and text named .jpg are IMAGE_UNSUPPORTED', async () => {
    const pdf = Buffer.from(
      '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
        '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
    );
    const html = Buffer.from('<!DOCTYPE html>\n<html><head><title>Figure 1</title></head><body><img src="gr1.jpg"></body></html>\n');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>');
    const bmpHeader = Buffer.alloc(54);
    bmpHeader.write('BM', 0, 'latin1');
    const text = Buffer.from('The requested figure could not be found.\n');
    for (const input of [pdf, html, svg, bmpHeader, text]) await rejects(input, 'IMAGE_UNSUPPORTED');
  });

  test('truncated JPEG, PNG, TIFF and GIF are IMAGE_CORRUPT, not grey pixels', async () => {
    for (const rel of [
      'open_pmc/chest_X-ray.jpg',
      'encoda/plosone-0091296/g002.png',
      'elife_bot/elife-00353/elife-00353-fig1-v1.tif',
      'norma_contentmine/trials_16_1_1_1745-6215-16-1-1.gif',
    ]) {
      const whole = real(rel);
      const half = whole.subarray(0, whole.length >> 1);
      // sharp reads the header of the truncated file without complaint: only a full strict decode
      // notices.
      if (!rel.endsWith('.gif')) assert.ok((await sharp(half).metadata()).width > 0, `${rel}: header still reads`);
      await rejects(half, 'IMAGE_CORRUPT');
    }
  });

  test('a JPEG signature followed by garbage is IMAGE_CORRUPT', async () => {
    await rejects(Buffer.from('\xff\xd8\xff\xe0 this is not a JPEG at all', 'latin1'), 'IMAGE_CORRUPT');
    await rejects(Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), 'IMAGE_CORRUPT');
  });
});

describe('sniffFormat', () => {
  test('names the format from the first bytes of real files', () => {
    const expected: Record<string, string> = { jpg: 'jpeg', png: 'png', gif: 'gif', tif: 'tiff' };
    for (const path of corpusImages) {
      const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
      assert.equal(sniffFormat(readFileSync(path)), expected[ext], path);
    }
    assert.equal(sniffFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1')), 'webp');
    assert.equal(sniffFormat(Buffer.from('RIFF\0\0\0\0WAVEfmt ', 'latin1')), null);
  });
});
