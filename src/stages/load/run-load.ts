/**
 * The load stage: extract manifest (+ transform labels) → a dataset folder of WebDataset shards per
 * license group, a Parquet index and article table per group, a dataset card and a manifest.
 *
 *   1. preflight   check the extract manifest (schema, version) and each unit's files (sha256)
 *   2. plan        every sample, its shard and byte offset; staged as JSONL (plan.ts); duplicate keys
 *   3. shards      one tar per planned shard, skipped when its stats marker says it is current
 *   4. finish      once every shard's marker is current: index/ and articles/ Parquet with DuckDB,
 *                  remove stale shards, write failures, summary, card, and manifest.json last
 *
 * The shard is the unit of work and of resume: written to a temporary name and renamed, then its
 * stats file (the done marker) is written. A rerun re-plans (cheap: no image is read) and rewrites
 * only the shards whose marker does not match their planned input hash.
 *
 * The plan fixes every shard before any is written, so shards also split over workers (processes or
 * machines sharing the dataset folder): each plans on its own into <dataset>/.work-<i>-of-<n>/ and
 * writes its share of the shards; the one that finds every marker current and takes the finalize
 * lock (in the run folder) does step 4. Only step 4 touches files that are not a worker's own.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { CalendarDay } from '../../config/schema.js';
import { InterruptedError, ManifestError, UsageError } from '../../errors.js';
import { EXTRACT_SCHEMA, EXTRACT_VERSION, ExtractManifest, extractPaths } from '../../manifest/extract-manifest.js';
import { readJsonIfExists, sha256File, stableStringify, writeFileAtomic, writeJsonAtomic } from '../../manifest/io.js';
import {
  ArticleRow,
  IndexRow,
  LICENSE_GROUPS,
  LOAD_SCHEMA,
  LOAD_VERSION,
  ShardStats,
  loadPaths,
  type LicenseGroup,
  type LoadManifest,
} from '../../manifest/load-manifest.js';
import { transformPaths } from '../../manifest/transform-records.js';
import type { StageContext } from '../../pipeline/context.js';
import { renderCard } from './card.js';
import { duplicateKeys, jsonlToParquet, withDuckDb } from './parquet.js';
import { planLoad, type GroupPlan, type Plan, type PlannedShard, type TarLine } from './plan.js';
import type { DatasetSummary, LoadSummary } from './summary.js';
import { mtimeFor, writeShard, type TarMember } from './tar.js';

export { formatLoadSummary, type LoadSummary, type DatasetSummary } from './summary.js';

export const LoadOptions = z.object({
  /** The run folder: holds extract/ and, once transform has run, transform/. */
  outDir: z.string().min(1),
  /** Where the dataset goes; default <outDir>/dataset. */
  datasetDir: z.string().min(1).optional(),
  /** Shards are cut before they pass this size (default 1 GB, what the Hub and webdataset like). */
  shardMaxBytes: z.coerce.number().int().min(4096).default(1_000_000_000),
  /** ... or this many samples, whichever comes first. */
  shardMaxSamples: z.coerce.number().int().min(1).default(10_000),
  /** BIOMEDICA's layout: article_text, image_set and article_reference_list repeated in every sample. */
  denormalized: z.boolean().default(false),
  /**
   * Figures inside <sub-article> (author responses, decision letters, translations) are kept by
   * default: BIOMEDICA's parser took every <fig> of the XML; figure_sub_article_id marks them.
   */
  includeSubArticles: z.boolean().default(true),
  /** Overrides the snapshot date the extract manifest records ('YYYY-MM-DD'). */
  snapshotDate: CalendarDay.optional(),
  /**
   * Worker `index` of `count` (0-based) writes the shards whose ordinal over the whole plan (groups
   * in order, then shard number) ≡ index (mod count); the other workers share the dataset folder
   * (a shared file system). Each plans for itself (the plan is deterministic); whoever finds every
   * shard written writes the tables, card and manifest. A plain load (no worker) always does, and
   * writes whatever shards a lost worker left.
   */
  /**
   * Shards written at once. Image reads, hashing and writes of one shard leave the CPU idle part of
   * the time; a second one fills it (2 cores: 1 → 2 is +15% shard MB/s, scripts/bench/load.ts).
   */
  shardConcurrency: z.coerce.number().int().min(1).max(64).default(2),
  worker: z
    .object({ index: z.number().int().min(0), count: z.number().int().min(1) })
    .refine((w) => w.index < w.count, 'worker index must be below the worker count')
    .optional(),
});
export type LoadOptions = z.infer<typeof LoadOptions>;

