/**
 * The load stage: extract manifest (+ transform labels) → a dataset folder of WebDataset shards per
 * license group, a Parquet index and article table per group, a dataset card and a manifest.
 *
 *   1. preflight   read the extract manifest (src/manifest/read.ts) and each unit's files (sha256)
 *   2. plan        every sample, its shard and byte offset, staged as JSONL in <dataset>/.work/
 *                  plan-<key>/ (plan.ts); duplicate keys. Written once per set of inputs: workers
 *                  share it (one plans, the others wait: src/pipeline/runner.ts sharedOnce)
 *   3. shards      one tar per planned shard, on the unit runner: a shard is skipped when its
 *                  marker (stats/<group>/NNNNNN.json) is current and the tar matches the size and
 *                  sha256 it records (hashed when the tar was modified since, or always with
 *                  `--check`); a flipped byte in a shard is rewritten by a plain rerun
 *   4. finish      once every shard is current: index/ and articles/ Parquet with DuckDB, stale
 *                  shards removed, failures, summary, card, and manifest.json last
 *
 * The manifest goes only when something it describes is about to change (the first shard
 * rewritten, or a table, card or summary whose bytes differ), so a rerun that changes nothing, even
 * killed halfway, leaves the finished dataset and its manifest alone.
 *
 * Workers (processes or machines sharing the run and dataset folders) write the shards whose
 * ordinal over the plan (groups in order, then shard number) ≡ i (mod n); the one that finds every
 * shard current and takes the finalize lock for this content does step 4. A plain load (no
 * worker) always finalizes and writes whatever shards a lost worker left.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { CalendarDay } from '../../config/schema.js';
import { ManifestError, UsageError } from '../../errors.js';
import { machineDefaults } from '../../config/cores.js';
import { pubmedPaths } from '../../enrich/records.js';
import { ExtractManifest, extractPaths } from '../../manifest/extract-manifest.js';
import {
  ArticleRow,
  IndexRow,
  LICENSE_GROUPS,
  LOAD_PLAN_SCHEMA,
  LOAD_PLAN_VERSION,
  LOAD_SCHEMA,
  LoadPlanFile,
  LOAD_SHARD_STEP,
  LOAD_VERSION,
  ShardStats,
  loadPaths,
  type LicenseGroup,
  type LoadManifest,
} from '../../manifest/load-manifest.js';
import { readManifest } from '../../manifest/read.js';
import { TransformManifest, transformPaths } from '../../manifest/transform-records.js';
import type { StageContext } from '../../pipeline/context.js';
import { describeSubset, subsetSelector, SubsetSpec } from '../../annotations/subset-selector.js';
import { lockDirOf } from '../../pipeline/lock.js';
import { runsDirOf } from '../../pipeline/run-record.js';
import {
  CHECK_MODES,
  WorkerShare,
  finalizeOnce,
  forgetFinalized,
  runUnits,
  sharedOnce,
  type Step,
  type StepIdentity,
  type UnitDone,
  type UnitIO,
  type UnitsReport,
  type WorkUnit,
} from '../../pipeline/runner.js';
import { stage, type PipelineStage } from '../../pipeline/stages.js';
import { cleanupAfter, onOutput, storageFault } from '../../storage/faults.js';
import { ensureDir, pathExists, readJsonIfExists, sha256, sha256File, sha256IfExists, stableStringify, writeIfChanged, writeJsonAtomic, writeJsonIfChanged } from '../../storage/files.js';
import { renderCard } from './card.js';
import { duplicateKeys, jsonlToParquet, withDuckDb } from './parquet.js';
import { planFromJson, planLoad, planToJson, type GroupPlan, type Plan, type PlanInput, type PlannedShard, type TarLine } from './plan.js';
import { formatLoadSummary, type ClusteringSummary, type DatasetSummary, type LoadSummary } from './summary.js';
import { shardStep } from './shard-step.js';
import { mtimeFor } from './tar.js';
import { StoredImages } from '../../manifest/image-store.js';
import { writeTar, type TarMember } from '../../storage/tar.js';

export { shardStep } from './shard-step.js';

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
   * Shards written at once. Image reads, hashing and writes of one shard leave the CPU idle part of
   * the time; a second one fills it (2 cores: 1 → 2 is +15% shard MB/s, scripts/bench/load.ts).
   */
  shardConcurrency: z.coerce.number().int().min(1).max(64).default(() => machineDefaults().shards),
  /** A training subset of the paper's (src/annotations/subsets.ts); needs transform labels. */
  subset: SubsetSpec.optional(),
  worker: WorkerShare.optional(),
  /** How a finished shard is checked before it is reused (src/pipeline/runner.ts CheckMode); `--check` is 'full'. */
  check: z.enum(CHECK_MODES).optional(),
});
export type LoadOptions = z.infer<typeof LoadOptions>;

