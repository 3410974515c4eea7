/** Wires a validated Config to the extract stage: builds the source, runs, and always closes it. */
import type { Config } from '../../config/schema.js';
import type { StageContext } from '../../pipeline/context.js';
import { machineDefaults } from '../../config/cores.js';
import { UsageError } from '../../errors.js';
import { createSource } from '../../sources/index.js';
import type { CloudSource } from '../../sources/cloud/index.js';
import type { SourceFilter } from '../../sources/types.js';
import type { PipelineStage } from '../../pipeline/stages.js';
import { stage } from '../../pipeline/stages.js';
import type { CheckMode, WorkerShare } from '../../pipeline/runner.js';
import { plannedListing } from './plan.js';
import { createSyncPlanner } from './sync-planner.js';
import { runExtract, type ExtractOptions, type ExtractSummary } from './run-extract.js';

export interface ExtractMode {
  sync?: boolean | undefined;
  planOnly?: boolean | undefined;
  worker?: WorkerShare | undefined;
  /** `--check`: hash every file of every finished unit before trusting it. */
  check?: CheckMode | undefined;
  /** `retry-failed`: fetch again the articles whose failures were transient (src/stages/extract/retry.ts). */
  retry?: boolean | undefined;
}

/** The extract stage as a step of a run (src/pipeline/stages.ts). */
export function extractStage(config: Config, outDir: string, filter: SourceFilter, mode: ExtractMode = {}): PipelineStage {
  return stage<ExtractSummary>({
    name: 'extract',
    run: (ctx) => extractFromConfig(config, outDir, filter, ctx, mode),
    format: formatExtractSummary,
    complete: (s) => s.complete,
  });
}

export async function extractFromConfig(
  config: Config,
  outDir: string,
  filter: SourceFilter,
  ctx: StageContext,
  mode: ExtractMode = {},
): Promise<ExtractSummary> {
  const machine = machineDefaults();
  ctx.log.info(
    { cores: machine.cores, coresFrom: machine.from, articleConcurrency: config.extract.articleConcurrency, imageConcurrency: config.extract.imageConcurrency },
    'concurrency',
  );
  // The source does not read the stage's files: the stage tells it which listing a plan pinned.
  const pin = mode.sync ? undefined : await plannedListing(outDir);
  const source = await createSource(config, { outDir, log: ctx.log, pin });
  try {
    if (mode.sync && source.descriptor.kind !== 'cloud') {
      throw new UsageError('SYNC_NEEDS_CLOUD', `--sync reads the cloud bucket's daily inventory; ${source.descriptor.kind} has none`, {
        hint: 'drop --sync, or use --source cloud',
      });
    }
    if (mode.sync && (mode.worker || mode.planOnly)) {
      throw new UsageError('SYNC_WORKERS', '--sync runs on one machine: a night is a small delta', {
        hint: 'split a full first build with --plan-only and --worker, then sync nightly without them',
      });
    }
    const planner = mode.sync
      ? createSyncPlanner(source as CloudSource, {
          outDir,
          unitSize: config.extract.unitSize,
          filter,
          windowDays: config.cloud.inventoryWindowDays,
        })
      : undefined;
    return await runExtract(
      { ...extractOptionsFromConfig(config, outDir), planOnly: mode.planOnly, worker: mode.worker, check: mode.check, retry: mode.retry },
      source,
      filter,
      ctx,
      planner,
    );
  } finally {
    await source.close();
  }
}

export function extractOptionsFromConfig(config: Config, outDir: string): ExtractOptions {
  return {
    outDir,
    unitSize: config.extract.unitSize,
    articleConcurrency: config.extract.articleConcurrency,
    imageConcurrency: config.extract.imageConcurrency,
    maxFailureRate: config.extract.maxFailureRate,
    images: config.images,
    keep: config.keep,
  };
}

export function formatExtractSummary(s: ExtractSummary): string {
  const t = s.totals;
  const lines = [
    `extract: ${s.source.kind} ${s.source.url}${s.source.snapshotDate ? ` (snapshot ${s.source.snapshotDate})` : ''}`,
    `  units        ${s.units} (${s.unitsSkipped} already done${s.unitsRepaired ? `, ${s.unitsRepaired} redone: their files no longer matched their markers` : ''}${s.unitsPending ? `, ${s.unitsPending} not done yet: other workers or a later run` : ''})`,
    `  articles     ${t.articles} ok, ${t.articlesFailed} failed`,
    `  figures      ${t.figuresOk} ok, ${t.figuresFiltered} filtered, ${t.figuresFailed} failed`,
    `  images       ${t.images} stored (${(t.imageBytes / 1e6).toFixed(1)} MB; ${t.imagesPassedThrough} as published, ${t.images - t.imagesPassedThrough} re-encoded)`,
  ];
  const skipped = Object.entries(s.skippedByReason);
  if (skipped.length > 0) lines.push(`  not listed   ${skipped.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const failures = Object.entries(t.failuresByCode).sort((a, b) => b[1] - a[1]);
  if (failures.length > 0) {
    lines.push(`  failures     ${t.failures}:`);
    for (const [code, n] of failures) lines.push(`    ${String(n).padStart(6)}  ${code}`);
  }
  if (s.requests) {
    const r = s.requests;
    lines.push(`  requests     ${Math.round(r.perSecond)}/s allowed at the end (ceiling ${Math.round(r.ceiling)}/s per host), ${r.throttled} throttled`);
  }
  if (s.sync) {
    const y = s.sync;
    const tomb = Object.entries(y.tombstones).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
    lines.push(`  sync         epoch ${y.epoch}, inventory ${y.snapshotDate} (previous ${y.previousSnapshotDate || 'none'})`);
    lines.push(`               ${y.newArticles} new or changed articles in ${y.newUnits} units; tombstones ${tomb}`);
    if (y.fullListing) lines.push(`               full listing: ${y.fullListingReason}`);
  }
  lines.push(`  manifest     ${s.complete ? s.manifest : 'not written until every unit is done'}`);
  return lines.join('\n');
}
