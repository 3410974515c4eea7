/**
 * The extract stage: source → plan → units → manifest.
 *
 * The unit is the grain of work and of resume. A unit's files are written to their final names
 * and its done.json marker last, atomically; a unit without a valid marker is redone whole on the
 * next run. manifest.json is written when every unit is done, so its presence tells the next stage
 * the extract is complete.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { InterruptedError, ThresholdError } from '../../errors.js';
import { DEFAULT_KEEP_RULE } from '../../images/keep.js';
import {
  EXTRACT_SCHEMA,
  EXTRACT_VERSION,
  ExtractManifest,
  UnitMarker,
  addStats,
  emptyStats,
  unitStatsOf,
  writeUnitRecords,
  extractPaths,
  type Selection,
  type UnitStats,
} from '../../manifest/extract-manifest.js';
import { readJsonIfExists, sha256, sha256File, stableStringify, writeFileAtomic, writeJsonAtomic } from '../../manifest/io.js';
import type { ArticleRecord, FailureRecord, FigureRecord } from '../../manifest/records.js';
import type { StageContext } from '../../pipeline/context.js';
import type { Source, SourceFilter } from '../../sources/types.js';
import type { SyncSummary } from '../../sync/planner.js';
import { extractArticle, type ArticleResult } from './article.js';
import { ensurePlan, readPlanUnit, type Plan } from './plan.js';

export const ExtractOptions = z.object({
  outDir: z.string().min(1),
  unitSize: z.number().int().min(1),
  articleConcurrency: z.number().int().min(1),
  imageConcurrency: z.number().int().min(1),
  maxFailureRate: z.number().min(0).max(1),
  images: z.object({
    quality: z.number().int(),
    maxSide: z.number().int(),
    maxPixels: z.number().int(),
    maxInputBytes: z.number().int(),
  }),
  keep: z.object({ minCaptionChars: z.number().int(), minSide: z.number().int() }).default(DEFAULT_KEEP_RULE),
  /** Write the plan and stop: the first step of a run split over several workers. */
  planOnly: z.boolean().optional(),
  /**
   * Worker `index` of `count` (0-based) takes the units whose number ≡ index (mod count); the others
   * are left to the other workers, which share the out folder (a shared file system). Whoever
   * finds every unit done writes the manifest; a plain rerun also does.
   */
  worker: z.object({ index: z.number().int().min(0), count: z.number().int().min(1) }).optional(),
});
export type ExtractOptions = z.infer<typeof ExtractOptions>;

export interface ExtractSummary {
  outDir: string;
  manifest: string;
  source: Plan['source'];
  units: number;
  unitsSkipped: number;
  /** Units not done yet, left to other workers (0 for a whole run). */
  unitsPending: number;
  /** Every unit is done and manifest.json is written. */
  complete: boolean;
  skippedByReason: Record<string, number>;
  totals: UnitStats;
  /** Incremental runs only (src/sync/planner.ts): what this night changed. */
  sync?: SyncSummary;
}

/**
 * Makes the plan in place of the one-shot ensurePlan, and gets two hooks at the end of a run.
 * The incremental sync (src/sync/planner.ts) appends a night's changes to the plan as an epoch,
 * writes tombstones.jsonl before the manifest records its hash, and commits its state after.
 */
export interface ExtractPlanner {
  plan(ctx: Pick<StageContext, 'log' | 'signal'>): Promise<Plan>;
  /** Every unit is done; manifest.json is not written yet. */
  beforeManifest(plan: Plan, ctx: Pick<StageContext, 'log'>): Promise<void>;
  /** manifest.json is written. */
  afterManifest(plan: Plan, ctx: Pick<StageContext, 'log'>): Promise<void>;
  summary(): SyncSummary;
}

