/**
 * Real servers on 127.0.0.1 for tests: an HTTP file server with fault injection (status codes,
 * connections cut mid-body, Range ignored) and an anonymous FTP server (ftp-srv). Both listen on
 * free ports and close every socket on close(), so a test process exits as soon as it is done.
 * buildLegacyMirror() lays out a legacy PMC mirror from the real packages in ../shared/corpus.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FtpSrv } from 'ftp-srv';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const corpusDir = resolve(repoRoot, '../shared/corpus');
export const corpusPackages = ['PMC7112410', 'PMC7135076', 'PMC7159299'].map((id) => join(corpusDir, 'packages', `${id}.tar.gz`));

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpFault {
  /** Answer this status (and an empty body) instead of the file. */
  status?: number;
  /** Retry-After header sent with `status`. */
  retryAfter?: string;
  /** Body sent with `status` (e.g. S3's SlowDown XML). */
  body?: string;
  /** Send the headers (full Content-Length) and this many body bytes, then destroy the socket. */
  cutAfterBytes?: number;
  /** Ignore a Range header and answer 200 with the whole file. */
  ignoreRange?: boolean;
  /** How many requests this fault answers (default 1; Infinity for all). */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | undefined;
  userAgent: string | undefined;
  /** performance.now() at arrival, ms. */
  at: number;
}