/** Bumped when the tar member layout changes, so old shards are not taken for current ones. */
const TAR_FORMAT = 'biomedica.load.tar/1';
/** Hub limit: fewer than 10,000 files per folder; group folders hold shards only. */
const MAX_SHARDS_PER_GROUP = 9_999;
const PREFETCH = 8;
/** Staging folders of workers in the dataset folder: each its own, so none wipes another's. */
const WORKER_WORK = /^\.work-\d+-of-\d+$/;

export async function runLoad(
  options: LoadOptions,
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>,
): Promise<LoadSummary> {
  const started = Date.now();
  const outDir = resolve(options.outDir);
  const datasetDir = resolve(options.datasetDir ?? join(outDir, 'dataset'));
  const paths = loadPaths(datasetDir);
  const extract = extractPaths(outDir);
  const worker = options.worker;
  const workDir = worker ? join(datasetDir, `.work-${worker.index}-of-${worker.count}`) : paths.work;

  const { manifest: extractManifest, sha256: extractSha256 } = await readExtractManifest(extract.manifest);
  const transform = transformPaths(outDir);
  const transformSha256 = await sha256File(transform.manifest).catch(() => '');
  const snapshotDate = options.snapshotDate ?? extractManifest.source.snapshotDate;
  const mtime = mtimeFor(snapshotDate);
  const layout = options.denormalized ? 'denormalized' : 'normalized';

  await mkdir(datasetDir, { recursive: true });
  // A dataset without its manifest is unfinished: nobody may take a half-rewritten one for done.
  // A worker removes it only once it is about to change a shard (below): a worker that starts after
  // another one finished must not take the finished dataset's manifest away.
  if (!worker) await rm(paths.manifest, { force: true });
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });

  ctx.log.info({ outDir, datasetDir, worker, units: extractManifest.units.length, labels: transformSha256 !== '' }, 'load planning');
  const plan = await planLoad({
    outDir,
    manifest: extractManifest,
    workDir,
    layout,
    includeSubArticles: options.includeSubArticles,
    shardMaxBytes: options.shardMaxBytes,
    shardMaxSamples: options.shardMaxSamples,
    tarTag: `${TAR_FORMAT} mtime=${mtime.getTime()}`,
    withLabels: transformSha256 !== '',
    signal: ctx.signal,
    log: ctx.log,
  });
  const groups = plan.groups.filter((g) => g.samples > 0);
  for (const g of groups) {
    if (g.shards.length > MAX_SHARDS_PER_GROUP) {
      throw new UsageError('TOO_MANY_SHARDS', `${g.group} would need ${g.shards.length} shards; a folder holds at most ${MAX_SHARDS_PER_GROUP}`, {
        hint: 'raise --shard-max-bytes / --shard-max-samples',
      });
    }
  }
  await withDuckDb(async (conn) => {
    const dupes = await duplicateKeys(conn, groups.map((g) => g.indexStaging), IndexRow);
    if (dupes.length > 0) {
      throw new ManifestError('DUPLICATE_KEY', `sample keys occur more than once: ${dupes.join(', ')}`, {
        keys: dupes,
        hint: 'two extract records share an image key; rerun biomedica extract',
      });
    }
  });
  const planned = Date.now();
  const all = groups.flatMap((g) => g.shards.map((shard) => ({ g, shard })));
  const mine = all.filter((_, ordinal) => !worker || ordinal % worker.count === worker.index);
  ctx.log.info(
    { samples: groups.reduce((a, g) => a + g.samples, 0), shards: all.length, mine: mine.length, ms: planned - started },
    'load planned',
  );

  const upstream: LoadManifest['upstream'] = { kind: 'extract', manifestSha256: extractSha256, transformSha256 };
  const manifestOptions: LoadManifest['options'] = {
    shardMaxBytes: options.shardMaxBytes,
    shardMaxSamples: options.shardMaxSamples,
    includeSubArticles: options.includeSubArticles,
  };
  const lock = finalizeLockPath(outDir, datasetDir, { upstream, manifestOptions, layout, snapshotDate, groups });
  let changing: Promise<void> | undefined;
  const w: WriteContext = {
    datasetDir,
    extractRoot: extract.root,
    mtime,
    ctx,
    written: { shardsWritten: 0, shardsReused: 0 },
    // Once per run, and every lane waits for it: no shard of this run lands beside the old manifest.
    beforeChange: () =>
      (changing ??= (async () => {
        await rm(paths.manifest, { force: true });
        // This plan's finalizer may have run before (and a shard was lost since): let the next one run.
        if (worker) await rm(lock, { force: true });
      })()),
  };
  ctx.progress.start(mine.reduce((a, m) => a + m.shard.samples, 0), 'load');
  try {
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lane = async () => {
      while (!failure && next < mine.length) {
        const { g, shard } = mine[next++]!;
        try {
          await writeOne(g, shard, w);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.shardConcurrency, mine.length) }, lane));
    if (failure) throw failure.error;
  } finally {
    ctx.progress.stop();
  }
  const sharded = Date.now();

  // The manifest covers every shard, whoever wrote it: read all markers back.
  const shardResults = new Map<LicenseGroup, { shard: string; samples: number; bytes: number; sha256: string }[]>();
  let shardsPending = 0;
  for (const g of groups) {
    const results: { shard: string; samples: number; bytes: number; sha256: string }[] = [];
    for (const shard of g.shards) {
      const marker = await currentMarker(paths.shardStats(g.group, shard.n), paths.shard(g.group, shard.n), shard);
      if (marker) results.push({ shard: paths.shardRel(g.group, shard.n), samples: marker.samples, bytes: marker.bytes, sha256: marker.sha256 });
      else shardsPending++;
    }
    shardResults.set(g.group, results);
  }
  const summary = datasetSummary(plan, extractManifest, layout, snapshotDate);
  const partial = async (pending: number): Promise<LoadSummary> => {
    await rm(workDir, { recursive: true, force: true });
    const ms = Date.now() - started;
    return {
      ...summary,
      datasetDir,
      manifest: '',
      shardsPending: pending,
      complete: false,
      run: { ...w.written, ...(worker ? { worker } : {}), ms, planMs: planned - started, shardsMs: sharded - planned, tablesMs: 0 },
    };
  };
  if (shardsPending > 0) {
    if (!worker) {
      throw new ManifestError('DATASET_CHANGED', `${shardsPending} shards changed or vanished while this load ran`, {
        datasetDir,
        hint: 'another process writes this dataset folder: let it finish (or stop it), then rerun biomedica load',
      });
    }
    ctx.log.info({ worker, shardsPending, ...w.written }, 'shards left for other workers');
    return partial(shardsPending);
  }
  // Workers finishing together must not all finalize: the first to create the lock does; a plain
  // load always may. The lock lies outside the dataset folder, which stays byte-identical.
  if (worker && !(await takeFinalizeLock(lock))) {
    ctx.log.info({ worker }, 'every shard is written; another worker finalizes');
    return partial(0);
  }

  // Tables and the card change under an existing manifest too (say, only article texts changed).
  await rm(paths.manifest, { force: true });
  const tables = await withDuckDb(async (conn) => {
    await mkdir(join(datasetDir, 'index'), { recursive: true });
    await mkdir(join(datasetDir, 'articles'), { recursive: true });
    const out = new Map<LicenseGroup, { index: Awaited<ReturnType<typeof jsonlToParquet>>; articles: Awaited<ReturnType<typeof jsonlToParquet>> }>();
    for (const g of groups) {
      const index = await jsonlToParquet(conn, g.indexStaging, join(datasetDir, paths.indexRel(g.group)), IndexRow);
      const articles = await jsonlToParquet(conn, g.articlesStaging, join(datasetDir, paths.articlesRel(g.group)), ArticleRow);
      out.set(g.group, { index, articles });
    }
    return out;
  });
  const tabled = Date.now();
  ctx.log.info({ ms: tabled - sharded }, 'index and article tables written');

  await removeStale(datasetDir, plan.groups);
  await rename(plan.failuresStaging, paths.failures);
  await writeJsonAtomic(paths.summary, summary);

  const manifest: LoadManifest = {
    schema: LOAD_SCHEMA,
    version: LOAD_VERSION,
    layout,
    snapshotDate,
    options: manifestOptions,
    upstream,
    groups: groups.map((g) => {
      const shards = shardResults.get(g.group)!;
      const t = tables.get(g.group)!;
      return {
        group: g.group,
        samples: g.samples,
        articles: g.articles,
        bytes: shards.reduce((a, s) => a + s.bytes, 0),
        shards,
        index: { file: paths.indexRel(g.group), ...t.index },
        articlesTable: { file: paths.articlesRel(g.group), ...t.articles },
      };
    }),
    totals: {
      samples: summary.samples,
      articles: summary.articles,
      shards: summary.shards,
      bytes: summary.bytes,
    },
  };
  await writeFileAtomic(paths.card, renderCard(manifest, summary));
  await rm(workDir, { recursive: true, force: true });
  if (!worker) {
    // A plain load owns the folder (no worker may run beside it): what lost workers staged goes too.
    for (const name of await readdir(datasetDir)) {
      if (WORKER_WORK.test(name)) await rm(join(datasetDir, name), { recursive: true, force: true });
    }
  }
  await writeJsonAtomic(paths.manifest, manifest);

  const result: LoadSummary = {
    ...summary,
    datasetDir,
    manifest: paths.manifest,
    shardsPending: 0,
    complete: true,
    run: { ...w.written, ...(worker ? { worker } : {}), ms: Date.now() - started, planMs: planned - started, shardsMs: sharded - planned, tablesMs: tabled - sharded },
  };
  ctx.log.info({ datasetDir, worker, samples: result.samples, shards: result.shards, ...w.written, ms: result.run.ms }, 'load finished');
  return result;
}

