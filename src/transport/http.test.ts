import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ItemError, TransportError } from '../errors.js';
import { startHttpServer, type TestHttpServer } from '../../test/helpers/servers.js';
import { createHttpClient, httpGetBuffer, type HttpClient } from './http.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('http client', () => {
  let dir: string;
  let server: TestHttpServer;
  let client: HttpClient;
  const payload = randomBytes(600_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'biomedica-http-'));
    await writeFile(join(dir, 'blob.bin'), payload);
    await writeFile(join(dir, 'small.txt'), 'hello');
    server = await startHttpServer(dir);
    client = createHttpClient({ retries: 3, retryBaseMs: 1, retryMaxMs: 5, concurrency: 4 });
  });
  after(async () => {
    await client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const requestsFor = (path: string) => server.requests.filter((r) => r.path === path);

  test('retries 503 and 500, then succeeds', async () => {
    server.fault('/small.txt', { status: 503, times: 2 }, { status: 500 });
    const before = requestsFor('/small.txt').length;
    const body = await client.getBuffer(`${server.url}/small.txt`);
    assert.equal(body.toString(), 'hello');
    assert.equal(requestsFor('/small.txt').length - before, 4);
    assert.match(requestsFor('/small.txt').at(-1)!.userAgent ?? '', /^biomedica/);
  });

  test('429 and S3 SlowDown are RATE_LIMITED and retryable; the last error surfaces when retries run out', async () => {
    const slowDown = '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
    server.fault('/small.txt', { status: 503, body: slowDown, times: 4 });
    await assert.rejects(client.getBuffer(`${server.url}/small.txt`), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'RATE_LIMITED');
      assert.equal(error.retryable, true);
      return true;
    });
    server.fault('/small.txt', { status: 429, retryAfter: '0' });
    assert.equal((await client.getBuffer(`${server.url}/small.txt`)).toString(), 'hello');
  });

  test('404 fails at once, not retried', async () => {
    const before = requestsFor('/nope.bin').length;
    await assert.rejects(client.getBuffer(`${server.url}/nope.bin`), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'NOT_FOUND');
      assert.equal(error.retryable, false);
      return true;
    });
    assert.equal(requestsFor('/nope.bin').length - before, 1);
  });

  test('a body cut mid-way is retried and the bytes are right', async () => {
    server.fault('/blob.bin', { cutAfterBytes: 100_000 });
    const body = await client.getBuffer(`${server.url}/blob.bin`);
    assert.ok(body.equals(payload));
  });

  test('download: a connection cut mid-body is resumed with Range and the file is exact', async () => {
    server.fault('/blob.bin', { cutAfterBytes: 250_000 });
    const dest = join(dir, 'out', 'blob.bin');
    const before = requestsFor('/blob.bin').length;
    const result = await client.downloadToFile(`${server.url}/blob.bin`, dest, { expectMd5: md5(payload) });
    const reqs = requestsFor('/blob.bin').slice(before);
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0]!.range, undefined);
    assert.match(reqs[1]!.range ?? '', /^bytes=\d+-$/);
    assert.ok(result.resumedFrom > 0 && result.resumedFrom <= 250_000, `resumed from ${result.resumedFrom}`);
    assert.equal(reqs[1]!.range, `bytes=${result.resumedFrom}-`);
    assert.ok((await readFile(dest)).equals(payload));
    await assert.rejects(stat(`${dest}.part`), { code: 'ENOENT' });
  });

  test('download: a leftover .part is resumed; a server that ignores Range restarts from 0', async () => {
    const dest = join(dir, 'out', 'resume.bin');
    // The .part holds different bytes of the right length: if they survive, the download resumed.
    await writeFile(`${dest}.part`, Buffer.alloc(1000, 0x41));
    const resumed = await client.downloadToFile(`${server.url}/blob.bin`, dest);
    assert.equal(resumed.resumedFrom, 1000);
    const got = await readFile(dest);
    assert.ok(got.subarray(0, 1000).equals(Buffer.alloc(1000, 0x41)));
    assert.ok(got.subarray(1000).equals(payload.subarray(1000)));

    await writeFile(`${dest}.part`, Buffer.alloc(1000, 0x41));
    server.fault('/blob.bin', { ignoreRange: true });
    const restarted = await client.downloadToFile(`${server.url}/blob.bin`, dest);
    assert.equal(restarted.resumedFrom, 0);
    assert.ok((await readFile(dest)).equals(payload));
  });

  test('download: a .part longer than the object (416) is discarded and the download restarts', async () => {
    const dest = join(dir, 'out', 'small.txt');
    await writeFile(`${dest}.part`, 'much longer than five bytes');
    const result = await client.downloadToFile(`${server.url}/small.txt`, dest);
    assert.equal(result.resumedFrom, 0);
    assert.equal(await readFile(dest, 'utf8'), 'hello');
  });

  test('download: a complete .part left by a crash before the rename is kept, not fetched again', async () => {
    const dest = join(dir, 'out', 'complete.txt');
    await writeFile(`${dest}.part`, 'hello');
    const before = requestsFor('/small.txt').length;
    const result = await client.downloadToFile(`${server.url}/small.txt`, dest, { expectMd5: md5(Buffer.from('hello')) });
    assert.deepEqual(result, { path: dest, bytes: 5, resumedFrom: 5 });
    assert.equal(requestsFor('/small.txt').length - before, 1);
    assert.equal(await readFile(dest, 'utf8'), 'hello');
  });

  test('md5 mismatch is retried once, then CHECKSUM_MISMATCH; nothing is left behind', async () => {
    const before = requestsFor('/small.txt').length;
    await assert.rejects(client.getBuffer(`${server.url}/small.txt`, { expectMd5: '0'.repeat(32) }), { code: 'CHECKSUM_MISMATCH' });
    assert.equal(requestsFor('/small.txt').length - before, 2);
    const dest = join(dir, 'out', 'bad.txt');
    await assert.rejects(client.downloadToFile(`${server.url}/small.txt`, dest, { expectMd5: '0'.repeat(32) }), { code: 'CHECKSUM_MISMATCH' });
    await assert.rejects(stat(dest), { code: 'ENOENT' });
    await assert.rejects(stat(`${dest}.part`), { code: 'ENOENT' });
    assert.equal((await client.getBuffer(`${server.url}/small.txt`, { expectMd5: md5(Buffer.from('hello')) })).toString(), 'hello');
  });

  test('bodies over maxBytes are an ItemError TOO_LARGE, not retried', async () => {
    const before = requestsFor('/blob.bin').length;
    await assert.rejects(client.getBuffer(`${server.url}/blob.bin`, { maxBytes: 1000 }), (e: unknown) => e instanceof ItemError && e.code === 'TOO_LARGE');
    const dest = join(dir, 'out', 'big.bin');
    await assert.rejects(client.downloadToFile(`${server.url}/blob.bin`, dest, { maxBytes: 1000 }), { code: 'TOO_LARGE' });
    assert.equal(requestsFor('/blob.bin').length - before, 2);
    await assert.rejects(stat(`${dest}.part`), { code: 'ENOENT' });
  });

  test('an unreachable host fails as a retryable NETWORK error', async () => {
    const closed = await startHttpServer(dir);
    const url = `${closed.url}/small.txt`;
    await closed.close();
    await assert.rejects(httpGetBuffer(url, { retries: 1, retryBaseMs: 1 }), (e: unknown) => e instanceof TransportError && e.code === 'NETWORK' && e.retryable);
  });

  test('aborting stops a request in flight', async () => {
    const controller = new AbortController();
    server.fault('/small.txt', { status: 503, retryAfter: '30' });
    const pending = client.getBuffer(`${server.url}/small.txt`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('interrupted')), 50);
    await assert.rejects(pending, /interrupted/);
  });
});

test('requestsPerSecond holds, counted by the server', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'biomedica-rate-'));
  await writeFile(join(dir, 'x'), 'x');
  const server = await startHttpServer(dir);
  const client = createHttpClient({ requestsPerSecond: 20, concurrency: 8 });
  try {
    await Promise.all(Array.from({ length: 30 }, () => client.getBuffer(`${server.url}/x`)));
    const at = server.requests.map((r) => r.at).sort((a, b) => a - b);
    assert.equal(at.length, 30);
    // The cap is per second, as the server counts it: no window of one second, wherever it
    // starts, holds more than 20 arrivals. Without the limiter all 30 land within a few ms.
    for (let i = 0; i < at.length; i++) {
      const inWindow = at.filter((t) => t >= at[i]! && t < at[i]! + 1000).length;
      assert.ok(inWindow <= 20, `${inWindow} requests in one second`);
    }
    assert.ok(at.at(-1)! - at[0]! >= 1000, `span ${at.at(-1)! - at[0]!} ms`);
  } finally {
    await client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
