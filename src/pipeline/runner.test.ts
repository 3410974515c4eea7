import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InterruptedError, StorageError } from '../errors.js';
import { sha256 } from '../storage/files.js';
import { testContext } from './context.js';
import { finalizeLockPath, finalizeOnce, readMarker, runUnits, type Step, type UnitIO, type WorkUnit } from './runner.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

/** A step writing one file per unit; `hooks` lets a test stall or fail a unit. */
function fileStep(root: string, hooks: { run?: (u: WorkUnit, io: UnitIO) => Promise<void>; runs?: string[] } = {}): Step<WorkUnit, { n: number }> {
  return {
    name: 'test.file',
    version: 1,
    result: z.object({ n: z.number() }),
    markerPath: (u) => join(root, u.id, 'done.json'),
    outputRoot: () => root,
    async run(u, io) {
      hooks.runs?.push(u.id);
      await hooks.run?.(u, io);
      const text = `content of ${u.id} for ${u.key}\n`;
      await mkdir(join(root, u.id), { recursive: true });
      await writeFile(join(root, u.id, 'out.txt'), text);
      return { result: { n: Number(u.id.slice(1)) }, outputs: { [`${u.id}/out.txt`]: { bytes: text.length, sha256: sha256(text) } } };
    },
  };
}
const unitsOf = (n: number, version = 'v1'): WorkUnit[] => Array.from({ length: n }, (_, i) => ({ id: `u${i}`, key: sha256(`${i} ${version}`) }));

