/**
 * The extract stage: source → plan → units → manifest.
 *
 * The unit is the grain of work and of resume. A unit's files are written to their final names
 * and its done.json marker last, atomically; a unit without a valid marker is redone whole on the
 * next run. manifest.json is written when every unit is done, so its presence tells the next stage
 * the extract is complete.
 */
import { rm } from 'node:fs/promises';
import pLimit from 'p-limit';
import { z } from 'zod';
import { InterruptedError, ThresholdError, UsageError } from '../../errors.js';
import { DEFAULT_KEEP_RULE } from '../../images/keep.js';
import {
  EXTRACT_SCHEMA,
  EXTRACT_STEP,
  EXTRACT_VERSION,
  ExtractManifest,
  ExtractUnitResult,
  addStats,
  emptyStats,
  extractPaths,
  extractUnitKey,
  type Selection,
  type UnitStats,
} from '../../manifest/extract-manifest.js';
import { sha256, sha256IfExists, stableStringify, writeJsonIfChanged } from '../../storage/files.js';
import { cleanupAfter, onOutput, storageFault } from '../../storage/faults.js';
import type { StageContext } from '../../pipeline/context.js';
import { lockDirOf } from '../../pipeline/lock.js';
import { runsDirOf } from '../../pipeline/run-record.js';
import { CHECK_MODES, WorkerShare, finalizeOnce, forgetFinalized, runUnits, type Step, type UnitCounts, type WorkUnit } from '../../pipeline/runner.js';
import type { Source, SourceFilter } from '../../sources/types.js';
import type { RateStats } from '../../transport/rate.js';
import type { SyncSummary } from './sync-planner.js';
import { extractArticle, type ArticleJob } from './article.js';
import { outcomesInOrder, writeUnitStore, type ArticleProducer, type UnitWritten } from './unit-store.js';
import { ensurePlan, readPlanUnit, type Plan } from './plan.js';
import { finishRetry, pendingRetry, prepareRetry, retryProducer, selectRetry } from './retry.js';

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
  worker: WorkerShare.optional(),
  /**
   * How a finished unit is checked before it is skipped (src/pipeline/runner.ts): 'fast' (default)
   * compares sizes and hashes files modified since the marker, so a hand-edited unit is redone;
   * 'full' (`--check`) hashes every file, which also finds silent corruption.
   */
  check: z.enum(CHECK_MODES).optional(),
  /**
   * `retry-failed`: before the units run, move aside the finished units holding transient failures
   * (src/stages/extract/retry.ts), so they are rewritten with only those articles fetched again.
   */
  retry: z.boolean().optional(),
});
export type ExtractOptions = z.infer<typeof ExtractOptions>;

export interface ExtractSummary {
  outDir: string;
  manifest: string;
  source: Plan['source'];
  units: number;
  /** Units this process did (a worker: of its share). */
  unitsWritten: number;
  unitsSkipped: number;
  /** Units whose files no longer matched their marker (edited or damaged since), redone by this run. */
  unitsRepaired: number;
  /** Units not done yet, left to other workers (0 for a whole run). */
  unitsPending: number;
  /** Every unit is done and manifest.json is written. */
  complete: boolean;
  skippedByReason: Record<string, number>;
  totals: UnitStats;
  /** Incremental runs only (src/stages/extract/sync-planner.ts): what this night changed. */
  sync?: SyncSummary;
  /** The source's request rate at the end (adaptive for the cloud bucket) and the throttles it met. */
  requests?: RateStats;
}