/** Bumped when the tar member layout changes, so old shards are not taken for current ones. */
const TAR_FORMAT = 'biomedica.load.tar/1';
/** Bumped when the plan's staging files or plan.json change shape. */
const PLAN_FORMAT = 'biomedica.load.plan/1';
/** Hub limit: fewer than 10,000 files per folder; group folders hold shards only. */
const MAX_SHARDS_PER_GROUP = 9_999;
const PREFETCH = 8;

interface ShardUnit extends WorkUnit {
  group: GroupPlan;
  shard: PlannedShard;
}

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

  const { value: extractManifest, sha256: extractSha256 } = await readManifest(extract.manifest, ExtractManifest, {
    missing: 'run biomedica extract first (an unfinished extract has no manifest yet: rerun it to finish)',
    // Extract redoes every unit whose marker has another version (v4 kept one file per image, v5 one images.tar per unit).
    invalid: `rerun biomedica extract --out ${outDir} with the same source, with this version of biomedica: it redoes the units an older version wrote; then load again`,
  });
  const transformSha256 = await sha256IfExists(transformPaths(outDir).manifest);
  if (options.subset && transformSha256 === '') {
    throw new UsageError('SUBSET_NEEDS_LABELS', `--subset ${options.subset.kind} chooses images by their labels, and ${transformPaths(outDir).manifest} is missing`, {
      hint: `run biomedica transform --out ${outDir} first, or load without --subset`,
    });
  }
  const snapshotDate = options.snapshotDate ?? extractManifest.source.snapshotDate;
  const mtime = mtimeFor(snapshotDate);
  const layout = options.denormalized ? 'denormalized' : 'normalized';
  const tarTag = `${TAR_FORMAT} mtime=${mtime.getTime()}`;
  await ensureDir(datasetDir);

  // Everything the plan is made from; its hash names the plan folder that workers share.
  const planKey = sha256(
    stableStringify({
      format: PLAN_FORMAT,
      extract: extractSha256,
      transform: transformSha256,
      pubmed: await enrichmentState(outDir, extractManifest),
      layout,
      includeSubArticles: options.includeSubArticles,
      shardMaxBytes: options.shardMaxBytes,
      shardMaxSamples: options.shardMaxSamples,
      tarTag,
      subset: options.subset ?? null,
    }),
  );
  const planDir = paths.planDir(planKey);
  const machine = machineDefaults();
  ctx.log.info(
    { outDir, datasetDir, worker, units: extractManifest.units.length, labels: transformSha256 !== '', shardConcurrency: options.shardConcurrency, cores: machine.cores, coresFrom: machine.from },
    'load planning',
  );
  const plan = await sharedOnce(
    { lockDir: lockDirOf(outDir), name: 'load.plan', key: `${relative(outDir, datasetDir)} ${planKey}`, log: ctx.log, signal: ctx.signal },
    () => readSharedPlan(planDir, planKey),
    async () => {
      // The balanced subset's counting pass streams every unit's label lines once, before planning.
      const subset = options.subset ? await subsetSelector(options.subset, outDir, extractManifest.units.map((u) => u.id), ctx.signal) : undefined;
      if (subset?.balance) ctx.log.info({ concepts: subset.balance.concepts, kept: subset.balance.kept }, 'concept-balanced subset counted');
      return buildSharedPlan(planDir, planKey, {
        outDir,
        manifest: extractManifest,
        workDir: planDir,
        layout,
        includeSubArticles: options.includeSubArticles,
        shardMaxBytes: options.shardMaxBytes,
        shardMaxSamples: options.shardMaxSamples,
        tarTag,
        withLabels: transformSha256 !== '',
        select: subset?.select,
        signal: ctx.signal,
        log: ctx.log,
      });
    },
  );
  const groups = plan.groups.filter((g) => g.samples > 0);
  for (const g of groups) {
    if (g.shards.length > MAX_SHARDS_PER_GROUP) {
      throw new UsageError('TOO_MANY_SHARDS', `${g.group} would need ${g.shards.length} shards; a folder holds at most ${MAX_SHARDS_PER_GROUP}`, {
        hint: 'raise --shard-max-bytes / --shard-max-samples',
      });
    }
  }
  const planned = Date.now();
  const units: ShardUnit[] = groups.flatMap((g) =>
    g.shards.map((shard) => ({ id: paths.shardRel(g.group, shard.n), key: shard.inputSha256, weight: shard.samples, group: g, shard })),
  );
  ctx.log.info({ samples: groups.reduce((a, g) => a + g.samples, 0), shards: units.length, ms: planned - started }, 'load planned');

  // A dataset without its manifest is unfinished: it goes before the first byte of the dataset changes.
  const gate = new ManifestGate(paths.manifest, () => forgetFinalized(lockDirOf(outDir), 'load'));
  const w: WriteContext = { datasetDir, extractRoot: extract.root, mtime, ctx };
  let report: UnitsReport<ShardUnit, ShardStats>;
  try {
    report = await runUnits(
      { ...shardStep(datasetDir), run: (unit, io) => writeOne(unit, w, io) } as Step<ShardUnit, ShardStats>,
      units,
      { concurrency: options.shardConcurrency, worker, check: options.check, label: 'load', beforeChange: gate.beforeChange, recordDir: runsDirOf(outDir) },
      ctx,
    );
  } catch (error) {
    // A plain load owns the folder: what it staged goes with it (on a full disk that is space back).
    if (!worker) await cleanupAfter(() => rm(paths.work, { recursive: true, force: true }), ctx.log);
    throw error;
  }
  const sharded = Date.now();
  const written = { shardsWritten: report.counts.written, shardsReused: report.counts.skipped };
  const summary = datasetSummary(plan, extractManifest, layout, snapshotDate);
  const clustering = transformSha256 === '' ? undefined : await clusteringOf(outDir);
  if (clustering) summary.clustering = clustering;
  const partial = (pending: number): LoadSummary => ({
    ...summary,
    datasetDir,
    manifest: '',
    shardsPending: pending,
    complete: false,
    run: { ...written, ...(worker ? { worker } : {}), ms: Date.now() - started, planMs: planned - started, shardsMs: sharded - planned, tablesMs: 0 },
  });
  if (!report.complete) {
    ctx.log.info({ worker, shardsPending: report.counts.pending, ...written }, 'shards left for other workers');
    return partial(report.counts.pending);
  }

  const upstream: LoadManifest['upstream'] = { kind: 'extract', manifestSha256: extractSha256, transformSha256 };
  const manifestOptions: LoadManifest['options'] = {
    shardMaxBytes: options.shardMaxBytes,
    shardMaxSamples: options.shardMaxSamples,
    includeSubArticles: options.includeSubArticles,
    ...(options.subset ? { subset: describeSubset(options.subset) } : {}),
  };
  let tablesMs = 0;
  const finalized = await finalizeOnce(
    {
      lockDir: lockDirOf(outDir),
      name: 'load',
      // Named after what the manifest will record, and the dataset folder (by its path from the run
      // folder, the same on every machine that mounts the share the same way).
      key: stableStringify({ dataset: relative(outDir, datasetDir), shards: report.digest, plan: planKey, upstream, manifestOptions, layout, snapshotDate }),
      worker,
      log: ctx.log,
    },
    async () => {
      const shardResults = new Map<LicenseGroup, ShardStats[]>();
      for (const { unit, marker } of report.done) {
        const list = shardResults.get(unit.group.group) ?? [];
        list.push(marker.result);
        shardResults.set(unit.group.group, list);
      }
      const tables = await withDuckDb(async (conn) => {
        await ensureDir(join(datasetDir, 'index'));
        await ensureDir(join(datasetDir, 'articles'));
        const out = new Map<LicenseGroup, { index: { sha256: string; rows: number }; articles: { sha256: string; rows: number } }>();
        for (const g of groups) {
          const index = await jsonlToParquet(conn, g.indexStaging, join(datasetDir, paths.indexRel(g.group)), IndexRow, gate.beforeChange);
          const articles = await jsonlToParquet(conn, g.articlesStaging, join(datasetDir, paths.articlesRel(g.group)), ArticleRow, gate.beforeChange);
          out.set(g.group, { index, articles });
        }
        return out;
      });
      tablesMs = Date.now() - sharded;
      ctx.log.info({ ms: tablesMs }, 'index and article tables written');

      await removeStale(datasetDir, plan.groups, gate.beforeChange);
      await copyIfChanged(plan.failuresStaging, paths.failures, gate.beforeChange);
      await writeJsonIfChanged(paths.summary, summary, gate.beforeChange);
      const manifest: LoadManifest = {
        schema: LOAD_SCHEMA,
        version: LOAD_VERSION,
        layout,
        snapshotDate,
        options: manifestOptions,
        upstream,
        groups: groups.map((g) => {
          const shards = shardResults.get(g.group)!.map((s) => ({ shard: s.shard, samples: s.samples, bytes: s.bytes, sha256: s.sha256 }));
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
      await writeIfChanged(paths.card, renderCard(manifest, summary), gate.beforeChange);
      // The plan is done with. A plain load owns the folder: other plans (a lost round's) go too.
      await rm(worker ? planDir : paths.work, { recursive: true, force: true });
      if (!worker) await removeLegacyWorkDirs(datasetDir);
      await writeJsonIfChanged(paths.manifest, manifest);
    },
  );
  if (!finalized.ran) {
    // Finished by another worker: the shared plan is no longer needed (this worker may have made it anew).
    if (finalized.by.finishedAt) await rm(planDir, { recursive: true, force: true });
    ctx.log.info({ worker, by: { pid: finalized.by.pid, host: finalized.by.host } }, 'every shard is written; another worker finalizes');
    return partial(0);
  }

  const result: LoadSummary = {
    ...summary,
    datasetDir,
    manifest: paths.manifest,
    shardsPending: 0,
    complete: true,
    run: { ...written, ...(worker ? { worker } : {}), ms: Date.now() - started, planMs: planned - started, shardsMs: sharded - planned, tablesMs },
  };
  ctx.log.info({ datasetDir, worker, samples: result.samples, shards: result.shards, ...written, ms: result.run.ms }, 'load finished');
  return result;
}

/** Load as a step of a run (src/pipeline/stages.ts). */
export function loadStage(options: LoadOptions): PipelineStage {
  return stage<LoadSummary>({ name: 'load', run: (ctx) => runLoad(options, ctx), format: formatLoadSummary, complete: (s) => s.complete });
}

/**
 * Removes the manifest once, before the first change to what it describes; concurrent callers
 * wait for that one removal. A run that changes nothing never calls it.
 */
class ManifestGate {
  private removed: Promise<void> | undefined;
  constructor(
    private readonly path: string,
    /** Also forget that this content was finalized: the next worker to see every shard done finalizes again. */
    private readonly forget: () => Promise<void>,
  ) {}
  readonly beforeChange = (): Promise<void> =>
    (this.removed ??= (async () => {
      await this.forget();
      await rm(this.path, { force: true });
    })());
}


async function readSharedPlan(planDir: string, key: string): Promise<Plan | undefined> {
  const raw = await readJsonIfExists(join(planDir, 'plan.json')).catch((error: unknown) => {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  });
  const file = LoadPlanFile.safeParse(raw);
  if (!file.success || file.data.key !== key) return undefined;
  return planFromJson(file.data.plan, planDir);
}

/** Plans into the folder and writes plan.json last: its presence means the staging files are whole. */
async function buildSharedPlan(planDir: string, key: string, input: PlanInput): Promise<void> {
  await rm(planDir, { recursive: true, force: true });
  await ensureDir(planDir);
  const plan = await planLoad(input);
  await withDuckDb(async (conn) => {
    const dupes = await duplicateKeys(conn, plan.groups.filter((g) => g.samples > 0).map((g) => g.indexStaging), IndexRow);
    if (dupes.length > 0) {
      throw new ManifestError('DUPLICATE_KEY', `sample keys occur more than once: ${dupes.join(', ')}`, {
        keys: dupes,
        hint: 'two extract records share an image key: rerun biomedica extract --check (it redoes units whose files changed); if the keys remain, it is a bug: please report it',
      });
    }
  });
  await writeJsonAtomic(join(planDir, 'plan.json'), { schema: LOAD_PLAN_SCHEMA, version: LOAD_PLAN_VERSION, key, plan: planToJson(plan, planDir) });
}

/** Per unit, the enrichment marker load would merge (its bytes' sha256, or '' without one). */
async function enrichmentState(outDir: string, manifest: ExtractManifest): Promise<string> {
  const hash = createHash('sha256');
  for (const unit of manifest.units) hash.update(`${unit.id} ${await sha256IfExists(pubmedPaths(outDir).unitMarker(unit.id))}\n`);
  return hash.digest('hex');
}


/** `.work-<i>-of-<n>` staging folders of workers from before the shared plan: a plain load clears them. */
async function removeLegacyWorkDirs(datasetDir: string): Promise<void> {
  for (const name of await readdir(datasetDir)) {
    if (/^\.work-\d+-of-\d+$/.test(name)) await rm(join(datasetDir, name), { recursive: true, force: true });
  }
}

interface WriteContext {
  datasetDir: string;
  extractRoot: string;
  mtime: Date;
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>;
}

async function writeOne({ group: g, shard }: ShardUnit, w: WriteContext, io: UnitIO): Promise<UnitDone<ShardStats>> {
  const paths = loadPaths(w.datasetDir);
  const rel = paths.shardRel(g.group, shard.n);
  const tarPath = paths.shard(g.group, shard.n);
  await ensureDir(paths.groupDir(g.group));
  await ensureDir(paths.statsDir(g.group));
  const t0 = Date.now();
  const out = await writeTar(tarPath, membersOf(tarLines(g.tarStaging, shard), io, w.extractRoot), w.mtime, io.signal);
  if (out.bytes !== shard.bytes) {
    throw new Error(`${rel}: wrote ${out.bytes} bytes where the plan computed ${shard.bytes}; the offsets in the index would be wrong`);
  }
  w.ctx.log.info({ shard: rel, samples: shard.samples, bytes: out.bytes, ms: Date.now() - t0 }, 'shard written');
  return {
    result: {
      group: g.group,
      shard: rel,
      sha256: out.sha256,
      bytes: out.bytes,
      samples: shard.samples,
      articles: shard.articles,
      imageBytes: shard.imageBytes,
      firstKey: shard.firstKey,
      lastKey: shard.lastKey,
      byPanelType: shard.byPanelType,
    },
    outputs: { [rel]: { bytes: out.bytes, sha256: out.sha256 } },
  };
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

/**
 * Tar members of the planned samples; image reads (byte ranges of the units' image stores) run a
 * few samples ahead of the writer. Each range's length is checked; its bytes are not hashed again:
 * the records hold every image's sha256, the unit's marker vouches for its store, and
 * `biomedica verify` checks every shard image against the index.
 */
async function* membersOf(lines: AsyncIterable<TarLine>, io: UnitIO, extractRoot: string): AsyncGenerator<TarMember> {
  const stored = new StoredImages(extractRoot);
  const queue: { line: TarLine; data: Promise<Buffer> }[] = [];
  const emit = async function* (item: { line: TarLine; data: Promise<Buffer> }): AsyncGenerator<TarMember> {
    const { line } = item;
    const data = await item.data.catch((cause: unknown) => {
      throw storageFault(cause) ?? new ManifestError('MANIFEST_MISMATCH', `image ${line.key} (${line.file} @${line.offset}) cannot be read: ${(cause as Error).message}`, {
        cause,
        key: line.key,
        hint: 'the extract folder changed after extract finished: rerun biomedica extract (it redoes units whose files changed; add --check if the file was damaged rather than edited), then load',
      });
    });
    yield { name: `${line.key}.jpg`, data };
    yield { name: `${line.key}.json`, data: Buffer.from(line.json) };
    yield { name: `${line.key}.txt`, data: Buffer.from(line.txt) };
    io.tick(1);
  };
  try {
    for await (const line of lines) {
      const data = stored.read(line);
      // Rejections are handled when the item reaches the writer; this keeps Node from flagging them early.
      data.catch(() => {});
      queue.push({ line, data });
      if (queue.length >= PREFETCH) yield* emit(queue.shift()!);
    }
    while (queue.length > 0) yield* emit(queue.shift()!);
  } finally {
    await Promise.allSettled(queue.map((q) => q.data));
    await stored.close();
  }
}

/** Shards, markers and tables of an earlier run that this plan no longer has. Only our own names are touched. */
async function removeStale(datasetDir: string, groups: GroupPlan[], beforeChange: () => Promise<void>): Promise<void> {
  const paths = loadPaths(datasetDir);
  const remove = async (path: string) => {
    if (!(await pathExists(path))) return;
    await beforeChange();
    await rm(path, { force: true });
  };
  for (const group of LICENSE_GROUPS) {
    const count = groups.find((g) => g.group === group && g.samples > 0)?.shards.length ?? 0;
    const sweep = async (dir: string, pattern: RegExp) => {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const m = pattern.exec(name);
        if (!m) continue;
        if (m[1] === undefined || Number(m[1]) >= count) await remove(join(dir, name));
      }
      await rmdir(dir).catch(() => {});
    };
    await sweep(paths.groupDir(group), /^(?:(\d{6})\.tar|\.\d{6}\.tar\.tmp)$/);
    await sweep(paths.statsDir(group), /^(?:(\d{6})\.json|\.\d{6}\.json\.[0-9a-f]+\.tmp)$/);
    if (count === 0) {
      await remove(join(datasetDir, paths.indexRel(group)));
      await remove(join(datasetDir, paths.articlesRel(group)));
    }
  }
}


/** Copies `from` to `to` unless `to` already holds the same bytes (streamed: failures can be many). */
async function copyIfChanged(from: string, to: string, beforeChange: () => Promise<void>): Promise<void> {
  if ((await sha256IfExists(to)) === (await sha256File(from))) return;
  await beforeChange();
  const tmp = join(dirname(to), `.${basename(to)}.tmp`);
  await onOutput(to, async () => {
    await copyFile(from, tmp);
    await rename(tmp, to);
  });
}

/** What the card says of the transform that labelled the images. */
async function clusteringOf(outDir: string): Promise<ClusteringSummary> {
  const { value: t } = await readManifest(transformPaths(outDir).manifest, TransformManifest, {
    missing: `rerun biomedica transform --out ${outDir}`,
    invalid: `rerun biomedica transform --out ${outDir}, with this version of biomedica`,
  });
  return {
    modelFile: t.embedding.modelFile,
    modelSha256: t.embedding.modelSha256,
    recipe: t.embedding.recipe,
    dim: t.embedding.dim,
    providers: t.embedding.providers,
    clusters: t.model.clusters,
    components: t.model.components,
    sampleSize: t.model.sampleSize,
    clustersLabelled: t.labels.clustersLabelled,
  };
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
