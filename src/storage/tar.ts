/**
 * Deterministic tar files with tar-stream: fixed mtime, owner 0:0 with empty names, mode 0644,
 * plain ustar headers (member names are short ASCII keys, so no pax header is ever written). With
 * no pax headers a member takes exactly 512 bytes of header plus its data padded to 512, so a
 * writer knows every member's byte offset before the file is written: load's shards (the plan
 * computes each sample's offset ahead) and extract's unit image stores (each ImageRecord records
 * its image's offset, which load reads by byte range).
 */
import { createHash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import tar from 'tar-stream';
import { InterruptedError } from '../errors.js';
import { cleanupAfter, outputFault } from './faults.js';
import { createOutputStream, endStream, writeChunk } from './streams.js';

export const BLOCK = 512;
/** tar-stream ends an archive with two zero blocks and no record padding. */
export const END_OF_ARCHIVE = 2 * BLOCK;

export const memberBytes = (size: number) => BLOCK + Math.ceil(size / BLOCK) * BLOCK;

export interface TarMember {
  name: string;
  data: Buffer;
}

export interface TarWriteResult {
  bytes: number;
  sha256: string;
}

/**
 * Writes the members to `path` through a temporary name in the same folder (`.<name>.tmp`) and
 * renames it into place once the data is on disk, so the file is either whole or absent. Size and
 * sha256 are computed from the bytes as they are written: nobody reads the file back to hash it.
 */
export async function writeTar(
  path: string,
  members: AsyncIterable<TarMember>,
  mtime: Date,
  signal?: AbortSignal,
): Promise<TarWriteResult> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  const pack = tar.pack();
  const out = createOutputStream(tmp, { highWaterMark: 1 << 20 });
  const hash = createHash('sha256');
  let bytes = 0;
  // The pack's bytes go to the file with backpressure; a write error (disk full) rejects here,
  // never leaves this loop waiting for a 'drain' that a failed stream does not emit.
  const drain = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      await writeChunk(out, chunk);
    }
    await endStream(out);
  })();
  // If the consumer fails, stop feeding the pack and surface that error.
  let drainError: unknown;
  drain.catch((error) => {
    drainError = error;
    pack.destroy(error as Error);
  });

  try {
    for await (const member of members) {
      if (signal?.aborted) {
        throw new InterruptedError('INTERRUPTED', `stopped while writing ${basename(path)}`, {
          hint: 'rerun the same command: finished units and shards are kept and the run resumes',
        });
      }
      if (drainError) throw drainError;
      await new Promise<void>((resolve, reject) =>
        pack.entry(
          { name: member.name, size: member.data.length, mtime, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
          member.data,
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    }
    pack.finalize();
    await drain;
    await closed(out);
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    return { bytes, sha256: hash.digest('hex') };
  } catch (error) {
    // Stop the pack first and let the writer loop end, then close the file: never write after destroy.
    pack.destroy();
    await drain.catch(() => {});
    if (!out.closed) {
      const done = closed(out);
      out.destroy();
      await done;
    }
    // On a read-only or failing disk this fails too: the cause to report is the first error.
    await cleanupAfter(() => rm(tmp, { force: true }));
    throw outputFault(drainError ?? error, tmp) ?? error;
  }
}

/** Resolves once the file is closed (it may still be opening: rm before that would race the open). */
function closed(stream: WriteStream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise<void>((resolve) => stream.once('close', () => resolve()));
}