describe('runUnits', () => {
  test('does every unit once, then skips them all; the rerun changes no byte and no mtime', async () => {
    const root = join(dir, 'basic');
    const runs: string[] = [];
    const first = await runUnits(fileStep(root, { runs }), unitsOf(5), { concurrency: 2 }, testContext());
    assert.deepEqual(first.counts, { written: 5, skipped: 0, repaired: 0, failed: 0, pending: 0 });
    assert.equal(first.complete, true);
    assert.deepEqual(first.done.map((d) => d.marker.result.n), [0, 1, 2, 3, 4]);
    const mtimes = await Promise.all(['u0/done.json', 'u3/out.txt'].map(async (p) => (await stat(join(root, p))).mtimeMs));
    const second = await runUnits(fileStep(root, { runs }), unitsOf(5), { concurrency: 2 }, testContext());
    assert.deepEqual(second.counts, { written: 0, skipped: 5, repaired: 0, failed: 0, pending: 0 });
    assert.equal(second.digest, first.digest);
    assert.equal(runs.length, 5);
    assert.deepEqual(await Promise.all(['u0/done.json', 'u3/out.txt'].map(async (p) => (await stat(join(root, p))).mtimeMs)), mtimes);
    const marker = JSON.parse(await readFile(join(root, 'u2', 'done.json'), 'utf8'));
    assert.deepEqual(Object.keys(marker), ['key', 'outputs', 'result', 'schema', 'step', 'stepVersion', 'unit', 'version']);
  });

  test('a changed key, step version or unreadable marker redoes the unit; beforeChange runs once, only then', async () => {
    const root = join(dir, 'stale');
    await runUnits(fileStep(root), unitsOf(3), {}, testContext());
    let changes = 0;
    const beforeChange = async () => void changes++;
    await runUnits(fileStep(root), unitsOf(3), { beforeChange }, testContext());
    assert.equal(changes, 0, 'nothing redone: beforeChange must not run');
    await writeFile(join(root, 'u0', 'done.json'), '{"half');
    const units = unitsOf(3);
    units[2] = { ...units[2]!, key: 'other options' };
    const r = await runUnits(fileStep(root), units, { beforeChange }, testContext());
    assert.deepEqual([r.counts.written, r.counts.skipped], [2, 1]);
    assert.equal(changes, 1);
    const v2 = { ...fileStep(root), version: 2 };
    assert.equal((await runUnits(v2, units, {}, testContext())).counts.written, 3);
  });

  test('outputs are checked: a hand edit is repaired by a plain rerun; a same-size edit with its old mtime only by --check full', async () => {
    const root = join(dir, 'check');
    await runUnits(fileStep(root), unitsOf(3), {}, testContext());
    // Hand edit: same size, newer mtime.
    const f0 = join(root, 'u0', 'out.txt');
    const text = await readFile(f0, 'utf8');
    await writeFile(f0, text.replace('content', 'CONTENT'));
    // Bit rot: same size, mtime put back to before the marker.
    const f1 = join(root, 'u1', 'out.txt');
    const old = await stat(f1);
    await writeFile(f1, (await readFile(f1, 'utf8')).replace('content', 'c0ntent'));
    await utimes(f1, old.atime, old.mtime);
    // Truncated.
    await writeFile(join(root, 'u2', 'out.txt'), 'x');

    const fast = await runUnits(fileStep(root), unitsOf(3), {}, testContext());
    assert.deepEqual([fast.counts.written, fast.counts.repaired, fast.counts.skipped], [2, 2, 1]);
    assert.equal(await readFile(f0, 'utf8'), text);
    assert.match(await readFile(f1, 'utf8'), /c0ntent/, 'fast check does not hash a file older than its marker');
    assert.equal((await readMarker(fileStep(root), unitsOf(3)[1]!, 'full')).state, 'changed');
    const full = await runUnits(fileStep(root), unitsOf(3), { check: 'full' }, testContext());
    assert.deepEqual([full.counts.written, full.counts.repaired], [1, 1]);
    assert.doesNotMatch(await readFile(f1, 'utf8'), /c0ntent/);
  });

  test('worker i/n does its share; the last one sees every unit done and gets the same digest as one process', async () => {
    const plain = await runUnits(fileStep(join(dir, 'plain')), unitsOf(7), {}, testContext());
    const root = join(dir, 'workers');
    const runs: string[] = [];
    const w0 = await runUnits(fileStep(root, { runs }), unitsOf(7), { worker: { index: 0, count: 3 } }, testContext());
    assert.deepEqual(runs, ['u0', 'u3', 'u6']);
    assert.equal(w0.complete, false);
    assert.equal(w0.counts.pending, 4);
    await runUnits(fileStep(root, { runs }), unitsOf(7), { worker: { index: 2, count: 3 } }, testContext());
    const w1 = await runUnits(fileStep(root, { runs }), unitsOf(7), { worker: { index: 1, count: 3 } }, testContext());
    assert.deepEqual(runs.sort(), unitsOf(7).map((u) => u.id).sort());
    assert.equal(w1.complete, true);
    assert.equal(w1.counts.pending, 0);
    assert.equal(w1.digest, plain.digest);
  });

  test("another worker's unit whose output is gone is pending, not done: the round is not complete while its owner redoes it", async () => {
    const root = join(dir, 'workers-lost-output');
    const all = unitsOf(4);
    await runUnits(fileStep(root), all, {}, testContext());
    const before = await runUnits(fileStep(root), all, { worker: { index: 0, count: 2 } }, testContext());
    assert.equal(before.complete, true);
    // u1 is worker 1's: its marker stays, its file is lost (or is being rewritten by worker 1).
    await rm(join(root, 'u1', 'out.txt'));
    const runs: string[] = [];
    const w0 = await runUnits(fileStep(root, { runs }), all, { worker: { index: 0, count: 2 } }, testContext());
    assert.deepEqual(runs, []);
    assert.equal(w0.complete, false);
    assert.equal(w0.counts.pending, 1);
    assert.deepEqual(w0.done.map((d) => d.unit.id), ['u0', 'u2', 'u3']);
    assert.notEqual(w0.digest, before.digest, 'a finalize keyed by this digest must not pass for the finished round');
    // Another size is not done either; 'marker' trusts the marker alone, for others' units too.
    await writeFile(join(root, 'u1', 'out.txt'), 'short\n');
    assert.equal((await runUnits(fileStep(root), all, { worker: { index: 0, count: 2 } }, testContext())).complete, false);
    assert.equal((await runUnits(fileStep(root), all, { worker: { index: 0, count: 2 }, check: 'marker' }, testContext())).complete, true);
    const w1 = await runUnits(fileStep(root, { runs }), all, { worker: { index: 1, count: 2 } }, testContext());
    assert.deepEqual(runs, ['u1']);
    assert.equal(w1.complete, true);
    assert.equal(w1.digest, before.digest);
  });

  test('never more than `concurrency` units in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const step = fileStep(join(dir, 'bounded'), {
      run: async () => {
        most = Math.max(most, ++inFlight);
        await sleep(5);
        inFlight--;
      },
    });
    await runUnits(step, unitsOf(12), { concurrency: 3 }, testContext());
    assert.equal(most, 3);
  });

  test('an interrupt discards the unit whose step honours the signal, keeps the one that finished, and says so', async () => {
    const root = join(dir, 'interrupt');
    const abort = new AbortController();
    const step = fileStep(root, {
      run: async (u, io) => {
        if (u.id === 'u1') {
          abort.abort(new Error('SIGINT'));
          return; // finishes its unit regardless
        }
        if (u.id === 'u2') {
          await sleep(20);
          io.signal.throwIfAborted();
        }
      },
    });
    await assert.rejects(runUnits(step, unitsOf(6), { concurrency: 3 }, testContext({ signal: abort.signal })), (error: unknown) => {
      assert.ok(error instanceof InterruptedError);
      assert.deepEqual(error.details['discarded'], ['u2']);
      assert.match(error.message, /1 unit\(s\) in flight discarded \(u2\), 2 finished in this run and kept/);
      return true;
    });
    assert.ok(existsSync(join(root, 'u1', 'done.json')));
    assert.ok(!existsSync(join(root, 'u2', 'done.json')));
    assert.ok(!existsSync(join(root, 'u3')), 'no unit starts after the interrupt');
    const resumed = await runUnits(fileStep(root), unitsOf(6), {}, testContext());
    assert.deepEqual([resumed.counts.skipped, resumed.counts.written], [2, 4]);
  });

  test('a storage fault stops the run as a StorageError: the unit gets no marker, the units in flight stop', async () => {
    const root = join(dir, 'enospc');
    let sawAbort = false;
    const step = fileStep(root, {
      run: async (u, io) => {
        if (u.id === 'u1') {
          await sleep(5);
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: join(root, 'u1', 'out.txt') });
        }
        if (u.id === 'u2') {
          await sleep(30);
          sawAbort = io.signal.aborted;
          io.signal.throwIfAborted();
        }
      },
    });
    await assert.rejects(runUnits(step, unitsOf(5), { concurrency: 3 }, testContext()), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, 'STORAGE_FULL');
      assert.equal(error.exitCode, 6);
      assert.match(error.message, /no space left on the device writing .*u1\/out\.txt: ENOSPC \(write\)/);
      assert.match(error.hint ?? '', /free space .* rerun the same command/);
      return true;
    });
    assert.ok(sawAbort);
    for (const u of ['u1', 'u2']) assert.ok(!existsSync(join(root, u, 'done.json')), u);
    const rerun = await runUnits(fileStep(root), unitsOf(5), {}, testContext());
    assert.equal(rerun.complete, true);
  });

  test('a step that returns { failed } leaves its unit without a marker and the run goes on', async () => {
    const root = join(dir, 'failed');
    const step: Step<WorkUnit, { n: number }> = {
      ...fileStep(root),
      run: async (u, io) => (u.id === 'u1' ? { failed: { code: 'EFETCH_FAILED', message: 'server kept failing' } } : fileStep(root).run(u, io)),
    };
    const r = await runUnits(step, unitsOf(3), {}, testContext());
    assert.deepEqual([r.counts.written, r.counts.failed, r.complete], [2, 1, false]);
    assert.deepEqual(r.failures, [{ unit: 'u1', code: 'EFETCH_FAILED', message: 'server kept failing' }]);
  });
});

