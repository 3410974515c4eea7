/**
 * `verify` on damaged datasets: each kind of damage is reported with the file and the byte offset
 * where it is, so a person can find it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { formatVerifyReport, runVerify, type Defect } from '../src/stages/load/verify.js';
import { buildExtractFixture } from './helpers/extract-fixture.js';
import { parquetRows, readShard } from './helpers/dataset.js';
import { extractPaths } from '../src/manifest/extract-manifest.js';
import { sha256, toJsonl, writeJsonAtomic } from '../src/storage/files.js';
import type { FigureRecord } from '../src/manifest/records.js';

let dir: string;
let clean: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-verify-'));
  const fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 6, figuresPerArticle: 2 } });
  clean = (await runLoad(LoadOptions.parse({ outDir: fx.outDir }), testContext())).datasetDir;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function damaged(name: string, damage: (d: string) => Promise<void>): Promise<{ defects: Defect[]; text: string }> {
  const d = join(dir, name);
  await cp(clean, d, { recursive: true });
  await damage(d);
  const report = await runVerify(d, testContext());
  assert.equal(report.ok, false);
  return { defects: report.defects, text: formatVerifyReport(report) };
}

async function flip(path: string, offset: number, mask = 0xff): Promise<void> {
  const h = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await h.read(b, 0, 1, offset);
  b[0] = b[0]! ^ mask;
  await h.write(b, 0, 1, offset);
  await h.close();
}

/** Offsets of a sample's members in a clean shard, read independently of verify. */
async function memberAt(shard: string, name: string): Promise<number> {
  return (await readShard(join(clean, shard))).find((m) => m.name === name)!.offset;
}

