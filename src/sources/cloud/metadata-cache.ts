/**
 * The cache of version metadata JSONs (`metadata/PMCn.v.json`, about 1 KB each), packed: a full
 * run reads ~6 M of them, and one small file each is 6 M inodes that a file system, an `rm -r`
 * and a backup tool all have to walk. Here they are appended to one segment per thousand PMCID
 * numbers, in the order the source lists them (PMCID order), with an index beside it:
 *
 *   <cache>/metadata-packs/<shard>.seg   the metadata JSONs as the bucket served them, one per line
 *   <cache>/metadata-packs/<shard>.idx   'PMCn.v offset length md5' per line; the last line for a key wins
 *
 * shard = ⌊PMCID number / 1000⌋, five digits: ~13,000 shards and ~26,000 files for all of PMC,
 * grown by appends only, which incremental backups copy as deltas. Nothing is rewritten in place.
 *
 * Every record is checked on the way out: its bytes must have the md5 its index line gives.
 * That makes torn appends after a crash, and appends by two processes racing on a network file
 * system (`--worker i/n` on NFS, where O_APPEND is not atomic), cost only a cache miss: the
 * bytes are fetched again and appended again. A cache never makes a result wrong.
 *
 * Memory: the indexes of the last 64 shards touched (a few thousand entries each), so a run in
 * PMCID order loads each index once.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { splitVersionKey } from './metadata.js';

export interface MetadataCache {
  /** The cached bytes of version `key` ('PMC123.1'), or undefined (absent, or damaged and so ignored). */
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, bytes: Buffer): Promise<void>;
}

interface Entry {
  offset: number;
  length: number;
  md5: string;
}

const SHARD_SIZE = 1000;
const SHARDS_IN_MEMORY = 64;
const NEWLINE = Buffer.from('\n');
const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');

export const packsDir = (cacheDir: string): string => join(cacheDir, 'metadata-packs');