/**
 * Makes the plan in place of the one-shot ensurePlan, and gets two hooks at the end of a run.
 * The incremental sync (src/stages/extract/sync-planner.ts) appends a night's changes to the plan as an epoch,
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
  const optionsSha256 = sha256(stableStringify(shapingOptions(options)));
  const worker = options.worker;
  const rate = source.requestRate?.bind(source);
  const requests = (): { requests?: RateStats } => {
    const stats = rate?.();
    return stats && Number.isFinite(stats.perSecond) ? { requests: stats } : {};
  };
  const partial = (counts: UnitCounts, totals: UnitStats): ExtractSummary => ({
    outDir: options.outDir,
    manifest: '',
    source: plan.source,
    units: plan.units.length,
    unitsWritten: counts.written,
    unitsSkipped: counts.skipped,
    unitsRepaired: counts.repaired,
    unitsPending: counts.pending,
    complete: false,
    skippedByReason: plan.skipped,
    totals,
    ...requests(),
  });
  if (options.planOnly) return partial({ written: 0, skipped: 0, repaired: 0, failed: 0, pending: plan.units.length }, emptyStats());

  const units: ExtractUnit[] = plan.units.map((u) => ({
    id: u.id,
    key: extractUnitKey(u.sha256, optionsSha256),
    weight: u.articles,
    planSha256: u.sha256,
  }));
  if (options.retry) {
    // Under the run lock, with this run's unit keys: only units made under the same plan and
    // options are rewritten from their old outcomes; the others are redone whole anyway.
    const selection = await selectRetry(options.outDir, units);
    if (selection.otherOptions.length > 0) {
      // Going on would redo those units whole from the source: a rebuild, not a retry.
      throw new UsageError('RETRY_OPTIONS_DIFFER', `${selection.otherOptions.length} finished units of ${options.outDir} were made with other options than this retry's (first: ${selection.otherOptions[0]})`, {
        hint: 'pass retry-failed the flags or --config of the run that made the folder; to rebuild it with new options, run biomedica run with them instead',
      });
    }
    ctx.log.info({ units: selection.units.length, resuming: selection.resuming.length, transient: selection.transient }, 'retrying transient failures');
    await prepareRetry(options.outDir, selection);
  }
  const step = extractStep(options.outDir, source, {
    articleConcurrency: options.articleConcurrency,
    job: { images: options.images, keep: options.keep, imageLimit: pLimit(options.imageConcurrency) },
  });
  const running = emptyStats();
  const report = await runUnits(
    step,
    units,
    {
      worker,
      check: options.check,
      label: 'extract',
      recordDir: runsDirOf(options.outDir),
      // The manifest describes the units: it goes before the first one changes, and comes back when all are done.
      // Forgetting the finalize lets the next worker that sees every unit done write it, even for the same content.
      beforeChange: async () => {
        await forgetFinalized(lockDirOf(options.outDir), 'extract');
        await rm(paths.manifest, { force: true });
      },
      onDone: (_unit, result) => void addStats(running, result.stats),
      counters: () => {
        const stats = requests().requests;
        return { ok: running.figuresOk, failed: running.failures, ...(stats ? { 'req/s': Math.round(stats.perSecond) } : {}) };
      },
    },
    ctx,
  );

  // Units that retry-failed moved aside and that are written again: their old content can go.
  await finishRetry(options.outDir);

  // The manifest covers every unit, whoever did it (the runner read every marker back).
  const totals = emptyStats();
  const manifestUnits: ExtractManifest['units'] = report.done.map(({ unit, marker }) => {
    addStats(totals, marker.result.stats);
    return { id: unit.id, stats: marker.result.stats, files: marker.result.files };
  });
  if (!report.complete) {
    ctx.log.info({ worker, unitsPending: report.counts.pending }, 'units left for other workers');
    return partial(report.counts, totals);
  }
  const finalized = await finalizeOnce(
    {
      lockDir: lockDirOf(options.outDir),
      name: 'extract',
      key: stableStringify({ units: report.digest, source: plan.source, plan: plan.inputSha256, options: optionsSha256 }),
      worker,
      log: ctx.log,
    },
    async () => {
      await planner?.beforeManifest(plan, ctx);
      const manifest: ExtractManifest = {
        schema: EXTRACT_SCHEMA,
        version: EXTRACT_VERSION,
        source: plan.source,
        optionsSha256,
        options: shapingOptions(options),
        units: manifestUnits,
        totals,
        tombstonesSha256: await sha256IfExists(paths.tombstones),
        selection: selectionOf(filter),
      };
      await writeJsonIfChanged(paths.manifest, manifest);
      await planner?.afterManifest(plan, ctx);
    },
  );
  if (!finalized.ran) {
    ctx.log.info({ worker, by: { pid: finalized.by.pid, host: finalized.by.host } }, 'every unit is done; another worker writes the manifest');
    return partial(report.counts, totals);
  }
  ctx.log.info({ units: manifestUnits.length, unitsSkipped: report.counts.skipped, unitsRepaired: report.counts.repaired, ...countsForLog(totals) }, 'extract finished');

  const summary: ExtractSummary = {
    outDir: options.outDir,
    manifest: paths.manifest,
    source: plan.source,
    units: manifestUnits.length,
    unitsWritten: report.counts.written,
    unitsSkipped: report.counts.skipped,
    unitsRepaired: report.counts.repaired,
    unitsPending: 0,
    complete: true,
    skippedByReason: plan.skipped,
    totals,
    ...(planner ? { sync: planner.summary() } : {}),
    ...requests(),
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

export interface ExtractUnit extends WorkUnit {
  planSha256: string;
}

interface UnitJob {
  articleConcurrency: number;
  job: Omit<ArticleJob, 'unit' | 'signal'>;
  /** Makes each article's outcome; default: extractArticle from the source (a retry may reuse earlier outcomes). */
  produce?: ArticleProducer;
}

