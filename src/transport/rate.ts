/**
 * Request-rate limiters, shared by every request a client makes (retries included).
 *
 * createRateLimiter: a politeness cap for servers that count requests per second on their side
 * (E-utilities' 429 at 3 or 10 per second, a legacy mirror). createAdaptiveRateLimiter: for a
 * server that can take far more than any fixed guess and says so when it cannot (S3's 503
 * SlowDown, 429): each host's rate climbs while answers come back, drops on a throttle, and
 * never passes a ceiling. Both hand createHttpClient's `rateLimiter` option what it needs.
 *
 * The pacer under both: a plain interval limiter (request k at t0 + k/rate) is not enough: a
 * timer that fires a few ms late is followed by one on time, so the server can see 11 requests
 * inside one second at a cap of 10 (measured: gaps of 95–102 ms at 10/s). The pacer instead keeps
 * the times it released the last N = ⌊rate⌋ requests and releases the next only when the oldest
 * of them is more than a second in the past, plus 2% and 50 ms for the jitter between release
 * and arrival (measured under load on two cores: a request can reach the server tens of ms after
 * its release): no window of one second, wherever it starts, holds more than N. A late timer is
 * made up for inside the window, so the achieved rate stays near the cap. Requests are also
 * spread at least half an interval apart, so a window's worth is never released as one burst.
 */
import { sleep } from './retry.js';

export type RateOutcome = 'ok' | 'throttled';

export interface RateLimiter {
  /** Resolves when the caller may send one request to `host`. Rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal, host?: string): Promise<void>;
  /** How `host` answered: an adaptive limiter raises its rate on 'ok' and lowers it on 'throttled'; a fixed one ignores it. */
  report(outcome: RateOutcome, host?: string): void;
  /** Requests per second allowed now, summed over the hosts seen (Infinity: no limit). */
  readonly perSecond: number;
  /** The rate per host and the throttles each answered, for progress lines and summaries. */
  stats(): RateStats;
}

export interface RateStats {
  /** Requests per second allowed now, summed over hosts. */
  perSecond: number;
  /** The configured ceiling per host (the fixed cap for a fixed limiter). */
  ceiling: number;
  throttled: number;
  hosts: Record<string, { perSecond: number; throttled: number }>;
}

/** Slack for the time between release and arrival: event-loop stalls, a new connection's setup. */
const MARGIN = 1.02;
const SLACK_MS = 50;

interface Pacer {
  take(signal?: AbortSignal): Promise<void>;
  setRate(perSecond: number): void;
  /** The rate is in use: its last window's worth of requests went out within about one window. */
  saturated(): boolean;
}

function createPacer(initial: number): Pacer {
  let slots = 1;
  let windowMs = 0;
  let minGapMs = 0;
  // The last `slots` release times, oldest first.
  let released: number[] = [];
  let last = -Infinity;
  let queue: Promise<void> = Promise.resolve();
  const setRate = (perSecond: number): void => {
    slots = Math.max(1, Math.floor(perSecond));
    windowMs = ((slots * 1000) / perSecond) * MARGIN + SLACK_MS;
    minGapMs = 1000 / perSecond / 2;
    if (released.length > slots) released = released.slice(released.length - slots);
  };
  setRate(initial);
  return {
    setRate,
    saturated: () => released.length === slots && performance.now() - released[0]! < windowMs * 1.5,
    take(signal) {
      const turn = queue.then(async () => {
        for (;;) {
          signal?.throwIfAborted();
          const now = performance.now();
          const oldest = released.length < slots ? -Infinity : released[0]!;
          const wait = Math.max(oldest + windowMs - now, last + minGapMs - now);
          if (wait <= 0) break;
          await sleep(Math.ceil(wait), signal);
        }
        last = performance.now();
        released.push(last);
        if (released.length > slots) released.shift();
      });
      // One caller's abort must not stall the callers queued behind it.
      queue = turn.catch(() => undefined);
      return turn;
    },
  };
}

function unlimited(): RateLimiter {
  return {
    perSecond: Infinity,
    take: async (signal) => signal?.throwIfAborted(),
    report() {},
    stats: () => ({ perSecond: Infinity, ceiling: Infinity, throttled: 0, hosts: {} }),
  };
}

