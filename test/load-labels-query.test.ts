/**
 * The transform slot (cluster ids and labels joined per image key, schema unchanged) and the query
 * command over the index (key lists, index rows, and a subset dataset that verifies).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { SampleJson, fieldKinds } from '../src/manifest/load-manifest.js';
import { transformPaths } from '../src/manifest/transform-records.js';
import { LoadOptions, runLoad, type LoadSummary } from '../src/stages/load/run-load.js';
import { LEAD_SAMPLES } from '../src/stages/load/lead.js';
import { QueryOptions, runQuery } from '../src/stages/load/query.js';
import { runVerify } from '../src/stages/load/verify.js';
import { buildExtractFixture, writeTransformFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { listFiles, parquetRows, readShard } from './helpers/dataset.js';

let dir: string;
let fx: ExtractFixture;
let labelled: LoadSummary;
let unlabelled: LoadSummary;

// Labels for the images of every third generated article and the hand-written commercial ones.
const labelOf = (key: string) => {
  const m = /^PMC(\d+)_/.exec(key);
  const n = Number(m?.[1] ?? 0);
  if (n >= 2_000_000 && n % 3 !== 0) return undefined;
  return n % 2 === 0
    ? { clusterId: 7, panelType: 'Microscopy', panelSubtype: 'Fluorescence', primaryLabel: ['microscopy'], secondaryLabel: ['confocal', 'fluorescence'], labelId: 'L7' }
    : { clusterId: 12, panelType: 'Chart', panelSubtype: 'Bar', primaryLabel: ['chart'], secondaryLabel: [], labelId: 'L12' };
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-labels-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 16, figuresPerArticle: 2, unitSize: 6 } });
  unlabelled = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'plain') }), testContext());
  await writeTransformFixture(fx, labelOf);
  labelled = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'labelled') }), testContext());
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function samples(dataset: string, shard: string): Promise<SampleJson[]> {
  return (await readShard(join(dataset, shard))).filter((m) => m.name.endsWith('.json')).map((m) => SampleJson.parse(JSON.parse(m.data.toString('utf8'))));
}

describe('transform labels', () => {
  test('are joined per image key; images without a label keep the typed empty values', async () => {
    const all = [...(await samples(labelled.datasetDir, 'commercial/000000.tar')), ...(await samples(labelled.datasetDir, 'other/000000.tar'))];
    for (const s of all) {
      const label = labelOf(s.key);
      assert.equal(s.image_cluster_id, label?.clusterId ?? -1, s.key);
      assert.equal(s.image_panel_type, label?.panelType ?? '');
      assert.deepEqual(s.image_secondary_label, label?.secondaryLabel ?? []);
      assert.equal(s.image_label_id, label?.labelId ?? '');
    }
    assert.equal(labelled.labelled, true);
    const expected: Record<string, number> = {};
    for (const key of Object.values(fx.expected).flat()) {
      const name = labelOf(key)?.panelType ?? '(unlabelled)';
      expected[name] = (expected[name] ?? 0) + 1;
    }
    assert.deepEqual(labelled.byPanelType, expected);
    assert.equal(labelled.unlabelled, expected['(unlabelled)']);
    const manifest = JSON.parse(await readFile(join(labelled.datasetDir, 'manifest.json'), 'utf8'));
    assert.notEqual(manifest.upstream.transformSha256, '');
    assert.match(await readFile(join(labelled.datasetDir, 'README.md'), 'utf8'), /\| Microscopy \| \d+ \|/);
  });

  test('the sample schema is the same with and without labels', async () => {
    const shape = (s: SampleJson) => Object.entries(s).map(([k, v]) => `${k}:${Array.isArray(v) ? 'array' : typeof v}`).sort().join(',');
    const [a] = await samples(unlabelled.datasetDir, 'commercial/000000.tar');
    const [b] = await samples(labelled.datasetDir, 'commercial/000000.tar');
    assert.equal(shape(a!), shape(b!));
    assert.deepEqual(Object.keys(fieldKinds(SampleJson)).sort(), Object.keys(a!).sort());
  });

  test('the first samples of a group make every list field that is non-empty anywhere in the group non-empty', async () => {
    const out = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'small-shards'), shardMaxSamples: 3 }), testContext());
    for (const dataset of [labelled.datasetDir, out.datasetDir]) {
      for (const group of ['commercial', 'noncommercial', 'other']) {
        const files = (await listFiles(join(dataset, group))).sort();
        const all = (await Promise.all(files.map((f) => samples(dataset, `${group}/${f}`)))).flat();
        const lead = all.slice(0, LEAD_SAMPLES);
        for (const [field, kind] of Object.entries(fieldKinds(SampleJson))) {
          if (!kind.endsWith('[]')) continue;
          const f = field as keyof SampleJson;
          const anywhere = all.some((s) => (s[f] as unknown[]).length > 0);
          const inLead = lead.some((s) => (s[f] as unknown[]).length > 0);
          assert.equal(inLead, anywhere, `${group}: ${field}`);
        }
      }
    }
  });

  test('verify passes on the labelled dataset', async () => {
    assert.equal((await runVerify(labelled.datasetDir, testContext(), { decodeImages: false })).ok, true);
  });

  test('a unit without its label file, or a malformed label line, stops the load', async () => {
    const out = join(dir, 'badlabels');
    const f = await buildExtractFixture(out);
    await writeTransformFixture(f, labelOf);
    await rm(transformPaths(out).labels('u000001'));
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), { code: 'MANIFEST_MISSING' });
    await writeTransformFixture(f, labelOf);
    await appendFile(transformPaths(out).labels('u000000'), '{"key":"PMC1000001_1_f001","clusterId":"seven"}\n');
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), { code: 'TRANSFORM_INVALID' });
  });
});

describe('query', () => {
  test('writes the matching keys in dataset order, and index rows as Parquet', async () => {
    const where = "image_panel_type = 'Microscopy' AND image_width >= 10";
    const keys = join(dir, 'q/keys.txt');
    const r = await runQuery(QueryOptions.parse({ datasetDir: labelled.datasetDir, where, output: keys }), testContext());
    const listed = (await readFile(keys, 'utf8')).trim().split('\n');
    const expected = Object.values(fx.expected).flat().filter((k) => labelOf(k)?.panelType === 'Microscopy');
    assert.deepEqual([...listed].sort(), [...expected].sort());
    assert.equal(r.matched, expected.length);

    const pq = join(dir, 'q/rows.parquet');
    await runQuery(QueryOptions.parse({ datasetDir: labelled.datasetDir, where, output: pq }), testContext());
    const rows = await parquetRows(pq);
    assert.deepEqual(rows.map((x) => x['key']), listed);
    assert.ok(rows.every((x) => x['image_panel_type'] === 'Microscopy'));
  });

  test('index rows as JSON lines (.jsonl) or one JSON array (.json); other formats are refused', async () => {
    const where = "image_panel_type = 'Microscopy'";
    const jsonl = join(dir, 'q/rows.jsonl');
    const json = join(dir, 'q/rows.json');
    const r = await runQuery(QueryOptions.parse({ datasetDir: labelled.datasetDir, where, output: jsonl }), testContext());
    await runQuery(QueryOptions.parse({ datasetDir: labelled.datasetDir, where, output: json }), testContext());
    const lines = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { key: string });
    const array = JSON.parse(await readFile(json, 'utf8')) as { key: string }[];
    assert.equal(lines.length, r.matched);
    assert.deepEqual(array.map((x) => x.key), lines.map((x) => x.key));
    for (const output of ['keys.xlsx', 'keys', 'rows.tsv']) {
      const parsed = QueryOptions.safeParse({ datasetDir: labelled.datasetDir, where, output: join(dir, 'q', output) });
      assert.equal(parsed.success, false, output);
    }
  });

  test('can filter on article-table columns', async () => {
    const keys = join(dir, 'q/mesh.txt');
    await runQuery(QueryOptions.parse({ datasetDir: labelled.datasetDir, where: "list_contains(article_mesh_terms, 'Humans')", output: keys }), testContext());
    const want = Object.values(fx.expected).flat().filter((k) => fx.articles.find((a) => k.startsWith(`${a.id}_`))!.meshTerms.includes('Humans'));
    assert.deepEqual((await readFile(keys, 'utf8')).trim().split('\n').sort(), want.sort());
  });

  test('writes a subset dataset whose samples are byte-identical to the source and which verifies', async () => {
    const subset = join(dir, 'subset');
    const r = await runQuery(
      QueryOptions.parse({ datasetDir: labelled.datasetDir, where: "image_panel_type <> ''", subsetDir: subset, shardMaxSamples: 3 }),
      testContext(),
    );
    assert.ok(r.subsetShards >= 3);
    assert.match(await readFile(join(subset, 'README.md'), 'utf8'), /A subset of another build of this dataset:\*\* the samples whose index row matches `image_panel_type <> ''`/);
    const report = await runVerify(subset, testContext());
    assert.deepEqual(report.defects, []);
    assert.equal(report.samples, r.matched);
    const source = new Map((await readShard(join(labelled.datasetDir, 'commercial/000000.tar'))).map((m) => [m.name, m.data]));
    for (const m of await readShard(join(subset, 'commercial/000001.tar'))) assert.ok(m.data.equals(source.get(m.name)!), m.name);
  });

  test('a predicate that does not run, or that holds two statements, is a usage error', async () => {
    // The second one closes the parenthesis around the predicate and would be valid SQL as a script.
    for (const [where, message] of [
      ['no_such_column = 1', /no_such_column/],
      ['1 = 1) GROUP BY ALL; DROP VIEW idx; SELECT 1 WHERE (1 = 1', /multiple statements/i],
    ] as const) {
      await assert.rejects(
        runQuery(QueryOptions.parse({ datasetDir: labelled.datasetDir, where, output: join(dir, 'q/x.txt') }), testContext()),
        (e: Error & { code?: string }) => e.code === 'QUERY_INVALID' && message.test(e.message),
      );
    }
  });
});
