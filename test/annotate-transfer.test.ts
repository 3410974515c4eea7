/**
 * `annotate transfer` on a synthetic prior release whose majorities are known by construction:
 * a clear majority, a tie, a cluster no prior image falls in, one whose prior images carry no
 * labels, one found only after normalising PMCIDs and file paths, and one with a single vote.
 * The prior release is given as BIOMEDICA-style JSONL and as Parquet; both must agree.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { writeJsonAtomic } from '../src/storage/files.js';
import { transformPaths } from '../src/manifest/transform-records.js';
import { sqlString, withDuckDb } from '../src/storage/duckdb.js';
import { runTransfer, TransferOptions, wilsonLower, type TransferReport } from '../src/annotations/transfer.js';
import { parseClusterLabels, validateClusterLabels, type ClusterLabel } from '../src/annotations/cluster-labels.js';
import { readTaxonomy, resolveTaxonomyPath } from '../src/annotations/taxonomy.js';
import { buildExtractFixture, writeTransformFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { runCli } from './helpers/cli.js';

const A: ClusterLabel = { panel_type: 'single', panel_subtype: 'single panel', global_class: ['Microscopy'], local_class: ['light microscopy'] };
const B: ClusterLabel = { panel_type: 'multiple', panel_subtype: 'multiple panels: images', global_class: ['Clinical Imaging'], local_class: ['magnetic resonance'] };
const C: ClusterLabel = { panel_type: 'single', panel_subtype: 'single panel', global_class: ['Plots and Charts'], local_class: ['bar plot'] };
const NONE: ClusterLabel = { panel_type: '', panel_subtype: '', global_class: [], local_class: [] };

let dir: string;
let fx: ExtractFixture;
let jsonl: string;
let parquet: string;

interface PriorRow {
  article_accession_id: string;
  image_file_name: string;
  image_panel_type: string;
  image_panel_subtype: string;
  image_primary_label: string[];
  image_secondary_label: string[];
  image_cluster_id: number;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transfer-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 20, figuresPerArticle: 2, unitSize: 8 } });
  const pmcidOf = new Map(fx.articles.map((a) => [a.id, a.pmcid]));
  const images = fx.figures
    .flatMap((f) => f.images.map((i) => ({ key: i.key, pmcid: pmcidOf.get(f.articleId)!, file: i.mediaName })))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  // Six images in each of clusters 0-5; the rest not clustered.
  const clusterOf = new Map(images.map((im, i) => [im.key, i < 36 ? i % 6 : -1]));
  await writeTransformFixture(fx, (key) => ({ clusterId: clusterOf.get(key)!, labelId: '', panelType: '', panelSubtype: '', primaryLabel: [], secondaryLabel: [] }));
  await writeJsonAtomic(join(transformPaths(fx.outDir).root, 'model', 'model.json'), { clusters: 6 });

  const members = (c: number) => images.filter((im) => clusterOf.get(im.key) === c);
  const row = (im: { pmcid: string; file: string }, l: ClusterLabel, extra: Partial<PriorRow> = {}): PriorRow => ({
    article_accession_id: im.pmcid,
    image_file_name: im.file,
    image_panel_type: l.panel_type,
    image_panel_subtype: l.panel_subtype,
    image_primary_label: l.global_class,
    image_secondary_label: l.local_class,
    image_cluster_id: 7,
    ...extra,
  });
  const [c0, c1, , c3, c4, c5] = [0, 1, 2, 3, 4, 5].map(members);
  const rows: PriorRow[] = [
    // 0: four A, one B, one image the prior release does not have; one row given twice counts once.
    ...c0!.slice(0, 4).map((im) => row(im, A)),
    row(c0![0]!, A),
    row(c0![4]!, B),
    // 1: two A, two B: a tie.
    ...c1!.slice(0, 2).map((im) => row(im, A)),
    ...c1!.slice(2, 4).map((im) => row(im, B)),
    // 2: nothing. 3: in the prior release, but unlabelled there.
    ...c3!.map((im) => row(im, NONE)),
    // 4: all C, with the PMCID written without its prefix and the file under a folder.
    ...c4!.map((im) => row(im, C, { article_accession_id: im.pmcid.slice(3), image_file_name: `figures/${im.file}` })),
    // 5: a single vote.
    row(c5![0]!, A),
    // Not in this run at all.
    row({ pmcid: 'PMC9999999', file: 'elsewhere.jpg' }, C),
  ];
  jsonl = join(dir, 'prior.jsonl');
  await writeFile(jsonl, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  parquet = join(dir, 'prior.parquet');
  await withDuckDb(async (conn) => {
    await conn.run(
      `COPY (SELECT article_accession_id AS pmcid, * EXCLUDE (article_accession_id) FROM read_json(${sqlString(jsonl)}, format = 'newline_delimited')) TO ${sqlString(parquet)} (FORMAT parquet)`,
    );
  });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const transfer = (prior: string, to: string) => runTransfer(TransferOptions.parse({ priorFiles: [prior], outDir: fx.outDir, toFile: join(dir, to) }), testContext());

function expectKnownVotes(report: TransferReport) {
  const v = new Map(report.votes.map((x) => [x.cluster, x]));
  assert.deepEqual([v.get(0)!.label, v.get(0)!.votes, v.get(0)!.matched, v.get(0)!.images], [A, 4, 5, 6]);
  assert.equal(v.get(0)!.share, 0.8);
  // The tie goes to the label set first in JSON order: ["multiple", …] before ["single", …].
  assert.deepEqual([v.get(1)!.label, v.get(1)!.votes, v.get(1)!.matched, v.get(1)!.tie], [B, 2, 4, true]);
  assert.deepEqual([v.get(2)!.label, v.get(2)!.matched], [NONE, 0]);
  assert.deepEqual([v.get(3)!.label, v.get(3)!.matched], [NONE, 0]);
  assert.deepEqual([v.get(4)!.label, v.get(4)!.votes, v.get(4)!.share], [C, 6, 1]);
  assert.deepEqual([v.get(5)!.label, v.get(5)!.votes, v.get(5)!.share], [A, 1, 1]);
  // Weakest first: no votes, then the tie (2 of 4), the single vote (1 of 1), 4 of 5, 6 of 6.
  assert.deepEqual(report.votes.map((x) => x.cluster), [2, 3, 1, 5, 0, 4]);
  assert.equal(v.get(5)!.confidence, wilsonLower(1, 1));
  assert.ok(Math.abs(wilsonLower(1, 1) - 0.2065) < 1e-4 && Math.abs(wilsonLower(4, 5) - 0.3755) < 1e-4);
  assert.deepEqual([report.labelled, report.unlabelled, report.ties, report.matchedImages, report.images], [4, 2, 1, 16, 36]);
  // 24 rows, one an exact duplicate; 6 of the 23 carry no labels.
  assert.deepEqual([report.priorRows, report.priorLabelledRows], [23, 17]);
}

test('majority vote per cluster from a BIOMEDICA-style JSONL release: known winners, a deterministic tie, unlabelled where nothing matched', async () => {
  const report = await transfer(jsonl, 'labels.json');
  expectKnownVotes(report);
  const labels = parseClusterLabels(await readFile(join(dir, 'labels.json'), 'utf8'), 'labels.json');
  assert.deepEqual(Object.keys(labels), ['0', '1', '2', '3', '4', '5']);
  assert.deepEqual(labels['0'], A);
  assert.deepEqual(labels['2'], NONE);
  const written = JSON.parse(await readFile(join(dir, 'labels.votes.json'), 'utf8')) as TransferReport;
  assert.deepEqual(written.votes.map((x) => x.cluster), report.votes.map((x) => x.cluster));
  // What transfer writes is what import takes.
  const taxonomy = await readTaxonomy(resolveTaxonomyPath('config/taxonomy/taxonomy_collapsed_and_filtered.json'));
  const check = validateClusterLabels(labels, taxonomy, { count: 6, from: 'model' });
  assert.equal(check.ok, true);
  assert.deepEqual(check.unlabelled.examples, ['2', '3']);
});

test('the same release as Parquet (with a pmcid column) gives the same labels, byte for byte', async () => {
  const report = await transfer(parquet, 'labels-parquet.json');
  expectKnownVotes(report);
  assert.equal(await readFile(join(dir, 'labels-parquet.json'), 'utf8'), await readFile(join(dir, 'labels.json'), 'utf8'));
});

test('the CLI: --json summary with the weakest clusters; a prior release without the columns is a usage error', async () => {
  const ok = await runCli(['annotate', 'transfer', '--prior', jsonl, '--out', fx.outDir, '--to', join(dir, 'cli.json'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const summary = JSON.parse(ok.stdout);
  assert.equal(summary.labelled, 4);
  assert.deepEqual(summary.weakest.map((v: { cluster: number }) => v.cluster), [2, 3, 1, 5, 0, 4]);
  assert.equal(summary.reportFile, join(dir, 'cli.votes.json'));

  const bare = join(dir, 'bare.jsonl');
  await writeFile(bare, JSON.stringify({ pmcid: 'PMC1', image_file_name: 'a.jpg' }) + '\n');
  const bad = await runCli(['annotate', 'transfer', '--prior', bare, '--out', fx.outDir, '--to', join(dir, 'bad.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /PRIOR_COLUMNS: the prior release lacks columns: image_panel_type/);
});
