/**
 * Line input for the multi-million-row files of the sync (inventory parts, sort chunks, state).
 * Lines move in batches (one decoded read chunk each): at 8 million rows a night, one promise per
 * line through a chain of async generators costs more than the work itself.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

const READ_CHUNK = 1 << 20;

export class LineReader {
  private lines: string[] = [];
  private index = 0;
  private rest = '';
  private ended = false;
  private readonly chunks: AsyncIterator<string>;

  constructor(private readonly stream: Readable) {
    stream.setEncoding('utf8');
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<string>;
  }

  /** A buffered non-empty line, or undefined when the buffer is used up (then call fill()). */
  take(): string | undefined {
    while (this.index < this.lines.length) {
      const line = this.lines[this.index++]!;
      if (line.length > 0) return line;
    }
    return undefined;
  }

  /** Buffer the next chunk's lines; false at the end of the input. */
  async fill(): Promise<boolean> {
    if (this.ended) return false;
    const chunk = await this.chunks.next();
    if (chunk.done) {
      this.ended = true;
      this.lines = this.rest.length > 0 ? [stripCr(this.rest)] : [];
      this.rest = '';
    } else {
      const parts = (this.rest + chunk.value).split('\n');
      this.rest = parts.pop()!;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        if (p.endsWith('\r')) parts[i] = p.slice(0, -1);
      }
      this.lines = parts;
    }
    this.index = 0;
    return this.lines.length > 0 || !this.ended;
  }

  async next(): Promise<string | undefined> {
    for (;;) {
      const line = this.take();
      if (line !== undefined) return line;
      if (!(await this.fill())) return undefined;
    }
  }

  /** The rest of the buffered lines (non-empty), emptying the buffer. */
  drain(): string[] {
    const out: string[] = [];
    for (let line = this.take(); line !== undefined; line = this.take()) out.push(line);
    return out;
  }

  close(): void {
    this.stream.destroy();
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** A reader over a plain or gzip file (chosen by the `.gz` suffix). */
export function openLines(path: string): LineReader {
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK });
  if (!path.endsWith('.gz')) return new LineReader(raw);
  const gunzip = createGunzip({ chunkSize: READ_CHUNK });
  raw.on('error', (error) => gunzip.destroy(error));
  return new LineReader(raw.pipe(gunzip));
}

/** The file's non-empty lines, a read chunk at a time. */
export async function* lineBatches(path: string): AsyncGenerator<string[]> {
  const reader = openLines(path);
  try {
    while (await reader.fill()) {
      const batch = reader.drain();
      if (batch.length > 0) yield batch;
    }
  } finally {
    reader.close();
  }
}

export async function* iterateLines(path: string): AsyncGenerator<string> {
  for await (const batch of lineBatches(path)) yield* batch;
}
