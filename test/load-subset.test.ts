/**
 * load --subset: the paper's two training subsets written as datasets, from the labels every image
 * inherits from its cluster. Each image here has one global class, so its concept is that class.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { runVerify } from '../src/stages/load/verify.js';
import { compareRank, priority } from '../src/annotations/seeded.js';
import { resolveTaxonomyPath } from '../src/annotations/taxonomy.js';
import { buildExtractFixture, writeTransformFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { parquetRows, hashTree } from './helpers/dataset.js';
import { runCli } from './helpers/cli.js';

const CLASSES = ['Plots and Charts', 'Microscopy', 'Tables'];
let dir: string;
let fx: ExtractFixture;
const classOf = new Map<string, string>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-subset-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 24, figuresPerArticle: 2, unitSize: 9 } });
  const keys = fx.figures.flatMap((f) => f.images.map((i) => i.key)).sort();
  // Plots twice as common as the others, like the release.
  keys.forEach((key, i) => classOf.set(key, CLASSES[[0, 0, 1, 2][i % 4]!]!));
  await writeTransformFixture(fx, (key) => ({
    clusterId: CLASSES.indexOf(classOf.get(key)!),
    labelId: String(CLASSES.indexOf(classOf.get(key)!)),
    panelType: 'single',
    panelSubtype: 'single panel',
    primaryLabel: [classOf.get(key)!],
    secondaryLabel: [],
  }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadedKeys(datasetDir: string): Promise<string[]> {
  const rows = (await Promise.all(['commercial', 'noncommercial', 'other'].map((g) => parquetRows(join(datasetDir, 'index', `${g}.parquet`))))).flat();
  return rows.map((r) => String(r['key'])).sort();
}

const everything = () => Object.values(fx.expected).flat();

test('concept-filtered: no image of a dropped class, every other one, and the choice in the manifest', async () => {
  const summary = await runLoad(
    LoadOptions.parse({
      outDir: fx.outDir,
      datasetDir: join(dir, 'filtered'),
      subset: { kind: 'concept-filtered', dropClasses: ['Plots and Charts'], taxonomyFile: resolveTaxonomyPath('config/taxonomy/taxonomy_collapsed_and_filtered.json') },
    }),
    testContext(),
  );
  const expected = everything().filter((k) => classOf.get(k) !== 'Plots and Charts');
  assert.deepEqual(await loadedKeys(summary.datasetDir), expected.sort());
  assert.equal(summary.leftOut.notInSubset, everything().length - expected.length);
  const manifest = JSON.parse(await readFile(join(summary.datasetDir, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.options.subset, { kind: 'concept-filtered', dropClasses: ['Plots and Charts'] });
  assert.equal((await runVerify(summary.datasetDir, testContext(), { decodeImages: false })).ok, true);
});

test('concept-balanced: per class the N labelled images of smallest seeded priority, reproducibly', async () => {
  const N = 5;
  const options = (datasetDir: string) =>
    LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, datasetDir), subset: { kind: 'concept-balanced', maxPerConcept: N, seed: 3 } });
  const summary = await runLoad(options('balanced'), testContext());
  // Caps count every labelled image of the run; what load leaves out anyway (a tombstoned article) is not replaced.
  const loadable = new Set(everything());
  const expected = CLASSES.flatMap((c) =>
    [...classOf]
      .filter(([, cls]) => cls === c)
      .map(([key]) => ({ key, priority: priority(3, key) }))
      .sort(compareRank)
      .slice(0, N)
      .map((r) => r.key)
      .filter((k) => loadable.has(k)),
  );
  const keys = await loadedKeys(summary.datasetDir);
  assert.deepEqual(keys, expected.sort());
  for (const c of CLASSES) assert.ok(keys.filter((k) => classOf.get(k) === c).length <= N);
  assert.equal(summary.leftOut.notInSubset, everything().length - keys.length);

  const again = await runLoad(options('balanced-again'), testContext());
  const strip = (tree: Record<string, string>) => Object.fromEntries(Object.entries(tree).filter(([f]) => f !== 'manifest.json' && f !== 'summary.json' && f !== 'README.md'));
  assert.deepEqual(strip(await hashTree(again.datasetDir)), strip(await hashTree(summary.datasetDir)));
});

test('the CLI: a misspelt class is refused with its nearest name; subset flags without --subset are refused', async () => {
  const typo = await runCli(['load', '--out', fx.outDir, '--dataset', join(dir, 'typo'), '--subset', 'concept-filtered', '--drop-class', 'Plots and Chart,Tables']);
  assert.equal(typo.code, 2, typo.stderr);
  assert.match(typo.stderr, /SUBSET_UNKNOWN_CLASS: .*"Plots and Chart" \(nearest: "Plots and Charts"\)/);
  const stray = await runCli(['load', '--out', fx.outDir, '--dataset', join(dir, 'stray'), '--max-per-concept', '10']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--max-per-concept needs --subset/);
});
