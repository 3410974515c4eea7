import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ItemError, TransportError } from '../errors.js';
import { backoffDelay, parseRetryAfter, withRetry, type RetryInfo } from './retry.js';

const retryable = (extra: Record<string, unknown> = {}) => new TransportError('SERVER_ERROR', 'HTTP 503', { retryable: true, ...extra });

describe('withRetry', () => {
  test('retries retryable transport errors, then succeeds', async () => {
    const seen: RetryInfo[] = [];
    let calls = 0;
    const value = await withRetry(
      async (attempt) => {
        assert.equal(attempt, calls);
        calls++;
        if (calls < 3) throw retryable();
        return 'ok';
      },
      { retries: 5, baseMs: 1, maxMs: 4, onRetry: (info) => seen.push(info) },
    );
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(seen.map((s) => s.attempt), [1, 2]);
  });

  test('gives up after `retries` extra tries and throws the last error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw retryable({ n: calls });
      }, { retries: 2, baseMs: 1 }),
      (error: unknown) => error instanceof TransportError && error.details['n'] === 3,
    );
    assert.equal(calls, 3);
  });

  test('does not retry non-retryable errors, item errors or plain errors', async () => {
    for (const error of [new TransportError('NOT_FOUND', '404', { retryable: false }), new ItemError('TOO_LARGE', 'big'), new Error('bug')]) {
      let calls = 0;
      await assert.rejects(withRetry(async () => {
        calls++;
        throw error;
      }, { retries: 5, baseMs: 1 }), error);
      assert.equal(calls, 1);
    }
  });

  test('honours Retry-After over a shorter jittered backoff, capped by maxRetryAfterMs', async () => {
    const delays: number[] = [];
    let calls = 0;
    await withRetry(async () => {
      if (calls++ === 0) throw retryable({ retryAfterMs: 60 });
      if (calls === 2) throw retryable({ retryAfterMs: 10_000_000 });
    }, { retries: 3, baseMs: 1, maxMs: 1, maxRetryAfterMs: 100, random: () => 0.5, onRetry: (i) => delays.push(i.delayMs) });
    assert.deepEqual(delays, [60, 100]);
  });

  test('an abort during the backoff wait rejects at once with the reason', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const reason = new Error('stop');
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(withRetry(async () => {
      throw retryable({ retryAfterMs: 5_000 });
    }, { retries: 3, signal: controller.signal }), reason);
    assert.ok(performance.now() - started < 1_000);
  });
});

test('backoffDelay is full jitter under an exponential ceiling', () => {
  assert.equal(backoffDelay(1, 100, 10_000, () => 0.999), 99);
  assert.equal(backoffDelay(4, 100, 10_000, () => 0.5), 400);
  assert.equal(backoffDelay(20, 100, 1_000, () => 0.5), 500);
  assert.equal(backoffDelay(3, 100, 1_000, () => 0), 0);
});

test('parseRetryAfter reads seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
});
