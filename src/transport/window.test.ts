import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter as createPacer } from './rate.js';

/** Most releases inside any window of `ms` starting at a release. */
function maxInWindow(times: number[], ms: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= ms) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

test('no window of one second holds more than the cap, and the cap is nearly reached', async () => {
  const pacer = createPacer(40);
  const released: number[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: 60 }, () => pacer.take().then(() => released.push(performance.now()))));
  const seconds = (performance.now() - started) / 1000;
  assert.ok(maxInWindow(released, 1000) <= 40, `max ${maxInWindow(released, 1000)} in a second`);
  for (let i = 1; i < released.length; i++) assert.ok(released[i]! - released[i - 1]! >= 12, 'spread, not a burst');
  // 60 requests at 40/s: the first 40 within the first second, the rest one window later.
  assert.ok(seconds >= 1 && seconds < 1.6, `took ${seconds.toFixed(2)} s`);
});

test('fractional rates and an aborted waiter', async () => {
  const slow = createPacer(2.5);
  const t0 = performance.now();
  await slow.take();
  await slow.take();
  await slow.take();
  assert.ok(performance.now() - t0 >= 800, 'three at 2.5/s take at least 0.8 s');

  const pacer = createPacer(20);
  await pacer.take();
  const controller = new AbortController();
  const aborted = pacer.take(controller.signal);
  const next = pacer.take();
  controller.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
  await next;
  assert.equal(createPacer(0).perSecond, Infinity);
});