export interface TestHttpServer {
  /** 'http://127.0.0.1:PORT' (no trailing slash). */
  url: string;
  requests: RecordedRequest[];
  /** Queue faults for a path ('/pub/pmc/x.tar.gz'); they apply in order to the next requests. */
  fault(path: string, ...faults: HttpFault[]): void;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  faults?: Record<string, HttpFault | HttpFault[]>;
  /** Custom routes (e.g. an S3 listing); return true when the request was answered. */
  handler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/** Serves files under `rootDir` with Content-Length, HEAD and single Range requests (206/416). */
export async function startHttpServer(rootDir: string, options: HttpServerOptions = {}): Promise<TestHttpServer> {
  const root = resolve(rootDir);
  const queue = new Map<string, HttpFault[]>();
  const requests: RecordedRequest[] = [];
  const addFaults = (path: string, list: HttpFault[]): void => {
    const current = queue.get(path) ?? [];
    current.push(...list.map((f) => ({ ...f, times: f.times ?? 1 })));
    queue.set(path, current);
  };
  for (const [path, list] of Object.entries(options.faults ?? {})) addFaults(path, Array.isArray(list) ? list : [list]);

  const nextFault = (path: string): HttpFault | undefined => {
    const list = queue.get(path);
    const fault = list?.[0];
    if (!list || !fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) list.shift();
    return fault;
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = decodeURIComponent(url.pathname);
      requests.push({ method: req.method ?? 'GET', path, range: req.headers.range, userAgent: req.headers['user-agent'], at: performance.now() });
      if (options.handler && (await options.handler(req, res))) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      const fault = nextFault(path);
      if (fault?.status !== undefined) {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        res.writeHead(fault.status, headers).end(fault.body ?? '');
        return;
      }
      const file = resolve(root, `.${path}`);
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end();
        return;
      }
      let data: Buffer;
      try {
        if (!(await stat(file)).isFile()) throw new Error('not a file');
        data = await readFile(file);
      } catch {
        res.writeHead(404).end('Not Found');
        return;
      }
      let status = 200;
      let start = 0;
      let end = data.length - 1;
      const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range && !fault?.ignoreRange) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(end, Number(range[2]));
        if (start >= data.length || start > end) {
          res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
          return;
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${data.length}`;
      }
      const body = data.subarray(start, end + 1);
      headers['content-length'] = body.length;
      res.writeHead(status, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      if (fault?.cutAfterBytes !== undefined) {
        res.write(body.subarray(0, fault.cutAfterBytes), () => res.socket?.destroy());
        return;
      }
      res.end(body);
    })().catch(() => res.socket?.destroy());
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fault: (path, ...list) => addFaults(path, list),
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// FTP

export interface TestFtpServer {
  /** 'ftp://127.0.0.1:PORT' (no trailing slash). */
  url: string;
  /** Paths of completed or failed RETR commands, in order. */
  retrieved: string[];
  /** How many control connections were opened. */
  connections(): number;
  /** Most control connections open at one time. */
  peakConnections(): number;
  /** Server-side close of every open control connection (a client must reconnect). */
  dropConnections(): Promise<void>;
  close(): Promise<void>;
}

/** A logger that drops everything: ftp-srv's default bunyan logger writes to stdout. */
function quietLog(): Record<string, unknown> {
  const noop = (): void => undefined;
  const log: Record<string, unknown> = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop };
  log['child'] = () => log;
  return log;
}

/** Anonymous, read-only-in-practice FTP server rooted at `rootDir`, passive mode on 127.0.0.1. */
export async function startFtpServer(rootDir: string): Promise<TestFtpServer> {
  const signals = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  // Random passive range so parallel test files rarely probe the same ports.
  const pasvMin = 40000 + Math.floor(Math.random() * 20000);
  const server = new FtpSrv({
    url: 'ftp://127.0.0.1:0',
    pasv_url: '127.0.0.1',
    pasv_min: pasvMin,
    pasv_max: pasvMin + 500,
    anonymous: true,
    greeting: 'biomedica test server',
    log: quietLog(),
  });
  const retrieved: string[] = [];
  let connections = 0;
  let open = 0;
  let peak = 0;
  server.on('login', ({ connection }: { connection: NodeJS.EventEmitter }, done: (value: { root: string }) => void) => {
    connection.on('RETR', (_error: unknown, path: string) => retrieved.push(path));
    done({ root: resolve(rootDir) });
  });
  // 'connect' is emitted by ftp-srv but missing from its typings.
  (server as unknown as NodeJS.EventEmitter).on('connect', () => {
    connections++;
    peak = Math.max(peak, ++open);
  });
  server.on('disconnect', () => {
    open--;
  });
  await server.listen();
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return {
    url: `ftp://127.0.0.1:${port}`,
    retrieved,
    connections: () => connections,
    peakConnections: () => peak,
    async dropConnections() {
      const live = (server as unknown as { connections: Record<string, { close(code?: number): Promise<unknown> }> }).connections;
      await Promise.all(Object.values(live).map((c) => c.close(421)));
    },
    async close() {
      await server.close();
      // ftp-srv installs signal handlers that call process.exit; they must not outlive it.
      for (const s of signals) {
        for (const listener of process.listeners(s)) if (!before.get(s)?.has(listener)) process.removeListener(s, listener);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Legacy mirror

export interface MirrorRow {
  path: string;
  citation: string;
  pmcid: string;
  lastUpdated: string;
  pmid: string;
  license: string;
  retracted?: boolean;
}

export interface LegacyMirror {
  /** The mirror root holding oa_file_list.* and oa_package/ (…/pub/pmc). */
  root: string;
  rows: MirrorRow[];
}

export interface MirrorOptions {
  format?: 'csv' | 'txt';
  /** Per-PMCID changes to the row (license, retracted, …). */
  overrides?: Record<string, Partial<MirrorRow>>;
  /** PMCIDs listed in the file list whose package is absent from the mirror. */
  missing?: string[];
}

const realRowsFile = join(corpusDir, 'filelists', 'oa_file_list.covid4rows.seanBr97.csv');

/** Rows of the real 4-row excerpt, dates restored from the spreadsheet's DD-MM-YY HH:MM. */
function realRows(): Map<string, MirrorRow> {
  const rows = new Map<string, MirrorRow>();
  // No quoted fields in this excerpt, and citations hold no commas: a plain split is exact here.
  for (const line of readFileSync(realRowsFile, 'utf8').split('\n').slice(1)) {
    const [path, citation, pmcid, date, pmid, license] = line.trim().split(',');
    if (!path || !pmcid || !date) continue;
    const m = /^(\d{2})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(date);
    const lastUpdated = m ? `20${m[3]}-${m[2]}-${m[1]} ${m[4]}:${m[5]}:00` : date;
    rows.set(pmcid, { path, citation: citation ?? '', pmcid, lastUpdated, pmid: pmid ?? '', license: license ?? '' });
  }
  return rows;
}

function syntheticRow(pmcid: string): MirrorRow {
  const h = createHash('md5').update(pmcid).digest('hex');
  return { path: `oa_package/${h.slice(0, 2)}/${h.slice(2, 4)}/${pmcid}.tar.gz`, citation: 'Test J. 2020 Jan 1; 1(1):1-2', pmcid, lastUpdated: '2020-01-01 00:00:00', pmid: '', license: 'CC BY' };
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Lays out `dir/pub/pmc/oa_file_list.{csv|txt}` and `oa_package/xx/yy/PMCn.tar.gz` from real packages. */
export async function buildLegacyMirror(dir: string, packages: string[], options: MirrorOptions = {}): Promise<LegacyMirror> {
  const root = join(dir, 'pub', 'pmc');
  await mkdir(root, { recursive: true });
  const known = realRows();
  const rows: MirrorRow[] = [];
  for (const pkg of packages) {
    const pmcid = basename(pkg).replace(/\.tar\.gz$/, '');
    const row = { ...(known.get(pmcid) ?? syntheticRow(pmcid)), ...options.overrides?.[pmcid] };
    await mkdir(join(root, row.path, '..'), { recursive: true });
    await copyFile(pkg, join(root, row.path));
    rows.push(row);
  }
  for (const pmcid of options.missing ?? []) rows.push({ ...(known.get(pmcid) ?? syntheticRow(pmcid)), ...options.overrides?.[pmcid] });

  if (options.format === 'txt') {
    const lines = ['2020-06-18 12:56:00', ...rows.map((r) => [r.path, r.citation, r.pmcid, `PMID:${r.pmid}`, r.license].join('\t'))];
    await writeFile(join(root, 'oa_file_list.txt'), lines.join('\n') + '\n');
  } else {
    const withRetracted = rows.some((r) => r.retracted !== undefined);
    const header = ['File', 'Article Citation', 'Accession ID', 'Last Updated (YYYY-MM-DD HH:MM:SS)', 'PMID', 'License'];
    if (withRetracted) header.push('Retracted');
    const lines = [header.join(','), ...rows.map((r) => {
      const fields = [r.path, r.citation, r.pmcid, r.lastUpdated, r.pmid, r.license];
      if (withRetracted) fields.push(r.retracted ? 'yes' : 'no');
      return fields.map(csvField).join(',');
    })];
    await writeFile(join(root, 'oa_file_list.csv'), lines.join('\n') + '\n');
  }
  return { root, rows };
}
