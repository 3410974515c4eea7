/**
 * Politeness cap shared by every request a client makes (retries included), for servers that count requests per second on their side (S3's SlowDown,
 * E-utilities' 429 at 3 or 10 per second). It is what createHttpClient's `rateLimiter` option expects.
 *
 * A plain interval limiter (request k at t0 + k/rate) is not enough: a timer that fires a few ms late is
 * followed by one on time, so the server can see 11 requests inside one second at a cap of 10
 * (measured: gaps of 95–102 ms at 10/s). The pacer instead keeps the times it released the last
 * N = ⌊rate⌋ requests and releases the next only when the oldest of them is more than a second
 * in the past, plus 2% and 50 ms for the jitter between release and arrival (measured under load
 * on two cores: a request can reach the server tens of ms after its release): no window of one
 * second, wherever it starts, holds more than N. A late timer is made up for inside the window,
 * so the achieved rate stays near the cap. Requests are also spread at least half an interval
 * apart, so a window's worth is never released as one burst.
 */
import { sleep } from './retry.js';

export interface RateLimiter {
  /** Resolves when the caller may send one request. Rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal): Promise<void>;
  readonly perSecond: number;
}

/** Slack for the time between release and arrival: event-loop stalls, a new connection's setup. */
const MARGIN = 1.02;
const SLACK_MS = 50;

/** `perSecond` ≤ 0 or not finite means no limit. */
export function createRateLimiter(perSecond: number): RateLimiter {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
    return { perSecond: Infinity, take: async (signal) => signal?.throwIfAborted() };
  }
  const slots = Math.max(1, Math.floor(perSecond));
  const windowMs = ((slots * 1000) / perSecond) * MARGIN + SLACK_MS;
  const minGapMs = 1000 / perSecond / 2;
  const released: number[] = new Array<number>(slots).fill(-Infinity);
  let oldest = 0;
  let last = -Infinity;
  let queue: Promise<void> = Promise.resolve();
  return {
    perSecond,
    take(signal) {
      const turn = queue.then(async () => {
        for (;;) {
          signal?.throwIfAborted();
          const now = performance.now();
          const wait = Math.max(released[oldest]! + windowMs - now, last + minGapMs - now);
          if (wait <= 0) break;
          await sleep(Math.ceil(wait), signal);
        }
        last = performance.now();
        released[oldest] = last;
        oldest = (oldest + 1) % slots;
      });
      // One caller's abort must not stall the callers queued behind it.
      queue = turn.catch(() => undefined);
      return turn;
    },
  };
}
