/**
 * A bucket-shaped directory in the layout of the PMC Cloud Service (SOURCES.md §1), and a small
 * S3-ish HTTP server for it on 127.0.0.1.
 *
 * Built from real material: article XML and figure images from ../shared/corpus, the PDF from the
 * real package, the real metadata JSONs and inventory manifest of ../shared/corpus/pmc-cloud as
 * the shapes (Python json.dumps one-liners with the real key order; AWS's pretty-printed manifest),
 * and real metadata records copied verbatim where the corpus has them (an author manuscript, an
 * open-access record whose XML the corpus lacks). Every URL carries the true md5 of its object.
 *
 * The server answers GET for objects (404 NoSuchKey otherwise, prefixes included) and
 * ListObjectsV2 (`/?list-type=2&prefix=&delimiter=&continuation-token=&max-keys=`), records every
 * request with its arrival time, and injects faults per key: a status with a body (503 SlowDown,
 * 404), a corrupted body (md5 mismatch), a connection reset after N body bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { resolveConfig, type Config, type ConfigOverrides } from '../../src/config/schema.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const corpusDir = resolve(repoRoot, '../shared/corpus');
export const cloudCorpus = join(corpusDir, 'pmc-cloud');
export const INVENTORY_PREFIX = 'inventory-reports/pmc-oa-opendata/metadata/';

export const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

/** Python's json.dumps with its default separators and ensure_ascii, as the bucket writes. */
export function pyDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(pyDumps).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}: ${pyDumps(v)}`)
    .join(', ')}}`;
}

/** First entry of a .tar.gz whose name passes `match`. */
export async function readTarEntry(tgz: string, match: (name: string) => boolean): Promise<Buffer | undefined> {
  const extract = tar.extract();
  let found: Buffer | undefined;
  const done = new Promise<void>((resolveDone, reject) => {
    extract.on('entry', (header, stream, next) => {
      if (found === undefined && match(header.name)) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          found = Buffer.concat(chunks);
          next();
        });
      } else {
        stream.on('end', next);
        stream.resume();
      }
    });
    extract.on('finish', resolveDone);
    extract.on('error', reject);
  });
  createReadStream(tgz).pipe(createGunzip()).pipe(extract);
  await done;
  return found;
}

export interface VersionSpec {
  pmcid: string;
  version: number;
  /** Corpus path of the article XML. */
  xml: string;
  /** Figure images: bucket file name and corpus source file. */
  images: { name: string; from: string }[];
  /** Non-image media (supplements): bucket file name and bytes. */
  supplements?: { name: string; bytes: Buffer }[];
  pdf?: Buffer;
  /** Metadata fields to set or override (title, license_code, is_retracted, is_pmc_openaccess…). */
  fields?: Record<string, unknown>;
}

export interface InventoryOptions {
  parts?: number;
  /** A newer folder that has no manifest.json yet (its listing shows, its manifest 404s). */
  unpublishedNewer?: string;
}

/** Article metadata read from a JATS file the way the bucket's JSON presents it. */
function articleFacts(xml: string): { title: string; citation: string; pmid: number | null; doi: string | null } {
  const pick = (re: RegExp) => re.exec(xml)?.[1]?.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim() ?? '';
  const title = pick(/<article-title[^>]*>([\s\S]*?)<\/article-title>/);
  const journal = pick(/<journal-id journal-id-type="iso-abbrev">([\s\S]*?)<\/journal-id>/) || pick(/<journal-title>([\s\S]*?)<\/journal-title>/);
  const year = pick(/<pub-date[^>]*>[\s\S]*?<year>(\d{4})<\/year>/);
  const volume = pick(/<volume>([^<]*)<\/volume>/);
  const pmid = pick(/<article-id pub-id-type="pmid">(\d+)<\/article-id>/);
  const doi = pick(/<article-id pub-id-type="doi">([^<]+)<\/article-id>/);
  return {
    title,
    citation: [journal && `${journal}.`, year, volume && `${volume}`].filter(Boolean).join(' ') + (doi ? `. doi: ${doi}` : ''),
    pmid: pmid ? Number(pmid) : null,
    doi: doi || null,
  };
}

export class TestBucket {
  /** LastModified stamped on objects written from now on. */
  clock = '2026-08-20T10:00:00.000Z';
  private readonly modified = new Map<string, string>();

  constructor(readonly dir: string) {}

