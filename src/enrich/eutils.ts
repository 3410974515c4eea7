/**
 * E-utilities efetch over POST (long id lists do not fit a URL). src/transport/http.ts only does
 * GET, so this module sends its own POSTs on an undici keep-alive Agent while reusing the shared
 * retry (withRetry: backoff with full jitter, Retry-After honoured) and a pacer that keeps every
 * server-side second at or under the limit: 3 requests/s, 10 with an API key (SOURCES.md §4).
 *
 * Over the limit NCBI answers 429, or sometimes 200 with `{"error":"API rate limit exceeded"}`;
 * both are retried. Other 200 answers without a PubmedArticleSet are transient backend errors
 * and are retried too; 4xx other than 408/429 are not.
 */
import { Agent } from 'undici';
import { TransportError } from '../errors.js';
import { createRateLimiter } from '../transport/rate.js';
import type { RateLimiter } from '../transport/rate.js';
import { parseRetryAfter, withRetry, type RetryInfo } from '../transport/retry.js';

export interface EutilsOptions {
  baseUrl: string;
  tool: string;
  email: string;
  apiKey: string;
  /** 0: NCBI's limit for the key situation. */
  requestsPerSecond: number;
  retries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  userAgent: string;
  onRetry?: (info: RetryInfo) => void;
}

export interface EutilsClient {
  /** The efetch answer for these PMIDs (db=pubmed, retmode=xml). */
  efetch(pmids: readonly string[], signal?: AbortSignal): Promise<string>;
  readonly limiter: RateLimiter;
  /** Requests sent, retries included. */
  readonly requests: number;
  close(): Promise<void>;
}

export function eutilsRate(options: Pick<EutilsOptions, 'requestsPerSecond' | 'apiKey'>): number {
  if (options.requestsPerSecond > 0) return options.requestsPerSecond;
  return options.apiKey ? 10 : 3;
}

const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

export function createEutilsClient(options: EutilsOptions): EutilsClient {
  const agent = new Agent({ connections: 4, keepAliveTimeout: 30_000, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
  const limiter = createRateLimiter(eutilsRate(options));
  const url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/efetch.fcgi`);
  let requests = 0;

  async function once(body: string, signal: AbortSignal | undefined): Promise<string> {
    await limiter.take(signal);
    requests++;
    let response;
    try {
      response = await agent.request({
        origin: url.origin,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': options.userAgent },
        body,
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new TransportError('NETWORK', `efetch failed: ${(error as Error).message}`, { url: url.href, retryable: true, cause: error });
    }
    let text: string;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_ANSWER_BYTES) throw new Error(`answer over ${MAX_ANSWER_BYTES} bytes`);
        chunks.push(chunk as Buffer);
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch (error) {
      response.body.destroy();
      if (signal?.aborted) throw signal.reason;
      throw new TransportError('TRUNCATED', `efetch answer cut short: ${(error as Error).message}`, { url: url.href, retryable: true, cause: error });
    }
    const status = response.statusCode;
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    if (status === 429 || (status === 200 && /^\s*\{/.test(text) && /rate limit/i.test(text))) {
      throw new TransportError('RATE_LIMITED', `E-utilities rate limit (HTTP ${status})`, {
        url: url.href,
        status,
        retryAfterMs,
        retryable: true,
        hint: options.apiKey ? 'lower pubmed.requestsPerSecond' : 'set NCBI_API_KEY for 10 requests/s, or lower pubmed.requestsPerSecond',
      });
    }
    if (status >= 500 || status === 408) {
      throw new TransportError('SERVER_ERROR', `E-utilities answered HTTP ${status}`, { url: url.href, status, retryAfterMs, retryable: true });
    }
    if (status !== 200) {
      throw new TransportError('HTTP_STATUS', `E-utilities answered HTTP ${status}: ${text.slice(0, 200)}`, { url: url.href, status, retryable: false });
    }
    if (!text.includes('<PubmedArticleSet')) {
      throw new TransportError('EUTILS_ERROR', `E-utilities answered without a PubmedArticleSet: ${text.slice(0, 200)}`, { url: url.href, retryable: true });
    }
    return text;
  }

  return {
    limiter,
    get requests() {
      return requests;
    },
    async efetch(pmids, signal) {
      const params = new URLSearchParams({ db: 'pubmed', retmode: 'xml', id: pmids.join(',') });
      if (options.tool) params.set('tool', options.tool);
      if (options.email) params.set('email', options.email);
      if (options.apiKey) params.set('api_key', options.apiKey);
      const body = params.toString();
      return withRetry(() => once(body, signal), {
        retries: options.retries,
        baseMs: options.retryBaseMs,
        maxMs: options.retryMaxMs,
        signal,
        onRetry: options.onRetry,
      });
    },
    async close() {
      await agent.close();
    },
  };
}
