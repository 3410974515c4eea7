/**
 * The two training subsets against a plain reference (sort everything, take the first N per
 * concept), on images labelled the way BIOMEDICA's clusters are: one, two or three global classes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConceptBalancer, conceptFilter } from './subsets.js';
import { compareRank, priority } from './seeded.js';

const GLOBALS = ['Plots and Charts', 'Microscopy', 'Clinical Imaging', 'Tables', 'Maps'];
// Skewed like the release: plots dominate, maps are rare; some images have two or three classes.
function images(n: number): { key: string; classes: string[] }[] {
  return Array.from({ length: n }, (_, i) => {
    const r = (i * 2654435761) % 1000;
    const first = r < 600 ? 0 : r < 800 ? 1 : r < 900 ? 2 : r < 980 ? 3 : 4;
    const classes = [GLOBALS[first]!];
    if (i % 7 === 0) classes.push(GLOBALS[(first + 1) % 5]!);
    if (i % 29 === 0) classes.push(GLOBALS[(first + 2) % 5]!, GLOBALS[first]!);
    return { key: `PMC${i}_1_f001`, classes: i % 53 === 0 ? [] : classes };
  });
}

function reference(all: { key: string; classes: string[] }[], cap: number, seed: number): Set<string> {
  const count = new Map<string, number>();
  for (const im of all) for (const c of new Set(im.classes)) count.set(c, (count.get(c) ?? 0) + 1);
  const concept = (classes: string[]) =>
    classes.length === 0 ? '' : [...new Set(classes)].sort((a, b) => count.get(a)! - count.get(b)! || (a < b ? -1 : 1))[0]!;
  const groups = new Map<string, { priority: number; key: string }[]>();
  for (const im of all) {
    const c = concept(im.classes);
    groups.set(c, [...(groups.get(c) ?? []), { priority: priority(seed, im.key), key: im.key }]);
  }
  return new Set([...groups.values()].flatMap((g) => g.sort(compareRank).slice(0, cap).map((r) => r.key)));
}

function balance(all: { key: string; classes: string[] }[], cap: number, seed: number) {
  const b = new ConceptBalancer({ maxPerConcept: cap, seed });
  for (const im of all) b.count(im.key, im.classes);
  const summary = b.finish();
  return { summary, kept: new Set(all.filter((im) => b.keep(im.key, im.classes)).map((im) => im.key)) };
}

test('concept-filtered drops every image with one of the chosen global classes, and only those', () => {
  const keep = conceptFilter(['Plots and Charts', 'Tables']);
  assert.equal(keep(['Microscopy']), true);
  assert.equal(keep(['Microscopy', 'Tables']), false);
  assert.equal(keep(['Plots and Charts']), false);
  assert.equal(keep([]), true);
  const all = images(3000);
  const kept = all.filter((im) => keep(im.classes));
  assert.ok(kept.length > 0 && kept.length < all.length);
  assert.ok(kept.every((im) => !im.classes.includes('Tables') && !im.classes.includes('Plots and Charts')));
});

test('concept-balanced keeps exactly the reference selection: at most N per concept, each image toward its rarest class', () => {
  const all = images(5000);
  const { summary, kept } = balance(all, 160, 7);
  assert.deepEqual(kept, reference(all, 160, 7));
  assert.equal(summary.kept, kept.size);
  assert.equal(summary.images, all.length);
  for (const c of summary.concepts) assert.equal(c.kept, Math.min(c.images, 160));
  assert.deepEqual(summary.concepts.map((c) => c.concept), ['', ...[...GLOBALS].sort()]);
  // Maps are rare (and take the multi-class images they appear in): under the cap, all of them stay.
  const maps = summary.concepts.find((c) => c.concept === 'Maps')!;
  assert.ok(maps.images < 160 && maps.kept === maps.images);
  assert.ok(summary.concepts.find((c) => c.concept === 'Plots and Charts')!.images > 2000);
});

test('concept-balanced is reproducible, independent of order, seeded, and nested in N', () => {
  const all = images(4000);
  const a = balance(all, 100, 3).kept;
  assert.deepEqual(balance([...all].reverse(), 100, 3).kept, a);
  assert.notDeepEqual(balance(all, 100, 4).kept, a);
  const larger = balance(all, 200, 3).kept;
  assert.ok([...a].every((k) => larger.has(k)), 'raising N only adds images');
});

test('the two passes must see the same images', () => {
  const b = new ConceptBalancer({ maxPerConcept: 5, seed: 1 });
  b.count('a', ['Maps']);
  assert.throws(() => b.keep('a', ['Maps']), /before finish/);
  b.finish();
  assert.throws(() => b.keep('b', ['Tables']), (e: Error & { code?: string }) => e.code === 'SUBSET_INCONSISTENT');
  assert.throws(() => new ConceptBalancer({ maxPerConcept: 0, seed: 1 }), RangeError);
});
