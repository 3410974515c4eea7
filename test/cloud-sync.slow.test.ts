// Nightly incremental sync against a bucket-shaped test server: night 1 is a full listing; on
// night 2 one version is added, one changed, one removed and one retracted, and only those cost
// requests beyond the inventory. Slow-tagged: real HTTP server, real image decoding.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../src/log/logger.js';
import { readJsonl, sha256 } from '../src/storage/files.js';
import type { ArticleRecord, FigureRecord, TombstoneRecord } from '../src/manifest/records.js';
import { testContext } from '../src/pipeline/context.js';
import { createCloudSource } from '../src/sources/cloud/index.js';
import type { SourceFilter } from '../src/sources/types.js';
import { runExtract, type ExtractSummary } from '../src/stages/extract/run-extract.js';
import { createSyncPlanner } from '../src/stages/extract/sync-planner.js';
import { readSyncState } from '../src/sync/state.js';
import { TestBucket, cloudTestConfig, corpusDir, corpusVersion, elifeVersion, extractOptionsOf, type S3TestServer } from './helpers/bucket.js';

const filter: SourceFilter = { includeRetracted: false };

describe('cloud source: nightly sync', () => {
  let work: string;
  let bucket: TestBucket;
  let server: S3TestServer;
  let outDir: string;

  async function night(): Promise<ExtractSummary> {
    const config = cloudTestConfig(server.url);
    const source = await createCloudSource(config, { outDir, log: silentLogger() });
    try {
      const planner = createSyncPlanner(source, { outDir, unitSize: config.extract.unitSize, filter, windowDays: config.cloud.inventoryWindowDays });
      return await runExtract(extractOptionsOf(config, outDir), source, filter, testContext(), planner);
    } finally {
      await source.close();
    }
  }
  const unitArticles = async (unit: string) => {
    const out: ArticleRecord[] = [];
    for await (const a of readJsonl<ArticleRecord>(join(outDir, 'extract', 'units', unit, 'articles.jsonl'))) out.push(a);
    return out.map((a) => a.id);
  };
  const gets = () => server.requests.filter((r) => r.key !== '').map((r) => r.key);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-sync-'));
    outDir = join(work, 'out');
    bucket = await TestBucket.create(join(work, 'bucket'));
    await bucket.putVersion(await corpusVersion('PMC7112410'));
    await bucket.putVersion(await corpusVersion('PMC7135076'));
    await bucket.putVersion(await corpusVersion('PMC7159299'));
    await bucket.putRealMetadata('metadata-PMC4924218.1.json');
    await bucket.putRealMetadata('metadata-PMC7983342.1.json');
    await bucket.writeInventory('2026-09-01T01-00Z');
    server = await bucket.serve();
  });
  after(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  test('night 1: a full listing plans every open-access version and writes the state', async () => {
    const summary = await night();
    assert.equal(summary.sync?.epoch, 0);
    assert.equal(summary.sync?.fullListing, true);
    assert.equal(summary.sync?.newArticles, 4);
    assert.deepEqual(await unitArticles('u000000'), ['PMC7112410_1'], 'PMC4924218_1 (404) failed in u000000');
    assert.deepEqual(await unitArticles('u000001'), ['PMC7135076_1', 'PMC7159299_1']);
    const state = await readSyncState(outDir);
    assert.equal(state?.snapshotDate, '2026-09-01T01:00:00Z');
    assert.equal(state?.rows, 5);
    assert.deepEqual(state?.retry, ['PMC4924218_1'], 'the failed article is retried next night');
    assert.equal(await readFile(join(outDir, 'extract', 'tombstones.jsonl'), 'utf8'), '');
  });

  test('night 2: only the added, changed and retried versions are fetched; the rest is tombstoned', async () => {
    bucket.clock = '2026-09-01T15:00:00.000Z';
    await bucket.putVersion(elifeVersion()); // added
    await bucket.replaceObject('PMC7135076.1', 'gr1.jpg', await readFile(join(corpusDir, 'images', 'pmc_oa_packages', 'PMC7159299', 'gr2_lrg.jpg'))); // changed
    await bucket.removeVersion('PMC7112410.1'); // removed
    const c = await bucket.readMetadata('PMC7159299.1');
    // Retracted by title only: is_retracted stays false, as one client found on a real record.
    await bucket.writeMetadata('PMC7159299.1', { ...c, title: `RETRACTED ARTICLE: ${String(c['title'])}` });
    await bucket.writeInventory('2026-09-02T01-00Z');
    server.clear();

    const summary = await night();
    assert.equal(summary.sync?.epoch, 1);
    assert.equal(summary.sync?.fullListing, false);
    assert.deepEqual(summary.sync?.tombstones, { removed: 1, replaced: 2, retracted: 1 }, 'the retried article replaces its failed self');
    assert.equal(summary.sync?.newArticles, 3);
    assert.equal(summary.sync?.groups.unchanged, 1, 'the author manuscript is unchanged');

    const tombstones: TombstoneRecord[] = [];
    for await (const t of readJsonl<TombstoneRecord>(join(outDir, 'extract', 'tombstones.jsonl'))) tombstones.push(t);
    assert.deepEqual(tombstones, [
      { articleId: 'PMC4924218_1', reason: 'replaced', unit: 'u000000' },
      { articleId: 'PMC7112410_1', reason: 'removed', unit: '' },
      { articleId: 'PMC7135076_1', reason: 'replaced', unit: 'u000001' },
      { articleId: 'PMC7159299_1', reason: 'retracted', unit: '' },
    ]);

    const requested = gets();
    const metadata = requested.filter((k) => k.startsWith('metadata/')).sort();
    assert.deepEqual(metadata, ['metadata/PMC7135076.1.json', 'metadata/PMC7159299.1.json', 'metadata/PMC99000001.1.json']);
    const objects = requested.filter((k) => /^PMC\d+\.\d+\//.test(k)).sort();
    assert.deepEqual(objects, [
      'PMC4924218.1/PMC4924218.1.xml',
      'PMC7135076.1/PMC7135076.1.xml',
      'PMC7135076.1/gr1.jpg',
      'PMC99000001.1/PMC99000001.1.xml',
      'PMC99000001.1/elife-43154-fig1-v2.jpg',
      'PMC99000001.1/elife-43154-fig2-v2.jpg',
      'PMC99000001.1/elife-43154-resp-fig1-v2.jpg',
    ]);

    assert.deepEqual(await unitArticles('u000002'), ['PMC7135076_1']);
    assert.deepEqual(await unitArticles('u000003'), ['PMC99000001_1']);
    const figures: FigureRecord[] = [];
    for await (const f of readJsonl<FigureRecord>(join(outDir, 'extract', 'units', 'u000003', 'figures.jsonl'))) figures.push(f);
    assert.ok(figures.filter((f) => f.status === 'ok').length >= 2);

    const manifestText = await readFile(join(outDir, 'extract', 'manifest.json'), 'utf8');
    const manifest = JSON.parse(manifestText) as { source: { snapshotDate: string }; units: { id: string }[]; tombstonesSha256: string };
    assert.equal(manifest.source.snapshotDate, '2026-09-02T01:00:00Z');
    assert.deepEqual(manifest.units.map((u) => u.id), ['u000000', 'u000001', 'u000002', 'u000003']);
    assert.equal(manifest.tombstonesSha256, sha256(await readFile(join(outDir, 'extract', 'tombstones.jsonl'))));
    const stateFiles = (await readdir(join(outDir, 'extract', 'state'))).sort();
    assert.deepEqual(stateFiles, ['state.json', 'versions-2026-09-02T01-00Z.jsonl.gz']);
  });

  test('a rerun on the same inventory makes no article request and changes no byte', async () => {
    const before = await readFile(join(outDir, 'extract', 'manifest.json'));
    const tombstonesBefore = await readFile(join(outDir, 'extract', 'tombstones.jsonl'));
    server.clear();
    const summary = await night();
    assert.equal(summary.sync?.resumed, true);
    assert.equal(summary.unitsSkipped, 4);
    assert.deepEqual(gets().filter((k) => !k.startsWith('inventory-reports/')), []);
    assert.deepEqual(await readFile(join(outDir, 'extract', 'manifest.json')), before);
    assert.deepEqual(await readFile(join(outDir, 'extract', 'tombstones.jsonl')), tombstonesBefore);
  });

  test('a state older than the 30-day inventory window falls back to a full listing', async () => {
    await bucket.writeInventory('2026-10-15T01-00Z');
    server.clear();
    const summary = await night();
    assert.equal(summary.sync?.fullListing, true);
    assert.match(summary.sync?.fullListingReason ?? '', /older than the 30-day inventory window/);
    // Every version was looked at again; only the manuscript's metadata (never cached: not open
    // access) needed the network. Nothing unchanged is re-extracted; the failed article is retried.
    assert.equal(summary.sync?.metadataReads, 1);
    assert.equal(summary.sync?.groups.unchanged, 0);
    assert.equal(summary.sync?.newArticles, 1);
    assert.deepEqual(summary.sync?.tombstones, { replaced: 1 });
    assert.deepEqual(gets().filter((k) => !k.startsWith('inventory-reports/')).sort(), ['PMC4924218.1/PMC4924218.1.xml', 'metadata/PMC7983342.1.json']);
  });
});
