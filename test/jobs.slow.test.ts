/**
 * `--jobs N`: the CLI starts N workers of itself over the `--worker i/N` split and looks after
 * them. Real child processes of the real CLI on the bundled sample mirror: the outputs must be the
 * bytes of a plain run; each worker sizes its pools for its share of the (faked) cores; a worker
 * that dies or hits a full disk fails the run with its code and name, and the rerun the hint
 * gives completes with the same bytes; the folder stays locked against any other run.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { writeFeatures } from '../scripts/models/features.js';
import { collect, referenceRun, repoRoot, runCli, spawnCli, treeHashes } from './helpers/cli.js';
import { startHttpServer } from './helpers/servers.js';

const EXTRACT = ['--source', join(repoRoot, 'sample'), '--unit-size', '6', '--no-progress'];
const LOAD = ['--shard-max-samples', '10', '--no-progress'];
const INFO = { BIOMEDICA_LOG_LEVEL: 'info' };

type Line = Record<string, unknown>;
const jsonLines = (stderr: string): Line[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

/** Resolves with the first JSON log line of `child` that `match` accepts. */
function waitForLine(child: ChildProcess, match: (line: Line) => boolean): Promise<Line> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (d: Buffer) => {
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as Line;
        if (match(line)) {
          child.stderr!.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    child.stderr!.on('data', onData);
    child.once('close', () => reject(new Error('the run ended before the line came')));
  });
}

let work: string;
let extractRef: Map<string, string>;
let datasetRef: Map<string, string>;
let refOut: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'biomedica-jobs-'));
  refOut = join(work, 'reference');
  ({ extract: extractRef, dataset: datasetRef } = await referenceRun(refOut, EXTRACT, LOAD));
});
after(async () => rm(work, { recursive: true, force: true }));

