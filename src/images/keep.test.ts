import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_KEEP_RULE, keepFigure } from './keep.js';

const big = { width: 600, height: 400 };

describe('keepFigure with BIOMEDICA rule', () => {
  test('keeps a captioned figure larger than 20×20', () => {
    assert.deepEqual(keepFigure('Figure 1. Chest X-ray.', big, DEFAULT_KEEP_RULE), { keep: true, reason: '' });
    assert.deepEqual(keepFigure('A', { width: 21, height: 21 }, DEFAULT_KEEP_RULE), { keep: true, reason: '' });
  });

  test('drops empty and whitespace-only captions', () => {
    for (const caption of ['', '   ', '\n\t ', '\u00a0']) {
      assert.deepEqual(keepFigure(caption, big, DEFAULT_KEEP_RULE), { keep: false, reason: 'EMPTY_CAPTION' }, JSON.stringify(caption));
    }
  });

  test('drops images with a side of 20 pixels or less', () => {
    for (const size of [
      { width: 20, height: 400 },
      { width: 400, height: 20 },
      { width: 20, height: 20 },
      { width: 1, height: 1 },
      { width: 0, height: 0 },
      { width: Number.NaN, height: 400 },
    ]) {
      assert.deepEqual(keepFigure('Caption', size, DEFAULT_KEEP_RULE), { keep: false, reason: 'IMAGE_TOO_SMALL' }, JSON.stringify(size));
    }
  });

  test('the caption is judged before the size', () => {
    assert.equal(keepFigure('', { width: 5, height: 5 }, DEFAULT_KEEP_RULE).reason, 'EMPTY_CAPTION');
  });
});

describe('keepFigure with other rules', () => {
  test('minCaptionChars counts characters of the trimmed caption', () => {
    const rule = { minCaptionChars: 10, minSide: 1 };
    assert.equal(keepFigure('  short  ', big, rule).reason, 'CAPTION_TOO_SHORT');
    assert.equal(keepFigure('  ten chars!  ', big, rule).keep, true);
    // Code points, not UTF-16 units: nine astral characters are nine characters.
    assert.equal(keepFigure('𝛼'.repeat(9), big, rule).reason, 'CAPTION_TOO_SHORT');
    assert.equal(keepFigure('𝛼'.repeat(10), big, rule).keep, true);
  });

  test('minCaptionChars 0 keeps uncaptioned figures; minSide is inclusive', () => {
    const rule = { minCaptionChars: 0, minSide: 100 };
    assert.deepEqual(keepFigure('', { width: 100, height: 100 }, rule), { keep: true, reason: '' });
    assert.equal(keepFigure('', { width: 99, height: 100 }, rule).reason, 'IMAGE_TOO_SMALL');
  });
});
