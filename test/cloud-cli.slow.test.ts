/**
 * The nightly cron job as a user runs it: `biomedica run --sync` with the cloud bucket as the
 * default source (pointed at a bucket-shaped server on 127.0.0.1 through the environment), twice.
 * The second night removes an article: the dataset drops it, and verify passes both nights.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { runCli } from './helpers/cli.js';
import { TestBucket, corpusVersion, type S3TestServer } from './helpers/bucket.js';
import { writeFeatures } from '../scripts/models/features.js';
import { parquetRows } from './helpers/dataset.js';

describe('cloud source through the CLI: two nights of `run --sync`', () => {
  let work: string;
  let bucket: TestBucket;
  let server: S3TestServer;
  const env = () => ({ BIOMEDICA_SOURCE_CLOUD_BASE_URL: server.url, BIOMEDICA_NETWORK_RETRY_BASE_MS: '5' });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-cloud-cli-'));
    bucket = await TestBucket.withCorpus(join(work, 'bucket'));
    server = await bucket.serve();
  });
  after(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('night 1 builds the dataset; night 2 drops the removed article', async () => {
    const out = join(work, 'out');
    const night1 = await runCli(['run', '--sync', '--out', out, '--no-progress', '--json'], env());
    assert.equal(night1.code, 0, night1.stderr);
    const first = JSON.parse(night1.stdout);
    assert.equal(first.extract.source.kind, 'cloud');
    assert.equal(first.extract.totals.articles, 3);
    const v1 = await runCli(['verify', join(out, 'dataset'), '--json']);
    assert.equal(v1.code, 0, v1.stdout);
    const samples1 = JSON.parse(v1.stdout).samples as number;
    assert.equal(samples1, first.extract.totals.images);

    bucket.clock = '2026-09-01T15:00:00.000Z';
    await bucket.removeVersion('PMC7135076.1'); // one figure
    await bucket.writeInventory('2026-09-02T01-00Z');
    const night2 = await runCli(['run', '--sync', '--out', out, '--no-progress', '--json'], env());
    assert.equal(night2.code, 0, night2.stderr);
    const second = JSON.parse(night2.stdout);
    assert.equal(second.extract.sync.newArticles, 0);
    assert.equal(second.extract.sync.tombstones.removed, 1);
    const v2 = await runCli(['verify', join(out, 'dataset'), '--json']);
    assert.equal(v2.code, 0, v2.stdout);
    assert.equal(JSON.parse(v2.stdout).samples, samples1 - 1);
  });
});

describe('two nights of `run --sync` with transform: the second embeds and assigns only the new units, with the first night\'s model', () => {
  let work: string;
  let bucket: TestBucket;
  let server: S3TestServer;
  let model: string;
  const env = () => ({ BIOMEDICA_SOURCE_CLOUD_BASE_URL: server.url, BIOMEDICA_NETWORK_RETRY_BASE_MS: '5' });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-cloud-transform-'));
    model = join(work, 'features.onnx');
    await writeFeatures(model, { dtype: 'float32' });
    bucket = await TestBucket.create(join(work, 'bucket'));
    for (const id of ['PMC7112410', 'PMC7159299'] as const) await bucket.putVersion(await corpusVersion(id));
    await bucket.writeInventory('2026-09-01T01-00Z');
    server = await bucket.serve();
  });
  after(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('night 2 adds an article: one unit embedded and assigned, the model untouched, every sample clustered', async () => {
    const out = join(work, 'out');
    const args = ['run', '--sync', '--out', out, '--model', model, '--device', 'cpu', '--clusters', '2', '--components', '2', '--no-progress', '--json'];
    const night1 = await runCli(args, env());
    assert.equal(night1.code, 0, night1.stderr);
    const first = JSON.parse(night1.stdout);
    assert.equal(first.transform.model.origin, 'fitted');
    const modelJson = await readFile(join(out, 'transform/model/model.json'));

    bucket.clock = '2026-09-01T15:00:00.000Z';
    await bucket.putVersion(await corpusVersion('PMC7135076'));
    await bucket.writeInventory('2026-09-02T01-00Z');
    const night2 = await runCli(args, env());
    assert.equal(night2.code, 0, night2.stderr);
    const second = JSON.parse(night2.stdout);
    assert.equal(second.extract.sync.newArticles, 1);
    assert.equal(second.transform.model.origin, 'frozen');
    assert.equal(second.transform.steps.embed.written, second.extract.sync.newUnits);
    assert.equal(second.transform.steps.embed.skipped, first.transform.steps.embed.written);
    assert.equal(second.transform.steps.assign.written, second.extract.sync.newUnits);
    assert.deepEqual(await readFile(join(out, 'transform/model/model.json')), modelJson);

    const v2 = await runCli(['verify', join(out, 'dataset'), '--json']);
    assert.equal(v2.code, 0, v2.stdout);
    const ids = (await parquetRows(join(out, 'dataset/index/*.parquet'), 'SELECT image_cluster_id FROM t')).map((r) => Number(r['image_cluster_id']));
    assert.ok(ids.length > 0);
    assert.ok(ids.every((id) => id >= 0 && id < 2), `cluster ids ${ids.join(',')}`);
  });
});
