/**
 * `biomedica status OUT` on real extract runs of the sample mirror: a folder half done by one
 * worker of two, a run in progress (a child process holding the lock while status reads), a run
 * killed mid-way, a run whose items failed (some transient: a server answering 503), a copy of a
 * folder, and a read-only one. Status must count the same from every copy and never write.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusReport } from '../src/status/report.js';
import { collect, repoRoot, runCli, spawnCli } from './helpers/cli.js';
import { startHttpServer } from './helpers/servers.js';

const SAMPLE = join(repoRoot, 'sample');
const ARGS = ['--unit-size', '6', '--no-progress', '--json'];
let work: string;

async function status(out: string, ...extra: string[]): Promise<StatusReport> {
  const r = await runCli(['status', out, '--json', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  // The documented shape: the schema parses it whole.
  return StatusReport.parse(JSON.parse(r.stdout));
}

const stage = (report: StatusReport, name: string) => report.stages.find((s) => s.stage === name)!;

/** Every entry under dir (hidden ones too) with its size and mtime: what a writer would change. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = await stat(p);
      out.set(relative(dir, p), `${e.isDirectory() ? 'd' : s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out;
}

/**
 * An extract of the sample over HTTP whose package requests after the first unit's six are held
 * until `release`: once this resolves, a run is in progress (one unit done, nine to go) for as long
 * as the test needs. `stop` releases the server and closes it.
 */
async function runHeldAfterFirstUnit(out: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let packages = 0;
  const server = await startHttpServer(SAMPLE, {
    handler: async (req) => {
      if (req.url?.endsWith('.tar.gz') && ++packages > 6) await gate;
      return false;
    },
  });
  const child = spawnCli(['extract', '--out', out, '--source', server.url, '--concurrency', '1', ...ARGS]);
  const done = collect(child);
  const stop = async () => {
    release();
    child.kill('SIGKILL');
    await done;
    await server.close();
  };
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(out, 'extract', 'units', 'u000000', 'done.json'))) {
    if (Date.now() > deadline) {
      await stop();
      assert.fail('the first unit was not done within a minute');
    }
    await sleep(20);
  }
  return { child, done, release, stop };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'biomedica-status-'));
});
after(async () => {
  execFileSync('chmod', ['-R', 'u+w', work]);
  await rm(work, { recursive: true, force: true });
});

