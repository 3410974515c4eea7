import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { iccDescription, isSrgbProfile, readJpegHeader } from './jpeg.js';

const imagesDir = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/corpus/images');
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : /\.jpe?g$/i.test(e.name) ? [join(dir, e.name)] : []));

test('the header of every real JPEG reads as libvips reads it', async () => {
  const paths = walk(imagesDir);
  assert.ok(paths.length >= 100);
  for (const path of paths) {
    const what = relative(imagesDir, path);
    const input = readFileSync(path);
    const h = readJpegHeader(input);
    assert.ok(h, what);
    const m = await sharp(input).metadata();
    assert.deepEqual([h.width, h.height, h.components], [m.width, m.height, m.channels], what);
    assert.equal(h.sof === 0xc2, m.isProgressive, what);
    assert.equal(h.precision, 8, what);
    assert.equal(h.app1, m.exif !== undefined || m.xmp !== undefined, what);
    assert.ok(h.icc === undefined ? m.icc === undefined : m.icc !== undefined && h.icc.equals(m.icc), `${what}: same ICC bytes`);
    assert.ok(h.endsWithEoi, what);
  }
});

test('ICC descriptions, v2 and v4, and which profiles count as sRGB', async () => {
  const corpusIcc = (await sharp(readFileSync(join(imagesDir, 'llava_med_examples', 'xy_chromosome.jpg'))).metadata()).icc!;
  assert.equal(iccDescription(corpusIcc), 'sRGB IEC61966-2.1');
  const profileOf = async (name: string, cmyk = false) => {
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } });
    const bytes = await (cmyk ? base.toColourspace('cmyk') : base).jpeg().withIccProfile(name).toBuffer();
    return readJpegHeader(bytes)!.icc!;
  };
  const srgb = await profileOf('srgb');
  const p3 = await profileOf('p3');
  const cmyk = await profileOf('cmyk', true);
  assert.deepEqual([isSrgbProfile(corpusIcc), isSrgbProfile(srgb), isSrgbProfile(p3), isSrgbProfile(cmyk)], [true, true, false, false]);
  assert.equal(iccDescription(Buffer.alloc(100)), '');
});

test('cut, unknown and damaged structures', async () => {
  const input = readFileSync(join(imagesDir, 'encoda', 'elife-30274-v1', 'fig1.jpg'));
  assert.equal(readJpegHeader(input.subarray(0, input.length - 100))?.endsWithEoi, false);
  assert.equal(readJpegHeader(input.subarray(0, 40)), undefined, 'cut inside the headers');
  assert.equal(readJpegHeader(Buffer.from('\xff\xd8\xff\xe0 not a jpeg', 'latin1')), undefined);
  assert.equal(readJpegHeader(Buffer.from('GIF89a', 'latin1')), undefined);
  // Two bytes of garbage between segments: libjpeg warns, this reader gives up.
  const garbled = Buffer.concat([input.subarray(0, 20), Buffer.from([0x00, 0x00]), input.subarray(20)]);
  assert.equal(readJpegHeader(garbled), undefined);
  const exif = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  assert.equal(readJpegHeader(exif)?.app1, true);
});
