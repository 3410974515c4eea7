import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BottomK, compareRank, priority, type Ranked } from './seeded.js';

test('priorities are the documented sha256 formula (vectors computed with Python hashlib)', () => {
  // python3: int.from_bytes(hashlib.sha256(f"{seed}\0{key}".encode()).digest()[:8], "big") >> 11
  assert.equal(priority(0, 'PMC1000001_1_f001'), 5321057790588559);
  assert.equal(priority(7, 'PMC1000001_1_f001'), 3690886137835031);
  assert.equal(priority(4294967295, 'a'), 6524979502086084);
  assert.equal(priority(1, ''), 8149340502166598);
  assert.ok(priority(3, 'x') < 2 ** 53);
});

test('BottomK keeps exactly the k smallest ranks, whatever the order they arrive in', () => {
  const entries: Ranked<number>[] = Array.from({ length: 2000 }, (_, i) => ({ priority: priority(11, `k${i}`), key: `k${i}`, item: i }));
  // Equal priorities are ordered by key: give a few entries the same priority.
  for (let i = 0; i < 30; i++) entries[i]!.priority = 42;
  const expected = [...entries].sort(compareRank).slice(0, 64).map((e) => e.key);
  for (const order of [entries, [...entries].reverse(), [...entries].sort((a, b) => (a.key < b.key ? 1 : -1))]) {
    const kept = new BottomK<number>(64);
    for (const e of order) kept.offer(e);
    assert.deepEqual(kept.sorted().map((e) => e.key), expected);
    assert.equal(kept.threshold()!.key, expected[63]);
  }
});

test('BottomK under capacity keeps everything and has no threshold', () => {
  const kept = new BottomK<null>(5);
  kept.offer({ priority: 3, key: 'b', item: null });
  kept.offer({ priority: 1, key: 'a', item: null });
  assert.equal(kept.threshold(), undefined);
  assert.deepEqual(kept.sorted().map((e) => e.key), ['a', 'b']);
});
