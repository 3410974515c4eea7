/**
 * `biomedica annotate import`: check experts' cluster labels against a taxonomy and the fit, and put
 * them where the transform label step reads them (imported.ts). Unknown names and labels of
 * clusters the fit does not have stop the import (exit 3, nothing written); unlabelled and
 * incomplete clusters are reported and imported as they are.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { clustersInLabels, readClusterLabels, validateClusterLabels, type LabelsReport } from './cluster-labels.js';
import { importedLabelsPaths, writeImportedLabels } from './imported.js';
import { clusterCount } from './run-folder.js';
import { readTaxonomy } from './taxonomy.js';

export const ImportOptions = z.object({
  labelsFile: z.string().min(1),
  taxonomyFile: z.string().min(1),
  /** The run folder: labels go to <outDir>/transform/cluster_labels.json. */
  outDir: z.string().min(1),
  /** K; default: the fitted model's, else one past the largest id in the file. */
  clusters: z.coerce.number().int().min(1).optional(),
});
export type ImportOptions = z.infer<typeof ImportOptions>;

export interface ImportResult {
  labelsFile: string;
  taxonomy: { path: string; sha256: string };
  report: LabelsReport;
  /** Where the labels went ('' when the import was refused). */
  written: { labels: string; record: string };
  /** Set when the labels were refused: the caller reports, then throws it. */
  error?: ManifestError;
}

export async function runImport(options: ImportOptions, ctx: Pick<StageContext, 'log'>): Promise<ImportResult> {
  const outDir = resolve(options.outDir);
  const labelsFile = resolve(options.labelsFile);
  const [read, taxonomy] = await Promise.all([readClusterLabels(labelsFile), readTaxonomy(options.taxonomyFile)]);
  const k = (await clusterCount(outDir, options.clusters)) ?? { count: clustersInLabels(read.labels), from: 'labels' as const };
  const report = validateClusterLabels(read.labels, taxonomy, { count: k.count, from: k.from });
  const result: ImportResult = {
    labelsFile,
    taxonomy: { path: taxonomy.path, sha256: taxonomy.sha256 },
    report,
    written: { labels: '', record: '' },
  };
  if (!report.ok) {
    result.error = refusal(report, labelsFile);
    ctx.log.warn({ labelsFile, unknown: report.unknown.count, outOfRange: report.outOfRange.count }, 'labels refused');
    return result;
  }
  await writeImportedLabels(outDir, read.labels, {
    source: { path: labelsFile, sha256: read.sha256 },
    taxonomy: result.taxonomy,
    report,
  });
  result.written = importedLabelsPaths(outDir);
  ctx.log.info({ labelsFile, outDir, labelled: report.labelled, unlabelled: report.unlabelled.count }, 'labels imported');
  return result;
}

function refusal(report: LabelsReport, labelsFile: string): ManifestError {
  if (report.unknown.names.length > 0) {
    const first = report.unknown.names
      .slice(0, 3)
      .map((u) => `${u.field} "${u.value}"${u.nearest ? ` (nearest: "${u.nearest}")` : ''}`)
      .join(', ');
    return new ManifestError('LABELS_UNKNOWN_CLASS', `${report.unknown.names.length} names in ${labelsFile} are not in the taxonomy: ${first}${report.unknown.names.length > 3 ? ', …' : ''}`, {
      unknown: report.unknown.names,
      hint: `correct them in ${labelsFile} (the report above gives each one's nearest valid name), or pass --taxonomy FILE with the taxonomy they come from`,
    });
  }
  return new ManifestError('CLUSTER_OUT_OF_RANGE', `${labelsFile} labels ${report.outOfRange.count} clusters the fit does not have (K = ${report.clusters}, from ${report.clustersFrom}): ${report.outOfRange.examples.join(', ')}`, {
    hint: `pass --clusters K if the fit has more clusters, or remove those entries from ${labelsFile}`,
  });
}
