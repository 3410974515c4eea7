/**
 * HTTP(S) client on undici. One client = one connection pool (keep-alive, a cap on sockets per
 * origin), one rate limiter and one retry policy, shared by everything that talks to the same
 * servers: the legacy mirror, the cloud bucket, E-utilities.
 *
 * Every failure becomes a TransportError whose `retryable` says whether another try can help:
 * 5xx, 408, 429, S3's 503 SlowDown, resets, timeouts and short bodies can; 404 and other 4xx
 * cannot. Bodies over the caller's cap are an ItemError('TOO_LARGE'): the item is the problem.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Agent, interceptors, type Dispatcher } from 'undici';
import { ItemError, TransportError } from '../errors.js';
import { createRateLimiter, type RateLimiter } from './rate.js';
import { defaultRetry, parseRetryAfter, withRetry, type RetryInfo } from './retry.js';
import { partialSize, tooLarge } from './part-file.js';

export interface HttpClientOptions {
  /** Sockets per origin. Default 8. */
  concurrency?: number;
  connectTimeoutMs?: number;
  /** Time to wait for response headers. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks: a stalled transfer fails instead of hanging. */
  bodyTimeoutMs?: number;
  /** Extra tries per call after the first. Default 4. */
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Cap on requests per second for this client, every try counted; 0 = none. Ignored if `rateLimiter` is given. */
  requestsPerSecond?: number;
  /** Share one limiter between clients (a politeness cap, or an adaptive per-host limiter); it hears every answer's status. */
  rateLimiter?: RateLimiter;
  userAgent?: string;
  maxRedirections?: number;
  onRetry?: (info: RetryInfo & { url: string }) => void;
}

export interface HttpGetOptions {
  /** Bodies larger than this fail with ItemError('TOO_LARGE'). Default 256 MiB. */
  maxBytes?: number;
  signal?: AbortSignal | undefined;
  /** Hex md5 the body must have; a mismatch is retried once, then fails with CHECKSUM_MISMATCH. */
  expectMd5?: string | undefined;
  headers?: Record<string, string>;
}

export interface HttpDownloadOptions {
  /** Files larger than this fail with ItemError('TOO_LARGE'). Default 4 GiB. */
  maxBytes?: number;
  signal?: AbortSignal | undefined;
  expectMd5?: string | undefined;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** Bytes already in `dest.part` that a Range request kept (0 when it started from scratch). */
  resumedFrom: number;
}

export interface HttpClient {
  getBuffer(url: string, options?: HttpGetOptions): Promise<Buffer>;
  /**
   * Downloads to `dest + '.part'`, resuming a partial one with a Range request (restarting from 0
   * if the server answers 200), checks length and md5, then renames to `dest`.
   */
  downloadToFile(url: string, dest: string, options?: HttpDownloadOptions): Promise<DownloadResult>;
  readonly limiter: RateLimiter;
  /** Closes idle sockets and waits for requests in flight. */
  close(): Promise<void>;
}

export const httpDefaults = {
  concurrency: 8,
  connectTimeoutMs: 15_000,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 60_000,
  maxBytes: 256 * 1024 * 1024,
  maxDownloadBytes: 4 * 1024 * 1024 * 1024,
  userAgent: 'biomedica/0.1 (PMC OA figure extraction)',
  maxRedirections: 5,
} as const;

type ResponseData = Dispatcher.ResponseData;

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

function errorCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  // undici wraps the socket error; the useful code can sit one or two causes down.
  for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failure to exchange (`truncated`: the body broke off after the headers came). */
function networkError(error: unknown, url: string, signal: AbortSignal | undefined, truncated: boolean): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof ItemError || error instanceof TransportError) return error;
  const code = errorCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const retryable = truncated || (code !== undefined && RETRYABLE_NETWORK_CODES.has(code));
  return new TransportError(truncated ? 'TRUNCATED' : 'NETWORK', `${truncated ? 'body cut short' : 'request failed'}: ${message}`, {
    url,
    networkCode: code,
    retryable,
    cause: error,
    hint: retryable ? 'the transfer is retried; check the network if it keeps failing' : 'check the URL and the network',
  });
}

