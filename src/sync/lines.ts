/**
 * Line input for the multi-million-row files of the sync (inventory parts, sort chunks, state):
 * a pull reader that splits decoded chunks into lines and hands them out one by one, awaiting
 * only when its batch is used up. node:readline costs several times more per line at 8M rows.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export class LineReader {
  private lines: string[] = [];
  private index = 0;
  private rest = '';
  private done = false;
  private readonly chunks: AsyncIterator<string>;

  constructor(private readonly stream: Readable) {
    stream.setEncoding('utf8');
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<string>;
  }

  /** Next non-empty line without its line break (CRLF tolerated), or undefined at the end. */
  async next(): Promise<string | undefined> {
    for (;;) {
      while (this.index < this.lines.length) {
        const line = this.lines[this.index++]!;
        if (line.length > 0) return line;
      }
      if (this.done) return undefined;
      const chunk = await this.chunks.next();
      if (chunk.done) {
        this.done = true;
        this.lines = this.rest.length > 0 ? [stripCr(this.rest)] : [];
        this.rest = '';
      } else {
        const parts = (this.rest + chunk.value).split('\n');
        this.rest = parts.pop()!;
        for (let i = 0; i < parts.length; i++) parts[i] = stripCr(parts[i]!);
        this.lines = parts;
      }
      this.index = 0;
    }
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
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!path.endsWith('.gz')) return new LineReader(raw);
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  raw.on('error', (error) => gunzip.destroy(error));
  return new LineReader(raw.pipe(gunzip));
}

export async function* iterateLines(path: string): AsyncGenerator<string> {
  const reader = openLines(path);
  try {
    for (let line = await reader.next(); line !== undefined; line = await reader.next()) yield line;
  } finally {
    reader.close();
  }
}
