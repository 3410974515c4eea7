/**
 * `annotate export` and `annotate import` on a run folder: an extract built from records whose
 * stored images are real article figures (../shared/corpus/images), transform label lines with
 * cluster ids and empty labels (what the label step writes before experts label), and a fitted
 * model that says K. Then the whole loop: fill in the labels file, import it, and the label step's
 * reader gets exactly those labels.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { writeJsonAtomic } from '../src/storage/files.js';
import { transformPaths } from '../src/manifest/transform-records.js';
import { ExportOptions, runExport } from '../src/annotations/export.js';
import { parseClusterLabels } from '../src/annotations/cluster-labels.js';
import { readImportedLabels } from '../src/annotations/imported.js';
import { compareRank, priority } from '../src/annotations/seeded.js';
import { buildExtractFixture, corruptStoredImage, writeTransformFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { corpusDir, listFiles } from './helpers/corpus.js';
import { runCli, treeHashes } from './helpers/cli.js';

const K = 6;
let dir: string;
let fx: ExtractFixture;
/** Image key → cluster id, as the test decides it (-1: not clustered). */
const clusterOf = new Map<string, number>();
let corruptKey = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'annotate-'));
  // Real figures in place of the fixture's noise, and (below) one image that cannot be decoded.
  const figures = listFiles(join(corpusDir, 'images'), /\.jpg$/);
  fx = await buildExtractFixture(join(dir, 'out'), {
    generated: { articles: 20, figuresPerArticle: 2, unitSize: 7 },
    imageBytes: (n) => readFileSync(figures[n % figures.length]!),
  });
  const keys = fx.figures.flatMap((f) => f.images.map((i) => i.key)).sort();
  // Five clusters in use, the sixth empty; every 11th image not clustered.
  keys.forEach((key, i) => clusterOf.set(key, i % 11 === 10 ? -1 : i % 5));
  await writeTransformFixture(fx, (key) => ({ clusterId: clusterOf.get(key)!, labelId: '', panelType: '', panelSubtype: '', primaryLabel: [], secondaryLabel: [] }));
  await writeJsonAtomic(join(transformPaths(fx.outDir).root, 'model', 'model.json'), { schema: 'biomedica.transform.model', version: 1, clusters: K });
  const images = fx.figures.flatMap((f) => f.images);
  // The first image export will show for cluster 2 (smallest seeded priority, seed 9).
  const corrupt = images
    .filter((im) => clusterOf.get(im.key) === 2)
    .map((im) => ({ ...im, priority: priority(9, im.key) }))
    .sort(compareRank)[0]!;
  corruptKey = corrupt.key;
  await corruptStoredImage(fx.outDir, corrupt);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = (to: string, extra: Partial<ExportOptions> = {}) =>
  ExportOptions.parse({ outDir: fx.outDir, toDir: to, perCluster: 4, seed: 9, tile: 48, taxonomyFile: 'config/taxonomy/taxonomy_collapsed_and_filtered.json', ...extra });

