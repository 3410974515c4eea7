/**
 * The one reader of stored images. Extract keeps a unit's images in one uncompressed tar,
 * `units/<unit>/images.tar` (src/manifest/extract-manifest.ts), and each ImageRecord says where its
 * JPEG lies in it (`file`, `offset`, `bytes`). Load, transform, the annotation commands and the
 * scripts read images through here, so a record is checked the same way everywhere:
 *
 * - `file` must be the unit's own store, exactly `units/<unit>/images.tar`: a record never sends a
 *   reader to another unit's store, out of the extract folder ('../'), or to any other file;
 * - the range must be a member's data: `offset` after a 512-byte header, on a block boundary, and
 *   `offset + bytes` within the store before its end-of-archive blocks.
 *
 * A record that fails either check is refused (RECORD_INVALID) and nothing is read. Reads are
 * positional on one open handle per store, with the store's size taken once when it is opened:
 * reading a unit's images in order costs one open and one stat per unit, not per image.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ItemError } from '../errors.js';
import { storageFault } from '../storage/faults.js';
import { BLOCK, END_OF_ARCHIVE } from '../storage/tar.js';
import { imageStoreRel } from './extract-manifest.js';
import type { ImageRecord } from './records.js';

export type StoredImageRef = Pick<ImageRecord, 'file' | 'offset' | 'bytes'>;

export interface ImageProblem {
  code: 'RECORD_INVALID' | 'IMAGE_MISSING';
  message: string;
}

const STORE_FILE = /^units\/([A-Za-z0-9_-]+)\/images\.tar$/;

/** The unit whose store `file` names, or undefined for anything that is not a unit's image store. */
export function storeUnitOf(file: string): string | undefined {
  return STORE_FILE.exec(file)?.[1];
}

/**
 * Why the record cannot be read from the unit's store of `storeSize` bytes (-1: the store is
 * missing), or undefined when its range is a plausible member of it.
 */
export function storedImageProblem(ref: StoredImageRef, unit: string, storeSize: number): ImageProblem | undefined {
  if (ref.file !== imageStoreRel(unit)) {
    return { code: 'RECORD_INVALID', message: `image file "${ref.file}" is not this unit's store ${imageStoreRel(unit)}` };
  }
  if (!Number.isSafeInteger(ref.offset) || !Number.isSafeInteger(ref.bytes) || ref.bytes < 0 || ref.offset < BLOCK || ref.offset % BLOCK !== 0) {
    return { code: 'RECORD_INVALID', message: `image range @${ref.offset}+${ref.bytes} is not a tar member's data` };
  }
  if (storeSize < 0) return { code: 'IMAGE_MISSING', message: `image store ${ref.file} is missing` };
  if (ref.offset + ref.bytes > storeSize - END_OF_ARCHIVE) {
    return { code: 'RECORD_INVALID', message: `image range @${ref.offset}+${ref.bytes} runs past the end of ${ref.file} (${storeSize} bytes)` };
  }
  return undefined;
}

/** Size of a unit's image store, -1 when it is missing; other errors are the run's (storage faults). */
export async function imageStoreSize(extractRoot: string, unit: string): Promise<number> {
  try {
    return (await stat(join(extractRoot, imageStoreRel(unit)))).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw storageFault(error) ?? error;
  }
}

interface OpenStore {
  handle: Promise<{ handle: FileHandle; size: number } | undefined>;
  reads: Set<Promise<unknown>>;
}

/**
 * Reads images by byte range. Keeps a few stores open (readers that run ahead may touch the next
 * unit while the last reads of the previous one are in flight) and closes the least recently used,
 * once its reads are done. Call `close()` when finished.
 */
export class StoredImages {
  private readonly stores = new Map<string, OpenStore>();
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly extractRoot: string,
    private readonly maxOpen = 4,
  ) {}

  /**
   * The image's bytes. Throws ItemError RECORD_INVALID (the record is refused, nothing is read),
   * IMAGE_MISSING (no store) or IMAGE_TRUNCATED (fewer bytes than the range); storage faults as
   * StorageError. With `unit`, the record must name that unit's store; without, any unit's store.
   */
  async read(ref: StoredImageRef, unit = storeUnitOf(ref.file)): Promise<Buffer> {
    if (unit === undefined) throw new ItemError('RECORD_INVALID', `image file "${ref.file}" is not a unit's image store`, { file: ref.file });
    const early = storedImageProblem(ref, unit, Number.MAX_SAFE_INTEGER);
    if (early) throw new ItemError(early.code, early.message, { file: ref.file });
    const store = this.storeOf(ref.file);
    const read = (async () => {
      const opened = await store.handle;
      const problem = storedImageProblem(ref, unit, opened?.size ?? -1);
      if (problem) throw new ItemError(problem.code, problem.message, { file: ref.file });
      const data = Buffer.allocUnsafe(ref.bytes);
      let got = 0;
      try {
        while (got < ref.bytes) {
          const { bytesRead } = await opened!.handle.read(data, got, ref.bytes - got, ref.offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } catch (error) {
        throw storageFault(error) ?? error;
      }
      if (got !== ref.bytes) {
        throw new ItemError('IMAGE_TRUNCATED', `image range @${ref.offset}+${ref.bytes} of ${ref.file}: only ${got} bytes could be read`, { file: ref.file });
      }
      return data;
    })();
    store.reads.add(read);
    try {
      return await read;
    } finally {
      store.reads.delete(read);
    }
  }

  async close(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    await Promise.all([...all.map((s) => closeStore(s)), ...this.closing]);
  }

  private storeOf(file: string): OpenStore {
    const found = this.stores.get(file);
    if (found) {
      // Most recently used last: Map keeps insertion order.
      this.stores.delete(file);
      this.stores.set(file, found);
      return found;
    }
    const path = join(this.extractRoot, file);
    const store: OpenStore = {
      handle: (async () => {
        let handle: FileHandle;
        try {
          handle = await open(path, 'r');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw storageFault(error) ?? error;
        }
        try {
          return { handle, size: (await handle.stat()).size };
        } catch (error) {
          await handle.close();
          throw storageFault(error) ?? error;
        }
      })(),
      reads: new Set(),
    };
    // A failed open is answered to the reads that wait on it; this keeps Node from flagging it early.
    store.handle.catch(() => {});
    this.stores.set(file, store);
    while (this.stores.size > this.maxOpen) {
      const [oldest, evicted] = this.stores.entries().next().value as [string, OpenStore];
      this.stores.delete(oldest);
      const closing = closeStore(evicted).finally(() => this.closing.delete(closing));
      this.closing.add(closing);
    }
    return store;
  }
}

async function closeStore(store: OpenStore): Promise<void> {
  await Promise.allSettled([...store.reads]);
  const opened = await store.handle.catch(() => undefined);
  await opened?.handle.close().catch(() => {});
}
