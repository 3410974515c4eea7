/**
 * `biomedica retry-failed` against the bucket-shaped server: a run whose server failed one image
 * for longer than the retries last (a transient failure) and lost another for good (a 404, a
 * content failure). Once the server is healthy, retry-failed fetches the one article again, and
 * nothing else, and the folder is byte for byte the folder of a run that never met the fault.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FailureRecord } from '../src/manifest/records.js';
import { pathExists, readJsonl } from '../src/storage/files.js';
import { prepareRetry, plannedUnits, retryPaths, selectRetry } from '../src/stages/extract/retry.js';
import { runCli, treeHashes } from './helpers/cli.js';
import { TestBucket, type S3Fault, type S3TestServer } from './helpers/bucket.js';

const TRANSIENT_KEY = 'PMC7112410.1/gr1.jpg';
const GONE_KEY = 'PMC7159299.1/gr2.jpg';
const SERVER_DOWN: S3Fault = { kind: 'status', status: 500, body: '<Error><Code>InternalError</Code></Error>', times: 1000 };
const NO_SUCH_KEY: S3Fault = { kind: 'status', status: 404, body: '<Error><Code>NoSuchKey</Code></Error>', times: 1000 };

async function failuresOf(out: string): Promise<FailureRecord[]> {
  const all: FailureRecord[] = [];
  const units = join(out, 'extract', 'units');
  for (const unit of (await readdir(units)).sort()) for await (const f of readJsonl<FailureRecord>(join(units, unit, 'failures.jsonl'))) all.push(f);
  return all;
}

/** The run's products: locks, run records (timings) and the source's metadata cache are the run's bookkeeping, not its output. */
async function products(out: string): Promise<Map<string, string>> {
  const all = await treeHashes(out);
  return new Map([...all].filter(([path]) => !path.startsWith('.locks') && !path.startsWith('.runs') && !path.startsWith('cache')));
}

describe('retry-failed', () => {
  let work: string;
  let bucket: TestBucket;
  let server: S3TestServer;
  const env = () => ({ BIOMEDICA_SOURCE_CLOUD_BASE_URL: server.url, BIOMEDICA_NETWORK_RETRY_BASE_MS: '5', BIOMEDICA_NETWORK_RETRIES: '2' });
  const args = (out: string) => ['--out', out, '--unit-size', '2', '--no-progress', '--json'];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-retry-'));
    bucket = await TestBucket.withCorpus(join(work, 'bucket'));
    server = await bucket.serve();
  });
  after(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('fetches again only the transiently failed article; the folder equals a clean run', async () => {
    // The reference: a run that met only the content failure.
    server.fault(GONE_KEY, NO_SUCH_KEY);
    const clean = join(work, 'clean');
    const reference = await runCli(['run', ...args(clean)], env());
    assert.equal(reference.code, 0, reference.stderr);

    server.fault(TRANSIENT_KEY, SERVER_DOWN);
    const out = join(work, 'out');
    const first = await runCli(['run', ...args(out)], env());
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      (await failuresOf(out)).map((f) => [f.item, f.code, f.transient]),
      [
        ['PMC7112410_1_f001', 'SERVER_ERROR', true],
        ['PMC7159299_1_f002', 'NOT_FOUND', false],
      ],
    );
    assert.notDeepEqual(await products(out), await products(clean));

    server.heal(TRANSIENT_KEY);
    // Other shaping options than the run's: refused before anything moves (a retry must not become a rebuild).
    const before = await treeHashes(out);
    const otherOptions = await runCli(['retry-failed', ...args(out)], { ...env(), BIOMEDICA_IMAGES_QUALITY: '80' });
    assert.equal(otherOptions.code, 2, otherOptions.stderr);
    assert.match(otherOptions.stderr, /RETRY_OPTIONS_DIFFER/);
    assert.deepEqual(await products(out), new Map([...before].filter(([path]) => !path.startsWith('.locks') && !path.startsWith('.runs') && !path.startsWith('cache'))));

    server.clear();
    const retry = await runCli(['retry-failed', ...args(out)], env());
    assert.equal(retry.code, 0, retry.stderr);
    const summary = JSON.parse(retry.stdout);
    assert.deepEqual(summary.retry.units.map((u: { unit: string; articles: string[] }) => [u.unit, u.articles]), [['u000000', ['PMC7112410_1']]]);
    assert.equal(summary.retry.transient, 1);
    assert.equal(summary.retry.content, 1);
    assert.ok(summary.load, 'the dataset the folder had is written again');

    // Only the retried article went back to the source: its unit's other article came from the unit as it was.
    const fetched = [...new Set(server.requests.map((r) => r.key.split('/')[0] ?? ''))].filter((k) => k.startsWith('PMC'));
    assert.deepEqual(fetched, ['PMC7112410.1']);
    assert.deepEqual(await products(out), await products(clean));
    assert.deepEqual((await failuresOf(out)).map((f) => f.code), ['NOT_FOUND']);

    // Nothing transient left: a second retry says so and changes nothing.
    const again = await runCli(['retry-failed', out, '--unit-size', '2', '--no-progress'], env());
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to retry/);
    assert.match(again.stdout, /content {6}1 failure left as they are.*NOT_FOUND=1/);
    assert.deepEqual(await products(out), await products(clean));
  });

  test('a retry stopped after its units were moved aside resumes, even through a plain run', async () => {
    server.fault(TRANSIENT_KEY, SERVER_DOWN);
    const out = join(work, 'stopped');
    const first = await runCli(['run', ...args(out)], env());
    assert.equal(first.code, 0, first.stderr);
    server.heal(TRANSIENT_KEY);

    // What a retry killed right after moving its unit aside leaves behind.
    await prepareRetry(out, await selectRetry(out, await plannedUnits(out)));
    assert.deepEqual((await readdir(retryPaths(out).root)).sort(), ['u000000.json', 'units']);
    assert.deepEqual(await readdir(join(retryPaths(out).root, 'units')), ['u000000']);

    server.clear();
    const resumed = await runCli(['run', ...args(out)], env());
    assert.equal(resumed.code, 0, resumed.stderr);
    const fetched = [...new Set(server.requests.map((r) => r.key.split('/')[0] ?? ''))].filter((k) => k.startsWith('PMC'));
    assert.deepEqual(fetched, ['PMC7112410.1']);
    assert.deepEqual(await products(out), await products(join(work, 'clean')));
    assert.equal(await pathExists(retryPaths(out).root), false, 'the old unit goes once the new one is done');
  });

  test('retry-failed on a folder with nothing extracted is a clear error', async () => {
    const result = await runCli(['retry-failed', '--out', join(work, 'empty')], env());
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /holds no extract plan/);
  });
});
