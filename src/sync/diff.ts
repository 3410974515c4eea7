/**
 * Merge-join of the sorted listing with the sorted previous state, one article (PMCID) at a time.
 * Both inputs stream, so memory holds one article's versions whatever the inventory size. The
 * caller decides what a group means (src/sources/cloud/select.ts); this only pairs rows.
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

async function* peekable<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  yield* source;
}

/**
 * Groups by PMCID number. A repeated version in the listing (which S3 Inventory should never
 * produce) keeps its last row, so one version never yields two articles.
 */
export async function* diffGroups(
  current: AsyncIterable<VersionRow>,
  previous: AsyncIterable<KeyedStateRow>,
): AsyncGenerator<ArticleGroup> {
  const cur = peekable(current);
  const prev = peekable(previous);
  let c = await cur.next();
  let p = await prev.next();
  let lastCurrent: VersionRow | undefined;
  let lastPrevious: KeyedStateRow | undefined;
  while (!c.done || !p.done) {
    const pmcNum = c.done ? p.value!.pmcNum : p.done ? c.value.pmcNum : Math.min(c.value.pmcNum, p.value.pmcNum);
    const group: ArticleGroup = { pmcNum, current: [], previous: [] };
    while (!c.done && c.value.pmcNum === pmcNum) {
      if (lastCurrent && compareVersions(lastCurrent, c.value) > 0) throw outOfOrder('listing', lastCurrent, c.value);
      const last = group.current[group.current.length - 1];
      if (last && last.version === c.value.version) group.current[group.current.length - 1] = c.value;
      else group.current.push(c.value);
      lastCurrent = c.value;
      c = await cur.next();
    }
    while (!p.done && p.value.pmcNum === pmcNum) {
      if (lastPrevious && compareVersions(lastPrevious, p.value) > 0) throw outOfOrder('state', lastPrevious, p.value);
      group.previous.push(p.value);
      lastPrevious = p.value;
      p = await prev.next();
    }
    yield group;
  }
}

function outOfOrder(what: string, a: { pmcNum: number; version: number }, b: { pmcNum: number; version: number }): Error {
  // A bug, not bad input: both streams are sorted by this module's own writers.
  return new Error(`${what} not sorted: PMC${a.pmcNum}.${a.version} before PMC${b.pmcNum}.${b.version}`);
}
