import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile, appendFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../log/logger.js';
import { migrateLegacyMetadataCache, openMetadataCache, packsDir } from './metadata-cache.js';

const cloudCorpus = resolve(fileURLToPath(new URL('../../../', import.meta.url)), '../shared/corpus/pmc-cloud');

/** A metadata JSON shaped like the bucket's, distinct per key and generation. */
const record = (key: string, generation = 1) => Buffer.from(`{"pmcid": "${key.split('.')[0]}", "version": ${key.split('.')[1]}, "title": "generation ${generation}", "license_code": "CC BY"}`);

describe('packed metadata cache', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-metacache-'));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  test('thousands of versions in two files per thousand PMCIDs; read back by a fresh instance; the last write wins', async () => {
    const dir = join(work, 'round');
    const cache = openMetadataCache(dir);
    const keys = Array.from({ length: 3000 }, (_, i) => `PMC${7_100_000 + i * 2}.${1 + (i % 3)}`);
    await Promise.all(keys.map((k) => cache.put(k, record(k))));
    await cache.put(keys[10]!, record(keys[10]!, 2));
    const files = await readdir(packsDir(dir));
    assert.deepEqual(files.sort(), ['07100.idx', '07100.seg', '07101.idx', '07101.seg', '07102.idx', '07102.seg', '07103.idx', '07103.seg', '07104.idx', '07104.seg', '07105.idx', '07105.seg']);
    const fresh = openMetadataCache(dir);
    for (const [i, k] of keys.entries()) assert.deepEqual(await fresh.get(k), record(k, i === 10 ? 2 : 1), k);
    assert.equal(await fresh.get('PMC7100001.1'), undefined, 'never written');
    assert.equal(await fresh.get('not-a-key'), undefined);
    // The segment is the bucket's own bytes, a line each: grep and jq work on it.
    const seg = await readFile(join(packsDir(dir), '07100.seg'), 'utf8');
    assert.ok(seg.startsWith('{"pmcid": "PMC7100000", "version": 1,'));
  });

  test('a torn append, a garbled index line and a damaged record cost a miss, never wrong bytes', async () => {
    const dir = join(work, 'damage');
    const cache = openMetadataCache(dir);
    for (const k of ['PMC5000001.1', 'PMC5000002.1', 'PMC5000003.1']) await cache.put(k, record(k));
    const seg = join(packsDir(dir), '05000.seg');
    const idx = join(packsDir(dir), '05000.idx');
    // Flip a byte of the second record.
    const handle = await open(seg, 'r+');
    const second = (await readFile(idx, 'utf8')).split('\n').find((l) => l.startsWith('PMC5000002.1 '))!.split(' ');
    await handle.write(Buffer.from('X'), 0, 1, Number(second[1]) + 5);
    await handle.close();
    // A crash mid-append: the last record cut short, an index line half written.
    const size = (await readFile(seg)).length;
    await truncate(seg, size - 10);
    await appendFile(idx, '\nPMC5000004.1 99');
    const fresh = openMetadataCache(dir);
    assert.deepEqual(await fresh.get('PMC5000001.1'), record('PMC5000001.1'));
    assert.equal(await fresh.get('PMC5000002.1'), undefined);
    assert.equal(await fresh.get('PMC5000003.1'), undefined);
    assert.equal(await fresh.get('PMC5000004.1'), undefined);
    // Appending again after the damage works: the new record and its index line are whole.
    await fresh.put('PMC5000003.1', record('PMC5000003.1', 2));
    assert.deepEqual(await openMetadataCache(dir).get('PMC5000003.1'), record('PMC5000003.1', 2));
  });

  test('two writers on one shard at once (two processes sharing --out): every read is right or a miss', async () => {
    const dir = join(work, 'race');
    const a = openMetadataCache(dir);
    const b = openMetadataCache(dir);
    const keys = Array.from({ length: 400 }, (_, i) => `PMC6000${String(i).padStart(3, '0')}.1`);
    await Promise.all(keys.map((k, i) => (i % 2 ? a : b).put(k, record(k))));
    const fresh = openMetadataCache(dir);
    let hits = 0;
    for (const k of keys) {
      const got = await fresh.get(k);
      if (got !== undefined) {
        assert.deepEqual(got, record(k));
        hits++;
      }
    }
    assert.ok(hits > 0, 'some records survive the race');
  });

  test('the one-file-per-version layout is packed on first use, resumably, and then removed', async () => {
    const dir = join(work, 'migrate');
    const legacy = join(dir, 'metadata');
    const real = await readFile(join(cloudCorpus, 'metadata-PMC4599423.1.json'));
    const keys = Array.from({ length: 50 }, (_, i) => `PMC${4_599_400 + i}.1`);
    for (const k of keys) {
      const bucket = join(legacy, String(Number(/\d+/.exec(k)![0]) % 1000).padStart(3, '0'));
      await mkdir(bucket, { recursive: true });
      await writeFile(join(bucket, `${k}.json`), k === 'PMC4599423.1' ? real : record(k));
    }
    await writeFile(join(legacy, '423', 'PMC4599423.1.json.1234.tmp'), 'half written');
    const cache = openMetadataCache(dir);
    assert.equal(await migrateLegacyMetadataCache(dir, cache, silentLogger()), 50);
    await assert.rejects(readdir(legacy), { code: 'ENOENT' });
    const fresh = openMetadataCache(dir);
    assert.deepEqual(await fresh.get('PMC4599423.1'), real);
    for (const k of keys.filter((k) => k !== 'PMC4599423.1')) assert.deepEqual(await fresh.get(k), record(k));
    assert.equal(await migrateLegacyMetadataCache(dir, fresh, silentLogger()), 0, 'nothing left to pack');
  });
});
