/**
 * External merge sort of text lines: sort `chunkLines` lines in memory, spill each sorted chunk to
 * a temporary file, then merge the chunk files with a min-heap. Memory is one chunk while
 * spilling and one read buffer per chunk while merging, so 8 million inventory rows sort in a
 * few hundred MB of temp disk instead of a few GB of heap. Lines compare by UTF-16 code units
 * (plain `<`), so callers encode their sort key as a fixed-width prefix.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openLines, type LineReader } from './lines.js';

export interface ExternalSortOptions {
  /** Created if missing; chunk files are removed when the sort finishes or is abandoned. */
  tmpDir: string;
  chunkLines: number;
  signal?: AbortSignal | undefined;
}

export interface SortStats {
  lines: number;
  chunks: number;
}

export async function* sortLines(
  input: AsyncIterable<string>,
  options: ExternalSortOptions,
  stats: SortStats = { lines: 0, chunks: 0 },
): AsyncGenerator<string> {
  let buffer: string[] = [];
  const chunkFiles: string[] = [];
  try {
    for await (const line of input) {
      buffer.push(line);
      stats.lines++;
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
    stats.chunks = chunkFiles.length + (buffer.length > 0 ? 1 : 0);
    if (chunkFiles.length === 0) {
      // Everything fit in one chunk: no disk round trip.
      const lines = buffer;
      buffer = [];
      for (const line of lines) yield line;
      return;
    }
    const readers: LineReader[] = chunkFiles.map((file) => openLines(file));
    const inMemory = buffer;
    buffer = [];
    try {
      yield* mergeSorted(readers, inMemory);
    } finally {
      for (const r of readers) r.close();
    }
  } finally {
    if (chunkFiles.length > 0) await rm(options.tmpDir, { recursive: true, force: true });
  }
}

/** k-way merge of sorted readers plus one sorted in-memory tail. */
async function* mergeSorted(readers: LineReader[], tail: string[]): AsyncGenerator<string> {
  let tailIndex = 0;
  const sources: Array<() => Promise<string | undefined> | string | undefined> = readers.map((r) => () => r.next());
  sources.push(() => (tailIndex < tail.length ? tail[tailIndex++] : undefined));
  const heapLines: string[] = [];
  const heapSources: number[] = [];

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
  const popReplace = (line: string | undefined, src: number): void => {
    // Replace the root with the next line of the same source (or the last element), sift down.
    let item = line;
    let itemSrc = src;
    if (item === undefined) {
      const lastLine = heapLines.pop()!;
      const lastSrc = heapSources.pop()!;
      if (heapLines.length === 0) return;
      item = lastLine;
      itemSrc = lastSrc;
    }
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

  for (let s = 0; s < sources.length; s++) {
    const first = await sources[s]!();
    if (first !== undefined) push(first, s);
  }
  while (heapLines.length > 0) {
    const line = heapLines[0]!;
    const src = heapSources[0]!;
    yield line;
    popReplace(await sources[src]!(), src);
  }
}