describe('--jobs', () => {
  test('extract --jobs 2: the bytes of a plain run; each worker sized for its share of 3 faked cores, a typed setting kept', async () => {
    const out = join(work, 'extract-jobs');
    const r = await runCli(['extract', '--out', out, ...EXTRACT, '--jobs', '2', '--concurrency', '5', '--json'], { ...INFO, BIOMEDICA_CORES: '3' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await treeHashes(join(out, 'extract')), extractRef);

    const summary = JSON.parse(r.stdout);
    assert.equal(summary.complete, true);
    assert.deepEqual(summary.jobs.workers.map((w: { worker: string }) => w.worker), ['plan', '0/2', '1/2']);
    assert.ok(['0/2', '1/2'].includes(summary.jobs.finalizedBy));
    // Each unit done once, by the worker whose share it is (units i, i+2, …).
    assert.deepEqual(summary.jobs.workers.map((w: { summary: { unitsWritten: number } }) => w.summary.unitsWritten), [0, 5, 5]);

    const lines = jsonLines(r.stderr);
    assert.deepEqual(lines.find((l) => l['msg'] === 'local workers')?.['coresPerWorker'], [2, 1]);
    const used = (worker: string) => {
      const l = lines.find((x) => x['msg'] === 'concurrency' && x['worker'] === worker);
      assert.ok(l, `no concurrency line from worker ${worker}:\n${r.stderr}`);
      return [l['cores'], l['coresFrom'], l['imageConcurrency'], l['articleConcurrency']];
    };
    // Image concurrency follows the share; --concurrency was typed, so every worker keeps it.
    assert.deepEqual(used('0/2'), [2, 'BIOMEDICA_CORES', 2, 5]);
    assert.deepEqual(used('1/2'), [1, 'BIOMEDICA_CORES', 1, 5]);
    assert.deepEqual(used('plan'), [3, 'BIOMEDICA_CORES', 3, 5]);
  });

  test('load --jobs 2: the bytes of a plain load, shard concurrency from each share of 8 faked cores; the text summary names every worker', async () => {
    const dataset = join(work, 'load-jobs');
    const r = await runCli(['load', '--out', refOut, '--dataset', dataset, ...LOAD, '--jobs', '2'], { ...INFO, BIOMEDICA_CORES: '8' });
    assert.equal(r.code, 0, r.stderr);
    // Shards written at once follow each worker's share of 8 faked cores: 4 and 4.
    const planning = jsonLines(r.stderr).filter((l) => l['msg'] === 'load planning');
    const used = planning.map((l) => [(l['worker'] as { index: number }).index, l['shardConcurrency'], l['cores']]);
    assert.deepEqual(used.sort((a, b) => Number(a[0]) - Number(b[0])), [[0, 4, 4], [1, 4, 4]]);
    assert.deepEqual(await treeHashes(dataset), datasetRef);
    assert.match(r.stdout, /Loaded 165 samples/);
    assert.match(r.stdout, /workers +2 local \(--jobs 2\): 0\/2: exit 0, [\d.]+ s, \d+ shards written, 0 reused; 1\/2: exit 0, [\d.]+ s, \d+ shards written, 0 reused; finalized by [01]\/2/);
  });

  test('run --jobs 2: stage by stage, the bytes of plain extract and load', async () => {
    const out = join(work, 'run-jobs');
    const r = await runCli(['run', '--out', out, ...EXTRACT, ...LOAD, '--jobs', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(summary), ['extract', 'load']);
    assert.deepEqual(summary.load.jobs.workers.map((w: { worker: string }) => w.worker), ['0/2', '1/2']);
    assert.deepEqual(await treeHashes(join(out, 'extract')), extractRef);
    assert.deepEqual(await treeHashes(join(out, 'dataset')), datasetRef);
  });

  test('transform --jobs 2: the bytes of a plain transform (the worker that embeds last fits, assigns and labels)', async () => {
    const model = join(work, 'features.onnx');
    await writeFeatures(model, { dtype: 'float32' });
    const args = ['--model', model, '--device', 'cpu', '--components', '4', '--clusters', '3', '--sample', '1000', '--no-progress'];
    const trees = [];
    for (const jobs of [[], ['--jobs', '2']]) {
      const out = join(work, `transform${jobs.length}`);
      await cp(join(refOut, 'extract'), join(out, 'extract'), { recursive: true });
      const r = await runCli(['transform', '--out', out, ...args, ...jobs, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.complete, true);
      if (jobs.length > 0) assert.deepEqual(summary.jobs.workers.map((w: { worker: string }) => w.worker), ['0/2', '1/2']);
      trees.push(await treeHashes(join(out, 'transform')));
    }
    assert.ok(trees[0]!.size > 0);
    assert.deepEqual(trees[1], trees[0]);
  });

  test('a worker killed mid-run: the other is stopped, the parent fails naming it; the rerun the hint gives completes with the same bytes', async () => {
    const out = join(work, 'killed');
    const args = ['extract', '--out', out, ...EXTRACT, '--jobs', '2', '--concurrency', '1', '--image-concurrency', '1'];
    const parent = spawnCli(args, INFO);
    const done = collect(parent);
    const started = await waitForLine(parent, (l) => l['msg'] === 'worker started' && l['worker'] === '1/2');
    // Its first unit's marker is on disk (the log line comes before the marker is written).
    const marker = join(out, 'extract', 'units', 'u000001', 'done.json');
    while (!existsSync(marker)) await sleep(50);
    process.kill(started['pid'] as number, 'SIGKILL');
    const r = await done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error WORKER_FAILED: extract: worker 1/2 \\(pid ${started['pid']}\\) was killed by SIGKILL`));
    assert.match(r.stderr, /hint: rerun the same command: finished units are kept/);
    assert.ok(jsonLines(r.stderr).some((l) => l['msg'] === 'worker failed: stopping the others'));
    assert.ok(!existsSync(join(out, 'extract', 'manifest.json')), 'no manifest over a half-done run');
    assert.equal(spawnSync('pgrep', ['-f', out]).status, 1, 'no worker left running');

    const again = await runCli([...args, '--json']);
    assert.equal(again.code, 0, again.stderr);
    const skipped = JSON.parse(again.stdout).jobs.workers.reduce((a: number, w: { summary?: { unitsSkipped: number } }) => a + (w.summary?.unitsSkipped ?? 0), 0);
    assert.ok(skipped >= 1, `the units finished before the kill are kept: ${again.stdout}\n${r.stderr}`);
    assert.deepEqual(await treeHashes(join(out, 'extract')), extractRef);
  });

  test('the folder stays locked: a second --jobs run and a hand-started worker are refused (exit 5); --jobs with --worker is a usage error', async () => {
    const out = join(work, 'locked');
    const usage = await runCli(['extract', '--out', out, ...EXTRACT, '--jobs', '2', '--worker', '0/2']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /error FLAG_CONFLICT: --jobs starts the workers itself/);

    // The sample over real HTTP, every package held back until the refusals are in: the first
    // run surely still holds the folder when the others ask for it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const server = await startHttpServer(join(repoRoot, 'sample'), {
      handler: async (req) => {
        if (req.url?.endsWith('.tar.gz')) await gate;
        return false;
      },
    });
    try {
      const args = ['extract', '--out', out, ...EXTRACT, '--source', server.url];
      const first = spawnCli([...args, '--jobs', '2', '--json'], INFO);
      const firstDone = collect(first);
      await waitForLine(first, (l) => l['msg'] === 'worker started' && l['worker'] === '1/2');
      const [second, hand] = await Promise.all([runCli([...args, '--jobs', '2']), runCli([...args, '--worker', '1/2'])]);
      open();
      assert.equal(second.code, 5, second.stderr);
      assert.match(second.stderr, new RegExp(`error LOCKED: .* is in use by \`extract --jobs 2\`: pid ${first.pid}`));
      assert.equal(hand.code, 5, hand.stderr);
      assert.match(hand.stderr, /error LOCKED: .* is in use by `extract --jobs 2`/);
      const r = await firstDone;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).complete, true);
      assert.ok(!(await readdir(join(out, '.locks'))).includes('run.lock'), 'the run lock goes with the parent');
    } finally {
      open();
      await server.close();
    }
  });

  test('a full disk in a worker: the run exits 6 (a storage fault stays one), and the rerun after freeing space completes', async (t) => {
    const disk = join(work, 'full');
    await mkdir(disk);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', disk], { encoding: 'utf8' });
    if (mounted.status !== 0) return t.skip(`mount -t tmpfs is not permitted here (${mounted.stderr.trim()}): run as root to test a full disk`);
    try {
      // 16 MiB of 20 taken: the extract (8 MB) runs out of space a few units in.
      await writeFile(join(disk, 'filler'), Buffer.alloc(16 << 20));
      const out = join(disk, 'out');
      const args = ['extract', '--out', out, ...EXTRACT, '--jobs', '2'];
      const full = await runCli(args);
      assert.equal(full.code, 6, full.stderr);
      assert.match(full.stderr, /\[worker [01]\/2\] biomedica: error STORAGE_FULL: no space left on the device/);
      assert.match(full.stderr, /error WORKER_FAILED: extract: worker [01]\/2 \(pid \d+\) exited with code 6/);
      assert.ok(!existsSync(join(out, 'extract', 'manifest.json')));

      await rm(join(disk, 'filler'));
      const rerun = await runCli(args);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.deepEqual(await treeHashes(join(out, 'extract')), extractRef);
    } finally {
      spawnSync('umount', ['-l', disk]);
    }
  });
});