export function openMetadataCache(cacheDir: string): MetadataCache {
  const dir = packsDir(cacheDir);
  // Shard indexes, least recently used first (a Map keeps insertion order).
  const indexes = new Map<string, Promise<Map<string, Entry>>>();
  // Records waiting to be appended, and the shards with an append in flight: one at a time per
  // shard within this process, so that the offsets recorded are right.
  const pending = new Map<string, { key: string; bytes: Buffer; resolve: () => void; reject: (error: unknown) => void }[]>();
  const flushing = new Map<string, Promise<void>>();

  const shardOf = (key: string): string | undefined => {
    const parts = splitVersionKey(key);
    return parts ? String(Math.floor(parts.pmcNum / SHARD_SIZE)).padStart(5, '0') : undefined;
  };

  const loadIndex = async (shard: string): Promise<Map<string, Entry>> => {
    const index = new Map<string, Entry>();
    let text: string;
    try {
      text = await readFile(join(dir, `${shard}.idx`), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return index;
      throw error;
    }
    for (const line of text.split('\n')) {
      const [key, offset, length, sum] = line.split(' ');
      // A torn last line, or one garbled by a racing writer, is skipped.
      if (key === undefined || !/^\d+$/.test(offset ?? '') || !/^\d+$/.test(length ?? '') || !/^[0-9a-f]{32}$/.test(sum ?? '')) continue;
      index.set(key, { offset: Number(offset), length: Number(length), md5: sum! });
    }
    return index;
  };

  const indexOf = (shard: string): Promise<Map<string, Entry>> => {
    let index = indexes.get(shard);
    if (index) indexes.delete(shard);
    else index = loadIndex(shard);
    indexes.set(shard, index);
    index.catch(() => indexes.delete(shard));
    if (indexes.size > SHARDS_IN_MEMORY) indexes.delete(indexes.keys().next().value!);
    return index;
  };

  const cache: MetadataCache = {
    async get(key) {
      const shard = shardOf(key);
      if (shard === undefined) return undefined;
      const entry = (await indexOf(shard)).get(key);
      if (!entry) return undefined;
      let handle;
      try {
        handle = await open(join(dir, `${shard}.seg`), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      try {
        const bytes = Buffer.alloc(entry.length);
        const { bytesRead } = await handle.read(bytes, 0, entry.length, entry.offset);
        return bytesRead === entry.length && md5(bytes) === entry.md5 ? bytes : undefined;
      } finally {
        await handle.close();
      }
    },

    put(key, bytes) {
      const shard = shardOf(key);
      if (shard === undefined) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const queue = pending.get(shard) ?? [];
        pending.set(shard, queue);
        queue.push({ key, bytes, resolve, reject });
        if (!flushing.has(shard)) flushing.set(shard, flush(shard));
      });
    },
  };
  return cache;

  /**
   * Group commit: the records that arrive while one append is in flight go out together in the
   * next, one write to the segment and one to the index, so a run listing a shard's versions
   * 32 at a time is not held to one record per round trip.
   */
  async function flush(shard: string): Promise<void> {
    try {
      for (let batch = pending.get(shard); batch && batch.length > 0; batch = pending.get(shard)) {
        pending.delete(shard);
        try {
          await mkdir(dir, { recursive: true });
          const handle = await open(join(dir, `${shard}.seg`), 'a');
          const entries: [string, Entry][] = [];
          try {
            let offset = (await handle.stat()).size;
            const parts: Buffer[] = [];
            for (const { key, bytes } of batch) {
              entries.push([key, { offset, length: bytes.length, md5: md5(bytes) }]);
              parts.push(bytes, NEWLINE);
              offset += bytes.length + 1;
            }
            // One write per batch: its records stay together, whoever else appends.
            await handle.write(Buffer.concat(parts));
          } finally {
            await handle.close();
          }
          // Each index line starts with its newline: a line torn by a crash is ended by the next
          // append, not joined to it.
          await appendFile(join(dir, `${shard}.idx`), entries.map(([key, e]) => `\n${key} ${e.offset} ${e.length} ${e.md5}`).join(''));
          const index = indexes.get(shard);
          if (index) {
            const loaded = await index;
            for (const [key, e] of entries) loaded.set(key, e);
          }
          for (const item of batch) item.resolve();
        } catch (error) {
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      flushing.delete(shard);
    }
  }
}

/** The layout before the packs: `<cache>/metadata/<nnn>/PMCn.v.json`, one file per version. */
const legacyDir = (cacheDir: string): string => join(cacheDir, 'metadata');

/**
 * Moves a cache in the one-file-per-version layout into the packs, then removes it. Each file is
 * removed once appended, so an interrupted migration resumes where it stopped; two processes
 * migrating at once only duplicate some records (the index's last line wins).
 */
export async function migrateLegacyMetadataCache(cacheDir: string, cache: MetadataCache, log: Logger): Promise<number> {
  const root = legacyDir(cacheDir);
  let buckets: string[];
  try {
    buckets = (await readdir(root)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  log.info({ from: root, to: packsDir(cacheDir) }, 'packing the metadata cache (one-time migration)');
  const started = Date.now();
  let moved = 0;
  for (const bucket of buckets) {
    const files = (await readdir(join(root, bucket)).catch(() => [] as string[])).filter((f) => /^PMC\d+\.\d+\.json$/.test(f));
    // PMCID order: appends land shard by shard.
    files.sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]) || a.localeCompare(b));
    for (const file of files) {
      const path = join(root, bucket, file);
      const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (bytes === undefined) continue;
      await cache.put(file.slice(0, -'.json'.length), bytes);
      await rm(path, { force: true });
      moved++;
    }
    await rmdir(join(root, bucket)).catch(() => undefined);
  }
  // Whatever is left (temporary files of an interrupted write) was never a cache entry.
  await rm(root, { recursive: true, force: true });
  log.info({ versions: moved, ms: Date.now() - started }, 'metadata cache packed');
  return moved;
}
