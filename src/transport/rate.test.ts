import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter } from './rate.js';

test('the limiter spaces takes 1/perSecond apart, in order', async () => {
  const limiter = createRateLimiter(50);
  const started = performance.now();
  const times: number[] = [];
  await Promise.all(Array.from({ length: 11 }, async () => {
    await limiter.take();
    times.push(performance.now() - started);
  }));
  // The k-th take never comes before k intervals (20 ms at 50/s); a late timer may shorten the
  // gap after it, but never lets the count get ahead of the schedule.
  for (let k = 0; k < times.length; k++) assert.ok(times[k]! >= k * 20 - 2, `take ${k} at ${times[k]} ms`);
});

test('burst lets the first takes through at once', async () => {
  const limiter = createRateLimiter(10, { burst: 3 });
  const started = performance.now();
  for (let i = 0; i < 3; i++) await limiter.take();
  assert.ok(performance.now() - started < 50);
  await limiter.take();
  assert.ok(performance.now() - started >= 80);
});

test('no limit when perSecond is 0', async () => {
  const limiter = createRateLimiter(0);
  const started = performance.now();
  for (let i = 0; i < 1000; i++) await limiter.take();
  assert.ok(performance.now() - started < 200);
  assert.equal(limiter.perSecond, Infinity);
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
