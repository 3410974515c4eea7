/**
 * Bench: one night's incremental sync over a synthetic inventory the size of the real one.
 *
 *   npx tsx scripts/bench/inventory.ts [--rows 8000000] [--runs 3] [--chunk 500000] [--dir <scratch>]
 *
 * Generates (once, reused by later runs) five gzip'd CSV parts in S3 Inventory's format and key
 * order (lexicographic, like the real bucket), and the previous night's state file (sorted by
 * PMCID number) with the same versions minus the night's changes: 0.1% of articles removed, 0.5%
 * with a changed ETag, 0.2% with a new version, 0.4% new articles. Then runs the real sync planner
 * (src/stages/extract/sync-planner.ts: external sort, streaming merge, group resolution, new state, plan units,
 * tombstones) in a child process per run and reports its wall time and peak RSS (maxRSS). Only the
 * network is left out: the parts are read from disk and the metadata of changed versions comes
 * from a stub, so this measures the diff, not the bucket (scripts/bench/cloud-metadata.ts does).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { silentLogger } from '../../src/log/logger.js';
import { sha256, writeJsonAtomic } from '../../src/storage/files.js';
import type { CloudSource } from '../../src/sources/cloud/index.js';
import { parseInventoryManifest, sortedInventoryRows, type InventorySnapshot } from '../../src/sources/cloud/inventory.js';
import { parseVersionMetadata } from '../../src/sources/cloud/metadata.js';
import { resolveGroupStream, type MetadataLookup } from '../../src/sources/cloud/select.js';
import { createSyncPlanner, syncInputHash, type SyncPlan } from '../../src/stages/extract/sync-planner.js';
import { StateWriter } from '../../src/sync/state.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const ROWS = Number(arg('rows', '8000000'));
const RUNS = Number(arg('runs', '3'));
const CHUNK = Number(arg('chunk', '500000'));
const DIR = arg('dir', join(tmpdir(), `biomedica-bench-inventory-${ROWS}`));
const PREV = '2026-08-31T01-00Z';
const NEXT = '2026-09-01T01-00Z';
const UNIT_SIZE = 200;
const PARTS = 5;

const articlesFor = (rows: number) => Math.round(rows / 1.04);
const twoVersions = (n: number) => n % 25 === 0;
const removed = (n: number) => n % 1000 === 7;
const changed = (n: number) => n % 200 === 3;
const newVersion = (n: number) => n % 500 === 11;

/** 32 hex digits that depend on (n, v, generation): an ETag-shaped change detector. */
function etag(n: number, v: number, gen: number): string {
  let out = '';
  let x = (n * 2654435761 + v * 40503 + gen * 97) >>> 0;
  for (let i = 0; i < 4; i++) {
    x = Math.imul(x ^ (x >>> 15), 2246822507) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 3266489909) >>> 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out;
}

/** 1..max in the order of their decimal strings, which is S3's key order for metadata/PMC<n>.json. */
function* lexicographic(max: number): Generator<number> {
  let n = 1;
  for (let i = 0; i < max; i++) {
    yield n;
    if (n * 10 <= max) n *= 10;
    else {
      while (n % 10 === 9 || n + 1 > max) n = Math.floor(n / 10);
      n++;
    }
  }
}

class GzText {
  private readonly gzip = createGzip({ level: 1 });
  private readonly out;
  private buffer = '';
  constructor(path: string) {
    this.out = createWriteStream(path);
    this.gzip.pipe(this.out);
  }
  async write(text: string): Promise<void> {
    this.buffer += text;
    if (this.buffer.length > 1 << 20) {
      const chunk = this.buffer;
      this.buffer = '';
      if (!this.gzip.write(chunk)) await once(this.gzip, 'drain');
    }
  }
  async end(): Promise<void> {
    this.gzip.end(this.buffer);
    await once(this.out, 'finish');
  }
}

function fakeSource(snapshot: InventorySnapshot, paths: string[], outDir: string, lookup: MetadataLookup): CloudSource {
  const unused = () => {
    throw new Error('not used by the planner');
  };
  return {
    descriptor: { kind: 'cloud', url: 'bench://inventory', snapshotDate: snapshot.date },
    counters: { metadataReads: 0, metadataCacheHits: 0, listings: 0 },
    useInventory: async () => snapshot,
    inventoryRows: (filter, signal, stats) =>
      sortedInventoryRows(paths, snapshot.columns, { tmpDir: join(outDir, 'cache', 'sort'), chunkRows: CHUNK, pmcids: filter.pmcids, signal }, stats),
    resolveGroups: (groups, _filter, o) => resolveGroupStream(groups, { lookup, filter: { openAccessOnly: true }, full: o.full, retry: o.retry }, 128, o.signal),
    list: unused,
    open: unused,
    close: async () => undefined,
  };
}