/** How many finished articles may wait for a slow one before it, per article in flight. */
const WINDOW_PER_ARTICLE = 2;

/** The extract unit as a runner step: its articles' outcomes, in plan order → images.tar, records, and the list of every file written. */
export function extractStep(outDir: string, source: Source, run: UnitJob): Step<ExtractUnit, ExtractUnitResult> {
  const paths = extractPaths(outDir);
  const produce: ArticleProducer = run.produce ?? ((ref, { unit, signal }) => extractArticle(source, ref, { ...run.job, unit, signal }));
  return {
    name: EXTRACT_STEP,
    version: EXTRACT_VERSION,
    result: ExtractUnitResult,
    markerPath: (unit) => paths.unitMarker(unit.id),
    outputRoot: (unit) => paths.unitDir(unit.id),
    async run(unit, io) {
      const started = Date.now();
      // A unit left half-done by a killed run (or written by an older version) starts clean.
      await onOutput(paths.unitDir(unit.id), () => rm(paths.unitDir(unit.id), { recursive: true, force: true }));

      // One article failing the run (a storage fault) stops the others: none runs on after the unit is given up.
      const local = new AbortController();
      const signal = AbortSignal.any([io.signal, local.signal]);
      // A unit that retry-failed moved aside takes its other articles from the unit as it was.
      const retry = await pendingRetry(outDir, unit.id, unit.key);
      const reuse = retry ? retryProducer(outDir, unit.id, retry, produce) : undefined;
      const produceHere = reuse?.produce ?? produce;
      const outcomes = outcomesInOrder(
        readPlanUnit(outDir, unit.id),
        async (ref) => {
          signal.throwIfAborted();
          const outcome = await produceHere(ref, { unit: unit.id, signal });
          io.tick(1);
          return outcome;
        },
        {
          concurrency: run.articleConcurrency,
          window: WINDOW_PER_ARTICLE * run.articleConcurrency,
          stop: (reason) => local.abort(reason),
        },
      );
      let written: UnitWritten;
      try {
        written = await writeUnitStore(outDir, unit.id, outcomes, signal);
        await reuse?.close();
      } catch (error) {
        await reuse?.close().catch(() => {});
        local.abort(error);
        // The unit is redone whole by the next run: what it wrote so far only takes space (a full disk wants it back).
        await cleanupAfter(() => rm(paths.unitDir(unit.id), { recursive: true, force: true }), io.log);
        if (io.signal.aborted && !storageFault(error)) {
          throw new InterruptedError('INTERRUPTED', `unit ${unit.id} stopped before all its articles were done`);
        }
        throw error;
      }
      io.log.info({ unit: unit.id, ms: Date.now() - started, ...countsForLog(written.result.stats) }, 'unit written');
      return written;
    },
  };
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

