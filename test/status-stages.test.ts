/**
 * Status past extract, in process: load split over two workers (one done: half the shards),
 * finished by the other (and `--units` naming the shards left); a load interrupted mid-way;
 * transform part way through its steps; enrichment with a unit given up on transient failures; and
 * a marker of another step version counted as stale. Extract here is the records fixture (a
 * manifest and markers, no plan).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { InterruptedError, UsageError } from '../src/errors.js';
import { noProgress, type Progress } from '../src/log/progress.js';
import { EXTRACT_STEP, extractPaths, type ExtractManifest } from '../src/manifest/extract-manifest.js';
import { pubmedStep, pubmedUnit } from '../src/enrich/records.js';
import { LoadManifest } from '../src/manifest/load-manifest.js';
import { TRANSFORM_STEP_VERSION, transformPaths } from '../src/manifest/transform-records.js';
import { testContext } from '../src/pipeline/context.js';
import { readRunRecords, runsDirOf } from '../src/pipeline/run-record.js';
import { writeMarker } from '../src/pipeline/runner.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { readStatus } from '../src/status/read-status.js';
import { StatusReport, formatStatus } from '../src/status/report.js';
import { toJsonl, writeFileAtomic } from '../src/storage/files.js';
import { buildExtractFixture, type ExtractFixture } from './helpers/extract-fixture.js';

let dir: string;
let fx: ExtractFixture;
const opts = (datasetDir: string, extra: Partial<LoadOptions> = {}) => LoadOptions.parse({ outDir: fx.outDir, datasetDir, shardMaxSamples: 2, ...extra });
const stage = (report: StatusReport, name: string) => report.stages.find((s) => s.stage === name);
const statusOf = async (datasetDir?: string) => StatusReport.parse(await readStatus({ outDir: fx.outDir, datasetDir }));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'status-stages-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 12, figuresPerArticle: 2, unitSize: 5 } });
});
after(async () => rm(dir, { recursive: true, force: true }));

describe('status past extract', () => {
  test('extract from its manifest; failures by reason from the units\' failure files', async () => {
    const report = await statusOf();
    const extract = stage(report, 'extract')!;
    assert.equal(extract.state, 'complete');
    assert.equal(extract.steps[0]!.units.done, fx.units.length);
    assert.equal(extract.steps[0]!.units.pending, 0);
    const recorded = fx.manifest.totals.failuresByCode;
    assert.deepEqual(Object.fromEntries(extract.failures.map((f) => [f.code, f.transient + f.content])), recorded);
    assert.equal(stage(report, 'load')!.state, 'not-started');
  });

  test('load: worker 0 of 2 leaves half the shards pending; worker 1 finishes; keys checked against the shared plan', async () => {
    const d = join(dir, 'workers');
    const first = await runLoad(opts(d, { worker: { index: 0, count: 2 } }), testContext());
    assert.equal(first.manifest, '');
    const mid = await statusOf(d);
    const load = stage(mid, 'load')!;
    assert.equal(load.state, 'in-progress');
    const step = load.steps[0]!;
    assert.equal(step.step, 'load.shard');
    assert.ok(step.units.total >= 6, `${step.units.total} shards`);
    assert.equal(step.units.done, Math.ceil(step.units.total / 2));
    assert.equal(step.units.pending, step.units.total - step.units.done);
    assert.equal(step.keysChecked, true);
    assert.equal(step.items.name, 'samples');
    assert.equal(step.lastRun?.workers, 1);
    assert.equal(step.lastRun?.state, 'finished');
    assert.ok(step.etaSeconds !== null && step.etaSeconds > 0);
    assert.match(formatStatus(mid), /load\.shard +in-progress/);
    assert.equal(step.notDone, undefined, 'units are listed only when asked');
    // --units: the shards left are worker 1's, ordinals 1, 3, 5… over the groups in order.
    const listed = stage(StatusReport.parse(await readStatus({ outDir: fx.outDir, datasetDir: d, listUnits: true })), 'load')!.steps[0]!;
    assert.equal(listed.notDone!.length, step.units.pending);
    assert.ok(listed.notDone!.every((u) => u.state === 'pending' && /^(commercial|noncommercial|other)\/\d{6}\.tar$/.test(u.unit)));
    assert.match(formatStatus(StatusReport.parse(await readStatus({ outDir: fx.outDir, datasetDir: d, listUnits: true }))), /load\.shard: not done: \w+\/\d{6}\.tar/);

    const second = await runLoad(opts(d, { worker: { index: 1, count: 2 } }), testContext());
    assert.notEqual(second.manifest, '');
    const manifest = LoadManifest.parse(JSON.parse(await readFile(second.manifest, 'utf8')));
    const all = manifest.groups.flatMap((g) => g.shards.map((x) => x.shard));
    assert.deepEqual(listed.notDone!.map((u) => u.unit), all.filter((_, i) => i % 2 === 1));
    const end = await statusOf(d);
    assert.equal(stage(end, 'load')!.state, 'complete');
    assert.equal(stage(end, 'load')!.steps[0]!.units.done, step.units.total);
    assert.equal(stage(end, 'load')!.steps[0]!.items.done, second.samples);
    // Pointed at the dataset itself: a usage error whose hint names --dataset.
    await assert.rejects(readStatus({ outDir: d }), (e: unknown) => e instanceof UsageError && e.code === 'NOT_A_RUN_FOLDER' && /--dataset/.test(e.hint ?? ''));
    // The two workers ran one after the other: the last run is worker 1's alone.
    assert.equal(stage(end, 'load')!.steps[0]!.lastRun?.workers, 1);
  });

  test('a plain load interrupted mid-way: its record says stopped; no plan is left, the shards it finished are counted', async () => {
    const d = join(dir, 'interrupted');
    const abort = new AbortController();
    let ticks = 0;
    const progress: Progress = { ...noProgress(), tick: (n = 1) => ((ticks += n) >= 5 ? abort.abort() : undefined) };
    await assert.rejects(runLoad(opts(d), testContext({ signal: abort.signal, progress })), InterruptedError);
    const report = await statusOf(d);
    const load = stage(report, 'load')!;
    assert.equal(load.state, 'in-progress');
    // A plain load removes its staging when it stops: no total until it plans again, but the shards on disk are counted.
    assert.equal(load.steps.length, 0);
    assert.match(load.note, /[1-9]\d* shard marker\(s\) on disk/);
    const records = (await readRunRecords(runsDirOf(fx.outDir))).filter((r) => r.step === 'load.shard' && r.state === 'stopped');
    assert.equal(records.length, 1);
    assert.ok(records[0]!.units.written >= 1);
  });

  test('transform part way: embed 1 of 2 with an embedding failure, fit pending; a marker of another version is stale', async () => {
    const paths = transformPaths(fx.outDir);
    const [u0, u1] = fx.units as [string, string];
    const failure = { unit: u0, item: 'k1', step: 'embed', code: 'IMAGE_DECODE', message: 'bad', transient: false };
    await writeFileAtomic(paths.failures(u0), toJsonl([failure]));
    const identity = (name: string, version = TRANSFORM_STEP_VERSION) => ({ name: `transform.${name}`, version, markerPath: (u: { id: string }) => paths.marker(name, u.id) });
    await writeMarker(identity('embed'), { id: u0, key: 'k' }, { result: { failed: 1, images: 3, embedded: 2 } });
    await writeMarker(identity('embed', TRANSFORM_STEP_VERSION + 1), { id: u1, key: 'k' }, { result: { failed: 0 } });
    const report = await statusOf();
    const transform = stage(report, 'transform')!;
    assert.equal(transform.state, 'in-progress');
    const steps = Object.fromEntries(transform.steps.map((s) => [s.step, s]));
    assert.deepEqual(Object.keys(steps), ['transform.embed', 'transform.fit', 'transform.assign', 'transform.label']);
    assert.deepEqual(steps['transform.embed']!.units, { total: fx.units.length, done: 1, failed: 0, pending: fx.units.length - 1, stale: 1 });
    assert.equal(steps['transform.fit']!.units.done, 0);
    assert.equal(steps['transform.assign']!.units.done, 0);
    assert.deepEqual(transform.failures, [{ code: 'IMAGE_DECODE', transient: 0, content: 1 }]);
    assert.equal(steps['transform.embed']!.lastRun, null);
    assert.equal(steps['transform.embed']!.etaSeconds, null, 'no run recorded: ETA unknown');
    assert.match(formatStatus(report), /transform\.embed .* unknown +unknown$/m);
  });

  test('enrich when present: a unit done, a unit given up with transient failures (retryable, with the hint)', async () => {
    assert.equal(stage(await statusOf(), 'enrich'), undefined, 'no enrichment on disk: not reported');
    const [u0, u1] = fx.manifest.units as [ExtractManifest['units'][number], ExtractManifest['units'][number]];
    const result = { records: 1, withPmid: 1, found: 1, withMesh: 0, sha256: 'a'.repeat(64) };
    await writeMarker(pubmedStep(fx.outDir), pubmedUnit(u0.id, u0.files['articles.jsonl']!), { result });
    const failures = [1, 2].map((k) => ({ unit: u1.id, item: `PMC${k}`, step: 'enrich', code: 'EFETCH_FAILED', message: '503', transient: true }));
    await writeFileAtomic(extractPaths(fx.outDir).unitFile(u1.id, 'pubmed.failures.jsonl'), toJsonl(failures));
    const report = await statusOf();
    const enrich = stage(report, 'enrich')!;
    assert.equal(enrich.state, 'in-progress');
    assert.deepEqual(enrich.steps[0]!.units, { total: fx.units.length, done: 1, failed: 1, pending: fx.units.length - 2, stale: 0 });
    assert.equal(enrich.steps[0]!.keysChecked, true);
    assert.deepEqual(enrich.failures, [{ code: 'EFETCH_FAILED', transient: 2, content: 0 }]);
    assert.equal(report.retryable, 2);
    assert.deepEqual(report.hints, [`2 item failure(s) are transient: retry them with biomedica retry-failed ${fx.outDir}`]);
  });

  test('an extract marker of another step version is stale, and its unit pending', async () => {
    const paths = extractPaths(fx.outDir);
    const unit = fx.units[0]!;
    const marker = { name: EXTRACT_STEP, version: 1, markerPath: (u: { id: string }) => paths.unitMarker(u.id) };
    await writeMarker(marker, { id: unit, key: 'old' }, { result: z.object({}).parse({}) });
    const extract = stage(await statusOf(), 'extract')!;
    assert.equal(extract.state, 'in-progress');
    assert.equal(extract.steps[0]!.units.stale, 1);
    assert.equal(extract.steps[0]!.units.done, fx.units.length - 1);
  });
});
