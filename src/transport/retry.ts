/**
 * Retry with exponential backoff and full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): the n-th wait is uniform in [0, min(maxMs, baseMs·2^n)], so many workers that failed
 * together do not come back together. Only TransportErrors that say `retryable` are retried;
 * anything else (404, a corrupt package, an abort) is a verdict another try cannot change.
 */
import { TransportError } from '../errors.js';

export interface RetryOptions {
  /** Extra tries after the first one. 0 disables retrying. */
  retries: number;
  /** First backoff ceiling in ms; doubles each retry. */
  baseMs?: number;
  /** Backoff ceiling in ms. */
  maxMs?: number;
  /** A server's Retry-After is honoured up to this many ms (a hostile value must not park a worker). */
  maxRetryAfterMs?: number;
  signal?: AbortSignal | undefined;
  onRetry?: (info: RetryInfo) => void;
  /** Injected for tests; Math.random by default. */
  random?: () => number;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  error: TransportError;
}

export const defaultRetry = { retries: 4, baseMs: 250, maxMs: 20_000, maxRetryAfterMs: 120_000 } as const;

export function isRetryable(error: unknown): error is TransportError {
  return error instanceof TransportError && error.retryable;
}

/** The wait a server asked for, in ms, recorded on the error by the transport. */
function retryAfterMsOf(error: TransportError): number | undefined {
  const value = error.details['retryAfterMs'];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** `fn` receives the attempt number (0 for the first try). */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const baseMs = options.baseMs ?? defaultRetry.baseMs;
  const maxMs = options.maxMs ?? defaultRetry.maxMs;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? defaultRetry.maxRetryAfterMs;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (!isRetryable(error) || attempt >= options.retries || options.signal?.aborted) throw error;
      const jittered = backoffDelay(attempt + 1, baseMs, maxMs, options.random);
      const asked = retryAfterMsOf(error);
      const delayMs = asked === undefined ? jittered : Math.max(jittered, Math.min(asked, maxRetryAfterMs));
      options.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). Returns ms from now,
 * or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
