/**
 * Merge-join of the sorted listing with the sorted previous state, one article (PMCID) at a time.
 * Both inputs stream in batches, so memory holds a batch of articles whatever the inventory size.
 * The caller decides what a group means (src/sources/cloud/select.ts); this only pairs rows.
 */
import { compareVersions, type VersionRow } from './rows.js';
import type { KeyedStateRow } from './state.js';

export interface ArticleGroup {
  pmcNum: number;
  /** Versions listed now, ascending. */
  current: VersionRow[];
  /** Versions the previous state holds, ascending. */
  previous: KeyedStateRow[];
}

/** Reads a batched stream one item at a time without a promise per item. */
class Cursor<T> {
  private batch: T[] = [];
  private index = 0;
  private done = false;
  constructor(private readonly source: AsyncIterator<T[]>) {}

  /** The current item, loading the next batch when needed; undefined at the end. */
  async peek(): Promise<T | undefined> {
    while (this.index >= this.batch.length) {
      if (this.done) return undefined;
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        return undefined;
      }
      this.batch = next.value;
      this.index = 0;
    }
    return this.batch[this.index];
  }
  /** Synchronous peek while the batch lasts; `null` means "call peek()". */
  peekSync(): T | undefined | null {
    if (this.index < this.batch.length) return this.batch[this.index];
    return this.done ? undefined : null;
  }
  advance(): void {
    this.index++;
  }
  async close(): Promise<void> {
    await this.source.return?.();
  }
}

async function head<T>(c: Cursor<T>): Promise<T | undefined> {
  const v = c.peekSync();
  return v === null ? c.peek() : v;
}

/**
 * Groups by PMCID number, `batchSize` groups per yielded batch. A repeated version in the listing
 * (which S3 Inventory should never produce) keeps its last row, so one version never yields two
 * articles.
 */
export async function* diffGroups(
  current: AsyncIterable<VersionRow[]>,
  previous: AsyncIterable<KeyedStateRow[]>,
  batchSize = 1024,
): AsyncGenerator<ArticleGroup[]> {
  const cur = new Cursor(current[Symbol.asyncIterator]());
  const prev = new Cursor(previous[Symbol.asyncIterator]());
  let lastCurrent: VersionRow | undefined;
  let lastPrevious: KeyedStateRow | undefined;
  let out: ArticleGroup[] = [];
  try {
    for (;;) {
      let c = await head(cur);
      let p = await head(prev);
      if (c === undefined && p === undefined) break;
      const pmcNum = c === undefined ? p!.pmcNum : p === undefined ? c.pmcNum : Math.min(c.pmcNum, p.pmcNum);
      const group: ArticleGroup = { pmcNum, current: [], previous: [] };
      while (c !== undefined && c.pmcNum === pmcNum) {
        if (lastCurrent && compareVersions(lastCurrent, c) > 0) throw outOfOrder('listing', lastCurrent, c);
        const last = group.current[group.current.length - 1];
        if (last && last.version === c.version) group.current[group.current.length - 1] = c;
        else group.current.push(c);
        lastCurrent = c;
        cur.advance();
        c = await head(cur);
      }
      while (p !== undefined && p.pmcNum === pmcNum) {
        if (lastPrevious && compareVersions(lastPrevious, p) > 0) throw outOfOrder('state', lastPrevious, p);
        group.previous.push(p);
        lastPrevious = p;
        prev.advance();
        p = await head(prev);
      }
      out.push(group);
      if (out.length >= batchSize) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    await cur.close();
    await prev.close();
  }
}

function outOfOrder(what: string, a: { pmcNum: number; version: number }, b: { pmcNum: number; version: number }): Error {
  // A bug, not bad input: both streams are sorted by this module's own writers.
  return new Error(`${what} not sorted: PMC${a.pmcNum}.${a.version} before PMC${b.pmcNum}.${b.version}`);
}
