/** Contact sheets drawn from real article figures (../shared/corpus/images). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { corpusDir, listFiles } from '../../test/helpers/corpus.js';
import { DEFAULT_SHEET, renderContactSheet, sheetLayout } from './contact-sheet.js';

const jpegs = listFiles(join(corpusDir, 'images'), /\.jpg$/).slice(0, 5);
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sheet-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = { ...DEFAULT_SHEET, tile: 64, gap: 4 };

/** Mean and spread of one tile of a decoded sheet. */
async function tileStats(jpeg: Buffer, index: number, columns: number) {
  const step = options.tile + options.gap;
  const left = options.gap + (index % columns) * step;
  const top = options.gap + Math.floor(index / columns) * step;
  const { data } = await sharp(jpeg).extract({ left, top, width: options.tile, height: options.tile }).raw().toBuffer({ resolveWithObject: true });
  const mean = data.reduce((s, v) => s + v, 0) / data.length;
  const sd = Math.sqrt(data.reduce((s, v) => s + (v - mean) ** 2, 0) / data.length);
  return { data, mean, sd };
}

test('layout: a near-square grid of tiles with gaps', () => {
  assert.deepEqual(sheetLayout(5, options), { columns: 3, rows: 2, width: 3 * 68 + 4, height: 2 * 68 + 4 });
  assert.deepEqual(sheetLayout(16, options), { columns: 4, rows: 4, width: 276, height: 276 });
  assert.deepEqual(sheetLayout(1, options).columns, 1);
});

test('real figures land in their tiles, in order; the same files give the same bytes', async () => {
  assert.equal(jpegs.length, 5);
  const sheet = await renderContactSheet(jpegs, options);
  assert.deepEqual(sheet.failed, []);
  const meta = await sharp(sheet.jpeg).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.deepEqual([meta.width, meta.height], [sheet.layout.width, sheet.layout.height]);
  for (let i = 0; i < 5; i++) assert.ok((await tileStats(sheet.jpeg, i, 3)).sd > 5, `tile ${i} holds a picture, not a flat colour`);
  // The sixth cell has no image: the grid colour shows.
  assert.ok(Math.abs((await tileStats(sheet.jpeg, 5, 3)).mean - 136) < 3);

  const swapped = await renderContactSheet([jpegs[1]!, jpegs[0]!, ...jpegs.slice(2)], options);
  const diff = (a: Buffer, b: Buffer) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
  const [a0, b1, a1] = [await tileStats(sheet.jpeg, 0, 3), await tileStats(swapped.jpeg, 1, 3), await tileStats(sheet.jpeg, 1, 3)];
  assert.ok(diff(a0.data, b1.data) < 6, 'image 0 moved to tile 1');
  assert.ok(diff(a0.data, a1.data) > diff(a0.data, b1.data) + 5, 'and tiles 0 and 1 differ');

  assert.deepEqual(await renderContactSheet(jpegs, options).then((s) => s.jpeg), sheet.jpeg);
});

test('an unreadable, missing or too large image is a grey tile and a recorded failure, never a crash', async () => {
  const corrupt = join(dir, 'corrupt.jpg');
  await writeFile(corrupt, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7)]));
  const sheet = await renderContactSheet([jpegs[0]!, corrupt, join(dir, 'missing.jpg')], options);
  assert.deepEqual(sheet.failed.map((f) => [f.index, f.code]), [
    [1, 'IMAGE_UNREADABLE'],
    [2, 'IMAGE_MISSING'],
  ]);
  for (const i of [1, 2]) {
    const t = await tileStats(sheet.jpeg, i, 2);
    assert.ok(Math.abs(t.mean - 208) < 3 && t.sd < 3, `tile ${i} is the grey placeholder`);
  }
  const bomb = await renderContactSheet([jpegs[0]!], { ...options, maxPixels: 1000 });
  assert.deepEqual(bomb.failed.map((f) => f.code), ['IMAGE_TOO_LARGE']);
});
