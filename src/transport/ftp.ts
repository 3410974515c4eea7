/**
 * FTP client pool on basic-ftp. A basic-ftp Client does one thing at a time and is unusable after
 * a socket error or timeout until it reconnects, so the pool hands each operation its own
 * connection, closes a connection that failed that way, and reconnects it on next use. Downloads go to `dest + '.part'`, resume
 * with REST from the .part's size, are checked against SIZE when the server answers it, and are
 * renamed into place. Failures are TransportErrors with the same codes as the HTTP client.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Client, FTPError } from 'basic-ftp';
import { ItemError, TransportError } from '../errors.js';
import { md5File } from './http.js';
import { defaultRetry, withRetry, type RetryInfo } from './retry.js';
import { partialSize, tooLarge } from './part-file.js';

export interface FtpClientOptions {
  /** 'ftp://host[:port]/base/path'; relative remote paths resolve under the base path. */
  url: string;
  /** Open control connections at most. Default 2 (FTP servers often cap connections per IP). */
  connections?: number;
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Idle limit on the control and data sockets, ms. A dropped data connection otherwise stalls
   * a transfer until the server notices; this makes it a retryable error instead. Default 30 s.
   */
  timeoutMs?: number;
  user?: string;
  password?: string;
  onRetry?: (info: RetryInfo & { path: string }) => void;
}

export interface FtpDownloadOptions {
  signal?: AbortSignal | undefined;
  /** Default 4 GiB. */
  maxBytes?: number;
  expectMd5?: string | undefined;
}

export interface FtpDownloadResult {
  path: string;
  bytes: number;
  resumedFrom: number;
}

export interface FtpClient {
  downloadToFile(remotePath: string, dest: string, options?: FtpDownloadOptions): Promise<FtpDownloadResult>;
  getBuffer(remotePath: string, options?: { maxBytes?: number; signal?: AbortSignal | undefined }): Promise<Buffer>;
  close(): Promise<void>;
}

const DEFAULT_MAX_DOWNLOAD = 4 * 1024 * 1024 * 1024;
const DEFAULT_MAX_BUFFER = 256 * 1024 * 1024;

interface Slot {
  client: Client;
  connected: boolean;
}

function ftpError(error: unknown, path: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof ItemError || error instanceof TransportError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof FTPError) {
    const code = error.code;
    if (code === 550) return new TransportError('NOT_FOUND', `FTP 550 for ${path}: ${message}`, { path, status: code, retryable: false });
    if (code === 530) {
      return new TransportError('AUTH', `FTP login refused: ${message}`, { path, status: code, retryable: false, hint: 'check the user and password in the URL' });
    }
    // 4xx replies are transient by definition (RFC 959 §4.2); 5xx are permanent.
    const retryable = code >= 400 && code < 500;
    return new TransportError(retryable ? 'SERVER_ERROR' : 'FTP_STATUS', `FTP ${code} for ${path}: ${message}`, { path, status: code, retryable });
  }
  const networkCode = (error as { code?: unknown }).code;
  const retryable = networkCode !== 'ENOTFOUND';
  return new TransportError('NETWORK', `FTP transfer failed for ${path}: ${message}`, { path, networkCode, retryable, cause: error });
}

/** FTP replies 500, 502 and 504: the server lacks the command (no SIZE, or no REST). */
function isUnsupported(error: unknown): boolean {
  return error instanceof FTPError && (error.code === 500 || error.code === 502 || error.code === 504);
}