/** A fixed cap over all hosts together. `perSecond` ≤ 0 or not finite means no limit. */
export function createRateLimiter(perSecond: number): RateLimiter {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) return unlimited();
  const pacer = createPacer(perSecond);
  let throttled = 0;
  return {
    perSecond,
    take: (signal) => pacer.take(signal),
    report(outcome) {
      if (outcome === 'throttled') throttled++;
    },
    stats: () => ({ perSecond, ceiling: perSecond, throttled, hosts: {} }),
  };
}

export interface AdaptiveRateOptions {
  /** Rate each host starts at, requests per second; ≤ 0 means no limit at all (and no adaptation). */
  initial: number;
  /** Highest rate per host. */
  ceiling: number;
  /** Lowest rate a host is cut to. Default 1. */
  floor?: number;
  /** Rate kept after a throttle, as a share of the rate before. Default 0.7. */
  decrease?: number;
  /** Before the first throttle: rate added per answer, as a share of one request (0.2: +20 % per second's worth). */
  startIncrease?: number;
  /** After a throttle: the same, smaller, for a slow probe back up. Default 0.05. */
  steadyIncrease?: number;
  /** Throttles within this long after a cut answer requests sent before it, and do not cut again. Default 1000 ms. */
  holdMs?: number;
  /** Injectable clock for tests. */
  now?: () => number;
}

/**
 * Per-host additive-increase, multiplicative-decrease, as TCP does with its congestion window:
 * rate += increase per answer (so the rate grows by a share of itself each second: quickly until
 * the first throttle, slowly after), rate × decrease on a throttle, once per hold time (the
 * answers to requests released before the cut carry no news). The rate saws between about
 * decrease × limit and the limit, so the long-run average sits near 85 % of what the server
 * allows, with a few throttled requests per cycle; they are retried like any 503.
 */
export function createAdaptiveRateLimiter(options: AdaptiveRateOptions): RateLimiter {
  if (!(options.initial > 0) || !Number.isFinite(options.initial)) return unlimited();
  const ceiling = Math.max(options.ceiling, options.initial);
  const floor = Math.min(options.floor ?? 1, options.initial);
  const decrease = options.decrease ?? 0.7;
  const startIncrease = options.startIncrease ?? 0.2;
  const steadyIncrease = options.steadyIncrease ?? 0.05;
  const holdMs = options.holdMs ?? 1000;
  const now = options.now ?? (() => performance.now());
  interface Host {
    rate: number;
    pacer: Pacer;
    throttledOnce: boolean;
    cutAt: number;
    throttled: number;
  }
  const hosts = new Map<string, Host>();
  const hostOf = (name = ''): Host => {
    let host = hosts.get(name);
    if (!host) {
      host = { rate: options.initial, pacer: createPacer(options.initial), throttledOnce: false, cutAt: -Infinity, throttled: 0 };
      hosts.set(name, host);
    }
    return host;
  };
  const setRate = (host: Host, rate: number): void => {
    const next = Math.min(ceiling, Math.max(floor, rate));
    // The pacer's window is rebuilt only when a whole request more or less fits in it.
    if (Math.floor(next) !== Math.floor(host.rate) || next < host.rate) host.pacer.setRate(next);
    host.rate = next;
  };
  const total = (): number => (hosts.size === 0 ? options.initial : [...hosts.values()].reduce((sum, h) => sum + h.rate, 0));
  return {
    get perSecond() {
      return total();
    },
    take: (signal, host) => hostOf(host).pacer.take(signal),
    report(outcome, name) {
      const host = hostOf(name);
      if (outcome === 'ok') {
        // Raised only while the rate is what holds requests back: a rate that is not used is not
        // tested, and left to climb it would meet the next burst far above what the server takes.
        if (host.rate < ceiling && host.pacer.saturated()) setRate(host, host.rate + (host.throttledOnce ? steadyIncrease : startIncrease));
        return;
      }
      host.throttled++;
      const at = now();
      if (at - host.cutAt < holdMs) return;
      host.cutAt = at;
      host.throttledOnce = true;
      setRate(host, host.rate * decrease);
    },
    stats: () => ({
      perSecond: total(),
      ceiling,
      throttled: [...hosts.values()].reduce((sum, h) => sum + h.throttled, 0),
      hosts: Object.fromEntries([...hosts].map(([name, h]) => [name, { perSecond: h.rate, throttled: h.throttled }])),
    }),
  };
}
