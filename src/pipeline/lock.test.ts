import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockedError } from '../errors.js';
import { acquireRunLock, lockDirOf, withRunLock, type LockInfo, type RunLockOptions } from './lock.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lock-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

function recorder() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (_obj: object, msg: string) => void warnings.push(msg) } };
}
const opts = (outDir: string, extra: Partial<RunLockOptions> = {}): RunLockOptions => ({ outDir, command: 'extract', log: recorder().log, ...extra });

async function plantLock(outDir: string, name: string, fields: Partial<LockInfo>): Promise<void> {
  await mkdir(lockDirOf(outDir), { recursive: true });
  const now = new Date().toISOString();
  const lock: LockInfo = {
    schema: 'biomedica.lock', version: 1, kind: 'run', command: 'extract', pid: process.pid, host: hostname(),
    token: 'planted', startedAt: now, heartbeatAt: now, ...fields,
  };
  await writeFile(join(lockDirOf(outDir), name), JSON.stringify(lock));
}

describe('run lock', () => {
  test('a second run on the folder is refused with exit 5 and a message naming the holder', async () => {
    const out = join(dir, 'two');
    const first = await acquireRunLock(opts(out));
    await assert.rejects(acquireRunLock(opts(out, { command: 'load' })), (error: unknown) => {
      assert.ok(error instanceof LockedError);
      assert.equal(error.exitCode, 5);
      assert.equal(error.code, 'LOCKED');
      assert.match(error.message, new RegExp(`in use by \`extract\`: pid ${process.pid} on ${hostname()}, started \\S+, last heartbeat \\d+ s ago`));
      assert.match(error.hint ?? '', new RegExp(`kill ${process.pid}`));
      return true;
    });
    await first.release();
    await withRunLock(opts(out), async () => {});
    assert.deepEqual(await readdir(lockDirOf(out)), []);
  });

  test('a lock of a dead process on this host is taken over and logged', async () => {
    const out = join(dir, 'dead');
    await plantLock(out, 'run.lock', { pid: 2 ** 22 + 11 });
    const { warnings, log } = recorder();
    const lock = await acquireRunLock(opts(out, { log }));
    assert.deepEqual(warnings, ['stale lock taken over: its process is gone']);
    assert.equal(JSON.parse(await readFile(lock.path, 'utf8')).pid, process.pid);
    await lock.release();
  });

  test('another host: a live heartbeat refuses, an old one is taken over', async () => {
    const out = join(dir, 'remote');
    await plantLock(out, 'run.lock', { host: 'elsewhere', pid: 1 });
    await assert.rejects(acquireRunLock(opts(out)), (e: unknown) => e instanceof LockedError && /pid 1 on elsewhere/.test(e.message) && /stop it on elsewhere/.test(e.hint ?? ''));
    await plantLock(out, 'run.lock', { host: 'elsewhere', pid: 1, heartbeatAt: new Date(Date.now() - 10 * 60_000).toISOString() });
    const { warnings, log } = recorder();
    await withRunLock(opts(out, { log, staleMs: 60_000 }), async () => {});
    assert.equal(warnings.length, 1);
  });

  test('the heartbeat keeps a long run fresh', async () => {
    const out = join(dir, 'beat');
    const lock = await acquireRunLock(opts(out, { heartbeatMs: 20 }));
    const started = JSON.parse(await readFile(lock.path, 'utf8')).heartbeatAt;
    await sleep(80);
    const later = JSON.parse(await readFile(lock.path, 'utf8')).heartbeatAt;
    assert.ok(later > started, `${later} > ${started}`);
    await lock.release();
  });

  test('workers share the folder; a plain run and a worker exclude each other; one share is taken once', async () => {
    const out = join(dir, 'workers');
    const w0 = await acquireRunLock(opts(out, { worker: { index: 0, count: 2 } }));
    const w1 = await acquireRunLock(opts(out, { worker: { index: 1, count: 2 } }));
    await assert.rejects(acquireRunLock(opts(out)), (e: unknown) => e instanceof LockedError && /worker \d\/2 of `extract`/.test(e.message));
    await assert.rejects(acquireRunLock(opts(out, { worker: { index: 1, count: 2 } })), LockedError);
    await w0.release();
    await w1.release();
    const plain = await acquireRunLock(opts(out));
    await assert.rejects(acquireRunLock(opts(out, { worker: { index: 0, count: 2 } })), (e: unknown) => e instanceof LockedError && /in use by `extract`/.test(e.message));
    assert.deepEqual(await readdir(lockDirOf(out)), ['run.lock'], 'a refused worker leaves no lock behind');
    await plain.release();
  });

  test('a dead worker does not block a plain run', async () => {
    const out = join(dir, 'dead-worker');
    await plantLock(out, 'worker-1-of-3.lock', { kind: 'worker', worker: { index: 1, count: 3 }, pid: 2 ** 22 + 13 });
    await withRunLock(opts(out), async () => {});
    assert.deepEqual(await readdir(lockDirOf(out)), []);
  });

  test("--jobs: workers given the parent's token work under its run lock; a wrong token, or no lock, is refused", async () => {
    const out = join(dir, 'jobs');
    const parent = await acquireRunLock(opts(out, { command: 'extract --jobs 2' }));
    const children = await Promise.all([0, 1].map((i) => acquireRunLock(opts(out, { worker: { index: i, count: 2 }, parent: parent.info.token }))));
    // A plain child (the plan, the final pass) too.
    const plain = await acquireRunLock(opts(out, { parent: parent.info.token }));
    for (const c of [...children, plain]) await c.release();
    assert.deepEqual(await readdir(lockDirOf(out)), ['run.lock'], "the workers took no lock of their own, and leave the parent's alone");
    await assert.rejects(acquireRunLock(opts(out, { worker: { index: 0, count: 2 } })), (e: unknown) => e instanceof LockedError && /in use by `extract --jobs 2`/.test(e.message));
    await assert.rejects(acquireRunLock(opts(out, { parent: 'not-the-token' })), (e: unknown) => e instanceof LockedError && e.code === 'JOBS_PARENT_LOCK' && /held by another run/.test(e.message));
    await parent.release();
    await assert.rejects(acquireRunLock(opts(out, { parent: parent.info.token })), (e: unknown) => e instanceof LockedError && /lock is gone/.test(e.message));
  });
});