describe('finalizeOnce', () => {
  const log = testContext().log;
  test('workers: one finalize per content; a new content finalizes again and clears the old lock', async () => {
    const lockDir = join(dir, 'locks');
    const w = (index: number) => ({ lockDir, name: 'test', key: 'content-1', worker: { index, count: 2 }, log });
    let runs = 0;
    const a = await finalizeOnce(w(0), async () => ++runs);
    const b = await finalizeOnce(w(1), async () => ++runs);
    assert.deepEqual([a.ran, b.ran, runs], [true, false, 1]);
    assert.equal(b.ran === false && typeof b.by.finishedAt, 'string');
    // Second round after a config change: another content, another lock.
    const c = await finalizeOnce({ ...w(1), key: 'content-2' }, async () => ++runs);
    assert.deepEqual([c.ran, runs], [true, 2]);
    assert.deepEqual(await readdir(lockDir), [finalizeLockPath(lockDir, 'test', 'content-2').split('/').pop()]);
    // A plain run always finalizes.
    assert.equal((await finalizeOnce({ ...w(0), key: 'content-2', worker: undefined }, async () => ++runs)).ran, true);
  });

  test('a lock left by a dead finalizer is taken over; a failed finalize leaves no lock', async () => {
    const lockDir = join(dir, 'locks-stale');
    const path = finalizeLockPath(lockDir, 'test', 'k');
    await mkdir(lockDir, { recursive: true });
    const { hostname } = await import('node:os');
    await writeFile(path, JSON.stringify({ name: 'test', key: 'k', pid: 2 ** 22 + 17, host: hostname(), token: 't', startedAt: new Date().toISOString() }));
    const taken = await finalizeOnce({ lockDir, name: 'test', key: 'k', worker: { index: 0, count: 2 }, log }, async () => 'done');
    assert.equal(taken.ran, true);
    await assert.rejects(finalizeOnce({ lockDir, name: 'test', key: 'k2', worker: { index: 0, count: 2 }, log }, async () => {
      throw new Error('boom');
    }));
    assert.ok(!existsSync(finalizeLockPath(lockDir, 'test', 'k2')));
  });
});

