/**
 * The load stage: extract manifest (+ transform labels) → a dataset folder of WebDataset shards per
 * license group, a Parquet index and article table per group, a dataset card and a manifest.
 *
 *   1. preflight   check the extract manifest (schema, version) and each unit's files (sha256)
 *   2. plan        every sample, its shard and byte offset; staged as JSONL (plan.ts)
 *   3. index       duplicate-key check, then index/ and articles/ Parquet with DuckDB
 *   4. shards      one tar per planned shard, skipped when its stats marker says it is current
 *   5. finish      remove stale shards, write failures, summary, card, and manifest.json last
 *
 * The shard is the unit of work and of resume: written to a temporary name and renamed, then its
 * stats file (the done marker) is written. A rerun re-plans (cheap: no image is read) and rewrites
 * only the shards whose marker does not match their planned input hash.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { InterruptedError, ManifestError, UsageError } from '../../errors.js';
import { EXTRACT_SCHEMA, EXTRACT_VERSION, ExtractManifest, extractPaths } from '../../manifest/extract-manifest.js';
import { readJsonIfExists, readJsonl, sha256File, writeFileAtomic, writeJsonAtomic } from '../../manifest/io.js';
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
  snapshotDate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});
export type LoadOptions = z.infer<typeof LoadOptions>;

/** Bumped when the tar member layout changes, so old shards are not taken for current ones. */
const TAR_FORMAT = 'biomedica.load.tar/1';
/** Hub limit: fewer than 10,000 files per folder; group folders hold shards only. */
const MAX_SHARDS_PER_GROUP = 9_999;
const PREFETCH = 8;

export async function runLoad(
  options: LoadOptions,
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>,
): Promise<LoadSummary> {
  const started = Date.now();
  const outDir = resolve(options.outDir);
  const datasetDir = resolve(options.datasetDir ?? join(outDir, 'dataset'));
  const paths = loadPaths(datasetDir);
  const extract = extractPaths(outDir);

  const { manifest: extractManifest, sha256: extractSha256 } = await readExtractManifest(extract.manifest);
  const transform = transformPaths(outDir);
  const transformSha256 = await sha256File(transform.manifest).catch(() => '');
  const snapshotDate = options.snapshotDate ?? extractManifest.source.snapshotDate;
  const mtime = mtimeFor(snapshotDate);
  const layout = options.denormalized ? 'denormalized' : 'normalized';

  await mkdir(datasetDir, { recursive: true });
  // A dataset without its manifest is unfinished: nobody may take a half-rewritten one for done.
  await rm(paths.manifest, { force: true });
  await rm(paths.work, { recursive: true, force: true });
  await mkdir(paths.work, { recursive: true });

  ctx.log.info({ outDir, datasetDir, units: extractManifest.units.length, labels: transformSha256 !== '' }, 'load planning');
  const plan = await planLoad({
    outDir,
    manifest: extractManifest,
    workDir: paths.work,
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
  const planned = Date.now();
  ctx.log.info(
    { samples: groups.reduce((a, g) => a + g.samples, 0), shards: groups.reduce((a, g) => a + g.shards.length, 0), ms: planned - started },
    'load planned',
  );
  for (const g of groups) {
    if (g.shards.length > MAX_SHARDS_PER_GROUP) {
      throw new UsageError('TOO_MANY_SHARDS', `${g.group} would need ${g.shards.length} shards; a folder holds at most ${MAX_SHARDS_PER_GROUP}`, {
        hint: 'raise --shard-max-bytes / --shard-max-samples',
      });
    }
  }

  const tables = await withDuckDb(async (conn) => {
    const dupes = await duplicateKeys(conn, groups.map((g) => g.indexStaging), IndexRow);
    if (dupes.length > 0) {
      throw new ManifestError('DUPLICATE_KEY', `sample keys occur more than once: ${dupes.join(', ')}`, {
        keys: dupes,
        hint: 'two extract records share an image key; rerun biomedica extract',
      });
    }
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
  ctx.log.info({ ms: tabled - planned }, 'index and article tables written');
  const totalSamples = groups.reduce((a, g) => a + g.samples, 0);
  ctx.progress.start(totalSamples, 'load');
  const written: { shardsWritten: number; shardsReused: number } = { shardsWritten: 0, shardsReused: 0 };
  const shardResults = new Map<LicenseGroup, { shard: string; samples: number; bytes: number; sha256: string }[]>();
  try {
    for (const g of groups) {
      shardResults.set(g.group, await writeGroup(g, { datasetDir, extractRoot: extract.root, mtime, ctx, written }));
    }
  } finally {
    ctx.progress.stop();
  }
  const sharded = Date.now();

  await removeStale(datasetDir, plan.groups);
  await rename(plan.failuresStaging, paths.failures);

  const summary = datasetSummary(plan, extractManifest, layout, snapshotDate);
  await writeJsonAtomic(paths.summary, summary);

  const manifest: LoadManifest = {
    schema: LOAD_SCHEMA,
    version: LOAD_VERSION,
    layout,
    snapshotDate,
    options: {
      shardMaxBytes: options.shardMaxBytes,
      shardMaxSamples: options.shardMaxSamples,
      includeSubArticles: options.includeSubArticles,
    },
    upstream: { kind: 'extract', manifestSha256: extractSha256, transformSha256 },
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
  await rm(paths.work, { recursive: true, force: true });
  await writeJsonAtomic(paths.manifest, manifest);

  const result: LoadSummary = {
    ...summary,
    datasetDir,
    manifest: paths.manifest,
    run: { ...written, ms: Date.now() - started, planMs: planned - started, tablesMs: tabled - planned, shardsMs: sharded - tabled },
  };
  ctx.log.info({ datasetDir, samples: result.samples, shards: result.shards, ...written, ms: result.run.ms }, 'load finished');
  return result;
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
}

async function writeGroup(g: GroupPlan, w: WriteContext) {
  const paths = loadPaths(w.datasetDir);
  await mkdir(paths.groupDir(g.group), { recursive: true });
  await mkdir(paths.statsDir(g.group), { recursive: true });
  const lines = readJsonl<TarLine>(g.tarStaging)[Symbol.asyncIterator]();
  let next = await lines.next();
  async function* linesOf(n: number): AsyncGenerator<TarLine> {
    while (!next.done && next.value.shard === n) {
      const line = next.value;
      next = await lines.next();
      yield line;
    }
  }

  const results: { shard: string; samples: number; bytes: number; sha256: string }[] = [];
  for (const shard of g.shards) {
    if (w.ctx.signal.aborted) {
      throw new InterruptedError('INTERRUPTED', `stopped before ${paths.shardRel(g.group, shard.n)}`, {
        hint: 'rerun the same command: finished shards are kept and the run resumes',
      });
    }
    const rel = paths.shardRel(g.group, shard.n);
    const tarPath = paths.shard(g.group, shard.n);
    const statsPath = paths.shardStats(g.group, shard.n);
    const current = await currentMarker(statsPath, tarPath, shard);
    if (current) {
      for await (const _ of linesOf(shard.n)) w.ctx.progress.tick(1);
      w.written.shardsReused++;
      results.push({ shard: rel, samples: current.samples, bytes: current.bytes, sha256: current.sha256 });
      continue;
    }
    await rm(statsPath, { force: true });
    const t0 = Date.now();
    const out = await writeShard(tarPath, membersOf(linesOf(shard.n), w), w.mtime, w.ctx.signal);
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
    results.push({ shard: rel, samples: shard.samples, bytes: out.bytes, sha256: out.sha256 });
  }
  return results;
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
