import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../../errors.js';
import { extractPaths, imageStoreRel } from '../../manifest/extract-manifest.js';
import type { ArticleRecord, FigureRecord } from '../../manifest/records.js';
import type { ArticleRef } from '../../sources/types.js';
import { outcomesInOrder, readUnitOutcomes, writeUnitStore, type ArticleOutcome } from './unit-store.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function ref(i: number): ArticleRef {
  return { id: `PMC${i}`, pmcid: `PMC${i}`, version: null, pmid: '', licenseCode: 'CC BY', licenseGroup: 'commercial', citation: '', location: `PMC${i}.tar.gz`, revision: '', lastUpdated: '' } as ArticleRef;
}

function article(i: number): ArticleRecord {
  return {
    id: `PMC${i}`, pmcid: `PMC${i}`, version: null, pmid: '', doi: '', title: `Article ${i}`, abstract: '', keywords: [], subjects: [], journal: '', publisher: '',
    pubDate: '', licenseCode: 'CC BY', licenseGroup: 'commercial', licenseText: '', licenseUrl: '', articleType: '', citation: '', bodyText: 'ü', referencePmids: [],
    referenceCount: 0, references: [], meshTerms: [], figureCount: 2, sourceLocation: '', sourceRevision: '', lastUpdated: '',
  };
}

/** An outcome with `figures` figures of one image each (bytes of varied sizes, some a multiple of 512), or a failed article. */
function outcome(i: number, unit: string, figures = 2): ArticleOutcome {
  if (i % 5 === 4) {
    return { article: null, figures: [], failures: [{ unit, item: `PMC${i}`, step: 'package', code: 'PACKAGE_FAILED', message: 'gone', transient: true }], images: new Map() };
  }
  const images = new Map<string, Buffer>();
  const figs: FigureRecord[] = [];
  for (let f = 1; f <= figures; f++) {
    const key = `PMC${i}_f${String(f).padStart(3, '0')}`;
    const data = Buffer.alloc(f === 2 ? 1024 : 300 + i * 37 + f, `${key}-`);
    images.set(key, data);
    figs.push({
      key, articleId: `PMC${i}`, index: f, id: `F${f}`, label: `Figure ${f}`, caption: 'c', graphics: [], citingParagraphs: [], location: 'body',
      inFigGroup: false, subArticleId: '', kind: 'figure', status: 'ok', reason: '',
      images: [{ key, href: 'h', mediaName: `m${f}.jpg`, file: 'left for the writer', offset: 0, width: 1, height: 1, bytes: data.length, originalFormat: 'jpeg', originalWidth: 1, originalHeight: 1, sha256: sha(data), passThrough: true }],
    });
  }
  const failures = i % 3 === 0 ? [{ unit, item: `PMC${i}_f001_2`, step: 'image' as const, code: 'IMAGE_TOO_SMALL', message: 'small', transient: false }] : [];
  return { article: article(i), figures: figs, failures, images };
}

async function* list<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function treeBytes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) out.set(name, sha(await readFile(join(dir, name))));
  return out;
}

test('outcomesInOrder: plan order whatever order producers finish in; a slow article holds back new starts (window)', async () => {
  let started = 0;
  let taken = 0;
  let maxAhead = 0;
  const refs = Array.from({ length: 20 }, (_, i) => ref(i));
  const gen = outcomesInOrder(
    list(refs),
    async (r) => {
      started++;
      maxAhead = Math.max(maxAhead, started - taken);
      // Article 0 is slow: the others finish long before it.
      await sleep(r.id === 'PMC0' ? 80 : (Number(r.id.slice(3)) * 7) % 5);
      return r.id;
    },
    { concurrency: 3, window: 6, stop: () => assert.fail('not stopped') },
  );
  const order: string[] = [];
  for await (const id of gen) {
    taken++;
    order.push(id);
  }
  assert.deepEqual(order, refs.map((r) => r.id));
  assert.ok(maxAhead <= 6, `at most the window may be started ahead of the writer, saw ${maxAhead}`);
});

test('outcomesInOrder: a failing producer stops the rest and every started producer settles before the error surfaces', async () => {
  let running = 0;
  const stop = new AbortController();
  const gen = outcomesInOrder(
    list(Array.from({ length: 10 }, (_, i) => ref(i))),
    async (r) => {
      running++;
      try {
        if (r.id === 'PMC1') throw new Error('disk gone');
        await sleep(50, undefined, { signal: stop.signal }).catch(() => {});
        return r.id;
      } finally {
        running--;
      }
    },
    { concurrency: 4, window: 8, stop: () => stop.abort() },
  );
  await assert.rejects(async () => {
    for await (const _ of gen) void _;
  }, /disk gone/);
  assert.equal(running, 0);
  assert.equal(stop.signal.aborted, true);
});