export async function runExtract(
  options: ExtractOptions,
  source: Source,
  filter: SourceFilter,
  ctx: StageContext,
  planner?: ExtractPlanner,
): Promise<ExtractSummary> {
  const paths = extractPaths(options.outDir);
  const plan = planner
    ? await planner.plan(ctx)
    : await ensurePlan(options.outDir, source, filter, options.unitSize, ctx, { requireExisting: options.worker !== undefined });
  const imageLimit = pLimit(options.imageConcurrency);
  const optionsSha256 = sha256(stableStringify(shapingOptions(options)));
  const worker = options.worker;
  const mine = (i: number) => (worker ? i % worker.count === worker.index : true);
  const partial = (unitsSkipped: number, unitsPending: number): ExtractSummary => ({
    outDir: options.outDir,
    manifest: '',
    source: plan.source,
    units: plan.units.length,
    unitsSkipped,
    unitsPending,
    complete: false,
    skippedByReason: plan.skipped,
    totals: emptyStats(),
  });
  if (options.planOnly) return partial(0, plan.units.length);

  ctx.progress.start(plan.articles, 'extract');
  let unitsSkipped = 0;
  let running = emptyStats();
  try {
    for (const [i, unit] of plan.units.entries()) {
      if (ctx.signal.aborted) break;
      if (!mine(i)) continue;
      const marker = await validMarker(options.outDir, unit.id, unit.sha256, optionsSha256);
      if (marker) {
        unitsSkipped++;
        ctx.progress.tick(unit.articles);
      }
      const done =
        marker ??
        (await runUnit(options.outDir, unit, source, {
          optionsSha256,
          articleConcurrency: options.articleConcurrency,
          job: { images: options.images, keep: options.keep, imageLimit },
          ctx,
        }));
      if (!done) break;
      running = addStats(running, done.stats);
      ctx.progress.tick(0, { ok: running.figuresOk, failed: running.failures });
    }
  } finally {
    ctx.progress.stop();
  }
  if (ctx.signal.aborted) {
    throw new InterruptedError('INTERRUPTED', 'stopped before every unit was done', {
      hint: 'rerun the same command: finished units are kept and the run resumes',
    });
  }

  // The manifest covers every unit, whoever did it: read all markers back.
  const totals = emptyStats();
  const units: ExtractManifest['units'] = [];
  let unitsPending = 0;
  for (const unit of plan.units) {
    const done = await validMarker(options.outDir, unit.id, unit.sha256, optionsSha256);
    if (!done) {
      unitsPending++;
      continue;
    }
    addStats(totals, done.stats);
    units.push({ id: unit.id, stats: done.stats, files: done.files });
  }
  if (unitsPending > 0) {
    ctx.log.info({ worker, unitsPending }, 'units left for other workers');
    return { ...partial(unitsSkipped, unitsPending), totals };
  }
  // Workers finishing together must not all write the manifest (and, under `run`, all load):
  // the first to create the lock finalizes. A plain run always may.
  if (worker && !(await takeFinalizeLock(options.outDir))) {
    ctx.log.info({ worker }, 'every unit is done; another worker writes the manifest');
    return { ...partial(unitsSkipped, 0), totals };
  }

  await planner?.beforeManifest(plan, ctx);
  const tombstonesSha256 = await sha256File(paths.tombstones).catch(() => '');
  const manifest: ExtractManifest = {
    schema: EXTRACT_SCHEMA,
    version: EXTRACT_VERSION,
    source: plan.source,
    optionsSha256,
    options: shapingOptions(options),
    units,
    totals,
    tombstonesSha256,
    selection: selectionOf(filter),
  };
  await writeJsonIfChanged(paths.manifest, manifest);
  await planner?.afterManifest(plan, ctx);
  ctx.log.info({ units: units.length, unitsSkipped, ...countsForLog(totals) }, 'extract finished');

  const summary: ExtractSummary = {
    outDir: options.outDir,
    manifest: paths.manifest,
    source: plan.source,
    units: units.length,
    unitsSkipped,
    unitsPending: 0,
    complete: true,
    skippedByReason: plan.skipped,
    totals,
    ...(planner ? { sync: planner.summary() } : {}),
  };
  const attempted = totals.articles + totals.articlesFailed;
  if (attempted > 0 && totals.articlesFailed / attempted > options.maxFailureRate) {
    throw new ThresholdError('FAILURE_THRESHOLD', `${totals.articlesFailed} of ${attempted} articles failed`, {
      summary,
      hint: 'see units/*/failures.jsonl for reasons; raise extract.maxFailureRate to accept them',
    });
  }
  return summary;
}