/**
 * One lock per dataset folder and plan, in the run folder: outside the dataset, and named after
 * what the manifest will record, so a later round of workers over a changed extract gets a fresh
 * one. The dataset folder is named by its path relative to the run folder, which is the same on
 * every machine that mounts the share the same way.
 */
function finalizeLockPath(
  outDir: string,
  datasetDir: string,
  inputs: { upstream: unknown; manifestOptions: unknown; layout: string; snapshotDate: string; groups: GroupPlan[] },
): string {
  const key = createHash('sha256')
    .update(
      stableStringify({
        dataset: relative(outDir, datasetDir),
        upstream: inputs.upstream,
        options: inputs.manifestOptions,
        layout: inputs.layout,
        snapshotDate: inputs.snapshotDate,
        shards: inputs.groups.map((g) => [g.group, g.shards.map((s) => s.inputSha256)]),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return join(outDir, `.load-finalize-${key}.lock`);
}

async function takeFinalizeLock(path: string): Promise<boolean> {
  try {
    await (await open(path, 'wx')).close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function readExtractManifest(path: string): Promise<{ manifest: ExtractManifest; sha256: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ManifestError('MANIFEST_MISSING', `no extract manifest at ${path}`, {
      path,
      hint: 'run biomedica extract first (an unfinished extract has no manifest yet: rerun it to finish)',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError('MANIFEST_INVALID', `the extract manifest at ${path} is not JSON`, { path, cause, hint: 'rerun biomedica extract' });
  }
  const head = raw as { schema?: unknown; version?: unknown };
  if (head?.schema !== EXTRACT_SCHEMA || head.version !== EXTRACT_VERSION) {
    throw new ManifestError(
      'MANIFEST_VERSION',
      `expected ${EXTRACT_SCHEMA} v${EXTRACT_VERSION}, got ${String(head?.schema)} v${String(head?.version)}`,
      { path, hint: 'run biomedica extract first, with this version of biomedica' },
    );
  }
  const parsed = ExtractManifest.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestError('MANIFEST_INVALID', `the extract manifest at ${path} does not match its schema`, {
      path,
      issues: parsed.error.issues,
      hint: 'rerun biomedica extract',
    });
  }
  return { manifest: parsed.data, sha256: createHash('sha256').update(text).digest('hex') };
}

interface WriteContext {
  datasetDir: string;
  extractRoot: string;
  mtime: Date;
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>;
  written: { shardsWritten: number; shardsReused: number };
  /** Called before the first shard this run rewrites. */
  beforeChange: () => Promise<void>;
}

async function writeOne(g: GroupPlan, shard: PlannedShard, w: WriteContext): Promise<void> {
  const paths = loadPaths(w.datasetDir);
  const rel = paths.shardRel(g.group, shard.n);
  if (w.ctx.signal.aborted) {
    throw new InterruptedError('INTERRUPTED', `stopped before ${rel}`, {
      hint: 'rerun the same command: finished shards are kept and the run resumes',
    });
  }
  const tarPath = paths.shard(g.group, shard.n);
  const statsPath = paths.shardStats(g.group, shard.n);
  if (await currentMarker(statsPath, tarPath, shard)) {
    w.ctx.progress.tick(shard.samples);
    w.written.shardsReused++;
    return;
  }
  await w.beforeChange();
  await mkdir(paths.groupDir(g.group), { recursive: true });
  await mkdir(paths.statsDir(g.group), { recursive: true });
  await rm(statsPath, { force: true });
  const t0 = Date.now();
  const out = await writeShard(tarPath, membersOf(tarLines(g.tarStaging, shard), w), w.mtime, w.ctx.signal);
  if (out.bytes !== shard.bytes) {
    throw new Error(`${rel}: wrote ${out.bytes} bytes where the plan computed ${shard.bytes}; the offsets in the index would be wrong`);
  }
  const marker: ShardStats = {
    schema: 'biomedica.load.shard',
    version: LOAD_VERSION,
    group: g.group,
    shard: rel,
    inputSha256: shard.inputSha256,
    sha256: out.sha256,
    bytes: out.bytes,
    samples: shard.samples,
    articles: shard.articles,
    imageBytes: shard.imageBytes,
    firstKey: shard.firstKey,
    lastKey: shard.lastKey,
    byPanelType: shard.byPanelType,
  };
  await writeJsonAtomic(statsPath, marker);
  w.written.shardsWritten++;
  w.ctx.log.info({ shard: rel, samples: shard.samples, bytes: out.bytes, ms: Date.now() - t0 }, 'shard written');
}

/** The shard's own lines of the group's tar staging file: a worker reads none of the others. */
async function* tarLines(staging: string, shard: PlannedShard): AsyncGenerator<TarLine> {
  if (shard.staging.end <= shard.staging.start) return;
  const input = createReadStream(staging, { start: shard.staging.start, end: shard.staging.end - 1, highWaterMark: 1 << 20 });
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.length === 0) continue;
    const parsed = JSON.parse(line) as TarLine;
    if (parsed.shard !== shard.n) throw new Error(`tar staging ${staging}: line for shard ${parsed.shard} in the range of shard ${shard.n}`);
    yield parsed;
  }
}

/** The stats marker of a shard that is already written from exactly these inputs, if there is one. */
async function currentMarker(statsPath: string, tarPath: string, shard: PlannedShard): Promise<ShardStats | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists(statsPath);
  } catch {
    return undefined;
  }
  const marker = ShardStats.safeParse(raw);
  if (!marker.success || marker.data.inputSha256 !== shard.inputSha256 || marker.data.bytes !== shard.bytes) return undefined;
  const size = await stat(tarPath).then((s) => s.size, () => -1);
  return size === marker.data.bytes ? marker.data : undefined;
}

/** Tar members of the planned samples; image reads run a few samples ahead of the writer. */
async function* membersOf(lines: AsyncIterable<TarLine>, w: WriteContext): AsyncGenerator<TarMember> {
  const queue: { line: TarLine; data: Promise<Buffer> }[] = [];
  const emit = async function* (item: { line: TarLine; data: Promise<Buffer> }): AsyncGenerator<TarMember> {
    const { line } = item;
    const data = await item.data.catch((cause) => {
      throw new ManifestError('MANIFEST_MISMATCH', `stored image ${line.file} cannot be read`, { cause, hint: 'rerun biomedica extract' });
    });
    if (data.length !== line.bytes || createHash('sha256').update(data).digest('hex') !== line.sha256) {
      throw new ManifestError('MANIFEST_MISMATCH', `stored image ${line.file} does not match its extract record`, {
        key: line.key,
        hint: 'the extract folder changed after extract finished: rerun biomedica extract',
      });
    }
    yield { name: `${line.key}.jpg`, data };
    yield { name: `${line.key}.json`, data: Buffer.from(line.json) };
    yield { name: `${line.key}.txt`, data: Buffer.from(line.txt) };
    w.ctx.progress.tick(1);
  };
  for await (const line of lines) {
    const data = readFile(join(w.extractRoot, line.file));
    // Rejections are handled when the item reaches the writer; this keeps Node from flagging them early.
    data.catch(() => {});
    queue.push({ line, data });
    if (queue.length >= PREFETCH) yield* emit(queue.shift()!);
  }
  while (queue.length > 0) yield* emit(queue.shift()!);
}

/** Shards, markers and tables of an earlier run that this plan no longer has. Only our own names are touched. */
async function removeStale(datasetDir: string, groups: GroupPlan[]): Promise<void> {
  const paths = loadPaths(datasetDir);
  for (const group of LICENSE_GROUPS) {
    const count = groups.find((g) => g.group === group && g.samples > 0)?.shards.length ?? 0;
    const sweep = async (dir: string, pattern: RegExp) => {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const m = pattern.exec(name);
        if (!m) continue;
        if (m[1] === undefined || Number(m[1]) >= count) await rm(join(dir, name), { force: true });
      }
      await rmdir(dir).catch(() => {});
    };
    await sweep(paths.groupDir(group), /^(?:(\d{6})\.tar|\.\d{6}\.tar\.tmp)$/);
    await sweep(paths.statsDir(group), /^(?:(\d{6})\.json|\.\d{6}\.json\.[0-9a-f]+\.tmp)$/);
    if (count === 0) {
      await rm(join(datasetDir, paths.indexRel(group)), { force: true });
      await rm(join(datasetDir, paths.articlesRel(group)), { force: true });
    }
  }
}

