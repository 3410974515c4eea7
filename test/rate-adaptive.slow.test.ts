// The adaptive request rate against the bucket-shaped server throttling past a threshold, as S3
// sheds load with 503 SlowDown: the rate per host settles near what each server serves, never
// passes the ceiling, and the throttled share stays small. Slow-tagged: ~16 s of real requests.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createHttpClient, type HttpClient } from '../src/transport/http.js';
import { createAdaptiveRateLimiter } from '../src/transport/rate.js';
import { TestBucket, type S3TestServer } from './helpers/bucket.js';

let work: string;
let bucket: TestBucket;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'biomedica-rate-'));
  bucket = await TestBucket.create(join(work, 'bucket'));
});
after(async () => rm(work, { recursive: true, force: true }));

/** `workers` loops, each GETting one small object from `server` until `ms` have passed. */
async function hammer(client: HttpClient, server: S3TestServer, workers: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) await client.getBuffer(`${server.url}/README.txt`);
    }),
  );
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('per host, the rate converges near the threshold each server throttles at, with few 503s', async () => {
  const slow = await bucket.serve({ throttleAbove: 30 });
  const fast = await bucket.serve({ throttleAbove: 80 });
  const limiter = createAdaptiveRateLimiter({ initial: 20, ceiling: 400 });
  const client = createHttpClient({ rateLimiter: limiter, retries: 20, retryBaseMs: 5, retryMaxMs: 50, concurrency: 8 });
  try {
    const ms = 16_000;
    await Promise.all([hammer(client, slow, 6, ms), hammer(client, fast, 6, ms)]);
    const hosts = limiter.stats().hosts;
    for (const [server, threshold] of [[slow, 30], [fast, 80]] as const) {
      const what = `threshold ${threshold}`;
      const end = server.requests.at(-1)!.at;
      const tail = server.requests.filter((r) => r.at >= end - 6000);
      const servedPerSecond = server.perSecond((r) => !r.throttled).slice(-7, -1);
      const attemptsPerSecond = tail.length / 6;
      const throttledShare = server.requests.filter((r) => r.throttled).length / server.requests.length;
      const rate = hosts[new URL(server.url).origin]!.perSecond;
      const detail = `${what}: served/s ${servedPerSecond.join(',')}, attempts/s ${attemptsPerSecond.toFixed(1)}, throttled ${(throttledShare * 100).toFixed(1)} %, rate ${rate.toFixed(1)}`;
      assert.ok(mean(servedPerSecond) >= 0.6 * threshold, `converged near the threshold: ${detail}`);
      assert.ok(attemptsPerSecond <= 1.25 * threshold, `does not hammer past it: ${detail}`);
      assert.ok(rate >= 0.5 * threshold && rate <= 1.3 * threshold, `the limiter's rate sits near it: ${detail}`);
      assert.ok(throttledShare < 0.1, `503s are bounded: ${detail}`);
    }
  } finally {
    await client.close();
    await slow.close();
    await fast.close();
  }
});

test('the ceiling holds when the server would take more', async () => {
  const server = await bucket.serve();
  const limiter = createAdaptiveRateLimiter({ initial: 20, ceiling: 30 });
  const client = createHttpClient({ rateLimiter: limiter, retries: 2, retryBaseMs: 5, retryMaxMs: 50, concurrency: 8 });
  try {
    await hammer(client, server, 6, 5000);
    const perSecond = server.perSecond();
    assert.ok(Math.max(...perSecond) <= 30, `per-second counts ${perSecond.join(',')}`);
    // Served counts also depend on how much CPU the test gets (a loaded 2-core machine served
    // 20,24,30,29,22 once): that the limiter climbed is its own rate; that requests followed, one
    // second at the ceiling.
    assert.ok(Math.max(...perSecond) >= 27, `the rate climbed to the ceiling: ${perSecond.join(',')}`);
    assert.equal(limiter.perSecond, 30);
    assert.equal(limiter.stats().throttled, 0);
  } finally {
    await client.close();
    await server.close();
  }
});
