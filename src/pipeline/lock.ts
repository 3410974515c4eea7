/**
 * One run per output folder. Two runs writing the same units race on temporary names and leave
 * units marked done with spurious failures, so a run takes `<out>/.locks/run.lock` (pid, host,
 * start time, heartbeat) for as long as it writes there, and a second run is refused with
 * LockedError (exit 5) naming the holder.
 *
 * `--worker i/n` processes share a folder on purpose: each takes `worker-<i>-of-<n>.lock`
 * instead. A plain run excludes every worker and the other way round; two processes claiming the
 * same share exclude each other. Each side creates its own lock first and then looks for the other
 * kind, so of two that start together at least one sees the other (both may step back; neither
 * goes on unseen).
 *
 * A lock whose owner is gone is taken over, with a warning in the log: the pid no longer runs on
 * this host, or (another host, or a pid reused) its heartbeat is older than `staleMs`. The holder
 * rewrites the heartbeat every `heartbeatMs`. Locks are created whole (written to a temporary
 * file and hard-linked into place), never seen empty.
 *
 * `--jobs N` (src/cli/jobs.ts): the parent holds the run lock for the whole run and hands its
 * token to the N worker processes it starts. A process given a token (`parent`) takes no lock of
 * its own: it checks that the run lock is there, live, and holds that token, and works under it.
 * So the parent's workers do not refuse each other or the parent, and everyone else (a second
 * `--jobs` run, a plain run, a hand-started worker) is refused by the parent's lock as ever.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LockedError } from '../errors.js';
import { storageFault } from '../storage/faults.js';
import { jsonText, writeFileAtomic } from '../storage/files.js';
import { createExclusive, ownerGone, type WarnLog, type WorkerShare } from './runner.js';

export const LOCK_DIR = '.locks';
export const DEFAULT_STALE_MS = 120_000;
export const DEFAULT_HEARTBEAT_MS = 15_000;

export function lockDirOf(outDir: string): string {
  return join(outDir, LOCK_DIR);
}

const LockInfo = z.object({
  schema: z.literal('biomedica.lock'),
  version: z.literal(1),
  kind: z.enum(['run', 'worker']),
  worker: z.object({ index: z.number().int(), count: z.number().int() }).optional(),
  command: z.string(),
  pid: z.number().int(),
  host: z.string(),
  token: z.string(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
});
export type LockInfo = z.infer<typeof LockInfo>;

export interface RunLockOptions {
  /** The output folder the run writes. */
  outDir: string;
  worker?: WorkerShare | undefined;
  /** What is running, for the message a refused run prints ('extract', 'run'). */
  command: string;
  log: WarnLog;
  staleMs?: number;
  heartbeatMs?: number;
  /** The token of the run lock this process works under (a worker started by `--jobs`). */
  parent?: string | undefined;
}

export interface RunLock {
  path: string;
  info: LockInfo;
  /** Removes the lock (if it is still ours) and stops the heartbeat. */
  release(): Promise<void>;
}

const RUN_LOCK = 'run.lock';
const workerLockName = (w: WorkerShare) => `worker-${w.index}-of-${w.count}.lock`;
const WORKER_LOCK = /^worker-\d+-of-\d+\.lock$/;

export async function acquireRunLock(options: RunLockOptions): Promise<RunLock> {
  const dir = lockDirOf(options.outDir);
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  if (options.parent !== undefined) return underParent(join(dir, RUN_LOCK), options.parent, options, staleMs);
  const now = new Date().toISOString();
  const info: LockInfo = {
    schema: 'biomedica.lock',
    version: 1,
    kind: options.worker ? 'worker' : 'run',
    ...(options.worker ? { worker: options.worker } : {}),
    command: options.command,
    pid: process.pid,
    host: hostname(),
    token: randomBytes(8).toString('hex'),
    startedAt: now,
    heartbeatAt: now,
  };
  const path = join(dir, options.worker ? workerLockName(options.worker) : RUN_LOCK);
  await take(path, info, options, staleMs);
  try {
    // Our lock is in place: now the other kind must not be.
    if (options.worker) {
      const run = await liveHolder(join(dir, RUN_LOCK), options, staleMs);
      if (run) throw lockedBy(options.outDir, run, staleMs);
    } else {
      for (const name of await listLocks(dir)) {
        if (!WORKER_LOCK.test(name)) continue;
        const worker = await liveHolder(join(dir, name), options, staleMs);
        if (worker) throw lockedBy(options.outDir, worker, staleMs);
      }
    }
  } catch (error) {
    await releaseIfOurs(path, info.token);
    throw error;
  }

  let beating = Promise.resolve();
  const timer = setInterval(() => {
    beating = beating.then(() => heartbeat(path, info, options.log));
  }, options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  timer.unref();
  return {
    path,
    info,
    async release() {
      clearInterval(timer);
      await beating;
      await releaseIfOurs(path, info.token);
    },
  };
}

/** The parent's run lock, checked, as this process's lock: releasing it is the parent's business. */
async function underParent(path: string, token: string, options: RunLockOptions, staleMs: number): Promise<RunLock> {
  const holder = await readLock(path);
  const live = holder !== 'gone' && holder !== undefined && !isStale(holder, staleMs);
  if (live && holder.token === token) return { path, info: holder, release: async () => {} };
  throw new LockedError(
    'JOBS_PARENT_LOCK',
    `this process was started by \`--jobs\` to work under its parent's lock on ${options.outDir}, but that lock is ${live ? 'held by another run' : 'gone'}`,
    { outDir: options.outDir, hint: 'rerun the command the way you started it (with --jobs): finished units are kept' },
  );
}

/** Runs `fn` holding the folder's lock; the lock goes when `fn` ends, however it ends. */
export async function withRunLock<T>(options: RunLockOptions, fn: (lock: RunLock) => Promise<T>): Promise<T> {
  const lock = await acquireRunLock(options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

export interface LockSeen {
  /** The lock file's name in the lock folder ('run.lock', 'worker-0-of-2.lock'). */
  name: string;
  /** undefined: the file does not parse (being written by an older version, or damaged). */
  info: LockInfo | undefined;
  /** Its owner runs now: a live pid on this host, or a heartbeat younger than `staleMs` elsewhere. */
  live: boolean;
}

/**
 * The run and worker locks of a folder as they are, for a reader (`biomedica status`): never
 * takes, moves or removes one, so it works beside a run that holds them and on a read-only copy.
 */
export async function readRunLocks(outDir: string, staleMs = DEFAULT_STALE_MS): Promise<LockSeen[]> {
  const dir = lockDirOf(outDir);
  const seen: LockSeen[] = [];
  for (const name of (await listLocks(dir)).sort()) {
    if (name !== RUN_LOCK && !WORKER_LOCK.test(name)) continue;
    const info = await readLock(join(dir, name));
    if (info === 'gone') continue;
    seen.push({ name, info, live: info !== undefined && !isStale(info, staleMs) });
  }
  return seen;
}

async function take(path: string, info: LockInfo, options: RunLockOptions, staleMs: number): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, jsonText(info))) return;
    const holder = await readLock(path);
    if (holder === 'gone') continue;
    if (holder && !isStale(holder, staleMs)) throw lockedBy(options.outDir, holder, staleMs);
    await takeOver(path, holder, options, staleMs);
  }
  const holder = await readLock(path);
  throw lockedBy(options.outDir, holder && holder !== 'gone' ? holder : undefined, staleMs);
}