function datasetSummary(plan: Plan, extract: ExtractManifest, layout: DatasetSummary['layout'], snapshotDate: string): DatasetSummary {
  const groups = LICENSE_GROUPS.map((group) => {
    const g = plan.groups.find((x) => x.group === group);
    const samples = g?.samples ?? 0;
    return {
      group,
      samples,
      articles: samples > 0 ? g!.articles : 0,
      shards: samples > 0 ? g!.shards.length : 0,
      bytes: samples > 0 ? g!.shards.reduce((a, s) => a + s.bytes, 0) : 0,
    };
  });
  const sum = (k: 'samples' | 'articles' | 'shards' | 'bytes') => groups.reduce((a, g) => a + g[k], 0);
  return {
    scope: { source: extract.source, ...(extract.selection ? { selection: extract.selection } : {}) },
    layout,
    snapshotDate,
    samples: sum('samples'),
    articles: sum('articles'),
    shards: sum('shards'),
    bytes: sum('bytes'),
    groups,
    labelled: plan.labelled,
    unlabelled: plan.unlabelled,
    byPanelType: plan.byPanelType,
    leftOut: plan.leftOut,
    filteredByReason: plan.filteredByReason,
    failures: { extract: extract.totals.failuresByCode, load: plan.failuresByCode },
  };
}
