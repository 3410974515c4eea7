/**
 * `biomedica annotate transfer`: first labels for a new fit from a prior labelled release.
 *
 * BIOMEDICA's PCA and k-means were never released, so its 2,000 cluster labels belong to its own
 * clusters. What carries over is the images: an image that is in the prior release and in this run
 * (same PMCID, same figure file name) votes, with the labels the prior release gave it, for the
 * labels of the cluster it falls in here. Each cluster takes the label set (panel type, subtype,
 * global and local classes, as one whole, so the result is always a set experts once gave) with the
 * most votes; ties go to the smallest label set in JSON order, so the outcome is deterministic.
 * Clusters no prior image falls in stay unlabelled.
 *
 * How sure each cluster is: `share` (winning votes / matched images) and `confidence`, the lower
 * bound of the 95 % Wilson interval of that share, which also weighs how many images voted
 * (1 of 1 → 0.21, 900 of 1,000 → 0.88). The report lists clusters by confidence, weakest first:
 * the order for experts to review them in.
 *
 * Bounded memory: this run's (PMCID, file name, cluster) rows are staged as JSONL, one unit's
 * records in memory at a time; DuckDB joins them with the prior release (Parquet or JSONL, any
 * size: it spills to the work folder) and returns only the vote counts per cluster and label set.
 *
 *   --to LABELS.json           BIOMEDICA's format, every cluster: what `annotate import` takes
 *   LABELS.votes.json          TransferReport (or --report FILE)
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { InterruptedError, UsageError } from '../errors.js';
import { stableStringify, writeFileAtomic, writeJsonAtomic } from '../storage/files.js';
import { readTransformLabels } from '../manifest/transform-records.js';
import type { StageContext } from '../pipeline/context.js';
import { sqlIdent, sqlString, withDuckDb } from '../storage/duckdb.js';
import { EMPTY_CLUSTER_LABEL, type ClusterLabel, type ClusterLabels } from './cluster-labels.js';
import { formatClusterLabels } from './imported.js';
import { clustersOfRun, labelUnits, unitImages, unitPmcids, type ClusterCount } from './run-folder.js';

export const TransferOptions = z.object({
  priorFiles: z.array(z.string().min(1)).min(1),
  outDir: z.string().min(1),
  toFile: z.string().min(1),
  /** Default: LABELS.votes.json beside --to. */
  reportFile: z.string().min(1).optional(),
  clusters: z.coerce.number().int().min(1).optional(),
});
export type TransferOptions = z.infer<typeof TransferOptions>;

export const TRANSFER_SCHEMA = 'biomedica.annotations.transfer';
export const TRANSFER_VERSION = 1;

export interface ClusterVote {
  cluster: number;
  /** Images of this run in the cluster. */
  images: number;
  /** Of those, images the prior release also has, with labels. */
  matched: number;
  /** Votes for the winning label set. */
  votes: number;
  share: number;
  confidence: number;
  /** Distinct label sets that got votes. */
  candidates: number;
  /** The winner was chosen among label sets with equal votes. */
  tie: boolean;
  label: ClusterLabel;
}

export interface TransferReport {
  schema: typeof TRANSFER_SCHEMA;
  version: typeof TRANSFER_VERSION;
  run: string;
  prior: { path: string; bytes: number }[];
  clusters: number;
  clustersFrom: ClusterCount['from'];
  /** Clustered images of this run, and those whose (PMCID, file name) a labelled prior row has. */
  images: number;
  matchedImages: number;
  /** Distinct prior rows (an exact duplicate counts once), and those that carry labels. */
  priorRows: number;
  priorLabelledRows: number;
  labelled: number;
  unlabelled: number;
  ties: number;
  /** Weakest first: confidence, then cluster id. */
  votes: ClusterVote[];
}

/** Prior columns, by the names BIOMEDICA's samples and this tool's index use. */
const PMCID_COLUMNS = ['pmcid', 'article_accession_id', 'accession_id'];
const LABEL_COLUMNS = ['image_file_name', 'image_panel_type', 'image_panel_subtype', 'image_primary_label', 'image_secondary_label'] as const;

