/**
 * Backpressure that cannot hang. `once(stream, 'drain')` waits forever when the stream failed
 * before the wait began: a destroyed stream emits neither 'drain' nor 'error' again, nothing else
 * is left in the event loop, and Node exits with code 13 ("unsettled top-level await") and no
 * message. That is how a full disk looked in load. These helpers check the stream's own error
 * first and wait for 'drain', 'error' or 'close', whichever comes first.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * A file write stream whose errors surface through writeChunk/endStream (they read
 * `stream.errored`) instead of as an 'error' event nobody listens to, which would kill the process.
 */
export function createOutputStream(path: string, options: { highWaterMark?: number } = {}): WriteStream {
  const stream = createWriteStream(path, options);
  stream.on('error', () => {});
  return stream;
}

function failure(stream: Writable): Error | undefined {
  if (stream.errored) return stream.errored;
  if (stream.destroyed) return new Error('the stream was closed before the write finished');
  return undefined;
}

function settle(stream: Writable, event: 'drain' | 'finish'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (error: Error) => {
      cleanup();
      reject(error);
    };
    const closed = () => {
      cleanup();
      const error = failure(stream);
      if (error) reject(error);
      else resolve();
    };
    const cleanup = () => {
      stream.off(event, done);
      stream.off('error', fail);
      stream.off('close', closed);
    };
    stream.on(event, done);
    stream.on('error', fail);
    stream.on('close', closed);
  });
}

/** Write one chunk, waiting for the buffer to drain when it is full. Rejects with the stream's error. */
export async function writeChunk(stream: Writable, chunk: Buffer | string): Promise<void> {
  const before = failure(stream);
  if (before) throw before;
  if (stream.write(chunk)) return;
  const after = failure(stream);
  if (after) throw after;
  await settle(stream, 'drain');
}

/** End the stream and wait until every byte is handed to the file system. Rejects with its error. */
export async function endStream(stream: Writable): Promise<void> {
  const before = failure(stream);
  if (before) throw before;
  if (stream.writableFinished) return;
  const finished = settle(stream, 'finish');
  stream.end();
  await finished;
}