test('writeUnitStore: one tar in plan order that `tar` lists and unpacks; records point at each image by offset; the same outcomes give the same bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'unit-store-'));
  try {
    const unit = 'u000000';
    const outcomes = Array.from({ length: 9 }, (_, i) => outcome(i, unit));
    const a = await writeUnitStore(join(dir, 'a'), unit, list(outcomes), new AbortController().signal);
    const paths = extractPaths(join(dir, 'a'));
    const tarFile = paths.imageStore(unit);
    const tarBytes = await readFile(tarFile);
    assert.deepEqual(a.outputs['images.tar'], { bytes: tarBytes.length, sha256: sha(tarBytes) });
    assert.equal(a.result.files['images.tar'], sha(tarBytes));
    for (const name of ['articles.jsonl', 'figures.jsonl', 'failures.jsonl']) assert.equal(a.outputs[name]!.sha256, sha(await readFile(paths.unitFile(unit, name))));
    assert.deepEqual((await readdir(paths.unitDir(unit))).sort(), ['articles.jsonl', 'failures.jsonl', 'figures.jsonl', 'images.tar']);

    const figures = (await readFile(paths.unitFile(unit, 'figures.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as FigureRecord);
    const images = figures.flatMap((f) => f.images);
    assert.equal(images.length, outcomes.reduce((n, o) => n + o.images.size, 0));
    const listed = execFileSync('tar', ['tf', tarFile], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listed, images.map((i) => `${i.key}.jpg`), 'members in plan order');
    const unpacked = join(dir, 'unpacked');
    execFileSync('mkdir', ['-p', unpacked]);
    execFileSync('tar', ['xf', tarFile, '-C', unpacked]);
    for (const image of images) {
      assert.equal(image.file, imageStoreRel(unit));
      const range = tarBytes.subarray(image.offset, image.offset + image.bytes);
      assert.equal(sha(range), image.sha256);
      assert.equal(sha(await readFile(join(unpacked, `${image.key}.jpg`))), image.sha256);
    }
    assert.equal(a.result.stats.articlesFailed, 1);
    assert.equal(a.result.stats.images, images.length);

    // The same outcomes, finishing in another order, through outcomesInOrder: the same bytes.
    const refs = outcomes.map((_, i) => ref(i));
    const shuffled = outcomesInOrder(list(refs), async (r) => {
      const i = Number(r.id.slice(3));
      await sleep((i * 13) % 7);
      return outcome(i, unit);
    }, { concurrency: 4, window: 8, stop: () => {} });
    await writeUnitStore(join(dir, 'b'), unit, shuffled, new AbortController().signal);
    assert.deepEqual(await treeBytes(extractPaths(join(dir, 'b')).unitDir(unit)), await treeBytes(paths.unitDir(unit)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readUnitOutcomes → writeUnitStore: a finished unit read back and written again gives the same bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'unit-store-'));
  try {
    const unit = 'u000003';
    const refs = Array.from({ length: 11 }, (_, i) => ref(i));
    await writeUnitStore(join(dir, 'a'), unit, list(refs.map((_, i) => outcome(i, unit, 1 + (i % 3)))), new AbortController().signal);
    const back: ArticleOutcome[] = [];
    for await (const o of readUnitOutcomes(join(dir, 'a'), unit, list(refs))) back.push(o);
    assert.equal(back.length, refs.length);
    assert.deepEqual(back.map((o) => o.article?.id ?? null), refs.map((r, i) => (i % 5 === 4 ? null : r.id)));
    assert.deepEqual(back.map((o) => o.failures.map((f) => f.item)), refs.map((r, i) => [...(i % 5 === 4 ? [r.id] : []), ...(i % 3 === 0 && i % 5 !== 4 ? [`${r.id}_f001_2`] : [])]));
    await writeUnitStore(join(dir, 'b'), unit, list(back), new AbortController().signal);
    assert.deepEqual(await treeBytes(extractPaths(join(dir, 'b')).unitDir(unit)), await treeBytes(extractPaths(join(dir, 'a')).unitDir(unit)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeUnitStore: a storage fault (read-only unit folder) is a StorageError and leaves no store behind', { skip: process.getuid?.() === 0 ? 'root writes anywhere' : false }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'unit-store-'));
  const paths = extractPaths(dir);
  try {
    await writeUnitStore(dir, 'u000000', list([outcome(1, 'u000000')]), new AbortController().signal);
    await rm(paths.imageStore('u000000'));
    await chmod(paths.unitDir('u000000'), 0o555);
    await assert.rejects(writeUnitStore(dir, 'u000000', list([outcome(1, 'u000000')]), new AbortController().signal), (e: unknown) => {
      assert.ok(e instanceof StorageError, String(e));
      return true;
    });
    await chmod(paths.unitDir('u000000'), 0o755);
    assert.deepEqual((await readdir(paths.unitDir('u000000'))).filter((n) => n.includes('images')), []);
  } finally {
    await chmod(paths.unitDir('u000000'), 0o755).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeUnitStore: an outcome whose image bytes do not match its record is refused, not stored', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'unit-store-'));
  try {
    const bad = outcome(1, 'u000000');
    (bad.images as Map<string, Buffer>).set('PMC1_f001', Buffer.from('short'));
    await assert.rejects(writeUnitStore(dir, 'u000000', list([bad]), new AbortController().signal), /PMC1_f001/);
    assert.deepEqual(await readdir(extractPaths(dir).unitDir('u000000')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