describe('biomedica status', () => {
  test('mid-run: one worker of two done; the same counts from a copy and from a read-only folder, which it never writes', async () => {
    const out = join(work, 'half');
    const planned = await runCli(['extract', '--out', out, '--source', SAMPLE, '--plan-only', ...ARGS]);
    assert.equal(planned.code, 0, planned.stderr);
    const before = await status(out);
    assert.deepEqual(stage(before, 'extract').steps[0]!.units, { total: 10, done: 0, failed: 0, pending: 10, stale: 0 });
    assert.equal(stage(before, 'extract').steps[0]!.lastRun, null);
    assert.equal(stage(before, 'extract').steps[0]!.etaSeconds, null, 'no run recorded: no rate, no ETA');

    const w0 = await runCli(['extract', '--out', out, '--source', SAMPLE, '--worker', '0/2', ...ARGS]);
    assert.equal(w0.code, 0, w0.stderr);
    const report = await status(out);
    assert.equal(report.run.state, 'none');
    const extract = stage(report, 'extract');
    assert.equal(extract.state, 'in-progress');
    const step = extract.steps[0]!;
    assert.deepEqual(step.units, { total: 10, done: 5, failed: 0, pending: 5, stale: 0 });
    assert.equal(step.items.name, 'articles');
    assert.equal(step.items.done + step.items.pending, step.items.total);
    assert.equal(step.items.total, 59);
    assert.equal(step.lastRun?.state, 'finished');
    assert.equal(step.lastRun?.workers, 1);
    assert.equal(step.lastRun?.itemsDone, step.items.done, 'the worker did every done unit');
    assert.ok(step.lastRun!.itemsPerSecond > 0 && step.lastRun!.unitsPerSecond > 0);
    assert.ok(Math.abs(step.etaSeconds! - step.items.pending / step.lastRun!.itemsPerSecond) < 1e-6);
    // The sample's broken articles are content failures: nothing to retry.
    assert.ok(extract.failures.length > 0);
    assert.ok(extract.failures.every((f) => f.transient === 0 && f.content > 0), JSON.stringify(extract.failures));
    assert.equal(report.retryable, 0);
    assert.deepEqual(report.hints, []);
    assert.equal(stage(report, 'transform').state, 'not-started');
    assert.equal(stage(report, 'load').state, 'waiting');
    assert.equal(stage(report, 'enrich'), undefined, 'enrichment is reported only when present');

    const text = await runCli(['status', out]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^extract +in-progress +10 +5 +0 +5 /m);
    assert.match(text.stdout, /articles\/s/);
    assert.match(text.stdout, /failures by reason/);

    // A copy (another path, new mtimes) counts the same.
    const copy = join(work, 'half-copy');
    await cp(out, copy, { recursive: true });
    const copied = await status(copy);
    assert.deepEqual(copied.stages, report.stages);

    // Read-only: status still reads it, and writes nothing (checked by the tree, since root ignores the mode bits).
    execFileSync('chmod', ['-R', 'a-w', copy]);
    const tree = await snapshot(copy);
    const readOnly = await status(copy);
    assert.deepEqual(readOnly.stages, report.stages);
    await runCli(['status', copy]);
    assert.deepEqual(await snapshot(copy), tree);
  });

  test('while a run holds the folder: running, with its pid; after it ends: complete', async () => {
    const out = join(work, 'live');
    const { child, done, release, stop } = await runHeldAfterFirstUnit(out);
    try {
      const mid = await status(out);
      assert.equal(mid.run.state, 'running');
      assert.equal(mid.run.locks.length, 1);
      assert.equal(mid.run.locks[0]!.pid, child.pid);
      assert.equal(mid.run.locks[0]!.host, hostname());
      assert.equal(mid.run.locks[0]!.command, 'extract');
      const step = stage(mid, 'extract').steps[0]!;
      assert.equal(step.lastRun?.state, 'running');
      assert.deepEqual(step.units, { total: 10, done: 1, failed: 0, pending: 9, stale: 0 });
      const text = await runCli(['status', out]);
      assert.match(text.stdout, new RegExp(`run: running: extract, pid ${child.pid} on `));

      release();
      const finished = await done;
      assert.equal(finished.code, 0, finished.stderr);
      const end = await status(out);
      assert.equal(end.run.state, 'none');
      const extract = stage(end, 'extract');
      assert.equal(extract.state, 'complete');
      assert.deepEqual(extract.steps[0]!.units, { total: 10, done: 10, failed: 0, pending: 0, stale: 0 });
      assert.equal(extract.steps[0]!.keysChecked, true);
      assert.equal(extract.steps[0]!.lastRun?.state, 'finished');
      assert.equal(extract.steps[0]!.etaSeconds, 0);
      assert.equal(stage(end, 'load').state, 'not-started');
    } finally {
      await stop();
    }
  });

  test('a killed run: its lock is stale, its last run interrupted, the rest pending', async () => {
    const out = join(work, 'killed');
    const { child, done, stop } = await runHeldAfterFirstUnit(out);
    try {
      child.kill('SIGKILL');
      await done;
      const report = await status(out);
      assert.equal(report.run.state, 'stale');
      const step = stage(report, 'extract').steps[0]!;
      assert.equal(step.lastRun?.state, 'interrupted');
      assert.deepEqual(step.units, { total: 10, done: 1, failed: 0, pending: 9, stale: 0 });
      const text = await runCli(['status', out]);
      assert.match(text.stdout, /run: none running \(stale lock of extract pid \d+/);
    } finally {
      await stop();
    }
  });

  test('after a run whose items failed: failures by reason, transient apart from content, and the retry hint', async () => {
    const server = await startHttpServer(SAMPLE);
    try {
      const out = join(work, 'failed');
      // Two packages the server refuses with 503 every time: transient, after the retries.
      for (const path of ['/oa_package/05/1f/PMC1483456.tar.gz', '/oa_package/e4/37/PMC1484354.tar.gz']) server.fault(path, { status: 503, times: Infinity });
      const config = join(work, 'no-retries.json');
      await writeFile(config, JSON.stringify({ network: { retries: 0 } }));
      const run = await runCli(['extract', '--out', out, '--source', server.url, '--config', config, ...ARGS]);
      assert.ok(run.code === 0 || run.code === 4, run.stderr);
      const report = await status(out);
      const extract = stage(report, 'extract');
      const transient = extract.failures.filter((f) => f.transient > 0);
      assert.equal(transient.reduce((a, f) => a + f.transient, 0), 2, JSON.stringify(extract.failures));
      assert.ok(extract.failures.some((f) => f.content > 0), 'the sample\'s broken articles stay content failures');
      assert.equal(report.retryable, 2);
      assert.deepEqual(report.hints, [`2 item failure(s) are transient: retry them with biomedica retry-failed ${report.outDir}`]);
      const text = await runCli(['status', out]);
      assert.match(text.stdout, /retry-failed/);
    } finally {
      await server.close();
    }
  });

  test('a folder that is not a run folder is a usage error with a hint', async () => {
    const empty = join(work, 'empty');
    await cp(join(SAMPLE, 'sample.json'), join(empty, 'sample.json'));
    const r = await runCli(['status', empty]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /NOT_A_RUN_FOLDER/);
    assert.match(r.stderr, /hint: give the folder passed as --out/);
    const missing = await runCli(['status', join(work, 'nowhere')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /OUT_MISSING/);
  });
});
