// Faults a real bucket produces, injected by the test server: each ends with the right outcome
// (a failed item, or survived by retrying), and the request-rate cap holds as the server counts
// it. Slow-tagged: real HTTP server, real image decoding, a rate-limited run of ~2 s.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../src/config/schema.js';
import { silentLogger } from '../src/log/logger.js';
import { readJsonl } from '../src/storage/files.js';
import type { ArticleRecord, FailureRecord, FigureRecord } from '../src/manifest/records.js';
import { testContext } from '../src/pipeline/context.js';
import { createCloudSource } from '../src/sources/cloud/index.js';
import { runExtract, type ExtractSummary } from '../src/stages/extract/run-extract.js';
import { SLOW_DOWN, TestBucket, cloudTestConfig, corpusVersion, extractOptionsOf, type S3TestServer } from './helpers/bucket.js';

async function readAll<T>(outDir: string, name: string): Promise<T[]> {
  const out: T[] = [];
  for (const unit of (await readdir(join(outDir, 'extract', 'units'))).sort()) {
    for await (const r of readJsonl<T>(join(outDir, 'extract', 'units', unit, name))) out.push(r);
  }
  return out;
}

describe('cloud source: faults and the rate cap', () => {
  let work: string;
  let bucket: TestBucket;
  let server: S3TestServer;
  let inventoryPart: string;

  async function extract(config: Config, outDir: string): Promise<ExtractSummary> {
    const source = await createCloudSource(config, { outDir, log: silentLogger() });
    try {
      return await runExtract(extractOptionsOf(config, outDir), source, {}, testContext());
    } finally {
      await source.close();
    }
  }
  const count = (key: string) => server.requests.filter((r) => r.key === key).length;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-faults-'));
    bucket = await TestBucket.create(join(work, 'bucket'));
    await bucket.putVersion(await corpusVersion('PMC7112410'));
    await bucket.putVersion(await corpusVersion('PMC7135076'));
    await bucket.putVersion(await corpusVersion('PMC7159299'));
    inventoryPart = (await bucket.writeInventory('2026-09-01T01-00Z')).parts[0]!;
    server = await bucket.serve();
  });
  after(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  test('md5 mismatch, 404, SlowDown bursts and resets mid-body each end right', async () => {
    server.clear();
    server.fault('PMC7135076.1/PMC7135076.1.xml', { kind: 'corrupt', times: 5 });
    server.fault('PMC7159299.1/gr1.jpg', { kind: 'corrupt', times: 1 });
    server.fault('PMC7159299.1/gr2.jpg', { kind: 'status', status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' });
    server.fault('PMC7112410.1/gr1.jpg', { ...SLOW_DOWN, times: 3 });
    server.fault('metadata/PMC7112410.1.json', { ...SLOW_DOWN, times: 2 });
    server.fault(inventoryPart, { ...SLOW_DOWN, times: 1 });
    server.fault('PMC7112410.1/PMC7112410.1.xml', { kind: 'reset', afterBytes: 2000, times: 1 });
    server.fault('PMC7159299.1/gr3.jpg', { kind: 'reset', afterBytes: 5000, times: 1 });

    const outDir = join(work, 'out-faults');
    const summary = await extract(cloudTestConfig(server.url), outDir);
    assert.equal(summary.totals.articlesFailed, 1);

    const articles = await readAll<ArticleRecord>(outDir, 'articles.jsonl');
    assert.deepEqual(articles.map((a) => a.id), ['PMC7112410_1', 'PMC7159299_1']);
    const failures = await readAll<FailureRecord>(outDir, 'failures.jsonl');
    assert.deepEqual(
      failures.map((f) => [f.item, f.step, f.code, f.transient]),
      [
        // A mismatch that came back on the retry is the source's content, not a passing fault.
        ['PMC7135076_1', 'package', 'CHECKSUM_MISMATCH', false],
        ['PMC7159299_1_f002', 'image', 'NOT_FOUND', false],
      ],
    );
    const figures = await readAll<FigureRecord>(outDir, 'figures.jsonl');
    assert.deepEqual(
      figures.map((f) => [f.key, f.status]),
      [
        ['PMC7112410_1_f001', 'ok'],
        ['PMC7112410_1_f002', 'ok'],
        ['PMC7112410_1_f003', 'ok'],
        ['PMC7112410_1_f004', 'ok'],
        ['PMC7159299_1_f001', 'ok'],
        ['PMC7159299_1_f002', 'failed'],
        ['PMC7159299_1_f003', 'ok'],
      ],
    );
    // A mismatch is retried once, then the item fails; a transient one is survived.
    assert.equal(count('PMC7135076.1/PMC7135076.1.xml'), 2);
    assert.equal(count('PMC7159299.1/gr1.jpg'), 2);
    assert.equal(count('PMC7159299.1/gr2.jpg'), 1, '404 is not retried');
    assert.equal(count('PMC7112410.1/gr1.jpg'), 4, 'three SlowDowns, then the image');
    assert.equal(count('metadata/PMC7112410.1.json'), 3);
    assert.equal(count(inventoryPart), 2);
    assert.equal(count('PMC7112410.1/PMC7112410.1.xml'), 2, 'cut mid-body, fetched again');
    assert.equal(count('PMC7159299.1/gr3.jpg'), 2);
  });

  test('the request-rate ceiling holds, counted by the server per second, and the summary shows the rate', async () => {
    server.clear();
    const cap = 10;
    const config = cloudTestConfig(server.url, {
      network: { requestsPerSecond: 6, maxRequestsPerSecond: cap, connections: 8 },
      extract: { articleConcurrency: 4 },
      cloud: { metadataConcurrency: 8 },
    });
    const started = performance.now();
    const summary = await extract(config, join(work, 'out-rate'));
    assert.equal(summary.requests?.ceiling, cap);
    assert.ok(summary.requests.perSecond >= 6 && summary.requests.perSecond <= cap, `rate ${summary.requests.perSecond}`);
    const seconds = (performance.now() - started) / 1000;
    const perSecond = server.perSecond();
    const total = server.requests.length;
    assert.ok(total >= 15, `expected a run of 15+ requests, got ${total}`);
    assert.ok(Math.max(...perSecond) <= cap, `per-second counts ${perSecond.join(',')} exceed ${cap}`);
    assert.ok(seconds >= Math.floor((total - 1) / cap), `${total} requests in ${seconds.toFixed(2)} s is faster than the cap allows`);
  });
});