async function statusError(response: ResponseData, url: string): Promise<TransportError> {
  const status = response.statusCode;
  // Read a little of the body: S3 names SlowDown there, and the socket is freed for reuse.
  let text = '';
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      if (size < 4096) chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > 65536) break;
    }
    text = Buffer.concat(chunks).toString('utf8', 0, Math.min(4096, size));
  } catch {
    // The status already says what happened.
  }
  await discard(response);
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  if (status === 404 || status === 410) {
    return new TransportError('NOT_FOUND', `HTTP ${status} for ${url}`, { url, status, retryable: false });
  }
  const slowDown = /<Code>SlowDown<\/Code>/.test(text);
  if (status === 429 || slowDown) {
    return new TransportError('RATE_LIMITED', `HTTP ${status}${slowDown ? ' SlowDown' : ''} for ${url}`, {
      url,
      status,
      retryAfterMs,
      retryable: true,
      hint: 'lower --requests-per-second or concurrency',
    });
  }
  if (status >= 500 || status === 408) {
    return new TransportError('SERVER_ERROR', `HTTP ${status} for ${url}`, { url, status, retryAfterMs, retryable: true });
  }
  return new TransportError('HTTP_STATUS', `HTTP ${status} for ${url}`, {
    url,
    status,
    retryable: false,
    hint: status === 401 || status === 403 ? 'the server refused access; check the URL' : undefined,
  });
}

/** Drop an unwanted body: a short one is read off so the socket can be reused, a long one closes it. */
async function discard(response: ResponseData): Promise<void> {
  await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
}


function contentLengthOf(response: ResponseData): number | undefined {
  const raw = response.headers['content-length'];
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text);
}

/** 'bytes 100-199/200' → { start: 100, total: 200 }; total undefined for '*'. */
function parseContentRange(value: string | string[] | undefined): { start: number; total: number | undefined } | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(text ?? '');
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}


