/**
 * From expert labels to the dataset: BIOMEDICA's real cluster_labels.json imported into a run
 * folder, every image's label line made by propagation (as the transform label step does), then
 * load. Each sample carries its cluster's labels in BIOMEDICA's fields; images in an unlabelled
 * cluster and images that were not clustered keep the typed empty values.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { toJsonl, writeFileAtomic, writeJsonAtomic } from '../src/storage/files.js';
import { transformPaths } from '../src/manifest/transform-records.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { ImportOptions, runImport } from '../src/annotations/import.js';
import { readImportedLabels } from '../src/annotations/imported.js';
import { propagateLabel } from '../src/annotations/propagate.js';
import { buildExtractFixture, transformManifestFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { annotationsDir } from './helpers/corpus.js';
import { parquetRows } from './helpers/dataset.js';

let dir: string;
let fx: ExtractFixture;
const released = JSON.parse(await readFile(join(annotationsDir, 'cluster_labels.json'), 'utf8')) as Record<
  string,
  { panel_type: string; panel_subtype: string; global_class: string[]; local_class: string[] }
>;
/** The cluster the test puts each image in: spread over the 2,000, cluster 5 left unlabelled, some not clustered. */
const clusterOf = (key: string, i: number) => (i % 9 === 8 ? -1 : i % 9 === 7 ? 5 : (i * 263 + key.length) % 2000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'propagate-load-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 18, figuresPerArticle: 2, unitSize: 7 } });
  const labelsFile = join(dir, 'labels.json');
  const edited = { ...released, 5: { panel_type: '', panel_subtype: '', global_class: [], local_class: [] } };
  await writeFile(labelsFile, JSON.stringify(edited));
  const result = await runImport(
    ImportOptions.parse({ labelsFile, outDir: fx.outDir, taxonomyFile: 'config/taxonomy/taxonomy_collapsed_and_filtered.json' }),
    testContext(),
  );
  assert.equal(result.error, undefined);
  assert.deepEqual(result.report.unlabelled.examples, ['5']);

  // The label step: cluster id per image, labels from the imported file.
  const imported = (await readImportedLabels(fx.outDir))!;
  let i = 0;
  for (const unit of fx.units) {
    const keys = fx.figures.flatMap((f) => f.images.filter((im) => im.file.startsWith(`units/${unit}/`)).map((im) => im.key));
    await writeFileAtomic(transformPaths(fx.outDir).labels(unit), toJsonl(keys.map((key) => propagateLabel(key, clusterOf(key, i++), imported.labels))));
  }
  await writeJsonAtomic(transformPaths(fx.outDir).manifest, transformManifestFixture(fx.units));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('every sample carries its cluster\'s expert labels in BIOMEDICA\'s fields; unlabelled and unclustered images stay typed-empty', async () => {
  const summary = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'dataset') }), testContext());
  assert.equal(summary.labelled, true);
  const order = new Map<string, number>();
  let i = 0;
  for (const unit of fx.units) for (const f of fx.figures) for (const im of f.images) if (im.file.startsWith(`units/${unit}/`)) order.set(im.key, i++);
  const rows = (await Promise.all(['commercial', 'noncommercial', 'other'].map((g) => parquetRows(join(summary.datasetDir, 'index', `${g}.parquet`))))).flat();
  assert.equal(rows.length, Object.values(fx.expected).flat().length);
  const seen = { labelled: 0, unlabelled: 0, notClustered: 0 };
  for (const row of rows) {
    const key = String(row['key']);
    const cluster = clusterOf(key, order.get(key)!);
    assert.equal(Number(row['image_cluster_id']), cluster, key);
    const expected = cluster >= 0 && cluster !== 5 ? released[String(cluster)]! : undefined;
    if (cluster < 0) seen.notClustered++;
    else if (!expected) seen.unlabelled++;
    else seen.labelled++;
    assert.equal(row['image_label_id'], expected ? String(cluster) : '');
    assert.equal(row['image_panel_type'], expected?.panel_type ?? '');
    assert.equal(row['image_panel_subtype'], expected?.panel_subtype ?? '');
    assert.deepEqual(row['image_primary_label'], expected?.global_class ?? []);
    assert.deepEqual(row['image_secondary_label'], expected?.local_class ?? []);
  }
  assert.ok(seen.labelled > 20 && seen.unlabelled > 0 && seen.notClustered > 0, JSON.stringify(seen));
});