  static async create(dir: string): Promise<TestBucket> {
    await mkdir(dir, { recursive: true });
    const bucket = new TestBucket(dir);
    await bucket.put('README.txt', await readFile(join(cloudCorpus, 'README.txt')));
    return bucket;
  }

  /** A bucket holding the three real corpus articles and one day's inventory listing them. */
  static async withCorpus(dir: string, inventoryDate = '2026-09-01T01-00Z'): Promise<TestBucket> {
    const bucket = await TestBucket.create(dir);
    for (const id of ['PMC7112410', 'PMC7135076', 'PMC7159299'] as const) await bucket.putVersion(await corpusVersion(id));
    await bucket.writeInventory(inventoryDate);
    return bucket;
  }

  async put(key: string, bytes: Buffer | string): Promise<string> {
    const path = join(this.dir, ...key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    this.modified.set(key, this.clock);
    return `s3://pmc-oa-opendata/${key}?md5=${md5(bytes)}`;
  }

  async get(key: string): Promise<Buffer> {
    return readFile(join(this.dir, ...key.split('/')));
  }

  /** Writes the version's objects and its metadata JSON (both copies), real key order. */
  async putVersion(spec: VersionSpec): Promise<Record<string, unknown>> {
    const prefix = `${spec.pmcid}.${spec.version}`;
    const xml = await readFile(spec.xml);
    const facts = articleFacts(xml.toString('utf8'));
    const xmlUrl = await this.put(`${prefix}/${prefix}.xml`, xml);
    const text = xml.toString('utf8').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
    const textUrl = await this.put(`${prefix}/${prefix}.txt`, text);
    const pdfUrl = spec.pdf ? await this.put(`${prefix}/${prefix}.pdf`, spec.pdf) : undefined;
    const media: string[] = [];
    for (const image of spec.images) media.push(await this.put(`${prefix}/${image.name}`, await readFile(image.from)));
    for (const s of spec.supplements ?? []) media.push(await this.put(`${prefix}/${s.name}`, s.bytes));
    // The key order of the real metadata-PMC4599423.1.json.
    const record: Record<string, unknown> = {
      pmcid: spec.pmcid,
      version: spec.version,
      pmid: facts.pmid,
      doi: facts.doi,
      mid: null,
      title: facts.title,
      citation: facts.citation,
      is_pmc_openaccess: true,
      is_manuscript: false,
      is_historical_ocr: false,
      is_retracted: false,
      license_code: 'CC BY',
      xml_url: xmlUrl,
      pdf_url: pdfUrl,
      text_url: textUrl,
      media_urls: media.length > 0 ? media : undefined,
      ...spec.fields,
    };
    await this.writeMetadata(prefix, record);
    return record;
  }

  async writeMetadata(prefix: string, record: Record<string, unknown>): Promise<void> {
    const json = pyDumps(record);
    await this.put(`metadata/${prefix}.json`, json);
    await this.put(`${prefix}/${prefix}.json`, json);
  }

  async readMetadata(prefix: string): Promise<Record<string, unknown>> {
    return JSON.parse((await this.get(`metadata/${prefix}.json`)).toString('utf8')) as Record<string, unknown>;
  }

  /** A real metadata JSON from the corpus, byte for byte; its XML and media are not in the corpus. */
  async putRealMetadata(corpusName: string): Promise<string> {
    const bytes = await readFile(join(cloudCorpus, corpusName));
    const record = JSON.parse(bytes.toString('utf8')) as { pmcid: string; version: number };
    const prefix = `${record.pmcid}.${record.version}`;
    await this.put(`metadata/${prefix}.json`, bytes);
    await this.put(`${prefix}/${prefix}.json`, bytes);
    return prefix;
  }

  /** Replace one object of a version in place and update the md5 in its metadata (ETag changes). */
  async replaceObject(prefix: string, name: string, bytes: Buffer): Promise<void> {
    const url = await this.put(`${prefix}/${name}`, bytes);
    const record = await this.readMetadata(prefix);
    const media = (record['media_urls'] as string[]).map((u) => (u.startsWith(`s3://pmc-oa-opendata/${prefix}/${name}?`) ? url : u));
    await this.writeMetadata(prefix, { ...record, media_urls: media });
  }

  async removeVersion(prefix: string): Promise<void> {
    await rm(join(this.dir, prefix), { recursive: true, force: true });
    await rm(join(this.dir, 'metadata', `${prefix}.json`), { force: true });
  }

  /** Every key under the bucket, sorted as S3 lists them. */
  async keys(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (!entry.name.startsWith('.')) out.push(relative(this.dir, path).split(sep).join('/'));
      }
    };
    await walk(this.dir);
    return out.sort();
  }

  /**
   * The S3 inventory of `metadata/` as of now: gzip'd CSV parts (every field quoted, no header,
   * S3's lexicographic key order split into contiguous ranges, listed in the manifest last range
   * first) and a manifest.json in the format of the real one, with each part's md5.
   */
  async writeInventory(folder: string, options: InventoryOptions = {}): Promise<{ rows: number; parts: string[] }> {
    const real = JSON.parse(await readFile(join(cloudCorpus, 'inventory-manifest.json'), 'utf8')) as Record<string, string>;
    const keys = (await this.keys()).filter((k) => /^metadata\/PMC\d+\.\d+\.json$/.test(k));
    const rows: string[] = [];
    for (const key of keys) {
      const bytes = await this.get(key);
      rows.push([real['sourceBucket'], key, this.modified.get(key) ?? this.clock, md5(bytes)].map((f) => `"${f}"`).join(','));
    }
    const partCount = Math.max(1, Math.min(options.parts ?? 2, rows.length));
    const size = Math.ceil(rows.length / partCount);
    const files: { key: string; size: number; md5: string }[] = [];
    for (let i = 0; i < partCount; i++) {
      const body = gzipSync(rows.slice(i * size, (i + 1) * size).map((r) => r + '\n').join(''));
      const uuid = md5(`${folder}/${i}`).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
      const key = `${INVENTORY_PREFIX}data/${uuid}.csv.gz`;
      await this.put(key, body);
      files.unshift({ key, size: body.length, md5: md5(body) });
    }
    const manifest = [
      '{',
      `  "sourceBucket" : "${real['sourceBucket']}",`,
      `  "destinationBucket" : "${real['destinationBucket']}",`,
      `  "version" : "${real['version']}",`,
      `  "creationTimestamp" : "${Date.parse(folder.replace(/T(\d{2})-(\d{2})Z$/, 'T$1:$2:00Z'))}",`,
      `  "fileFormat" : "${real['fileFormat']}",`,
      `  "fileSchema" : "${real['fileSchema']}",`,
      '  "files" : [ ' + files.map((f) => `{\n    "key" : "${f.key}",\n    "size" : ${f.size},\n    "MD5checksum" : "${f.md5}"\n  }`).join(', ') + ' ]',
      '}',
    ].join('\n');
    await this.put(`${INVENTORY_PREFIX}${folder}/manifest.json`, manifest);
    await this.put(`${INVENTORY_PREFIX}${folder}/manifest.checksum`, `{\n  "checksum" : "${md5(manifest)}"\n}`);
    await this.put(`${INVENTORY_PREFIX}hive/dt=${folder.slice(0, 10)}-01-00/symlink.txt`, files.map((f) => `s3://pmc-oa-opendata/${f.key}`).join('\n'));
    if (options.unpublishedNewer) {
      await this.put(`${INVENTORY_PREFIX}${options.unpublishedNewer}/manifest.checksum`, '{}');
    }
    return { rows: rows.length, parts: files.map((f) => f.key) };
  }

  serve(options: S3ServerOptions = {}): Promise<S3TestServer> {
    return startS3Server(this, options);
  }
}

