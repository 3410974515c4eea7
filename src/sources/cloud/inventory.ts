/**
 * The bucket's daily S3 Inventory (SOURCES.md §1): `<prefix><YYYY-MM-DDTHH-MMZ>/manifest.json`
 * names gzip'd CSV parts under `<prefix>data/`, one row per metadata JSON:
 * `"pmc-oa-opendata","metadata/PMC10000002.1.json","2026-01-08T11:47:59.000Z","f25d…"`.
 *
 * Dates are found by listing the prefix with a delimiter (skipping `hive/` and `data/`); the newest
 * folder may not have its manifest yet, so a 404 falls back to the one before. Parts are downloaded
 * to the out dir (md5 from the manifest checked, a finished part reused) and read as streams, so
 * 8 million rows never sit in memory.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ManifestError, TransportError } from '../../errors.js';
import { md5File, type HttpClient } from '../../transport/http.js';
import { sortLines } from '../../sync/external-sort.js';
import { lineBatches } from '../../sync/lines.js';
import { decodeSortLine, encodeSortLine, type VersionRow } from '../../sync/rows.js';
import { objectUrl } from './metadata.js';
import { listAll } from './s3.js';

export interface InventoryFile {
  key: string;
  size: number;
  md5: string;
}

export interface InventorySnapshot {
  /** The folder name, '2026-09-01T01-00Z'. */
  folder: string;
  /** The same instant in ISO 8601, '2026-09-01T01:00:00Z': the snapshot date a release states. */
  date: string;
  manifestKey: string;
  files: InventoryFile[];
  /** Column names from the manifest's fileSchema, in file order. */
  columns: string[];
}

const FOLDER = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})Z$/;

export function folderToIso(folder: string): string {
  const m = FOLDER.exec(folder);
  if (!m) throw new ManifestError('INVENTORY_DATE', `not an inventory folder name: ${folder}`);
  return `${m[1]}T${m[2]}:${m[3]}:00Z`;
}

/** Inventory folder names under the prefix, newest first; `hive/`, `data/` and strays are skipped. */
export async function listInventoryFolders(
  client: HttpClient,
  baseUrl: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const { prefixes } = await listAll(client, baseUrl, prefix, '/', signal);
  const folders = prefixes
    .map((p) => p.slice(prefix.length).replace(/\/$/, ''))
    .filter((name) => FOLDER.test(name));
  return folders.sort().reverse();
}

export function parseInventoryManifest(text: string, folder: string, manifestKey: string): InventorySnapshot {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ManifestError('INVENTORY_MANIFEST', `inventory manifest ${manifestKey} is not JSON`, { cause: error });
  }
  const format = String(raw['fileFormat'] ?? '');
  if (format.toUpperCase() !== 'CSV') {
    throw new ManifestError('INVENTORY_MANIFEST', `inventory ${folder} is ${format || 'of no stated format'}, expected CSV`);
  }
  const columns = String(raw['fileSchema'] ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  for (const needed of ['Key', 'ETag']) {
    if (!columns.includes(needed)) {
      throw new ManifestError('INVENTORY_MANIFEST', `inventory ${folder} has no ${needed} column (fileSchema "${String(raw['fileSchema'])}")`);
    }
  }
  const files = Array.isArray(raw['files']) ? (raw['files'] as Record<string, unknown>[]) : [];
  return {
    folder,
    date: folderToIso(folder),
    manifestKey,
    columns,
    files: files.map((f) => ({ key: String(f['key'] ?? ''), size: Number(f['size'] ?? 0), md5: String(f['MD5checksum'] ?? '').toLowerCase() })),
  };
}

export async function loadInventoryManifest(
  client: HttpClient,
  baseUrl: string,
  prefix: string,
  folder: string,
  signal?: AbortSignal,
): Promise<InventorySnapshot> {
  const manifestKey = `${prefix}${folder}/manifest.json`;
  const body = await client.getBuffer(objectUrl(baseUrl, manifestKey), { signal, maxBytes: 16 * 1024 * 1024 });
  return parseInventoryManifest(body.toString('utf8'), folder, manifestKey);
}

/**
 * The newest inventory whose manifest can be read. Only a missing manifest (404) moves on to
 * the previous date; any other failure is the run's problem and is thrown.
 */
export async function newestInventory(
  client: HttpClient,
  baseUrl: string,
  prefix: string,
  log: Logger,
  signal?: AbortSignal,
  maxTries = 3,
): Promise<InventorySnapshot> {
  const folders = await listInventoryFolders(client, baseUrl, prefix, signal);
  for (const folder of folders.slice(0, maxTries)) {
    try {
      return await loadInventoryManifest(client, baseUrl, prefix, folder, signal);
    } catch (error) {
      if (error instanceof TransportError && error.code === 'NOT_FOUND') {
        log.info({ folder }, 'inventory manifest not published yet, taking the previous one');
        continue;
      }
      throw error;
    }
  }
  throw new ManifestError('INVENTORY_UNAVAILABLE', `no readable inventory under ${objectUrl(baseUrl, prefix)}`, {
    folders: folders.slice(0, maxTries),
    hint: 'check source.cloudBaseUrl and cloud.inventoryPrefix, or list explicit PMCIDs with --pmcids',
  });
}

/**
 * Download the snapshot's parts into `cacheDir/<folder>/` (a part already there with the right
 * md5 is kept) and delete other folders' parts: one day's inventory is ~250 MB.
 */
