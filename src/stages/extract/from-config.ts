/** Wires a validated Config to the extract stage: builds the source, runs, and always closes it. */
import type { Config } from '../../config/schema.js';
import type { StageContext } from '../../pipeline/context.js';
import { createSource } from '../../sources/index.js';
import type { SourceFilter } from '../../sources/types.js';
import { runExtract, type ExtractSummary } from './run-extract.js';

export async function extractFromConfig(
  config: Config,
  outDir: string,
  filter: SourceFilter,
  ctx: StageContext,
): Promise<ExtractSummary> {
  const source = await createSource(config, { outDir, log: ctx.log });
  try {
    return await runExtract(
      {
        outDir,
        unitSize: config.extract.unitSize,
        articleConcurrency: config.extract.articleConcurrency,
        imageConcurrency: config.extract.imageConcurrency,
        maxFailureRate: config.extract.maxFailureRate,
        images: config.images,
        keep: config.keep,
      },
      source,
      filter,
      ctx,
    );
  } finally {
    await source.close();
  }
}

export function formatExtractSummary(s: ExtractSummary): string {
  const t = s.totals;
  const lines = [
    `extract: ${s.source.kind} ${s.source.url}${s.source.snapshotDate ? ` (snapshot ${s.source.snapshotDate})` : ''}`,
    `  units        ${s.units} (${s.unitsSkipped} already done)`,
    `  articles     ${t.articles} ok, ${t.articlesFailed} failed`,
    `  figures      ${t.figuresOk} ok, ${t.figuresFiltered} filtered, ${t.figuresFailed} failed`,
    `  images       ${t.images} stored (${(t.imageBytes / 1e6).toFixed(1)} MB)`,
  ];
  const skipped = Object.entries(s.skippedByReason);
  if (skipped.length > 0) lines.push(`  not listed   ${skipped.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const failures = Object.entries(t.failuresByCode).sort((a, b) => b[1] - a[1]);
  if (failures.length > 0) {
    lines.push(`  failures     ${t.failures}:`);
    for (const [code, n] of failures) lines.push(`    ${String(n).padStart(6)}  ${code}`);
  }
  lines.push(`  manifest     ${s.manifest}`);
  return lines.join('\n');
}