test('export: per cluster its count and the N images of smallest seeded priority, a sheet, a page, and a labels file with every cluster empty', async () => {
  const to = join(dir, 'site');
  const summary = await runExport(options(to), testContext());
  const members = (c: number) => [...clusterOf].filter(([, id]) => id === c).map(([key]) => key);
  assert.equal(summary.clusters, K);
  assert.equal(summary.clustersFrom, 'model');
  assert.equal(summary.images, [...clusterOf.values()].filter((c) => c >= 0).length);
  assert.equal(summary.notClustered, [...clusterOf.values()].filter((c) => c < 0).length);
  assert.equal(summary.emptyClusters, 1);
  assert.equal(summary.sheets.drawn, 5);

  const record = JSON.parse(await readFile(join(to, 'export.json'), 'utf8'));
  for (let c = 0; c < 5; c++) {
    const expected = members(c)
      .map((key) => ({ key, priority: priority(9, key) }))
      .sort(compareRank)
      .slice(0, 4)
      .map((r) => r.key);
    assert.deepEqual(record.samples[String(c)].keys, expected, `cluster ${c}`);
    assert.equal(record.samples[String(c)].images, members(c).length);
    const page = await readFile(join(to, 'clusters', `000${c}.html`), 'utf8');
    for (const key of expected) assert.match(page, new RegExp(`<code>${key}</code>`));
    assert.match(page, new RegExp(`${members(c).length} images; 4 shown`));
  }
  assert.equal(record.samples['5'], undefined);
  assert.match(await readFile(join(to, 'clusters', '0005.html'), 'utf8'), /No image of this run is in this cluster/);

  const index = await readFile(join(to, 'index.html'), 'utf8');
  assert.equal(index.match(/<tr id="c\d+">/g)?.length, K);
  assert.match(await readFile(join(to, 'taxonomy.html'), 'utf8'), /Immuno Assays/);

  const labels = parseClusterLabels(await readFile(join(to, 'cluster_labels.json'), 'utf8'), 'x');
  assert.deepEqual(Object.keys(labels), ['0', '1', '2', '3', '4', '5']);
  assert.ok(Object.values(labels).every((l) => l.panel_type === '' && l.global_class.length === 0 && l.local_class.length === 0));

  // The corrupt image is a reported grey tile, on the page too; every sheet is a real JPEG.
  assert.equal(record.samples['2'].keys[0], corruptKey);
  assert.equal(summary.tilesFailed.count, 1);
  assert.deepEqual(summary.tilesFailed.byCode, { IMAGE_UNREADABLE: 1 });
  assert.match(summary.tilesFailed.examples[0]!, new RegExp(`^${corruptKey}: IMAGE_UNREADABLE`));
  assert.match(await readFile(join(to, 'clusters', '0002.html'), 'utf8'), new RegExp(`<code>${corruptKey}</code> <span class="fail">\\(IMAGE_UNREADABLE`));
  const sheets = (await readdir(join(to, 'sheets'))).filter((n) => n.endsWith('.jpg'));
  assert.equal(sheets.length, 5);
  for (const s of sheets) assert.deepEqual([...(await readFile(join(to, 'sheets', s))).subarray(0, 2)], [0xff, 0xd8]);
});

test('export: a rerun gives the same bytes and keeps the sheets; experts\' work in the labels file is never overwritten', async () => {
  const to = join(dir, 'rerun');
  await runExport(options(to), testContext());
  const first = await treeHashes(to);
  const again = await runExport(options(to), testContext());
  assert.deepEqual(again.sheets, { drawn: 0, kept: 5 });
  assert.deepEqual(await treeHashes(to), first);

  // An expert labels cluster 1; the next export keeps the file and shows the label.
  const path = join(to, 'cluster_labels.json');
  const edited = (await readFile(path, 'utf8')).replace(
    '"1": {"panel_type":"","panel_subtype":"","global_class":[],"local_class":[]}',
    '"1": {"panel_type":"single","panel_subtype":"single panel","global_class":["Microscopy"],"local_class":["light microscopy"]}',
  );
  await writeFile(path, edited);
  const third = await runExport(options(to), testContext());
  assert.equal(await readFile(path, 'utf8'), edited);
  assert.equal(third.labels.from, 'existing');
  assert.match(await readFile(join(to, 'clusters', '0001.html'), 'utf8'), /Labels now: single · single panel · Microscopy · light microscopy/);
  const other = join(dir, 'other-labels.json');
  await writeFile(other, '{"0": {"panel_type":"single","panel_subtype":"","global_class":["Maps"],"local_class":["map"]}}');
  await assert.rejects(runExport(options(to, { labelsFile: other }), testContext()), { code: 'LABELS_WOULD_OVERWRITE' });
  assert.equal(await readFile(path, 'utf8'), edited);

  // Another seed samples other images: the old sheets go, the new ones come.
  const reseeded = await runExport(options(to, { seed: 10 }), testContext());
  assert.equal(reseeded.sheets.drawn + reseeded.sheets.kept, 5);
  assert.equal((await readdir(join(to, 'sheets'))).length, 10);
});

test('export: stopped, it leaves no record; rerun, it redraws only the missing sheets and ends byte-identical', async () => {
  const to = join(dir, 'resume');
  const abort = new AbortController();
  abort.abort();
  await assert.rejects(runExport(options(to), testContext({ signal: abort.signal })), { code: 'INTERRUPTED' });
  await assert.rejects(readFile(join(to, 'export.json')), { code: 'ENOENT' });

  await runExport(options(to), testContext());
  const whole = await treeHashes(to);
  // As if a run had stopped after some sheets: two sheets and the record are gone.
  const jpgs = (await readdir(join(to, 'sheets'))).filter((n) => n.endsWith('.jpg')).sort();
  await rm(join(to, 'sheets', jpgs[0]!));
  await rm(join(to, 'sheets', jpgs[3]!));
  await rm(join(to, 'export.json'));
  const resumed = await runExport(options(to), testContext());
  assert.deepEqual(resumed.sheets, { drawn: 2, kept: 3 });
  assert.deepEqual(await treeHashes(to), whole);
});

