import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mtimeFor } from './tar.js';

test('mtimeFor: the snapshot day at 00:00 UTC, or the epoch', () => {
  assert.equal(mtimeFor('2026-03-01').getTime(), Date.UTC(2026, 2, 1));
  assert.equal(mtimeFor('2026-03-01T17:45:00Z').getTime(), Date.UTC(2026, 2, 1));
  assert.equal(mtimeFor('').getTime(), 0);
  assert.equal(mtimeFor('March 2026').getTime(), 0);
});
