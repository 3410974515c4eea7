/**
 * extract folder (fixture) → load → what users read: GNU tar, Python's tarfile, tar-stream, the
 * Parquet index and article table, the card; and `verify` passes on it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { BIOMEDICA_FIELDS, LICENSE_GROUPS, SampleJson } from '../src/manifest/load-manifest.js';
import { LoadOptions, runLoad, formatLoadSummary, type LoadSummary } from '../src/stages/load/run-load.js';
import { runVerify } from '../src/stages/load/verify.js';
import { buildExtractFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { hasPython, listFiles, parquetRows, readShard, type ReadMember } from './helpers/dataset.js';

let dir: string;
let fx: ExtractFixture;
let summary: LoadSummary;
let dataset: string;
const members = new Map<string, ReadMember[]>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-rt-'));
  fx = await buildExtractFixture(join(dir, 'out'));
  summary = await runLoad(LoadOptions.parse({ outDir: fx.outDir, shardMaxSamples: 2 }), testContext());
  dataset = summary.datasetDir;
  for (const f of await listFiles(dataset)) if (f.endsWith('.tar')) members.set(f, await readShard(join(dataset, f)));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('load on the fixture extract', () => {
  test('writes every expected sample, per license group, and nothing else', () => {
    for (const group of LICENSE_GROUPS) {
      const keys = [...members.entries()]
        .filter(([f]) => f.startsWith(`${group}/`))
        .flatMap(([, ms]) => ms.filter((m) => m.name.endsWith('.jpg')).map((m) => m.name.slice(0, -4)));
      assert.deepEqual([...keys].sort(), [...fx.expected[group]].sort(), group);
    }
    const all = [...members.values()].flat().map((m) => m.name);
    assert.ok(!all.some((n) => n.startsWith('PMC1000004_2')), 'tombstoned article left out');
    assert.ok(!all.some((n) => n.startsWith('PMC1000001_1_f003') || n.startsWith('PMC1000002_1_f002')), 'filtered and failed figures left out');
    assert.equal(summary.samples, Object.values(fx.expected).flat().length);
  });

  test('shards are numbered without gaps, cut by count, with deterministic headers', () => {
    for (const group of LICENSE_GROUPS) {
      const shards = [...members.keys()].filter((f) => f.startsWith(`${group}/`)).sort();
      assert.deepEqual(shards, shards.map((_, i) => `${group}/${String(i).padStart(6, '0')}.tar`));
      assert.equal(shards.length, Math.ceil(fx.expected[group].length / 2));
    }
    for (const m of [...members.values()].flat()) {
      assert.equal(m.mode, 0o644);
      assert.equal(m.uid, 0);
      assert.equal(m.gid, 0);
      assert.equal(m.uname, '');
      assert.equal(m.gname, '');
      assert.equal(m.mtime, Date.UTC(2026, 2, 1));
    }
  });

  test('every sample has jpg, json, txt; a sample read back equals what was written', () => {
    const figures = new Map(fx.figures.flatMap((f) => f.images.map((i) => [i.key, { f, i }] as const)));
    const articles = new Map(fx.articles.map((a) => [a.id, a]));
    for (const ms of members.values()) {
      for (let i = 0; i < ms.length; i += 3) {
        const key = ms[i]!.name.replace(/\.jpg$/, '');
        assert.deepEqual(ms.slice(i, i + 3).map((m) => m.name), [`${key}.jpg`, `${key}.json`, `${key}.txt`]);
        const [jpg, json, txt] = ms.slice(i, i + 3) as [ReadMember, ReadMember, ReadMember];
        const { f, i: image } = figures.get(key)!;
        const a = articles.get(f.articleId)!;
        assert.ok(jpg.data.equals(fx.images.get(key)!), `${key}: image bytes`);
        assert.equal(txt.data.toString('utf8'), f.caption);
        const meta = SampleJson.parse(JSON.parse(json.data.toString('utf8')));
        assert.equal(meta.key, key);
        assert.equal(meta.image_hash, sha(jpg.data));
        assert.equal(meta.image_file_name, image.mediaName);
        assert.deepEqual(meta.image_size, [image.width, image.height]);
        assert.deepEqual(meta.image_context, f.citingParagraphs);
        assert.equal(meta.article_date, a.pubDate);
        assert.equal(meta.article_accession_id, a.pmcid);
        assert.equal(meta.article_license, a.licenseCode);
        assert.equal(meta.article_license_group, a.licenseGroup);
        assert.deepEqual(meta.article_mesh_terms, a.meshTerms);
        assert.equal(meta.image_cluster_id, -1);
        assert.deepEqual(meta.image_primary_label, []);
        // Normalized layout: article-level text lives in the article table, typed empty here.
        assert.equal(meta.article_text, '');
        assert.deepEqual(meta.image_set, []);
        assert.deepEqual(meta.article_reference_list, []);
        assert.equal(meta.article_reference_count, a.referenceCount);
      }
    }
    const unicode = [...members.values()].flat().find((m) => m.name === 'PMC1000002_1_f001.txt')!;
    assert.match(unicode.data.toString('utf8'), /显微镜图像 🔬/);
  });

  test('the JSON of every sample has the same keys and types, BIOMEDICA fields included, never null', () => {
    const shapes = new Set<string>();
    for (const ms of members.values()) {
      for (const m of ms.filter((x) => x.name.endsWith('.json'))) {
        const obj = JSON.parse(m.data.toString('utf8')) as Record<string, unknown>;
        for (const f of BIOMEDICA_FIELDS) assert.ok(f in obj, f);
        assert.ok(!Object.values(obj).includes(null));
        shapes.add(Object.entries(obj).map(([k, v]) => `${k}:${Array.isArray(v) ? 'array' : typeof v}`).join(','));
      }
    }
    assert.equal(shapes.size, 1);
  });

  test('GNU tar lists every shard', () => {
    for (const [f, ms] of members) {
      const r = spawnSync('tar', ['tf', join(dataset, f)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ms.map((m) => m.name));
    }
  });

  test("Python's tarfile reads every shard, at the offsets the index gives", { skip: hasPython ? false : 'python3 is not installed' }, async () => {
    const script = [
      'import json, sys, tarfile, hashlib',
      'out = {}',
      'for p in sys.argv[1:]:',
      '    with tarfile.open(p) as t:',
      '        out[p] = [[m.name, m.offset, hashlib.sha256(t.extractfile(m).read()).hexdigest()] for m in t.getmembers()]',
      'print(json.dumps(out))',
    ].join('\n');
    const files = [...members.keys()].map((f) => join(dataset, f));
    const r = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const py = JSON.parse(r.stdout) as Record<string, [string, number, string][]>;
    for (const group of LICENSE_GROUPS) {
      const rows = await parquetRows(join(dataset, `index/${group}.parquet`));
      for (const row of rows) {
        const list = py[join(dataset, String(row['shard']))]!;
        const jpg = list.find(([name]) => name === `${String(row['key'])}.jpg`)!;
        assert.equal(jpg[1], Number(row['offset']), `${String(row['key'])} offset`);
        assert.equal(jpg[2], row['image_hash']);
      }
    }
  });

  test('the index has one row per sample; the article table holds the article-level text once', async () => {
    for (const group of LICENSE_GROUPS) {
      const rows = await parquetRows(join(dataset, `index/${group}.parquet`));
      assert.deepEqual(rows.map((r) => String(r['key'])).sort(), [...fx.expected[group]].sort());
      const articles = await parquetRows(join(dataset, `articles/${group}.parquet`));
      const ids = [...new Set(rows.map((r) => String(r['article_id'])))].sort();
      assert.deepEqual(articles.map((a) => String(a['article_id'])).sort(), ids);
      for (const a of articles) {
        const rec = fx.articles.find((x) => x.id === a['article_id'])!;
        assert.equal(a['article_text'], rec.bodyText);
        assert.equal((a['image_set'] as string[]).length, Number(a['sample_count']));
        assert.deepEqual(a['article_reference_list'], rec.references);
        assert.equal(rec.references.length, 3);
      }
    }
    const [row] = await parquetRows(join(dataset, 'index/noncommercial.parquet'));
    assert.equal(row!['caption'], fx.figures.find((f) => f.key === 'PMC1000002_1_f001')!.caption);
  });

  test('the card, stats and summary describe the dataset', async () => {
    const card = await readFile(join(dataset, 'README.md'), 'utf8');
    for (const group of LICENSE_GROUPS) assert.match(card, new RegExp(`config_name: ${group}\\n  data_files:\\n  - split: train\\n    path: ${group}/\\*\\.tar`));
    assert.match(card, /snapshot 2026-03-01/);
    assert.match(card, /National Library of Medicine/);
    // The citation names the build by its manifest's sha256, written after the card: they must agree.
    const manifestSha = createHash('sha256').update(await readFile(join(dataset, 'manifest.json'))).digest('hex');
    assert.match(card, new RegExp(`note += \\{manifest\\.json sha256 ${manifestSha}\\}`));
    assert.deepEqual(summary.failures.extract, { IMAGE_NOT_IN_PACKAGE: 1, PARSE_FAILED: 1 });
    assert.equal(summary.leftOut.tombstonedArticles, 1);
    assert.equal(summary.leftOut.figuresFiltered, 1);
    assert.equal(summary.leftOut.figuresFailed, 1);
    assert.deepEqual(summary.filteredByReason, { CAPTION_EMPTY: 1 });
    const text = formatLoadSummary(summary);
    assert.match(text, /import webdataset as wds/);
    assert.match(text, new RegExp(`load_dataset\\(${JSON.stringify(dataset)}, "commercial", split="train"\\)`));
    assert.match(text, new RegExp(`Loaded ${summary.samples} samples`));
  });

  test('verify passes', async () => {
    const report = await runVerify(dataset, testContext());
    assert.deepEqual(report.defects, []);
    assert.equal(report.ok, true);
    assert.equal(report.samples, summary.samples);
  });
});

describe('load options', () => {
  test('--denormalized repeats article_text, image_set and article_reference_list in every sample; the schema is unchanged', async () => {
    const out = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'denorm'), denormalized: true }), testContext());
    const ms = await readShard(join(out.datasetDir, 'commercial/000000.tar'));
    const jsons = ms.filter((m) => m.name.endsWith('.json')).map((m) => SampleJson.parse(JSON.parse(m.data.toString('utf8'))));
    const a1 = jsons.find((j) => j.key === 'PMC1000001_1_f002_2')!;
    assert.equal(a1.article_text, fx.articles.find((a) => a.id === 'PMC1000001_1')!.bodyText);
    assert.equal(a1.image_set.length, 3);
    assert.deepEqual(a1.article_reference_list, fx.articles.find((a) => a.id === 'PMC1000001_1')!.references);
    assert.match(a1.article_reference_list[1]!, /^Müller K, Doe R \(2020\)/);
    assert.equal((await runVerify(out.datasetDir, testContext(), { decodeImages: false })).ok, true);
  });

  test('--no-sub-articles leaves sub-article figures out', async () => {
    const out = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'nosub'), includeSubArticles: false }), testContext());
    const names = (await readShard(join(out.datasetDir, 'other/000000.tar'))).map((m) => m.name);
    assert.ok(names.includes('PMC1000003_f001.jpg'));
    assert.ok(!names.includes('PMC1000003_f002.jpg'));
    assert.equal(out.leftOut.subArticleFigures, 1);
  });

  test('shards are cut by bytes and never pass the limit unless one sample does', async () => {
    const max = 12_000;
    const out = await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: join(dir, 'bybytes'), shardMaxBytes: max }), testContext());
    const files = (await listFiles(out.datasetDir)).filter((f) => f.endsWith('.tar'));
    assert.ok(files.length > 3);
    for (const f of files) {
      const ms = await readShard(join(out.datasetDir, f));
      const size = (await readFile(join(out.datasetDir, f))).length;
      assert.ok(size <= max || ms.length === 3, `${f}: ${size} bytes`);
    }
    assert.equal(out.samples, summary.samples);
  });
});