export function createFtpClient(options: FtpClientOptions): FtpClient {
  const url = new URL(options.url);
  if (url.protocol !== 'ftp:' && url.protocol !== 'ftps:') {
    throw new TransportError('BAD_URL', `not an ftp URL: ${options.url}`, { url: options.url, retryable: false });
  }
  const basePath = decodeURIComponent(url.pathname) || '/';
  const access = {
    host: url.hostname,
    port: url.port ? Number(url.port) : 21,
    user: options.user ?? (url.username ? decodeURIComponent(url.username) : 'anonymous'),
    password: options.password ?? (url.password ? decodeURIComponent(url.password) : 'anonymous@'),
    secure: url.protocol === 'ftps:',
  };
  const maxConnections = Math.max(1, options.connections ?? 2);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  const waiting: Array<{ resolve: (slot: Slot) => void; reject: (error: unknown) => void }> = [];
  let closed = false;

  const resolvePath = (remotePath: string): string => (remotePath.startsWith('/') ? remotePath : posix.join(basePath, remotePath));

  async function acquire(): Promise<Slot> {
    if (closed) throw new TransportError('CLOSED', 'FTP client is closed', { retryable: false });
    const free = idle.pop();
    if (free) return free;
    if (slots.length < maxConnections) {
      const slot: Slot = { client: new Client(timeoutMs), connected: false };
      slots.push(slot);
      return slot;
    }
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  function release(slot: Slot): void {
    const next = waiting.shift();
    if (next) next.resolve(slot);
    else idle.push(slot);
  }

  /** Runs `fn` on a connected client; any error closes that connection so the next use reconnects. */
  async function withClient<T>(path: string, signal: AbortSignal | undefined, fn: (client: Client) => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const slot = await acquire();
    // basic-ftp takes no AbortSignal: closing the client makes the pending call reject.
    const onAbort = (): void => slot.client.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!slot.connected || slot.client.closed) {
        slot.connected = false;
        await slot.client.access(access);
        slot.connected = true;
      }
      return await fn(slot.client);
    } catch (error) {
      // A server reply (550 and the like) leaves the session usable; anything else (timeout,
      // reset, our own sink failing) leaves basic-ftp's state unknown, so that session is dropped.
      if (!(error instanceof FTPError) || signal?.aborted) {
        slot.client.close();
        slot.connected = false;
      }
      throw ftpError(error, path, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      release(slot);
    }
  }

  const retryOptions = (path: string, signal: AbortSignal | undefined) => ({
    retries: options.retries ?? defaultRetry.retries,
    baseMs: options.retryBaseMs ?? defaultRetry.baseMs,
    maxMs: options.retryMaxMs ?? defaultRetry.maxMs,
    signal,
    onRetry: options.onRetry ? (info: RetryInfo) => options.onRetry?.({ ...info, path }) : undefined,
  });

  /** Remote size, or undefined when the server does not implement SIZE. A missing file throws 550. */
  async function remoteSize(client: Client, path: string): Promise<number | undefined> {
    try {
      return await client.size(path);
    } catch (error) {
      if (isUnsupported(error)) return undefined;
      throw error;
    }
  }

  async function downloadToFile(remotePath: string, dest: string, opts: FtpDownloadOptions = {}): Promise<FtpDownloadResult> {
    const path = resolvePath(remotePath);
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD;
    const part = `${dest}.part`;
    await mkdir(dirname(dest), { recursive: true });
    let checksumFailures = 0;

    const attempt = () =>
      withClient(path, opts.signal, async (client) => {
        const total = await remoteSize(client, path);
        if (total !== undefined && total > maxBytes) {
          await rm(part, { force: true });
          throw tooLarge(path, maxBytes, total);
        }
        let have = await partialSize(part);
        if (total !== undefined && have > total) {
          await rm(part, { force: true });
          have = 0;
        }
        if (total === undefined || have < total) {
          try {
            await receive(client, path, part, have, maxBytes);
          } catch (error) {
            if (error instanceof ItemError) await rm(part, { force: true });
            else if (have > 0 && isUnsupported(error)) {
              // No REST on this server: the next try starts from zero.
              await rm(part, { force: true });
              throw new TransportError('RESUME_UNSUPPORTED', `server refused REST for ${path}`, { path, retryable: true });
            }
            throw error;
          }
        }
        const size = await partialSize(part);
        if (total !== undefined && size !== total) {
          if (size > total) await rm(part, { force: true });
          throw new TransportError('TRUNCATED', `got ${size} of ${total} bytes of ${path}`, { path, retryable: true });
        }
        if (opts.expectMd5 !== undefined) {
          const actual = await md5File(part);
          if (actual !== opts.expectMd5.toLowerCase()) {
            await rm(part, { force: true });
            throw new TransportError('CHECKSUM_MISMATCH', `md5 of ${path} is ${actual}, expected ${opts.expectMd5}`, {
              path,
              retryable: ++checksumFailures === 1,
            });
          }
        }
        await rename(part, dest);
        return { path: dest, bytes: size, resumedFrom: Math.min(have, size) };
      });

    return withRetry(attempt, retryOptions(path, opts.signal));
  }

  /** RETR (after REST when `startAt` > 0) appending to `part`; every chunk is on disk before the next. */
  async function receive(client: Client, path: string, part: string, startAt: number, maxBytes: number): Promise<void> {
    const handle = await open(part, startAt > 0 ? 'a' : 'w');
    let written = startAt;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        if (written > maxBytes) callback(tooLarge(path, maxBytes, written));
        else handle.write(chunk).then(() => callback(), callback);
      },
    });
    let sinkError: unknown;
    sink.on('error', (error) => {
      sinkError = error;
    });
    try {
      await client.downloadTo(sink, path, startAt);
      // basic-ftp ends the sink but does not wait for it to flush.
      await finished(sink);
    } catch (error) {
      throw sinkError ?? error;
    } finally {
      await handle.close();
    }
  }

  async function getBuffer(remotePath: string, opts: { maxBytes?: number; signal?: AbortSignal | undefined } = {}): Promise<Buffer> {
    const path = resolvePath(remotePath);
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BUFFER;
    const attempt = () =>
      withClient(path, opts.signal, async (client) => {
        const total = await remoteSize(client, path);
        if (total !== undefined && total > maxBytes) throw tooLarge(path, maxBytes, total);
        const chunks: Buffer[] = [];
        let received = 0;
        let sinkError: unknown;
        const sink = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            received += chunk.length;
            if (received > maxBytes) callback(tooLarge(path, maxBytes, received));
            else {
              chunks.push(chunk);
              callback();
            }
          },
        });
        sink.on('error', (error) => {
          sinkError = error;
        });
        try {
          await client.downloadTo(sink, path);
          await finished(sink);
        } catch (error) {
          throw sinkError ?? error;
        }
        if (total !== undefined && received !== total) {
          throw new TransportError('TRUNCATED', `got ${received} of ${total} bytes of ${path}`, { path, retryable: true });
        }
        return Buffer.concat(chunks, received);
      });
    return withRetry(attempt, retryOptions(path, opts.signal));
  }

  return {
    downloadToFile,
    getBuffer,
    async close() {
      closed = true;
      for (const waiter of waiting.splice(0)) waiter.reject(new TransportError('CLOSED', 'FTP client is closed', { retryable: false }));
      for (const slot of slots) slot.client.close();
      slots.length = 0;
      idle.length = 0;
    },
  };
}