describe('kill at any point', () => {
  const child = (out: string, extra: string[] = []) =>
    spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/helpers/runner-child.ts'), out, '6', ...extra], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const finish = (p: ReturnType<typeof child>) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
      let stderr = '';
      p.stderr!.on('data', (d) => (stderr += d));
      p.on('close', (code, signal) => resolve({ code, signal, stderr }));
    });
  async function tree(root: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const walk = async (d: string) => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else out[p.slice(root.length + 1)] = sha256(await readFile(p));
      }
    };
    await walk(root);
    return out;
  }
  const markers = async (out: string) => {
    let n = 0;
    for (let i = 0; i < 6; i++) if (existsSync(join(out, 'units', `u${i}`, 'done.json'))) n++;
    return n;
  };

  test('SIGKILL mid-run at several points, then rerun: the bytes of an uninterrupted run', async () => {
    const reference = join(dir, 'kill-reference');
    const r = await finish(child(reference));
    assert.equal(r.code, 0, r.stderr);
    const expected = await tree(reference);
    assert.ok('manifest.json' in expected);

    // Kill points: before any marker, between markers, and late in the run; then kill the rerun too.
    const out = join(dir, 'killed');
    for (const [afterMarkers, delayMs] of [[0, 40], [1, 10], [3, 25], [5, 5]] as const) {
      const p = child(out);
      const done = finish(p);
      const deadline = Date.now() + 20_000;
      while ((await markers(out)) < afterMarkers && Date.now() < deadline) await sleep(5);
      await sleep(delayMs);
      p.kill('SIGKILL');
      await done;
    }
    const last = await finish(child(out));
    assert.equal(last.code, 0, last.stderr);
    const got = await tree(out);
    delete got[Object.keys(got).find((k) => k.startsWith('.locks/')) ?? ''];
    assert.deepEqual(got, Object.fromEntries(Object.entries(expected).filter(([k]) => !k.startsWith('.locks/'))));
  });

  test('two workers at once, one killed and rerun: one finalize, the same bytes', async () => {
    const out = join(dir, 'kill-workers');
    const w0 = child(out, ['0/2']);
    const w1 = child(out, ['1/2']);
    const done0 = finish(w0);
    await sleep(50);
    w1.kill('SIGKILL');
    await finish(w1);
    assert.equal((await done0).code, 0);
    assert.ok(!existsSync(join(out, 'manifest.json')), 'worker 0 alone cannot finish');
    const again = await finish(child(out, ['1/2']));
    assert.equal(again.code, 0, again.stderr);
    const reference = await tree(join(dir, 'kill-reference'));
    const got = await tree(out);
    for (const k of Object.keys(reference)) assert.equal(got[k], reference[k], k);
  });
});