function selectionOf(filter: SourceFilter): Selection {
  return {
    licenseGroups: [...(filter.licenseGroups ?? [])],
    limit: filter.limit ?? 0,
    pmcids: filter.pmcids?.size ?? 0,
    updatedFrom: filter.updatedFrom ?? '',
    updatedTo: filter.updatedTo ?? '',
    includeRetracted: filter.includeRetracted ?? false,
  };
}

/** Only what changes the bytes of the output goes into the options hash. */
function shapingOptions(options: ExtractOptions): Record<string, unknown> {
  return { unitSize: options.unitSize, images: options.images, keep: options.keep };
}

async function validMarker(outDir: string, unit: string, planSha256: string, optionsSha256: string) {
  const raw = await readJsonIfExists(extractPaths(outDir).unitMarker(unit));
  if (raw === undefined) return undefined;
  const marker = UnitMarker.safeParse(raw);
  if (!marker.success) return undefined;
  if (marker.data.planSha256 !== planSha256) return undefined;
  if (marker.data.optionsSha256 !== optionsSha256) return undefined;
  return marker.data;
}

interface UnitRun {
  optionsSha256: string;
  articleConcurrency: number;
  job: Omit<Parameters<typeof extractArticle>[2], 'outDir' | 'unit' | 'signal'>;
  ctx: StageContext;
}

async function runUnit(
  outDir: string,
  unit: Plan['units'][number],
  source: Source,
  run: UnitRun,
): Promise<UnitMarker | undefined> {
  const paths = extractPaths(outDir);
  const { ctx } = run;
  const started = Date.now();
  // A unit left half-done by a killed run may hold images of articles that now fail: start clean.
  await rm(paths.unitDir(unit.id), { recursive: true, force: true });

  const limit = pLimit(run.articleConcurrency);
  const job = { ...run.job, outDir, unit: unit.id, signal: ctx.signal };
  // Results land in plan order whatever order they finish in; at most `articleConcurrency`
  // packages are open at once, and the unit size bounds the records held.
  const pending: Promise<ArticleResult>[] = [];
  for await (const ref of readPlanUnit(outDir, unit.id)) {
    pending.push(
      limit(async () => {
        if (ctx.signal.aborted) return { article: null, figures: [], failures: [] };
        const result = await extractArticle(source, ref, job);
        ctx.progress.tick(1);
        return result;
      }),
    );
  }
  const results = await Promise.all(pending);
  if (ctx.signal.aborted) return undefined;

  const articles: ArticleRecord[] = [];
  const figures: FigureRecord[] = [];
  const failures: FailureRecord[] = [];
  for (const r of results) {
    if (r.article) articles.push(r.article);
    figures.push(...r.figures);
    failures.push(...r.failures);
  }
  const stats = unitStatsOf(articles.length, results.length - articles.length, figures, failures);

  const files = await writeUnitRecords(outDir, unit.id, { articles, figures, failures });
  const marker: UnitMarker = {
    schema: 'biomedica.extract.unit',
    version: EXTRACT_VERSION,
    unit: unit.id,
    planSha256: unit.sha256,
    optionsSha256: run.optionsSha256,
    stats,
    files,
  };
  await writeJsonAtomic(paths.unitMarker(unit.id), marker);
  ctx.log.info({ unit: unit.id, ms: Date.now() - started, ...countsForLog(stats) }, 'unit written');
  return marker;
}

function countsForLog(stats: UnitStats) {
  return {
    articles: stats.articles,
    articlesFailed: stats.articlesFailed,
    figuresOk: stats.figuresOk,
    figuresFiltered: stats.figuresFiltered,
    figuresFailed: stats.figuresFailed,
    failures: stats.failures,
  };
}

async function takeFinalizeLock(outDir: string): Promise<boolean> {
  try {
    await (await open(join(outDir, '.worker-finalize.lock'), 'wx')).close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** A finished rerun must change no byte, so an identical manifest is not rewritten. */
async function writeJsonIfChanged(path: string, value: unknown): Promise<void> {
  const text = stableStringify(value, 2) + '\n';
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== text) await writeFileAtomic(path, text);
}
