// End to end: a one-shot extract from a bucket-shaped test server through the cloud source and
// runExtract. Slow-tagged: it runs a real HTTP server and decodes real images (a few seconds).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readJsonl } from '../src/storage/files.js';
import type { ArticleRecord, FailureRecord, FigureRecord } from '../src/manifest/records.js';
import { testContext } from '../src/pipeline/context.js';
import { createCloudSource } from '../src/sources/cloud/index.js';
import type { ArticleRef } from '../src/sources/types.js';
import { runExtract } from '../src/stages/extract/run-extract.js';
import { TestBucket, cloudTestConfig, corpusVersion, extractOptionsOf, md5, type S3TestServer } from './helpers/bucket.js';
import { silentLogger } from '../src/log/logger.js';
import { readStoredImage } from './helpers/extract-fixture.js';

async function readUnits<T>(outDir: string, name: string): Promise<T[]> {
  const out: T[] = [];
  const units = (await readdir(join(outDir, 'extract', 'units'))).sort();
  for (const unit of units) for await (const r of readJsonl<T>(join(outDir, 'extract', 'units', unit, name))) out.push(r);
  return out;
}

describe('cloud source: one-shot extract', () => {
  let work: string;
  let bucket: TestBucket;
  let server: S3TestServer;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-cloud-'));
    bucket = await TestBucket.create(join(work, 'bucket'));
    await bucket.putVersion(await corpusVersion('PMC7112410', { license_code: null }));
    await bucket.putVersion(await corpusVersion('PMC7135076', { license_code: 'CC BY' }));
    await bucket.putVersion(await corpusVersion('PMC7159299', { license_code: 'CC BY-NC' }));
    // Real records: an open-access article whose XML the corpus lacks (so the bucket answers 404
    // for it) and an author manuscript (not open access: never opened).
    await bucket.putRealMetadata('metadata-PMC4924218.1.json');
    await bucket.putRealMetadata('metadata-PMC7983342.1.json');
    await bucket.writeInventory('2026-09-01T01-00Z', { unpublishedNewer: '2026-09-02T01-00Z' });
    server = await bucket.serve();
  });
  after(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  test('articles, figures and images come out; only XML and referenced images are fetched', async () => {
    const outDir = join(work, 'out-full');
    const config = cloudTestConfig(server.url);
    server.clear();
    const source = await createCloudSource(config, { outDir, log: silentLogger() });
    assert.equal(source.descriptor.snapshotDate, '2026-09-01T01:00:00Z', 'the newest folder has no manifest yet: the previous one is used');
    let summary;
    try {
      summary = await runExtract(extractOptionsOf(config, outDir), source, { includeRetracted: false }, testContext());
    } finally {
      await source.close();
    }
    assert.equal(summary.source.snapshotDate, '2026-09-01T01:00:00Z');
    assert.deepEqual(summary.skippedByReason, { 'not-open-access': 1 });

    const articles = await readUnits<ArticleRecord>(outDir, 'articles.jsonl');
    assert.deepEqual(articles.map((a) => a.id), ['PMC7112410_1', 'PMC7135076_1', 'PMC7159299_1']);
    const byId = new Map(articles.map((a) => [a.id, a]));
    assert.equal(byId.get('PMC7135076_1')!.licenseGroup, 'commercial');
    assert.equal(byId.get('PMC7159299_1')!.licenseGroup, 'noncommercial');
    assert.equal(byId.get('PMC7112410_1')!.licenseGroup, 'other');
    assert.equal(byId.get('PMC7112410_1')!.pmid, '12781535');
    assert.equal(byId.get('PMC7112410_1')!.sourceLocation, 'PMC7112410.1/');
    assert.equal(byId.get('PMC7112410_1')!.sourceRevision, md5(await bucket.get('metadata/PMC7112410.1.json')), 'revision is the inventory ETag');

    const figures = await readUnits<FigureRecord>(outDir, 'figures.jsonl');
    const ok = figures.filter((f) => f.status === 'ok');
    assert.equal(ok.length, 8, JSON.stringify(figures.map((f) => [f.key, f.status, f.reason])));
    for (const f of ok) {
      assert.ok((await readStoredImage(outDir, f.images[0]!)).length > 1000);
    }
    assert.deepEqual(
      ok.map((f) => f.images[0]!.mediaName),
      ['gr1.jpg', 'gr2.jpg', 'gr3.jpg', 'gr4.jpg', 'gr1.jpg', 'gr1.jpg', 'gr2.jpg', 'gr3.jpg'],
    );

    const failures = await readUnits<FailureRecord>(outDir, 'failures.jsonl');
    assert.deepEqual(
      failures.map((f) => [f.item, f.code]),
      [['PMC4924218_1', 'NOT_FOUND']],
      'the open-access record whose XML is absent is a failed item, not a crash',
    );

    const gets = server.requests.map((r) => r.key).filter((k) => k !== '');
    assert.equal(gets.filter((k) => /\.(pdf|txt)$/.test(k)).length, 0, 'no PDF, supplement or text is requested');
    const images = gets.filter((k) => /\.(jpg|png)$/.test(k)).sort();
    assert.deepEqual(images, [
      'PMC7112410.1/gr1.jpg',
      'PMC7112410.1/gr2.jpg',
      'PMC7112410.1/gr3.jpg',
      'PMC7112410.1/gr4.jpg',
      'PMC7135076.1/gr1.jpg',
      'PMC7159299.1/gr1.jpg',
      'PMC7159299.1/gr2.jpg',
      'PMC7159299.1/gr3.jpg',
    ]);
    const metadataGets = gets.filter((k) => k.startsWith('metadata/')).sort();
    assert.deepEqual(
      metadataGets,
      ['metadata/PMC4924218.1.json', 'metadata/PMC7112410.1.json', 'metadata/PMC7135076.1.json', 'metadata/PMC7159299.1.json', 'metadata/PMC7983342.1.json'],
      'each metadata JSON is read once: open() uses the cached copy',
    );
    assert.ok(!gets.includes('PMC7983342.1/PMC7983342.1.xml'), 'the author manuscript is not opened');
    const manifest = JSON.parse(await readFile(join(outDir, 'extract', 'manifest.json'), 'utf8')) as { source: { snapshotDate: string } };
    assert.equal(manifest.source.snapshotDate, '2026-09-01T01:00:00Z');
  });

  test('an explicit PMCID list is listed by prefix; the highest open-access version wins', async () => {
    // A newer version that is an author manuscript (not open access) is passed over.
    const manuscript = await corpusVersion('PMC7135076', { is_pmc_openaccess: false, is_manuscript: true, license_code: 'TDM' });
    await bucket.putVersion({ ...manuscript, version: 2 });
    const outDir = join(work, 'out-pmcids');
    const config = cloudTestConfig(server.url);
    server.clear();
    const source = await createCloudSource(config, { outDir, log: silentLogger() });
    const skipped: [string, string][] = [];
    const refs: ArticleRef[] = [];
    try {
      for await (const ref of source.list({ pmcids: new Set(['PMC12977955', 'PMC7135076', 'PMC4924218']) }, (r, reason) => skipped.push([r.id, reason]))) {
        refs.push(ref);
      }
    } finally {
      await source.close();
      await bucket.removeVersion('PMC7135076.2');
    }
    assert.deepEqual(refs.map((r) => r.id), ['PMC4924218_1', 'PMC7135076_1']);
    assert.equal(refs[1]!.revision, md5(await bucket.get('metadata/PMC7135076.1.json')), 'without an inventory the revision is the md5 of the metadata');
    assert.deepEqual(skipped.sort(), [
      ['PMC12977955', 'not-in-bucket'],
      ['PMC7135076_2', 'not-open-access'],
    ]);
    const listings = server.requests.filter((r) => r.key === '' && r.query.includes('prefix=PMC')).map((r) => new URLSearchParams(r.query).get('prefix'));
    assert.deepEqual(listings.sort(), ['PMC12977955.', 'PMC4924218.', 'PMC7135076.']);
  });
});