export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function checksumError(url: string, expected: string, actual: string, failures: number): TransportError {
  return new TransportError('CHECKSUM_MISMATCH', `md5 of ${url} is ${actual}, expected ${expected}`, {
    url,
    expected,
    actual,
    // One more try covers a body damaged in transit; a second mismatch means the listing is stale.
    retryable: failures === 1,
    hint: 'the object changed since it was listed; refresh the listing',
  });
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const agent = new Agent({
    connections: options.concurrency ?? httpDefaults.concurrency,
    keepAliveTimeout: 30_000,
    connect: { timeout: options.connectTimeoutMs ?? httpDefaults.connectTimeoutMs },
    headersTimeout: options.headersTimeoutMs ?? httpDefaults.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs ?? httpDefaults.bodyTimeoutMs,
  });
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: options.maxRedirections ?? httpDefaults.maxRedirections }));
  const limiter = options.rateLimiter ?? createRateLimiter(options.requestsPerSecond ?? 0);
  const userAgent = options.userAgent ?? httpDefaults.userAgent;
  const retryOptions = (url: string, signal: AbortSignal | undefined) => ({
    retries: options.retries ?? defaultRetry.retries,
    baseMs: options.retryBaseMs ?? defaultRetry.baseMs,
    maxMs: options.retryMaxMs ?? defaultRetry.maxMs,
    signal,
    onRetry: options.onRetry ? (info: RetryInfo) => options.onRetry?.({ ...info, url }) : undefined,
  });

  async function send(url: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<ResponseData> {
    const target = splitUrl(url);
    await limiter.take(signal, target.origin);
    let response: ResponseData;
    try {
      response = await dispatcher.request({ ...target, method: 'GET', headers: { 'user-agent': userAgent, ...headers }, signal });
    } catch (error) {
      throw networkError(error, url, signal, false);
    }
    // 503 is how S3 says SlowDown (the body names it, but any 503 means the same to a rate);
    // other 5xx say nothing about the rate.
    const status = response.statusCode;
    if (status === 429 || status === 503) limiter.report('throttled', target.origin);
    else if (status < 500) limiter.report('ok', target.origin);
    return response;
  }

  async function getBuffer(url: string, opts: HttpGetOptions = {}): Promise<Buffer> {
    const maxBytes = opts.maxBytes ?? httpDefaults.maxBytes;
    let checksumFailures = 0;
    return withRetry(async () => {
      const response = await send(url, opts.headers ?? {}, opts.signal);
      if (response.statusCode !== 200) throw await statusError(response, url);
      const declared = contentLengthOf(response);
      if (declared !== undefined && declared > maxBytes) {
        await discard(response);
        throw tooLarge(url, maxBytes, declared);
      }
      const chunks: Buffer[] = [];
      let received = 0;
      try {
        for await (const chunk of response.body) {
          received += (chunk as Buffer).length;
          if (received > maxBytes) throw tooLarge(url, maxBytes, received);
          chunks.push(chunk as Buffer);
        }
      } catch (error) {
        await discard(response);
        throw networkError(error, url, opts.signal, true);
      }
      if (declared !== undefined && received !== declared) {
        throw new TransportError('TRUNCATED', `got ${received} of ${declared} bytes from ${url}`, { url, retryable: true });
      }
      const body = Buffer.concat(chunks, received);
      if (opts.expectMd5 !== undefined) {
        const actual = createHash('md5').update(body).digest('hex');
        if (actual !== opts.expectMd5.toLowerCase()) throw checksumError(url, opts.expectMd5, actual, ++checksumFailures);
      }
      return body;
    }, retryOptions(url, opts.signal));
  }

  async function downloadToFile(url: string, dest: string, opts: HttpDownloadOptions = {}): Promise<DownloadResult> {
    const maxBytes = opts.maxBytes ?? httpDefaults.maxDownloadBytes;
    const part = `${dest}.part`;
    await mkdir(dirname(dest), { recursive: true });
    let checksumFailures = 0;

    const attempt = async (): Promise<DownloadResult> => {
      let have = await partialSize(part);
      let response = await send(url, have > 0 ? { range: `bytes=${have}-` } : {}, opts.signal);
      if (have > 0 && response.statusCode === 416) {
        await discard(response);
        const unsatisfied = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(String(response.headers['content-range'] ?? ''));
        // A .part exactly as long as the object is a download that finished before its rename.
        if (unsatisfied && Number(unsatisfied[1]) === have) return finish(have, have);
        // Otherwise it is longer than the object, so stale: start over.
        await rm(part, { force: true });
        have = 0;
        response = await send(url, {}, opts.signal);
      }
      let total: number | undefined;
      let append = false;
      if (response.statusCode === 206 && have > 0) {
        const range = parseContentRange(response.headers['content-range']);
        if (range === undefined || range.start !== have) {
          await discard(response);
          await rm(part, { force: true });
          throw new TransportError('RANGE_MISMATCH', `server resumed ${url} at the wrong offset`, { url, retryable: true });
        }
        total = range.total;
        append = true;
      } else if (response.statusCode === 200) {
        // A server that ignores Range sends the whole object: the partial file is discarded.
        total = contentLengthOf(response);
      } else {
        throw await statusError(response, url);
      }
      const resumedFrom = append ? have : 0;
      if (total !== undefined && total > maxBytes) {
        await discard(response);
        await rm(part, { force: true });
        throw tooLarge(url, maxBytes, total);
      }
      // Each chunk is on disk before the next is read, so after a cut the .part holds every byte
      // that arrived and the next try resumes from there.
      const handle = await open(part, append ? 'a' : 'w');
      let written = resumedFrom;
      try {
        for await (const chunk of response.body) {
          written += (chunk as Buffer).length;
          if (written > maxBytes) throw tooLarge(url, maxBytes, written);
          await handle.write(chunk as Buffer);
        }
      } catch (error) {
        await handle.close();
        if (error instanceof ItemError) await rm(part, { force: true });
        throw networkError(error, url, opts.signal, true);
      }
      await handle.close();
      const size = await partialSize(part);
      if (total !== undefined && size !== total) {
        if (size > total) await rm(part, { force: true });
        throw new TransportError('TRUNCATED', `got ${size} of ${total} bytes from ${url}`, { url, retryable: true });
      }
      return finish(size, resumedFrom);
    };

    /** Checks the md5 of a complete .part and renames it into place. */
    const finish = async (size: number, resumedFrom: number): Promise<DownloadResult> => {
      if (opts.expectMd5 !== undefined) {
        const actual = await md5File(part);
        if (actual !== opts.expectMd5.toLowerCase()) {
          await rm(part, { force: true });
          throw checksumError(url, opts.expectMd5, actual, ++checksumFailures);
        }
      }
      await rename(part, dest);
      return { path: dest, bytes: size, resumedFrom };
    };

    return withRetry(attempt, retryOptions(url, opts.signal));
  }

  return {
    getBuffer,
    downloadToFile,
    limiter,
    async close() {
      await agent.close();
    },
  };
}

function splitUrl(url: string): { origin: string; path: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new TransportError('BAD_URL', `not a URL: ${url}`, { url, retryable: false, cause: error });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TransportError('BAD_URL', `not an http(s) URL: ${url}`, { url, retryable: false });
  }
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
}

/** One-shot GET with its own short-lived client; for many requests create one client and share it. */
export async function httpGetBuffer(url: string, options: HttpGetOptions & HttpClientOptions = {}): Promise<Buffer> {
  const client = createHttpClient(options);
  try {
    return await client.getBuffer(url, options);
  } finally {
    await client.close();
  }
}

/** One-shot download with its own short-lived client; see HttpClient.downloadToFile. */
export async function httpDownloadToFile(url: string, dest: string, options: HttpDownloadOptions & HttpClientOptions = {}): Promise<DownloadResult> {
  const client = createHttpClient(options);
  try {
    return await client.downloadToFile(url, dest, options);
  } finally {
    await client.close();
  }
}