describe('verify', () => {
  test('a clean dataset has no defect', async () => {
    const report = await runVerify(clean, testContext());
    assert.deepEqual(report.defects, []);
  });

  test('a truncated shard: named, with the offset of the member it broke in', async () => {
    const shard = 'commercial/000000.tar';
    const size = (await stat(join(clean, shard))).size;
    const cut = Math.floor(size / 2);
    const members = await readShard(join(clean, shard));
    const broken = members.filter((m) => m.offset < cut).at(-1)!;
    const { defects, text } = await damaged('truncated', (d) => truncate(join(d, shard), cut));
    const corrupt = defects.find((x) => x.code === 'TAR_CORRUPT')!;
    assert.equal(corrupt.file, shard);
    assert.equal(corrupt.offset, broken.offset);
    assert.ok(defects.some((x) => x.code === 'SIZE_MISMATCH' && x.file === shard && x.offset === cut));
    assert.match(text, new RegExp(`${shard} @${broken.offset} .*TAR_CORRUPT`));
  });

  test('flipped bytes in a tar header: named, at that header', async () => {
    const shard = 'other/000000.tar';
    const at = await memberAt(shard, 'PMC1000003_f001.txt');
    const { defects } = await damaged('header', (d) => flip(join(d, shard), at + 10));
    assert.ok(defects.some((x) => x.code === 'TAR_CORRUPT' && x.file === shard && x.offset === at), JSON.stringify(defects));
  });

  test('flipped bytes in an image: named, at the image member, as a hash mismatch', async () => {
    const shard = 'noncommercial/000000.tar';
    const at = await memberAt(shard, 'PMC1000002_1_f001.jpg');
    const { defects } = await damaged('image', (d) => flip(join(d, shard), at + 512 + 300, 0x10));
    assert.ok(defects.some((x) => x.code === 'IMAGE_HASH' && x.file === shard && x.offset === at && x.key === 'PMC1000002_1_f001'));
    assert.ok(defects.some((x) => x.code === 'SHA256_MISMATCH' && x.file === shard));
  });

  test('flipped bytes inside the JSON text: named, at the json member', async () => {
    const shard = 'commercial/000000.tar';
    const at = await memberAt(shard, 'PMC1000001_1_f001.json');
    const json = (await readShard(join(clean, shard))).find((m) => m.name === 'PMC1000001_1_f001.json')!.data.toString();
    // Inside the title's text: the JSON stays valid and typed, only its hash tells.
    const inside = json.indexOf('A study numbered') + 3;
    const { defects } = await damaged('json', (d) => flip(join(d, shard), at + 512 + inside, 0x01));
    assert.ok(defects.some((x) => x.code === 'JSON_HASH' && x.offset === at && x.key === 'PMC1000001_1_f001'), JSON.stringify(defects));
  });

  test('a non-zero byte in tar padding: its exact offset', async () => {
    const shard = 'commercial/000000.tar';
    const m = (await readShard(join(clean, shard)))[0]!;
    const pad = m.offset + 512 + m.data.length; // first padding byte after the first member's data
    assert.ok(m.data.length % 512 !== 0);
    const { defects } = await damaged('padding', (d) => flip(join(d, shard), pad, 0x01));
    assert.ok(defects.some((x) => x.code === 'TAR_PADDING' && x.offset === pad));
  });

  test('an extra file and a missing shard', async () => {
    const { defects } = await damaged('files', async (d) => {
      await writeFile(join(d, 'commercial/000001.tar'), Buffer.alloc(1024));
      await rm(join(d, 'other/000000.tar'));
    });
    assert.ok(defects.some((x) => x.code === 'UNEXPECTED_FILE' && x.file === 'commercial/000001.tar'));
    assert.ok(defects.some((x) => x.code === 'SHARD_MISSING' && x.file === 'other/000000.tar'));
  });

  test('an index that points at the wrong offset', async () => {
    const { defects } = await damaged('index', async (d) => {
      const rows = await parquetRows(join(d, 'index/other.parquet'));
      assert.ok(rows.length > 0);
      // Rewrite the index with every offset moved by one block, keeping everything else.
      const { withDuckDb, sqlString } = await import('../src/stages/load/parquet.js');
      const file = join(d, 'index/other.parquet');
      await withDuckDb(async (conn) => {
        await conn.run(`COPY (SELECT * REPLACE ("offset" + 512 AS "offset") FROM read_parquet(${sqlString(file)})) TO ${sqlString(file + '.new')} (FORMAT parquet)`);
      });
      await writeFile(file, await readFile(file + '.new'));
      await rm(file + '.new');
    });
    assert.ok(defects.some((x) => x.code === 'TABLE_MISMATCH' && x.file === 'index/other.parquet'));
    assert.ok(defects.some((x) => x.code === 'INDEX_MISMATCH' && x.file === 'other/000000.tar' && x.offset === 0));
  });

  test('a key that two groups index: DUPLICATE_KEY', async () => {
    const { defects } = await damaged('dupe', async (d) => {
      const { withDuckDb, sqlString } = await import('../src/stages/load/parquet.js');
      const other = join(d, 'index/other.parquet');
      const commercial = join(d, 'index/commercial.parquet');
      await withDuckDb(async (conn) => {
        await conn.run(
          `COPY (SELECT * FROM read_parquet(${sqlString(other)}) UNION ALL (SELECT * FROM read_parquet(${sqlString(commercial)}) LIMIT 1)) TO ${sqlString(other + '.new')} (FORMAT parquet)`,
        );
      });
      await writeFile(other, await readFile(other + '.new'));
      await rm(other + '.new');
    });
    assert.ok(defects.some((x) => x.code === 'DUPLICATE_KEY' && x.file.startsWith('commercial/')), JSON.stringify(defects));
  });

  test('an image that does not decode, though extract recorded its hash: IMAGE_DECODE at its member', async () => {
    const out = join(dir, 'broken-image');
    const fx = await buildExtractFixture(out);
    const paths = extractPaths(out);
    const key = 'PMC1000003_f001';
    // The record keeps its offset but claims only the image's first 400 bytes: that range of the unit's store is a truncated JPEG.
    const broken = fx.images.get(key)!.subarray(0, 400);
    const file = paths.unitFile('u000000', 'figures.jsonl');
    const figures = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FigureRecord)
      .map((f) => ({ ...f, images: f.images.map((i) => (i.key === key ? { ...i, bytes: broken.length, sha256: sha256(broken) } : i)) }));
    const text = toJsonl(figures);
    await writeFile(file, text);
    await writeJsonAtomic(paths.manifest, {
      ...fx.manifest,
      units: fx.manifest.units.map((u) => (u.id === 'u000000' ? { ...u, files: { ...u.files, 'figures.jsonl': sha256(text) } } : u)),
    });
    const dataset = (await runLoad(LoadOptions.parse({ outDir: out }), testContext())).datasetDir;
    const report = await runVerify(dataset, testContext());
    const at = (await readShard(join(dataset, 'other/000000.tar'))).find((m) => m.name === `${key}.jpg`)!.offset;
    assert.deepEqual(
      report.defects.map((d) => [d.file, d.offset, d.key, d.code]),
      [['other/000000.tar', at, key, 'IMAGE_DECODE']],
    );
  });

  test('no manifest: a ManifestError that says what to do', async () => {
    const d = join(dir, 'nomanifest');
    await cp(clean, d, { recursive: true });
    await rm(join(d, 'manifest.json'));
    await assert.rejects(runVerify(d, testContext()), { code: 'MANIFEST_MISSING' });
  });
});