test('export --labels starts a fresh folder from given labels; ids beyond K are refused', async () => {
  const given = join(dir, 'given.json');
  await writeFile(given, JSON.stringify({ 3: { panel_type: 'single', panel_subtype: 'single panel', global_class: ['Maps'], local_class: ['map'] } }));
  const summary = await runExport(options(join(dir, 'prefilled'), { labelsFile: given }), testContext());
  assert.equal(summary.labels.from, 'labels-file');
  const labels = parseClusterLabels(await readFile(join(dir, 'prefilled', 'cluster_labels.json'), 'utf8'), 'x');
  assert.deepEqual(labels['3']!.global_class, ['Maps']);
  assert.equal(Object.keys(labels).length, K);
  await writeFile(given, JSON.stringify({ 6: { panel_type: '', panel_subtype: '', global_class: ['Maps'], local_class: [] } }));
  await assert.rejects(runExport(options(join(dir, 'prefilled2'), { labelsFile: given }), testContext()), { code: 'CLUSTER_OUT_OF_RANGE' });
});

test('import (the CLI): a typo is refused with exit 3 and its nearest name; good labels land where the label step reads them', async () => {
  const to = join(dir, 'filled');
  await runExport(options(to), testContext());
  const path = join(to, 'cluster_labels.json');
  const text = await readFile(path, 'utf8');
  const filled = text
    .replace('"0": {"panel_type":"","panel_subtype":"","global_class":[],"local_class":[]}', '"0": {"panel_type":"single","panel_subtype":"single panel","global_class":["Plots and Charts"],"local_class":["bar plto"]}')
    .replace('"2": {"panel_type":"","panel_subtype":"","global_class":[],"local_class":[]}', '"2": {"panel_type":"multiple","panel_subtype":"multiple panels: images","global_class":["Microscopy"],"local_class":["fluorescence microscopy"]}');
  await writeFile(path, filled);

  const refused = await runCli(['annotate', 'import', '--labels', path, '--to', fx.outDir, '--json']);
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /LABELS_UNKNOWN_CLASS/);
  assert.match(refused.stderr, /hint: correct them in/);
  const report = JSON.parse(refused.stdout);
  assert.deepEqual(report.report.unknown.names.map((u: { value: string; nearest: string }) => [u.value, u.nearest]), [['bar plto', 'bar plot']]);
  assert.equal(report.written.labels, '');
  assert.equal(await readImportedLabels(fx.outDir), undefined, 'nothing written');

  await writeFile(path, filled.replace('bar plto', 'bar plot'));
  const ok = await runCli(['annotate', 'import', '--labels', path, '--to', fx.outDir]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /2 of 6 clusters labelled \(K from model\)/);
  assert.match(ok.stdout, /unlabelled +4 \(1, 3, 4, 5\)/);
  const imported = await readImportedLabels(fx.outDir);
  assert.deepEqual(imported?.labels['2'], { panel_type: 'multiple', panel_subtype: 'multiple panels: images', global_class: ['Microscopy'], local_class: ['fluorescence microscopy'] });
  assert.equal(imported?.record.unlabelled, 4);

  // A label for cluster 6 when the model has 6 clusters (0-5).
  await writeFile(path, filled.replace('bar plto', 'bar plot').replace(/\n}\n$/, ',\n  "6": {"panel_type":"single","panel_subtype":"","global_class":["Maps"],"local_class":["map"]}\n}\n'));
  const outOfRange = await runCli(['annotate', 'import', '--labels', path, '--to', fx.outDir]);
  assert.equal(outOfRange.code, 3);
  assert.match(outOfRange.stderr, /CLUSTER_OUT_OF_RANGE/);
});

test('export (the CLI): a run folder without transform labels is a clear error', async () => {
  const result = await runCli(['annotate', 'export', '--out', join(dir, 'nothing'), '--to', join(dir, 'x')]);
  assert.equal(result.code, 3);
  assert.match(result.stderr, /TRANSFORM_MISSING/);
  // The hint names the command as it runs here (src/cli/invocation.ts): npx biomedica in a checkout.
  assert.match(result.stderr, /hint: run (npx )?biomedica transform --out/);
  const bad = await runCli(['annotate', 'export', '--out', fx.outDir, '--to', join(dir, 'y'), '--per-cluster', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--per-cluster/);
});