export function defaultReportPath(toFile: string): string {
  return /\.json$/i.test(toFile) ? toFile.replace(/\.json$/i, '.votes.json') : `${toFile}.votes.json`;
}

export async function runTransfer(options: TransferOptions, ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>): Promise<TransferReport> {
  const outDir = resolve(options.outDir);
  const toFile = resolve(options.toFile);
  const reportFile = resolve(options.reportFile ?? defaultReportPath(toFile));
  const priorFiles = options.priorFiles.map((f) => resolve(f));
  const prior = await Promise.all(
    priorFiles.map(async (path) => {
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) throw new UsageError('PRIOR_MISSING', `no prior release file at ${path}`, { path, hint: 'pass --prior with Parquet or JSONL files' });
      return { path, bytes: info.size };
    }),
  );
  const work = join(dirname(toFile), `.${Date.now().toString(36)}-transfer.work`);
  await mkdir(work, { recursive: true });
  try {
    const staged = await stageRun(outDir, join(work, 'images.jsonl'), ctx);
    const k = await clustersOfRun(outDir, options.clusters, staged.maxId);
    const tally = await countVotes(priorFiles, staged.path, work);
    const votes = decide(k.count, staged.perCluster, tally.rows);
    const labels: ClusterLabels = {};
    for (const v of [...votes].sort((a, b) => a.cluster - b.cluster)) labels[String(v.cluster)] = v.label;
    const report: TransferReport = {
      schema: TRANSFER_SCHEMA,
      version: TRANSFER_VERSION,
      run: outDir,
      prior,
      clusters: k.count,
      clustersFrom: k.from,
      images: staged.images,
      matchedImages: votes.reduce((n, v) => n + v.matched, 0),
      priorRows: tally.priorRows,
      priorLabelledRows: tally.priorLabelledRows,
      labelled: votes.filter((v) => v.matched > 0).length,
      unlabelled: votes.filter((v) => v.matched === 0).length,
      ties: votes.filter((v) => v.tie).length,
      votes,
    };
    await writeFileAtomic(toFile, formatClusterLabels(labels));
    await writeJsonAtomic(reportFile, report);
    ctx.log.info({ toFile, reportFile, labelled: report.labelled, unlabelled: report.unlabelled, matchedImages: report.matchedImages }, 'transfer finished');
    return report;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Staged {
  path: string;
  images: number;
  maxId: number;
  perCluster: Map<number, number>;
}

/** This run's (PMCID, file name, cluster) rows as JSONL, unit by unit. */
async function stageRun(outDir: string, path: string, ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>): Promise<Staged> {
  const units = await labelUnits(outDir);
  const out = createWriteStream(path);
  const staged: Staged = { path, images: 0, maxId: -1, perCluster: new Map() };
  const counters = { invalid: 0 };
  let withoutRecord = 0;
  ctx.progress.start(units.length, 'transfer');
  try {
    for (const unit of units) {
      if (ctx.signal.aborted) throw new InterruptedError('INTERRUPTED', 'transfer stopped', { hint: 'rerun the same command' });
      const clusterOf = new Map<string, number>();
      for await (const label of readTransformLabels(outDir, unit)) {
        if (label.clusterId < 0) continue;
        clusterOf.set(label.key, label.clusterId);
        staged.images++;
        staged.maxId = Math.max(staged.maxId, label.clusterId);
        staged.perCluster.set(label.clusterId, (staged.perCluster.get(label.clusterId) ?? 0) + 1);
      }
      const pmcids = await unitPmcids(outDir, unit, counters);
      let found = 0;
      for await (const image of unitImages(outDir, unit, counters, (key) => clusterOf.has(key))) {
        found++;
        await write(out, JSON.stringify({ pmcid: pmcids.get(image.articleId) ?? '', file: image.mediaName, cluster: clusterOf.get(image.key) }) + '\n');
      }
      withoutRecord += clusterOf.size - found;
      ctx.progress.tick(1);
    }
    out.end();
    await once(out, 'finish');
  } finally {
    out.destroy();
    ctx.progress.stop();
  }
  if (withoutRecord > 0 || counters.invalid > 0) {
    ctx.log.warn({ withoutRecord, recordsInvalid: counters.invalid }, 'labelled images without an extract record cannot vote');
  }
  return staged;
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

interface Tally {
  rows: { cluster: number; label: ClusterLabel; votes: number }[];
  priorRows: number;
  priorLabelledRows: number;
}

async function countVotes(priorFiles: string[], ours: string, work: string): Promise<Tally> {
  return withDuckDb(async (conn) => {
    await conn.run(`SET temp_directory = ${sqlString(join(work, 'duckdb'))}`);
    await conn.run('SET preserve_insertion_order = false');
    const source = priorSource(priorFiles);
    const columns = new Map(
      (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS().map((r) => [String(r['column_name']), String(r['column_type'])]),
    );
    const pmcid = PMCID_COLUMNS.find((c) => columns.has(c));
    const missing = [...(pmcid ? [] : [PMCID_COLUMNS.join(' or ')]), ...LABEL_COLUMNS.filter((c) => !columns.has(c))];
    if (missing.length > 0) {
      throw new UsageError('PRIOR_COLUMNS', `the prior release lacks columns: ${missing.join(', ')}`, {
        found: [...columns.keys()],
        hint: "give a BIOMEDICA-style index: pmcid (or article_accession_id), image_file_name, image_panel_type, image_panel_subtype, image_primary_label, image_secondary_label",
      });
    }
    for (const c of ['image_primary_label', 'image_secondary_label']) {
      if (!columns.get(c)!.endsWith('[]')) {
        throw new UsageError('PRIOR_COLUMNS', `the prior release's ${c} is ${columns.get(c)}, not a list of strings`, {
          hint: 'the label columns must be lists, as in BIOMEDICA\'s samples (["Microscopy"])',
        });
      }
    }
    const normal = (expr: string) => `CASE WHEN upper(trim(${expr})) LIKE 'PMC%' THEN upper(trim(${expr})) ELSE 'PMC' || trim(${expr}) END`;
    const labelled = `panel_type <> '' OR panel_subtype <> '' OR len(global_class) > 0 OR len(local_class) > 0`;
    await conn.run(`CREATE TEMP VIEW prior AS
      SELECT DISTINCT
        ${normal(`CAST(${sqlIdent(pmcid!)} AS VARCHAR)`)} AS pmcid,
        regexp_extract(CAST(image_file_name AS VARCHAR), '[^/]*$') AS file,
        coalesce(CAST(image_panel_type AS VARCHAR), '') AS panel_type,
        coalesce(CAST(image_panel_subtype AS VARCHAR), '') AS panel_subtype,
        coalesce(CAST(image_primary_label AS VARCHAR[]), []::VARCHAR[]) AS global_class,
        coalesce(CAST(image_secondary_label AS VARCHAR[]), []::VARCHAR[]) AS local_class
      FROM ${source}
      WHERE ${sqlIdent(pmcid!)} IS NOT NULL AND image_file_name IS NOT NULL`);
    const [[priorRows, priorLabelledRows]] = (
      await conn.runAndReadAll(`SELECT count(*)::BIGINT, count(*) FILTER (WHERE ${labelled})::BIGINT FROM prior`)
    ).getRowsJS() as [[bigint, bigint]];
    const reader = await conn.runAndReadAll(`
      SELECT o.cluster, p.panel_type, p.panel_subtype, p.global_class, p.local_class, count(*)::BIGINT AS votes
      FROM read_json(${sqlString(ours)}, format = 'newline_delimited', columns = {pmcid: 'VARCHAR', file: 'VARCHAR', cluster: 'BIGINT'}) o
      JOIN (SELECT * FROM prior WHERE ${labelled}) p ON ${normal('o.pmcid')} = p.pmcid AND o.file = p.file
      GROUP BY ALL`);
    return {
      priorRows: Number(priorRows),
      priorLabelledRows: Number(priorLabelledRows),
      rows: reader.getRowsJS().map(([cluster, panelType, panelSubtype, global, local, votes]) => ({
        cluster: Number(cluster),
        label: { panel_type: String(panelType), panel_subtype: String(panelSubtype), global_class: (global as string[]).map(String), local_class: (local as string[]).map(String) },
        votes: Number(votes),
      })),
    };
  });
}

function priorSource(files: string[]): string {
  const list = `[${files.map(sqlString).join(', ')}]`;
  if (files.every((f) => /\.parquet$/i.test(f))) return `read_parquet(${list}, union_by_name = true)`;
  if (files.every((f) => /\.(jsonl|ndjson|json)$/i.test(f))) return `read_json(${list}, format = 'newline_delimited', union_by_name = true, maximum_object_size = 268435456)`;
  throw new UsageError('PRIOR_FORMAT', `prior release files must all be Parquet (.parquet) or all JSONL (.jsonl, .ndjson, .json): ${files.join(', ')}`, {
    hint: 'convert them to one format, e.g. with duckdb: COPY (SELECT * FROM read_json(...)) TO x.parquet',
  });
}

/** One decision per cluster from the vote counts: pure, so tests can state the expected winner. */
export function decide(clusters: number, images: Map<number, number>, rows: Tally['rows']): ClusterVote[] {
  const byCluster = new Map<number, { key: string; label: ClusterLabel; votes: number }[]>();
  for (const row of rows) {
    const list = byCluster.get(row.cluster) ?? [];
    list.push({ key: stableStringify([row.label.panel_type, row.label.panel_subtype, row.label.global_class, row.label.local_class]), label: row.label, votes: row.votes });
    byCluster.set(row.cluster, list);
  }
  const out: ClusterVote[] = [];
  for (let cluster = 0; cluster < clusters; cluster++) {
    const candidates = (byCluster.get(cluster) ?? []).sort((a, b) => b.votes - a.votes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const matched = candidates.reduce((n, c) => n + c.votes, 0);
    const winner = candidates[0];
    out.push({
      cluster,
      images: images.get(cluster) ?? 0,
      matched,
      votes: winner?.votes ?? 0,
      share: winner ? winner.votes / matched : 0,
      confidence: winner ? wilsonLower(winner.votes, matched) : 0,
      candidates: candidates.length,
      tie: candidates.length > 1 && candidates[1]!.votes === winner!.votes,
      label: winner?.label ?? EMPTY_CLUSTER_LABEL,
    });
  }
  return out.sort((a, b) => a.confidence - b.confidence || a.cluster - b.cluster);
}

/** Lower bound of the 95 % Wilson score interval for `wins` of `n`. */
export function wilsonLower(wins: number, n: number): number {
  if (n === 0) return 0;
  const z = 1.959963984540054;
  const p = wins / n;
  const z2n = (z * z) / n;
  return (p + z2n / 2 - z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n))) / (1 + z2n);
}

export function formatTransferReport(r: TransferReport, toFile: string, reportFile: string): string {
  const weakest = r.votes.filter((v) => v.matched > 0).slice(0, 10);
  return [
    `transfer: ${r.labelled} of ${r.clusters} clusters labelled from the prior release, ${r.unlabelled} unlabelled (no prior image in them), ${r.ties} ties`,
    `  images      ${r.matchedImages} of ${r.images} found in the prior release (${r.priorLabelledRows} labelled of ${r.priorRows} prior rows)`,
    `  labels      ${toFile}`,
    `  votes       ${reportFile} (weakest first)`,
    ...(weakest.length ? ['  weakest labelled clusters (cluster: votes/matched, confidence):'] : []),
    ...weakest.map((v) => `    ${v.cluster}: ${v.votes}/${v.matched}, ${v.confidence.toFixed(2)}${v.tie ? ' (tie)' : ''} → ${[...v.label.global_class, ...v.label.local_class].join(', ')}`),
  ].join('\n');
}
