/**
 * External merge sort of text lines: sort `chunkLines` lines in memory, spill each sorted chunk to
 * a temporary file, then merge the chunk files with a min-heap. Memory is one chunk while
 * spilling and one read buffer per chunk while merging, so 8 million inventory rows sort in a
 * few hundred MB of temp disk instead of a few GB of heap. Lines compare by UTF-16 code units
 * (plain `<`), so callers encode their sort key as a fixed-width prefix. Input and output move
 * in batches (see lines.ts).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openLines, type LineReader } from './lines.js';

export interface ExternalSortOptions {
  /** Created if missing; chunk files are removed when the sort finishes or is abandoned. */
  tmpDir: string;
  chunkLines: number;
  /** Lines per output batch. */
  batchLines?: number;
  signal?: AbortSignal | undefined;
}

export interface SortStats {
  lines: number;
  chunks: number;
}

export async function* sortLines(
  input: AsyncIterable<string[]>,
  options: ExternalSortOptions,
  stats: SortStats = { lines: 0, chunks: 0 },
): AsyncGenerator<string[]> {
  const batchLines = options.batchLines ?? 4096;
  let buffer: string[] = [];
  const chunkFiles: string[] = [];
  try {
    for await (const batch of input) {
      for (const line of batch) buffer.push(line);
      stats.lines += batch.length;
      if (buffer.length >= options.chunkLines) {
        options.signal?.throwIfAborted();
        if (chunkFiles.length === 0) await mkdir(options.tmpDir, { recursive: true });
        const file = join(options.tmpDir, `chunk-${String(chunkFiles.length).padStart(5, '0')}.txt`);
        buffer.sort();
        await writeFile(file, buffer.join('\n') + '\n');
        chunkFiles.push(file);
        buffer = [];
      }
    }
    buffer.sort();
    if (chunkFiles.length === 0) {
      // Everything fit in one chunk: no disk round trip.
      stats.chunks = buffer.length > 0 ? 1 : 0;
      for (let i = 0; i < buffer.length; i += batchLines) yield buffer.slice(i, i + batchLines);
      return;
    }
    if (buffer.length > 0) {
      // The last chunk goes to disk too, so the merge holds read buffers only.
      const file = join(options.tmpDir, `chunk-${String(chunkFiles.length).padStart(5, '0')}.txt`);
      await writeFile(file, buffer.join('\n') + '\n');
      chunkFiles.push(file);
      buffer = [];
    }
    stats.chunks = chunkFiles.length;
    const readers: LineReader[] = chunkFiles.map((file) => openLines(file));
    try {
      yield* mergeSorted(readers, batchLines);
    } finally {
      for (const r of readers) r.close();
    }
  } finally {
    if (chunkFiles.length > 0) await rm(options.tmpDir, { recursive: true, force: true });
  }
}

/** k-way merge of sorted readers with a binary min-heap. */
async function* mergeSorted(readers: LineReader[], batchLines: number): AsyncGenerator<string[]> {
  const heapLines: string[] = [];
  const heapSources: number[] = [];
  const siftDown = (item: string, itemSrc: number): void => {
    const n = heapLines.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heapLines[r]! < heapLines[l]! ? r : l;
      if (heapLines[c]! >= item) break;
      heapLines[i] = heapLines[c]!;
      heapSources[i] = heapSources[c]!;
      i = c;
    }
    heapLines[i] = item;
    heapSources[i] = itemSrc;
  };
  const push = (line: string, src: number): void => {
    let i = heapLines.length;
    heapLines.push(line);
    heapSources.push(src);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heapLines[parent]! <= line) break;
      heapLines[i] = heapLines[parent]!;
      heapSources[i] = heapSources[parent]!;
      i = parent;
    }
    heapLines[i] = line;
    heapSources[i] = src;
  };

  for (let s = 0; s < readers.length; s++) {
    const first = await readers[s]!.next();
    if (first !== undefined) push(first, s);
  }
  let out: string[] = [];
  while (heapLines.length > 0) {
    const src = heapSources[0]!;
    out.push(heapLines[0]!);
    // Synchronous while the reader's buffer lasts; only a refill awaits.
    const next = readers[src]!.take() ?? (await readers[src]!.next());
    if (next !== undefined) siftDown(next, src);
    else {
      const lastLine = heapLines.pop()!;
      const lastSrc = heapSources.pop()!;
      if (heapLines.length > 0) siftDown(lastLine, lastSrc);
    }
    if (out.length >= batchLines) {
      yield out;
      out = [];
    }
  }
  if (out.length > 0) yield out;
}
