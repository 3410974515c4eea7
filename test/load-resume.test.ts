/**
 * Determinism and resume: the same extract gives byte-identical datasets; a rerun rewrites only the
 * shards that are missing, damaged or stale; an interrupted run leaves no manifest and resumes.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterruptedError, ManifestError } from '../src/errors.js';
import { testContext } from '../src/pipeline/context.js';
import { noProgress, type Progress } from '../src/log/progress.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { runVerify } from '../src/stages/load/verify.js';
import { buildExtractFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { hashTree } from './helpers/dataset.js';
import { EXTRACT_VERSION, extractPaths } from '../src/manifest/extract-manifest.js';
import { sha256, toJsonl, writeJsonAtomic } from '../src/storage/files.js';
import type { FigureRecord, ImageRecord } from '../src/manifest/records.js';

let dir: string;
let fx: ExtractFixture;
let first: Record<string, string>;
const opts = (datasetDir: string) => LoadOptions.parse({ outDir: fx.outDir, datasetDir, shardMaxSamples: 2 });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-resume-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 12, figuresPerArticle: 2, unitSize: 5 } });
  await runLoad(opts(join(dir, 'a')), testContext());
  first = await hashTree(join(dir, 'a'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('determinism', () => {
  test('two loads of the same extract give byte-identical files: shards, Parquet, card, manifest', async () => {
    await runLoad(opts(join(dir, 'b')), testContext());
    const second = await hashTree(join(dir, 'b'));
    assert.ok(Object.keys(first).some((f) => f.endsWith('.parquet')));
    assert.ok(Object.keys(first).filter((f) => f.endsWith('.tar')).length >= 10);
    assert.deepEqual(second, first);
  });

  test('a rerun in place writes no shard and changes no byte', async () => {
    const again = await runLoad(opts(join(dir, 'a')), testContext());
    assert.equal(again.run.shardsWritten, 0);
    assert.equal(again.run.shardsReused, again.shards);
    assert.deepEqual(await hashTree(join(dir, 'a')), first);
  });
});

describe('resume', () => {
  test('a deleted, a truncated and a stale-marker shard are rewritten; the rest are kept', async () => {
    const d = join(dir, 'c');
    await runLoad(opts(d), testContext());
    await rm(join(d, 'commercial/000001.tar'));
    await truncate(join(d, 'commercial/000002.tar'), 1000);
    const marker = join(d, 'stats/other/000000.json');
    const stats = JSON.parse(await readFile(marker, 'utf8'));
    await writeFile(marker, JSON.stringify({ ...stats, key: 'stale' }));
    await appendFile(join(d, 'noncommercial/000009.tar'), 'left over from a bigger run');

    const rerun = await runLoad(opts(d), testContext());
    assert.equal(rerun.run.shardsWritten, 3);
    assert.deepEqual(await hashTree(d), first);
    assert.equal((await runVerify(d, testContext(), { decodeImages: false })).ok, true);
  });

  test('an interrupted run throws InterruptedError, leaves no manifest, and the rerun finishes', async () => {
    const d = join(dir, 'd');
    const abort = new AbortController();
    let ticks = 0;
    // Abort once a few samples are written: the shard loop stops at the next shard boundary.
    const progress: Progress = { ...noProgress(), tick: (n = 1) => ((ticks += n) >= 5 ? abort.abort() : undefined) };
    await assert.rejects(runLoad(opts(d), testContext({ signal: abort.signal, progress })), InterruptedError);
    await assert.rejects(readFile(join(d, 'manifest.json')), { code: 'ENOENT' });
    const resumed = await runLoad(opts(d), testContext());
    assert.ok(resumed.run.shardsReused >= 2, `reused ${resumed.run.shardsReused}`);
    assert.ok(resumed.run.shardsWritten >= 1);
    assert.deepEqual(await hashTree(d), first);
  });

  test('fewer samples on a rerun remove the shards and markers the plan no longer has', async () => {
    const d = join(dir, 'e');
    await runLoad(LoadOptions.parse({ outDir: fx.outDir, datasetDir: d, shardMaxSamples: 1 }), testContext());
    const out = await runLoad(opts(d), testContext());
    const files = Object.keys(await hashTree(d));
    assert.equal(files.filter((f) => f.endsWith('.tar')).length, out.shards);
    assert.equal(files.filter((f) => /^stats\/\w+\/\d{6}\.json$/.test(f)).length, out.shards);
    assert.equal((await runVerify(d, testContext(), { decodeImages: false })).ok, true);
  });
});

describe('preflight', () => {
  test('no extract manifest: MANIFEST_MISSING with a hint to run extract', async () => {
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: join(dir, 'nowhere') }), testContext()), (e: unknown) => {
      assert.ok(e instanceof ManifestError);
      assert.equal(e.code, 'MANIFEST_MISSING');
      assert.match(e.hint ?? '', /biomedica extract/);
      return true;
    });
  });

  test('an extract with no samples gives an empty dataset that verifies', async () => {
    const out = join(dir, 'empty');
    await buildExtractFixture(out, { handWritten: false });
    const s = await runLoad(LoadOptions.parse({ outDir: out }), testContext());
    assert.equal(s.samples, 0);
    assert.equal(s.shards, 0);
    assert.doesNotMatch(await readFile(join(s.datasetDir, 'README.md'), 'utf8'), /configs:/);
    assert.equal((await runVerify(s.datasetDir, testContext())).ok, true);
  });

  test('another manifest version: MANIFEST_VERSION', async () => {
    const out = join(dir, 'older');
    const f = await buildExtractFixture(out);
    await writeJsonAtomic(extractPaths(out).manifest, { ...f.manifest, version: EXTRACT_VERSION - 1 });
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), { code: 'MANIFEST_VERSION' });
  });

  test('a unit file changed after extract: MANIFEST_MISMATCH', async () => {
    const out = join(dir, 'changed');
    await buildExtractFixture(out);
    await appendFile(extractPaths(out).unitFile('u000001', 'figures.jsonl'), '\n');
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), { code: 'MANIFEST_MISMATCH' });
  });

  test("a unit's missing image store: its images are recorded failures; the other samples are written", async () => {
    const out = join(dir, 'missing');
    const f = await buildExtractFixture(out);
    await rm(extractPaths(out).imageStore('u000000'));
    const lost = new Set(f.figures.flatMap((x) => x.images.filter((i) => i.file === 'units/u000000/images.tar').map((i) => i.key)));
    const expectedLost = Object.values(f.expected).flat().filter((k) => lost.has(k));
    assert.ok(expectedLost.length > 0);
    const s = await runLoad(LoadOptions.parse({ outDir: out }), testContext());
    assert.deepEqual(s.failures.load, { IMAGE_MISSING: expectedLost.length });
    assert.equal(s.samples, Object.values(f.expected).flat().length - expectedLost.length);
    const failures = (await readFile(join(s.datasetDir, 'failures.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(failures.map((x) => x.code), expectedLost.map(() => 'IMAGE_MISSING'));
    assert.deepEqual(new Set(failures.map((x) => x.item)), new Set(expectedLost));
    assert.equal((await runVerify(s.datasetDir, testContext(), { decodeImages: false })).ok, true);
  });

  test('hostile image records (a range past the store, another unit\'s store, a path out of the folder) are refused as RECORD_INVALID, not read', async () => {
    const out = join(dir, 'hostile');
    const f = await buildExtractFixture(out);
    const paths = extractPaths(out);
    const file = paths.unitFile('u000000', 'figures.jsonl');
    const storeSize = (await readFile(paths.imageStore('u000000'))).length;
    const hostile: Record<string, (i: ImageRecord) => ImageRecord> = {
      PMC1000001_1_f001: (i) => ({ ...i, offset: storeSize + 512 }),
      PMC1000001_1_f002: (i) => ({ ...i, file: 'units/u000001/images.tar' }),
      PMC1000001_1_f002_2: (i) => ({ ...i, file: 'units/u000000/../../../../../etc/passwd', offset: 512 }),
      PMC1000003_f001: (i) => ({ ...i, offset: i.offset + 7 }),
    };
    const figures = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FigureRecord)
      .map((x) => ({ ...x, images: x.images.map((i) => hostile[i.key]?.(i) ?? i) }));
    const text = toJsonl(figures);
    await writeFile(file, text);
    await writeJsonAtomic(paths.manifest, { ...f.manifest, units: f.manifest.units.map((u) => (u.id === 'u000000' ? { ...u, files: { ...u.files, 'figures.jsonl': sha256(text) } } : u)) });
    const s = await runLoad(LoadOptions.parse({ outDir: out }), testContext());
    const failures = (await readFile(join(s.datasetDir, 'failures.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(failures.map((x) => [x.item, x.code]).sort(), Object.keys(hostile).map((k) => [k, 'RECORD_INVALID']).sort());
    assert.equal(s.samples, Object.values(f.expected).flat().length - Object.keys(hostile).length);
    assert.equal((await runVerify(s.datasetDir, testContext())).ok, true);
  });

  test('an image changed after extract is not re-hashed by load (its record and marker vouch for it); verify finds it', async () => {
    const out = join(dir, 'tampered');
    const f = await buildExtractFixture(out);
    const key = 'PMC1000003_f001';
    const image = f.figures.flatMap((x) => x.images).find((i) => i.key === key)!;
    const store = extractPaths(out).imageStore('u000000');
    const bytes = await readFile(store);
    bytes[image.offset + image.bytes - 10] = bytes[image.offset + image.bytes - 10]! ^ 0xff;
    await writeFile(store, bytes);
    const s = await runLoad(LoadOptions.parse({ outDir: out }), testContext());
    const report = await runVerify(s.datasetDir, testContext(), { decodeImages: false });
    assert.equal(report.ok, false);
    assert.deepEqual(report.defects.filter((d) => d.code === 'IMAGE_HASH').map((d) => d.key), [key]);
  });

  test('two articles sharing an image key: DUPLICATE_KEY', async () => {
    const out = join(dir, 'dupe');
    const f = await buildExtractFixture(out);
    const paths = extractPaths(out);
    // Unit 1 gets a copy of a unit-0 figure under another article id but with the same image key.
    // Its image record points at an image of unit 1's own store: the range is valid, only the key repeats.
    const host = f.figures.filter((x) => x.articleId === 'PMC1000004_2').flatMap((x) => x.images)[0]!;
    const original = f.figures.find((x) => x.key === 'PMC1000001_1_f001')!;
    const copy = { ...original, articleId: 'PMC1000006_1', index: 9, images: original.images.map((i) => ({ ...i, file: host.file, offset: host.offset, bytes: host.bytes })) };
    const figures = [...f.figures.filter((x) => x.articleId === 'PMC1000004_2' || x.articleId === 'PMC1000006_1'), copy];
    const text = toJsonl(figures);
    await writeFile(paths.unitFile('u000001', 'figures.jsonl'), text);
    const manifest = { ...f.manifest, units: f.manifest.units.map((u) => (u.id === 'u000001' ? { ...u, files: { ...u.files, 'figures.jsonl': sha256(text) } } : u)) };
    await writeJsonAtomic(paths.manifest, manifest);
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), { code: 'DUPLICATE_KEY' });
  });
});