// ---------------------------------------------------------------------------------------------
// The server

export type S3Fault =
  | { kind: 'status'; status: number; body?: string; retryAfter?: string; times?: number }
  | { kind: 'corrupt'; times?: number }
  | { kind: 'reset'; afterBytes: number; times?: number };

export const SLOW_DOWN: S3Fault = {
  kind: 'status',
  status: 503,
  body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
};

export interface S3Request {
  method: string;
  /** The key asked for ('' for a listing). */
  key: string;
  /** The query string for listings ('list-type=2&prefix=…'). */
  query: string;
  /** ms since the server started. */
  at: number;
  /** Answered 503 SlowDown by the throttle (see S3ServerOptions.throttleAbove). */
  throttled?: boolean;
}

export interface S3ServerOptions {
  /** Page size of listings when the request names none (S3: 1000). */
  maxKeys?: number;
  /**
   * Serve at most this many requests in any sliding second and answer the rest 503 SlowDown, the
   * way S3 sheds load past a prefix's rate. Throttled requests do not count toward the window.
   */
  throttleAbove?: number;
}

export interface S3TestServer {
  url: string;
  requests: S3Request[];
  fault(key: string, ...faults: S3Fault[]): void;
  /** Drop every fault left for `key`: the server answers it normally again. */
  heal(key: string): void;
  /** Change the throttle threshold (undefined: none). */
  throttle(above: number | undefined): void;
  /** Requests per whole second since the first request of `requests` (server-side count). */
  perSecond(filter?: (r: S3Request) => boolean): number[];
  clear(): void;
  close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function noSuchKey(res: ServerResponse, key: string): void {
  res
    .writeHead(404, { 'content-type': 'application/xml' })
    .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${xmlEscape(key)}</Key></Error>`);
}

async function startS3Server(bucket: TestBucket, options: S3ServerOptions): Promise<S3TestServer> {
  const started = performance.now();
  const requests: S3Request[] = [];
  const faults = new Map<string, S3Fault[]>();
  const sockets = new Set<Socket>();
  let throttleAbove = options.throttleAbove;
  // Arrival times (ms) of the requests served in the last second, oldest first.
  const served: number[] = [];
  const overThrottle = (at: number): boolean => {
    if (throttleAbove === undefined) return false;
    while (served.length > 0 && served[0]! <= at - 1000) served.shift();
    if (served.length >= throttleAbove) return true;
    served.push(at);
    return false;
  };

  const nextFault = (key: string): S3Fault | undefined => {
    const list = faults.get(key);
    const fault = list?.[0];
    if (!list || !fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) list.shift();
    return fault;
  };

  const listing = async (params: URLSearchParams): Promise<string> => {
    const prefix = params.get('prefix') ?? '';
    const delimiter = params.get('delimiter') ?? '';
    const maxKeys = Number(params.get('max-keys') ?? options.maxKeys ?? 1000);
    const start = Number(Buffer.from(params.get('continuation-token') ?? '', 'base64').toString('utf8') || 0);
    const entries: { prefix?: string; key?: string }[] = [];
    const seen = new Set<string>();
    for (const key of await bucket.keys()) {
      if (!key.startsWith(prefix)) continue;
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const common = key.slice(0, cut + delimiter.length);
        if (!seen.has(common)) {
          seen.add(common);
          entries.push({ prefix: common });
        }
      } else entries.push({ key });
    }
    const page = entries.slice(start, start + maxKeys);
    const truncated = start + maxKeys < entries.length;
    let body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>pmc-oa-opendata</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`;
    if (delimiter) body += `<Delimiter>${xmlEscape(delimiter)}</Delimiter>`;
    body += `<IsTruncated>${truncated}</IsTruncated>`;
    if (truncated) body += `<NextContinuationToken>${Buffer.from(String(start + maxKeys)).toString('base64')}</NextContinuationToken>`;
    for (const e of page) {
      if (e.key) {
        const bytes = await bucket.get(e.key);
        body += `<Contents><Key>${xmlEscape(e.key)}</Key><LastModified>${bucket.clock}</LastModified><ETag>&quot;${md5(bytes)}&quot;</ETag><Size>${bytes.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      }
    }
    for (const e of page) if (e.prefix) body += `<CommonPrefixes><Prefix>${xmlEscape(e.prefix)}</Prefix></CommonPrefixes>`;
    return body + '</ListBucketResult>';
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const key = decodeURIComponent(url.pathname.slice(1));
      const at = performance.now() - started;
      const request: S3Request = { method: req.method ?? 'GET', key, query: url.search.slice(1), at };
      requests.push(request);
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (overThrottle(at)) {
        request.throttled = true;
        res.writeHead(503, { 'content-type': 'application/xml' }).end((SLOW_DOWN as { body: string }).body);
        return;
      }
      if (key === '' && url.searchParams.get('list-type') === '2') {
        res.writeHead(200, { 'content-type': 'application/xml' }).end(await listing(url.searchParams));
        return;
      }
      const fault = nextFault(key);
      if (fault?.kind === 'status') {
        const headers: Record<string, string> = { 'content-type': 'application/xml' };
        if (fault.retryAfter) headers['retry-after'] = fault.retryAfter;
        res.writeHead(fault.status, headers).end(fault.body ?? '');
        return;
      }
      const path = resolve(bucket.dir, ...key.split('/'));
      let data: Buffer;
      try {
        if (key === '' || !(await stat(path)).isFile()) throw new Error('not an object');
        data = await readFile(path);
      } catch {
        noSuchKey(res, key);
        return;
      }
      const headers = { 'content-type': 'application/octet-stream', 'content-length': data.length, etag: `"${md5(data)}"` };
      if (fault?.kind === 'corrupt') {
        const bad = Buffer.from(data);
        bad[0] = bad[0]! ^ 0xff;
        res.writeHead(200, headers).end(bad);
        return;
      }
      if (fault?.kind === 'reset') {
        res.writeHead(200, headers);
        res.write(data.subarray(0, fault.afterBytes), () => {
          setTimeout(() => req.socket.destroy(), 5);
        });
        return;
      }
      res.writeHead(200, headers).end(data);
    })().catch((error: unknown) => {
      res.destroy(error as Error);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fault(key, ...list) {
      faults.set(key, [...(faults.get(key) ?? []), ...list.map((f) => ({ ...f }))]);
    },
    heal(key) {
      faults.delete(key);
    },
    throttle(above) {
      throttleAbove = above;
      served.length = 0;
    },
    perSecond(filter = () => true) {
      const picked = requests.filter(filter);
      if (picked.length === 0) return [];
      const first = picked[0]!.at;
      const counts: number[] = [];
      for (const r of picked) {
        const second = Math.floor((r.at - first) / 1000);
        counts[second] = (counts[second] ?? 0) + 1;
      }
      return Array.from(counts, (n) => n ?? 0);
    },
    clear() {
      requests.length = 0;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The articles the tests use

const nxml = (name: string) => join(corpusDir, 'nxml', 'pmc_oa_packages', `${name}.main.nxml`);
const packageImages = (pmcid: string, figures: number) =>
  Array.from({ length: figures }, (_, i) => ({
    // The cloud bucket holds PMC's rendering under the bare stem (gr1.jpg); the legacy package
    // names it gr1_lrg.jpg beside a gif thumbnail. The XML says gr1_lrg either way.
    name: `gr${i + 1}.jpg`,
    from: join(corpusDir, 'images', 'pmc_oa_packages', pmcid, `gr${i + 1}_lrg.jpg`),
  }));

export async function corpusVersion(pmcid: 'PMC7112410' | 'PMC7135076' | 'PMC7159299', fields: Record<string, unknown> = {}): Promise<VersionSpec> {
  const figures = { PMC7112410: 4, PMC7135076: 1, PMC7159299: 3 }[pmcid];
  const pkg = join(corpusDir, 'packages', `${pmcid}.tar.gz`);
  const pdf = await readTarEntry(pkg, (name) => name.endsWith('.pdf'));
  return {
    pmcid,
    version: 1,
    xml: nxml(pmcid),
    images: packageImages(pmcid, figures),
    pdf,
    // A supplement listed among media_urls, like mmc1.pdf in the real PMC12855588 record.
    supplements: pdf ? [{ name: 'mmc1.pdf', bytes: pdf }] : [],
    fields,
  };
}

/**
 * eLife 43154 (the corpus pairs its XML with its three images). Its XML carries no PMCID, so the
 * test bucket files it under PMC99000001, beyond the range PMC has assigned.
 */
export function elifeVersion(fields: Record<string, unknown> = {}): VersionSpec {
  const dir = join(corpusDir, 'images', 'encoda', 'elife-43154-v2');
  return {
    pmcid: 'PMC99000001',
    version: 1,
    xml: join(corpusDir, 'nxml', 'encoda', 'elife-43154-v2.xml'),
    images: [
      { name: 'elife-43154-fig1-v2.jpg', from: join(dir, 'fig1.jpg') },
      { name: 'elife-43154-fig2-v2.jpg', from: join(dir, 'fig2.jpg') },
      { name: 'elife-43154-resp-fig1-v2.jpg', from: join(dir, 'resp-fig1.jpg') },
    ],
    fields: { license_code: 'CC BY', ...fields },
  };
}

// ---------------------------------------------------------------------------------------------
// Config for runs against the test server


/** Defaults, pointed at the server, with retries fast enough for tests (backoff still jittered). */
export function cloudTestConfig(baseUrl: string, overrides: ConfigOverrides = {}): Config {
  return resolveConfig({
    env: {},
    overrides: {
      ...overrides,
      source: { cloudBaseUrl: baseUrl, ...overrides.source },
      network: { retryBaseMs: 5, retryMaxMs: 40, requestsPerSecond: 0, ...overrides.network },
      extract: { unitSize: 2, maxFailureRate: 1, ...overrides.extract },
      cloud: { metadataConcurrency: 4, ...overrides.cloud },
    },
  });
}

export { extractOptionsFromConfig as extractOptionsOf } from '../../src/stages/extract/from-config.js';
