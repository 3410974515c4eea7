/**
 * Politeness cap shared by every request a client makes (retries included): a token bucket that
 * refills `perSecond` tokens a second and holds at most `burst`. With the default burst of 1 it is a
 * plain interval limiter, one request every 1/perSecond s. Callers reserve a token at once and
 * wait for their turn, so waiting callers are served in the order they asked.
 */
import { sleep } from './retry.js';

export interface RateLimiter {
  /** Resolves when the caller may send one request. Rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal): Promise<void>;
  readonly perSecond: number;
}

/** `perSecond` ≤ 0 or not finite means no limit. */
export function createRateLimiter(perSecond: number, options: { burst?: number } = {}): RateLimiter {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
    return { perSecond: Infinity, take: async (signal) => signal?.throwIfAborted() };
  }
  const burst = Math.max(1, options.burst ?? 1);
  const msPerToken = 1000 / perSecond;
  let tokens = burst;
  let last = performance.now();

  return {
    perSecond,
    async take(signal) {
      signal?.throwIfAborted();
      const now = performance.now();
      tokens = Math.min(burst, tokens + (now - last) / msPerToken);
      last = now;
      // Reservation: the balance may go negative; the debt is the time this caller waits.
      tokens -= 1;
      if (tokens >= 0) return;
      const waitMs = -tokens * msPerToken;
      try {
        await sleep(Math.ceil(waitMs), signal);
      } catch (error) {
        tokens += 1;
        throw error;
      }
    },
  };
}