/**
 * Moves a stale lock aside. If, between our read and the move, someone else took it over and put
 * a live lock there, that one is put back and we are refused.
 */
async function takeOver(path: string, stale: LockInfo | undefined, options: RunLockOptions, staleMs: number): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw storageFault(error) ?? error;
  }
  const moved = await readLock(aside);
  if (stale && moved !== 'gone' && moved?.token !== stale.token) {
    await link(aside, path).catch(() => {});
    await rm(aside, { force: true });
    throw lockedBy(options.outDir, moved ?? undefined, staleMs);
  }
  await rm(aside, { force: true });
  options.log.warn(
    { lock: path, holder: stale ? { pid: stale.pid, host: stale.host, command: stale.command, startedAt: stale.startedAt, heartbeatAt: stale.heartbeatAt } : 'unreadable' },
    'stale lock taken over: its process is gone',
  );
}

async function liveHolder(path: string, options: RunLockOptions, staleMs: number): Promise<LockInfo | undefined> {
  const holder = await readLock(path);
  if (holder === 'gone') return undefined;
  if (holder && !isStale(holder, staleMs)) return holder;
  await takeOver(path, holder, options, staleMs);
  return undefined;
}

function isStale(lock: LockInfo, staleMs: number): boolean {
  return ownerGone(lock.pid, lock.host, Date.parse(lock.heartbeatAt), staleMs);
}

async function readLock(path: string): Promise<LockInfo | undefined | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw storageFault(error) ?? error;
  }
  try {
    const parsed = LockInfo.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function listLocks(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw storageFault(error) ?? error;
  }
}

async function heartbeat(path: string, info: LockInfo, log: RunLockOptions['log']): Promise<void> {
  try {
    const current = await readLock(path);
    if (current === 'gone' || current?.token !== info.token) {
      log.warn({ lock: path }, 'this run lost its lock (taken over as stale?): another run may now write this folder');
      return;
    }
    info.heartbeatAt = new Date().toISOString();
    await writeFileAtomic(path, jsonText(info));
  } catch (error) {
    // A heartbeat that cannot be written (disk full) must not kill the run; the run's own writes report it.
    log.warn({ lock: path, err: (error as Error).message }, 'lock heartbeat not written');
  }
}

async function releaseIfOurs(path: string, token: string): Promise<void> {
  try {
    const current = await readLock(path);
    if (current !== 'gone' && current?.token === token) await rm(path, { force: true });
  } catch {
    // Releasing is best effort: a lock left behind is taken over as stale by the next run.
  }
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function lockedBy(outDir: string, holder: LockInfo | undefined, staleMs: number): LockedError {
  if (!holder) {
    return new LockedError('LOCKED', `${outDir} is locked by another run (its lock file could not be read)`, {
      outDir,
      hint: `wait for the other run to finish; if none is running, remove ${join(lockDirOf(outDir), RUN_LOCK)} and rerun`,
    });
  }
  const who = holder.kind === 'worker' ? `worker ${holder.worker!.index}/${holder.worker!.count} of \`${holder.command}\`` : `\`${holder.command}\``;
  return new LockedError(
    'LOCKED',
    `${outDir} is in use by ${who}: pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}, last heartbeat ${ago(holder.heartbeatAt)}`,
    {
      outDir,
      holder,
      hint:
        holder.host === hostname()
          ? `wait for it to finish, or stop it (kill ${holder.pid}) and rerun: finished units are kept. Use another --out to run beside it`
          : `wait for it to finish, or stop it on ${holder.host} (kill ${holder.pid}) and rerun: finished units are kept. A lock whose heartbeat stops is taken over after ${Math.round(staleMs / 1000)} s`,
    },
  );
}
