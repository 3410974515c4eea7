/**
 * Storage faults: the errors that say the disk, not the data, is the problem. They stop the run
 * (src/pipeline/runner.ts gives the unit in flight no marker) instead of being recorded as a failed
 * article or figure, which would mark a unit done with its figures lost for good.
 *
 * ENOSPC, EDQUOT, EROFS and EIO are storage faults wherever they happen. EACCES and EPERM are only
 * when they hit a path the run writes: an unreadable input file is that item's problem, so callers
 * wrap their own writes with `onOutput`.
 */
import { StorageError } from '../errors.js';

const ALWAYS: Record<string, { code: string; what: string; hint: string }> = {
  ENOSPC: {
    code: 'STORAGE_FULL',
    what: 'no space left on the device',
    hint: 'free space on that file system (or point --out / --dataset elsewhere), then rerun the same command: finished units are kept and the unit in flight is redone',
  },
  EDQUOT: {
    code: 'STORAGE_QUOTA',
    what: 'disk quota exceeded',
    hint: 'free space in your quota or have it raised, then rerun the same command: finished units are kept and the unit in flight is redone',
  },
  EROFS: {
    code: 'STORAGE_READ_ONLY',
    what: 'the file system is read-only',
    hint: 'remount it read-write (or point --out / --dataset at a writable folder), then rerun the same command',
  },
  EIO: {
    code: 'STORAGE_IO',
    what: 'the device reported an I/O error',
    hint: 'check the disk (dmesg, the storage service), then rerun the same command: units without a marker are redone',
  },
};

const ON_OUTPUT: Record<string, { code: string; what: string; hint: string }> = {
  EACCES: {
    code: 'STORAGE_DENIED',
    what: 'permission denied',
    hint: 'give this user write access to that folder (chmod/chown), or point --out / --dataset elsewhere, then rerun the same command',
  },
  EPERM: {
    code: 'STORAGE_DENIED',
    what: 'operation not permitted',
    hint: 'give this user write access to that folder (or clear an immutable flag), then rerun the same command',
  },
};

export const STORAGE_FAULT_CODES = [...Object.keys(ALWAYS), ...Object.keys(ON_OUTPUT)];

function errnoOf(error: unknown): NodeJS.ErrnoException | undefined {
  // Errors get wrapped (a TransportError around a failed part-file write): look down the cause chain.
  for (let e: unknown = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StorageError) return undefined;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && (code in ALWAYS || code in ON_OUTPUT)) return e as NodeJS.ErrnoException;
  }
  return undefined;
}

function build(errno: NodeJS.ErrnoException, kind: { code: string; what: string; hint: string }, path?: string): StorageError {
  const where = errno.path ?? path;
  const syscall = errno.syscall ? ` (${errno.syscall})` : '';
  return new StorageError(kind.code, `${kind.what}${where ? ` writing ${where}` : ''}: ${errno.code}${syscall}`, {
    path: where,
    errno: errno.code,
    hint: kind.hint,
    cause: errno,
  });
}

/** The error as a StorageError when it is one of the faults that are always the disk's; otherwise undefined. */
export function storageFault(error: unknown): StorageError | undefined {
  if (error instanceof StorageError) return error;
  const errno = errnoOf(error);
  const kind = errno && ALWAYS[errno.code!];
  return kind ? build(errno!, kind) : undefined;
}

/** Like storageFault, but for an error from writing `path`: permission errors count too. */
export function outputFault(error: unknown, path?: string): StorageError | undefined {
  if (error instanceof StorageError) return error;
  const errno = errnoOf(error);
  if (!errno) return undefined;
  const kind = ALWAYS[errno.code!] ?? ON_OUTPUT[errno.code!];
  return kind ? build(errno, kind, path) : undefined;
}

/** Runs a write; a storage fault it raises comes out as a StorageError naming `path`. */
export async function onOutput<T>(path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw outputFault(error, path) ?? error;
  }
}

/**
 * Best-effort cleanup after a failure: it must never hide the failure it cleans up after (on a
 * read-only disk the cleanup fails too, and the operator needs the first cause, not the second).
 */
export async function cleanupAfter(cleanup: () => Promise<unknown>, log?: { warn: (obj: object, msg: string) => void }): Promise<void> {
  try {
    await cleanup();
  } catch (error) {
    log?.warn({ err: { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code } }, 'cleanup after a failure failed too');
  }
}
