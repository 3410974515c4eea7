/**
 * Durable file writes. Everything a later stage or a rerun trusts is written to a temporary name
 * in the same directory and renamed into place, so a reader sees the old file or the new one, never
 * half of one. Completion markers go through the same path and are written last. A write that fails
 * on the storage side (full, read-only, denied) throws a StorageError naming the path and leaves no
 * temporary file behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { cleanupAfter, outputFault } from './faults.js';
import { removeStaleTemps } from './temps.js';

/**
 * mkdir -p that reports the real cause. Node's recursive mkdir says ENOENT when the file system is
 * read-only (or the parent is not writable): then the missing folders are made one by one, so the
 * error names EROFS or EACCES and the folder that could not be made.
 */
export async function ensureDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw outputFault(error, path) ?? error;
  }
  const missing: string[] = [];
  for (let p = path; !(await pathExists(p)); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      await mkdir(p);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw outputFault(error, p) ?? error;
    }
  }
}

function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Write bytes to `path` atomically (temp file, fsync, rename). Creates parent directories. */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = tempNameFor(path);
  try {
    await ensureDir(dirname(path));
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await cleanupAfter(() => rm(tmp, { force: true }));
    throw outputFault(error, path) ?? error;
  }
}

/**
 * Write `path` only when its bytes would change: a finished rerun must change no byte and no
 * mtime. Returns whether it wrote. `beforeChange` runs first when it does (to take a manifest
 * away before the files it describes change).
 */
export async function writeIfChanged(path: string, data: Buffer | string, beforeChange?: () => Promise<void>): Promise<boolean> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let current: Buffer | undefined;
  try {
    current = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // What a run killed mid-write of this file left beside it goes too, written or not: a finished
  // rerun leaves the folder as an uninterrupted run would.
  await removeStaleTemps(path);
  if (current !== undefined && current.equals(bytes)) return false;
  await beforeChange?.();
  await writeFileAtomic(path, bytes);
  return true;
}

/**
 * JSON with sorted keys at every level and a trailing newline, so the same value always gives the
 * same bytes whatever order its fields were assigned in.
 */
export function stableStringify(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && !(value instanceof Buffer)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** The bytes every JSON file of ours is written as: sorted keys, two-space indent, final newline. */
export function jsonText(value: unknown): string {
  return stableStringify(value, 2) + '\n';
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, jsonText(value));
}

export async function writeJsonIfChanged(path: string, value: unknown, beforeChange?: () => Promise<void>): Promise<boolean> {
  return writeIfChanged(path, jsonText(value), beforeChange);
}

export async function readJsonIfExists(path: string): Promise<unknown | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** JSONL text for a list of records, one stable-key JSON object per line. */
export function toJsonl(records: readonly unknown[]): string {
  let out = '';
  for (const record of records) out += stableStringify(record) + '\n';
  return out;
}

/** Stream the records of a JSONL file; memory stays at one line whatever the file size. */
export async function* readJsonl<T = unknown>(path: string): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length > 0) yield JSON.parse(line) as T;
  }
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** sha256 of a file, '' when there is none. Other errors (EIO, EACCES) are not "absent": they throw. */
export async function sha256IfExists(path: string): Promise<string> {
  try {
    return await sha256File(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** Whether something is at `path`; only ENOENT means no. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
