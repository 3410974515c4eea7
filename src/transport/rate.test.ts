import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter } from './rate.js';

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
