import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { diffGroups } from './diff.js';
import { sortLines } from './external-sort.js';
import { iterateLines } from './lines.js';
import { orderedMap } from './ordered.js';
import { decodeSortLine, encodeSortLine, type VersionRow } from './rows.js';
import { stripKeys } from '../sources/cloud/select.js';
import { readStateRows, StateWriter, type KeyedStateRow, type StateRow } from './state.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bm-sync-unit-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}
/** Items in batches of `size` (batch edges are where bugs hide). */
async function* batches<T>(items: T[], size = 3): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
const flat = async <T>(it: AsyncIterable<T[]>): Promise<T[]> => (await collect(it)).flat();

test('the sort line orders by PMCID number, then version number', () => {
  const rows: VersionRow[] = [
    { pmcNum: 10000002, version: 1, etag: 'a', lastModified: 't' },
    { pmcNum: 8267076, version: 10, etag: 'b', lastModified: '' },
    { pmcNum: 8267076, version: 2, etag: 'c', lastModified: 't' },
  ];
  const sorted = rows.map(encodeSortLine).sort().map(decodeSortLine);
  assert.deepEqual(sorted.map((r) => `${r.pmcNum}.${r.version}`), ['8267076.2', '8267076.10', '10000002.1']);
  assert.deepEqual(sorted[1], rows[1]);
});

test('external sort spills chunks, merges them in order and removes its temp files', async () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const lines = Array.from({ length: 5000 }, () => String(random()).padStart(10, '0'));
  const tmpDir = join(dir, 'sort');
  const stats = { lines: 0, chunks: 0 };
  const out = await flat(sortLines(batches(lines, 333), { tmpDir, chunkLines: 700, batchLines: 100 }, stats));
  assert.deepEqual(out, [...lines].sort());
  assert.equal(stats.chunks, 6, 'five spilled chunks of 999 lines and an in-memory tail');
  await assert.rejects(readdir(tmpDir), 'temp chunks removed');
  assert.deepEqual(await flat(sortLines(batches(['b', 'a']), { tmpDir, chunkLines: 10 })), ['a', 'b']);
  assert.deepEqual(await flat(sortLines(batches([]), { tmpDir, chunkLines: 10 })), []);
});

test('an abandoned sort still removes its temp files', async () => {
  const tmpDir = join(dir, 'sort-abandoned');
  const lines = Array.from({ length: 100 }, (_, i) => String(1000 - i));
  for await (const batch of sortLines(batches(lines), { tmpDir, chunkLines: 10 })) {
    assert.equal(batch[0], '1000');
    break;
  }
  await assert.rejects(readdir(tmpDir));
});

test('line reader: plain and gzip, CRLF, no trailing newline', async () => {
  await writeFile(join(dir, 'a.txt'), 'x\r\ny\n\nz');
  await writeFile(join(dir, 'a.txt.gz'), gzipSync('é\nß'));
  assert.deepEqual(await collect(iterateLines(join(dir, 'a.txt'))), ['x', 'y', 'z']);
  assert.deepEqual(await collect(iterateLines(join(dir, 'a.txt.gz'))), ['é', 'ß']);
});

const state = (pmcNum: number, version: number): KeyedStateRow => ({
  pmcNum,
  version,
  key: `PMC${pmcNum}.${version}`,
  etag: `e${pmcNum}.${version}`,
  lastModified: '',
  oa: null,
  status: 'superseded',
  reason: '',
  articleId: '',
  unit: '',
});

test('state rows round-trip through the gzip file with their order', async () => {
  const writer = await StateWriter.create(join(dir, 'state', 'versions-x.jsonl.gz'));
  const rows: StateRow[] = [
    { key: 'PMC1.1', etag: 'e"1', lastModified: 't', oa: true, status: 'extracted', reason: '', articleId: 'PMC1_1', unit: 'u000000' },
    { key: 'PMC1.2', etag: 'e2', lastModified: '', oa: null, status: 'superseded', reason: '', articleId: '', unit: '' },
    { key: 'PMC30.1', etag: 'e3', lastModified: '', oa: false, status: 'not-open-access', reason: '', articleId: '', unit: '' },
  ];
  for (const r of rows) writer.add(r);
  const done = await writer.finish();
  assert.equal(done.rows, 3);
  const back = await flat(readStateRows(done.path));
  assert.deepEqual(back.map(stripKeys), rows);
  assert.deepEqual(back.map((r) => [r.pmcNum, r.version]), [[1, 1], [1, 2], [30, 1]]);
});

test('the diff pairs both sorted streams one article at a time', async () => {
  const current: VersionRow[] = [
    { pmcNum: 1, version: 1, etag: 'e1.1', lastModified: '' },
    { pmcNum: 2, version: 1, etag: 'x', lastModified: '' },
    { pmcNum: 2, version: 1, etag: 'dup', lastModified: '' },
    { pmcNum: 5, version: 3, etag: 'e', lastModified: '' },
  ];
  const previous = [state(1, 1), state(3, 1), state(5, 1), state(5, 3)];
  const groups = await flat(diffGroups(batches(current, 2), batches(previous, 3), 2));
  assert.deepEqual(
    groups.map((g) => [g.pmcNum, g.current.map((c) => `${c.version}:${c.etag}`), g.previous.map((p) => p.version)]),
    [
      [1, ['1:e1.1'], [1]],
      [2, ['1:dup'], []],
      [3, [], [1]],
      [5, ['3:e'], [1, 3]],
    ],
  );
  await assert.rejects(collect(diffGroups(batches([current[3]!, current[0]!]), batches([]))), /not sorted/);
});

test('orderedMap keeps input order with work in flight, and passes errors in order', async () => {
  const delays = [30, 1, 20, 0, 5];
  const out = await collect(orderedMap(from(delays), 3, (d) => (d === 0 ? d : new Promise<number>((ok) => setTimeout(() => ok(d), d)))));
  assert.deepEqual(out, delays);
  const failing = orderedMap(from([1, 2, 3]), 2, async (n) => {
    if (n === 2) throw new Error('two');
    return n;
  });
  assert.equal((await failing.next()).value, 1);
  await assert.rejects(failing.next(), /two/);
});