const stubLookup: MetadataLookup = async (row, key) => {
  const [pmcid, version] = key.split('.');
  const meta = parseVersionMetadata(`{"pmcid": "${pmcid}", "version": ${version}, "is_pmc_openaccess": true, "license_code": "CC BY", "title": "t"}`);
  return { kind: 'ok', meta, revision: row.etag, fromNetwork: true };
};

async function generate(): Promise<void> {
  const marker = join(DIR, 'generated.json');
  if (await stat(marker).then(() => true, () => false)) return;
  await rm(DIR, { recursive: true, force: true });
  await mkdir(join(DIR, 'parts'), { recursive: true });
  const started = Date.now();
  const articles = articlesFor(ROWS);
  const added = Math.round(articles * 0.004);

  // This night's inventory, S3 key order, split into contiguous parts.
  const partFiles = Array.from({ length: PARTS }, (_, i) => join(DIR, 'parts', `part-${i}.csv.gz`));
  const perPart = Math.ceil((articles + added) / PARTS);
  let part = 0;
  let inPart = 0;
  let writer = new GzText(partFiles[0]!);
  let inventoryRows = 0;
  const row = (n: number, v: number, gen: number, date: string) =>
    `"pmc-oa-opendata","metadata/PMC${n}.${v}.json","${date}","${etag(n, v, gen)}"\n`;
  for (const n of lexicographic(articles + added)) {
    if (inPart >= perPart && part < PARTS - 1) {
      await writer.end();
      writer = new GzText(partFiles[++part]!);
      inPart = 0;
    }
    inPart++;
    if (n > articles) {
      await writer.write(row(n, 1, 0, '2026-08-31T20:00:00.000Z'));
      inventoryRows++;
      continue;
    }
    if (removed(n)) continue;
    const gen = changed(n) ? 1 : 0;
    const date = gen ? '2026-08-31T18:00:00.000Z' : '2026-07-01T10:00:00.000Z';
    await writer.write(row(n, 1, twoVersions(n) ? 0 : gen, date));
    inventoryRows++;
    if (twoVersions(n)) {
      await writer.write(row(n, 2, gen, date));
      inventoryRows++;
    }
    if (newVersion(n)) {
      await writer.write(row(n, 3, 0, '2026-08-31T19:00:00.000Z'));
      inventoryRows++;
    }
  }
  await writer.end();

  // The previous night's state, in PMCID-number order.
  const stateDir = join(DIR, 'out', 'extract', 'state');
  const state = await StateWriter.create(join(stateDir, `versions-${PREV}.jsonl.gz`));
  let articleIndex = 0;
  for (let n = 1; n <= articles; n++) {
    if (n % 4096 === 0) await state.flush();
    const unit = () => `u${String(Math.floor(articleIndex++ / UNIT_SIZE)).padStart(6, '0')}`;
    const base = { lastModified: '2026-07-01T10:00:00.000Z', reason: '' };
    if (twoVersions(n)) {
      await state.add({ ...base, key: `PMC${n}.1`, etag: etag(n, 1, 0), oa: null, status: 'superseded', articleId: '', unit: '' });
      await state.add({ ...base, key: `PMC${n}.2`, etag: etag(n, 2, 0), oa: true, status: 'extracted', articleId: `PMC${n}_2`, unit: unit() });
    } else if (n % 20 === 0) {
      await state.add({ ...base, key: `PMC${n}.1`, etag: etag(n, 1, 0), oa: false, status: 'not-open-access', articleId: '', unit: '' });
    } else {
      await state.add({ ...base, key: `PMC${n}.1`, etag: etag(n, 1, 0), oa: true, status: 'extracted', articleId: `PMC${n}_1`, unit: unit() });
    }
  }
  const stateInfo = await state.finish();

  const files = [];
  for (const f of partFiles) files.push({ key: f, size: (await stat(f)).size, MD5checksum: '' });
  const manifest = { sourceBucket: 'pmc-oa-opendata', fileFormat: 'CSV', fileSchema: 'Bucket, Key, LastModifiedDate, ETag', files };
  await writeFile(join(DIR, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const snapshot = parseInventoryManifest(JSON.stringify(manifest), NEXT, 'manifest.json');
  const source = fakeSource(snapshot, partFiles, join(DIR, 'out'), stubLookup);
  const emptyTombstones = '';
  const plan: SyncPlan = {
    schema: 'biomedica.extract.plan',
    version: 1,
    inputSha256: syncInputHash(source, {}, UNIT_SIZE),
    source: { kind: 'cloud', url: 'bench://inventory', snapshotDate: '2026-08-31T01:00:00Z' },
    units: [],
    articles: 0,
    skipped: {},
    epochs: [
      {
        id: 0, snapshotDate: '2026-08-31T01:00:00Z', inventory: PREV, firstUnit: 0, units: 0, articles: 0, skipped: {}, fullListing: true,
        fullListingReason: 'bench', groups: { total: 0, unchanged: 0, deferred: 0 }, metadataReads: 0, tombstones: {},
        tombstonesFile: 'e000000.tombstones.jsonl', tombstonesSha256: sha256(emptyTombstones),
        stateFile: `versions-${PREV}.jsonl.gz`, stateSha256: stateInfo.sha256, stateRows: stateInfo.rows,
      },
    ],
  };
  await writeFile(join(DIR, 'plan.epoch0.json'), JSON.stringify(plan));
  await writeFile(marker, JSON.stringify({ rows: ROWS, inventoryRows, stateRows: stateInfo.rows, ms: Date.now() - started }));
  let bytes = 0;
  for (const f of partFiles) bytes += (await stat(f)).size;
  console.error(`generated ${inventoryRows} inventory rows (${(bytes / 1e6).toFixed(0)} MB gz in ${PARTS} parts) and ${stateInfo.rows} state rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** One planner run over the generated night, from a reset out dir. */
async function child(): Promise<void> {
  const outDir = join(DIR, 'out');
  const plan = JSON.parse(await readFile(join(DIR, 'plan.epoch0.json'), 'utf8')) as SyncPlan;
  await rm(join(outDir, 'extract', 'plan'), { recursive: true, force: true });
  await rm(join(outDir, 'extract', 'state', `versions-${NEXT}.jsonl.gz`), { force: true });
  await rm(join(outDir, 'cache'), { recursive: true, force: true });
  await writeJsonAtomic(join(outDir, 'extract', 'plan', 'plan.json'), plan);
  await writeFile(join(outDir, 'extract', 'plan', 'e000000.tombstones.jsonl'), '');
  const manifest = JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')) as { files: { key: string }[] };
  const snapshot = parseInventoryManifest(JSON.stringify(manifest), NEXT, 'manifest.json');
  let lookups = 0;
  const lookup: MetadataLookup = (row, key) => {
    lookups++;
    return stubLookup(row, key);
  };
  const source = fakeSource(snapshot, manifest.files.map((f) => f.key), outDir, lookup);
  const planner = createSyncPlanner(source, { outDir, unitSize: UNIT_SIZE, filter: {}, windowDays: 30 });
  const started = performance.now();
  await planner.plan({ log: silentLogger(), signal: new AbortController().signal });
  const ms = performance.now() - started;
  const s = planner.summary();
  process.stdout.write(
    JSON.stringify({ ms: Math.round(ms), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), groups: s.groups, newArticles: s.newArticles, tombstones: s.tombstones, lookups }) + '\n',
  );
}

async function main(): Promise<void> {
  if (args.includes('--child')) return child();
  await generate();
  const results: { ms: number; maxRssMB: number }[] = [];
  const script = fileURLToPath(import.meta.url);
  for (let i = 0; i < RUNS; i++) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, '--child', '--rows', String(ROWS), '--chunk', String(CHUNK), '--dir', DIR], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (run.status !== 0) throw new Error(`bench child failed with status ${run.status}`);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { ms: number; maxRssMB: number };
    console.error(`run ${i + 1}: ${JSON.stringify(result)}`);
    results.push(result);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ms = median(results.map((r) => r.ms));
  const rss = median(results.map((r) => r.maxRssMB));
  console.error(
    `inventory diff, ${ROWS} rows, chunk ${CHUNK}: ${results.length === 1 ? '1 run' : `median of ${results.length}`}: ${(ms / 1000).toFixed(1)} s (${Math.round(ROWS / (ms / 1000)).toLocaleString('en')} rows/s), peak RSS ${rss} MB`,
  );
  // The last stdout line is the JSON result npm run bench collects.
  console.log(JSON.stringify({ rows: ROWS, chunkRows: CHUNK, runs: results.length, medianMs: ms, rowsPerSecond: Math.round(ROWS / (ms / 1000)), peakRssMB: rss }));
}

await main();
