/**
 * Where validated expert labels live in a run folder, for the transform label step to read:
 *
 *   <out>/transform/cluster_labels.json          BIOMEDICA's format (cluster-labels.ts), validated
 *   <out>/transform/cluster_labels.import.json   ImportRecord: written last, atomically; says which
 *                                                taxonomy checked the labels and their sha256
 *
 * The record is the done-marker of an import: labels without a matching record are not trusted
 * (an interrupted import, or a hand edit after it), so the label step fails with a hint instead of
 * propagating labels nobody validated. No record at all means "no expert labels yet": every image
 * gets its cluster id and empty labels (propagate.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { readJsonIfExists, sha256, writeFileAtomic, writeJsonAtomic } from '../storage/files.js';
import { transformPaths } from '../manifest/transform-records.js';
import { parseClusterLabels, type ClusterLabel, type ClusterLabels, type LabelsReport } from './cluster-labels.js';

export const IMPORT_SCHEMA = 'biomedica.annotations.import';
export const IMPORT_VERSION = 1;

export const ImportRecord = z.object({
  schema: z.literal(IMPORT_SCHEMA),
  version: z.literal(IMPORT_VERSION),
  /** sha256 of <out>/transform/cluster_labels.json as written. */
  labelsSha256: z.string(),
  /** The file the expert gave, and its sha256 (the written file is the same labels, re-serialised). */
  source: z.object({ path: z.string(), sha256: z.string() }),
  taxonomy: z.object({ path: z.string(), sha256: z.string() }),
  clusters: z.number().int().min(0),
  labelled: z.number().int().min(0),
  unlabelled: z.number().int().min(0),
});
export type ImportRecord = z.infer<typeof ImportRecord>;

export const importedLabelsPaths = (outDir: string) => {
  const root = transformPaths(outDir).root;
  return { labels: join(root, 'cluster_labels.json'), record: join(root, 'cluster_labels.import.json') };
};

/**
 * BIOMEDICA's layout and field order, one cluster per line in id order: small diffs when experts revise a few
 * clusters, and the same labels always give the same bytes.
 */
export function formatClusterLabels(labels: ClusterLabels): string {
  const ids = Object.keys(labels).sort((a, b) => Number(a) - Number(b));
  if (ids.length === 0) return '{}\n';
  const line = ({ panel_type, panel_subtype, global_class, local_class }: ClusterLabel) =>
    JSON.stringify({ panel_type, panel_subtype, global_class, local_class });
  return `{\n${ids.map((id) => `  ${JSON.stringify(id)}: ${line(labels[id]!)}`).join(',\n')}\n}\n`;
}

export async function writeImportedLabels(
  outDir: string,
  labels: ClusterLabels,
  meta: { source: ImportRecord['source']; taxonomy: ImportRecord['taxonomy']; report: LabelsReport },
): Promise<ImportRecord> {
  const paths = importedLabelsPaths(outDir);
  const text = formatClusterLabels(labels);
  const record: ImportRecord = {
    schema: IMPORT_SCHEMA,
    version: IMPORT_VERSION,
    labelsSha256: sha256(text),
    source: { path: meta.source.path, sha256: meta.source.sha256 },
    taxonomy: { path: meta.taxonomy.path, sha256: meta.taxonomy.sha256 },
    clusters: meta.report.clusters,
    labelled: meta.report.labelled,
    unlabelled: meta.report.unlabelled.count,
  };
  // Labels first, record last: an import stopped in between leaves the old record, which no longer
  // matches, so the label step stops with a hint instead of taking the folder for unlabelled.
  await writeFileAtomic(paths.labels, text);
  await writeJsonAtomic(paths.record, record);
  return record;
}

export interface ImportedLabels {
  labels: ClusterLabels;
  record: ImportRecord;
}

/**
 * The labels the transform label step propagates, or undefined when none were imported. Their
 * sha256 (record.labelsSha256) belongs in the label step's unit options hash: new labels relabel.
 */
export async function readImportedLabels(outDir: string): Promise<ImportedLabels | undefined> {
  const paths = importedLabelsPaths(outDir);
  const raw = await readJsonIfExists(paths.record);
  if (raw === undefined) return undefined;
  const reimport = 'rerun biomedica annotate import --labels FILE --to ' + outDir;
  const parsed = ImportRecord.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestError('MANIFEST_VERSION', `${paths.record} is not a ${IMPORT_SCHEMA} v${IMPORT_VERSION} record`, {
      path: paths.record,
      hint: reimport,
    });
  }
  let text: string;
  try {
    text = await readFile(paths.labels, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ManifestError('MANIFEST_MISSING', `imported labels ${paths.labels} are missing`, { path: paths.labels, hint: reimport });
  }
  if (sha256(text) !== parsed.data.labelsSha256) {
    throw new ManifestError('MANIFEST_MISMATCH', `${paths.labels} does not match its import record (an interrupted import, or an edit after it)`, {
      path: paths.labels,
      hint: `edit the labels elsewhere and import them: ${reimport}`,
    });
  }
  return { labels: parseClusterLabels(text, paths.labels), record: parsed.data };
}