export async function fetchInventoryFiles(
  client: HttpClient,
  baseUrl: string,
  snapshot: InventorySnapshot,
  cacheDir: string,
  log: Logger,
  signal?: AbortSignal,
): Promise<string[]> {
  const dir = join(cacheDir, snapshot.folder);
  await mkdir(dir, { recursive: true });
  for (const other of await readdir(cacheDir)) {
    if (other !== snapshot.folder) await rm(join(cacheDir, other), { recursive: true, force: true });
  }
  const paths: string[] = [];
  for (const [i, file] of snapshot.files.entries()) {
    const dest = join(dir, `part-${String(i).padStart(3, '0')}.csv.gz`);
    const expectMd5 = /^[0-9a-f]{32}$/.test(file.md5) ? file.md5 : undefined;
    const have = await md5File(dest).catch(() => undefined);
    if (have === undefined || (expectMd5 !== undefined && have !== expectMd5)) {
      const started = Date.now();
      const result = await client.downloadToFile(objectUrl(baseUrl, file.key), dest, { signal, expectMd5 });
      log.info({ key: file.key, bytes: result.bytes, ms: Date.now() - started }, 'inventory part downloaded');
    }
    paths.push(dest);
  }
  return paths;
}

/** Split one CSV line whose fields are all quoted (S3 Inventory's format); `""` is a quote. */
export function splitQuotedCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          value += line.slice(i);
          i = line.length;
          break;
        }
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(value);
      i++; // the comma
    } else {
      const c = line.indexOf(',', i);
      out.push(c < 0 ? line.slice(i) : line.slice(i, c));
      i = c < 0 ? line.length + 1 : c + 1;
    }
  }
  return out;
}

const METADATA_KEY = /^metadata\/PMC(\d+)\.(\d+)\.json$/;

/** Column positions, looked up once per file instead of per row. */
export interface InventoryColumns {
  key: number;
  etag: number;
  lastModified: number;
}

export function inventoryColumns(columns: readonly string[]): InventoryColumns {
  return { key: columns.indexOf('Key'), etag: columns.indexOf('ETag'), lastModified: columns.indexOf('LastModifiedDate') };
}

/** 'metadata/PMC123.4.json' → [123, 4] without a regex (8 million calls a night). */
function metadataKey(key: string): [number, number] | undefined {
  if (!key.startsWith('metadata/PMC') || !key.endsWith('.json')) {
    const m = key.includes('%') ? METADATA_KEY.exec(decodeKey(key)) : null;
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  }
  const dot = key.indexOf('.', 12);
  if (dot < 0 || dot + 6 > key.length) return undefined;
  const num = key.slice(12, dot);
  const version = key.slice(dot + 1, -5);
  for (const part of [num, version]) {
    if (part.length === 0) return undefined;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
  }
  return [Number(num), Number(version)];
}

/** One inventory line → a version row, or undefined for keys that are not version metadata. */
export function parseInventoryLine(line: string, columns: readonly string[] | InventoryColumns): VersionRow | undefined {
  const at = Array.isArray(columns) ? inventoryColumns(columns) : (columns as InventoryColumns);
  // Every field quoted and no quote inside one: the real format, split in one pass.
  const fields =
    line.charCodeAt(0) === 34 && line.charCodeAt(line.length - 1) === 34 && line.indexOf('""') < 0
      ? line.slice(1, -1).split('","')
      : splitQuotedCsv(line);
  const parsed = metadataKey(fields[at.key] ?? '');
  if (!parsed) return undefined;
  const etag = fields[at.etag] ?? '';
  return {
    pmcNum: parsed[0],
    version: parsed[1],
    etag: etag.charCodeAt(0) === 34 ? etag.replace(/^"+|"+$/g, '') : etag,
    lastModified: at.lastModified >= 0 ? (fields[at.lastModified] ?? '') : '',
  };
}

/** S3 Inventory URL-encodes keys in CSV; ours are plain, but a '%' must still decode. */
function decodeKey(key: string): string {
  if (!key.includes('%')) return key;
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

export interface InventoryReadStats {
  rows: number;
  ignored: number;
}

/** Every version row of the downloaded parts, in file order (unsorted), in batches. */
export async function* readInventoryRows(
  paths: readonly string[],
  columns: readonly string[],
  stats: InventoryReadStats = { rows: 0, ignored: 0 },
): AsyncGenerator<VersionRow[]> {
  const at = inventoryColumns(columns);
  for (const path of paths) {
    for await (const lines of lineBatches(path)) {
      const rows: VersionRow[] = [];
      for (const line of lines) {
        const row = parseInventoryLine(line, at);
        if (row) rows.push(row);
        else stats.ignored++;
      }
      stats.rows += rows.length;
      if (rows.length > 0) yield rows;
    }
  }
}

export interface SortedRowsOptions {
  /** Scratch folder for the sort's chunk files (removed when done). */
  tmpDir: string;
  chunkRows: number;
  /** Keep only these PMCIDs ('PMC123'). */
  pmcids?: ReadonlySet<string> | undefined;
  signal?: AbortSignal | undefined;
}

/** The parts' version rows sorted by (PMCID number, version) through the external sort. */
export async function* sortedInventoryRows(
  paths: readonly string[],
  columns: readonly string[],
  options: SortedRowsOptions,
  stats?: InventoryReadStats,
): AsyncGenerator<VersionRow[]> {
  const { pmcids } = options;
  const encoded = (async function* () {
    for await (const rows of readInventoryRows(paths, columns, stats)) {
      const lines: string[] = [];
      for (const row of rows) if (!pmcids || pmcids.has(`PMC${row.pmcNum}`)) lines.push(encodeSortLine(row));
      yield lines;
    }
  })();
  for await (const lines of sortLines(encoded, { tmpDir: options.tmpDir, chunkLines: options.chunkRows, signal: options.signal })) {
    yield lines.map(decodeSortLine);
  }
}
