import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAdaptiveRateLimiter, createRateLimiter } from './rate.js';

test('no limit when perSecond is 0', async () => {
  const limiter = createRateLimiter(0);
  const started = performance.now();
  for (let i = 0; i < 1000; i++) await limiter.take();
  assert.ok(performance.now() - started < 200);
  assert.equal(limiter.perSecond, Infinity);
  assert.equal(createAdaptiveRateLimiter({ initial: 0, ceiling: 100 }).perSecond, Infinity);
});

test('an aborted wait rejects and returns its token', async () => {
  const limiter = createRateLimiter(5);
  await limiter.take();
  const controller = new AbortController();
  const waiting = limiter.take(controller.signal);
  controller.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  const started = performance.now();
  await limiter.take();
  // The aborted caller's slot is free again: this take waits at most one interval (200 ms).
  assert.ok(performance.now() - started <= 230);
});

/** Takes as fast as the limiter lets `host` go for `ms`, reporting `outcome` for each; returns how many went out. */
async function drive(limiter: ReturnType<typeof createRateLimiter>, host: string, ms: number, outcome: (i: number) => 'ok' | 'throttled' = () => 'ok'): Promise<number> {
  const until = performance.now() + ms;
  let i = 0;
  while (performance.now() < until) {
    await limiter.take(undefined, host);
    limiter.report(outcome(i++), host);
  }
  return i;
}

test('adaptive: the rate rises while answers come back, up to the ceiling and no further', async () => {
  const limiter = createAdaptiveRateLimiter({ initial: 20, ceiling: 30 });
  const sent = await drive(limiter, 'a', 4000);
  assert.equal(limiter.stats().hosts['a']?.perSecond, 30, 'reached the ceiling');
  // At most 20 in the first second, then at most 30 a second.
  assert.ok(sent <= 20 + 30 * 3 + 1, `${sent} requests in 4 s`);
  assert.ok(sent > 20 * 4, `${sent} requests in 4 s: the rate did rise`);
});

test('adaptive: a throttle cuts the rate by 30 %, once per hold time; per host', async () => {
  let clock = 0;
  const limiter = createAdaptiveRateLimiter({ initial: 50, ceiling: 100, now: () => clock });
  await limiter.take(undefined, 'a');
  await limiter.take(undefined, 'b');
  limiter.report('throttled', 'a');
  limiter.report('throttled', 'a');
  limiter.report('throttled', 'a');
  assert.equal(limiter.stats().hosts['a']?.perSecond, 35, 'throttles of requests sent before the cut do not cut again');
  clock = 1500;
  limiter.report('throttled', 'a');
  assert.equal(limiter.stats().hosts['a']?.perSecond, 24.5);
  assert.equal(limiter.stats().hosts['b']?.perSecond, 50, 'the other host keeps its rate');
  assert.deepEqual(
    { perSecond: limiter.perSecond, throttled: limiter.stats().throttled },
    { perSecond: 74.5, throttled: 4 },
  );
  for (let i = 0; i < 20; i++) {
    clock += 2000;
    limiter.report('throttled', 'a');
  }
  assert.equal(limiter.stats().hosts['a']?.perSecond, 1, 'never below the floor');
});

test('adaptive: an unused rate does not climb', async () => {
  const limiter = createAdaptiveRateLimiter({ initial: 20, ceiling: 400 });
  // Five requests a second against a rate of 20: answers come back, but the rate is not what holds anything back.
  for (let i = 0; i < 8; i++) {
    await limiter.take(undefined, 'a');
    limiter.report('ok', 'a');
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(limiter.stats().hosts['a']?.perSecond, 20);
});

test('a fixed limiter counts throttles and keeps its rate', async () => {
  const limiter = createRateLimiter(10);
  limiter.report('throttled', 'a');
  limiter.report('ok', 'a');
  assert.deepEqual(limiter.stats(), { perSecond: 10, ceiling: 10, throttled: 1, hosts: {} });
});
