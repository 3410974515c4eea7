/**
 * What a load run reports. DatasetSummary depends only on the inputs (it is written to
 * stats/summary.json and stays byte-identical across reruns); LoadSummary adds where the dataset
 * is and what this particular run did.
 */
import type { Selection } from '../../manifest/extract-manifest.js';
import type { LicenseGroup } from '../../manifest/load-manifest.js';
import { formatBytes } from './card.js';
import type { LeftOut } from './plan.js';
import type { Layout } from './sample.js';

export interface GroupSummary {
  group: LicenseGroup;
  samples: number;
  articles: number;
  shards: number;
  bytes: number;
}

/** What the dataset covers: the card states its scope from this, not from what a full build would be. */
export interface BuildScope {
  /** Where extract read the articles (its manifest's source). */
  source: { kind: string; url: string; snapshotDate: string };
  /** The extract's filters; absent when the extract did not record them. */
  selection?: Selection;
  /** A query subset: the predicate that chose its samples from the dataset it was cut from. */
  subsetWhere?: string;
}

export interface ClusteringSummary {
  modelFile: string;
  modelSha256: string;
  recipe: string;
  dim: number;
  providers: string[];
  clusters: number;
  components: number;
  sampleSize: number;
  clustersLabelled: number;
}

export interface DatasetSummary {
  scope: BuildScope;
  layout: Layout;
  snapshotDate: string;
  samples: number;
  articles: number;
  shards: number;
  bytes: number;
  /** Every license group, empty ones included. */
  groups: GroupSummary[];
  /** Transform labels were joined; `unlabelled` samples had no label line. */
  labelled: boolean;
  unlabelled: number;
  /** Samples per image_panel_type; {} when the images are not labelled. */
  byPanelType: Record<string, number>;
  /** How the images were embedded, clustered and labelled (transform/manifest.json); absent without transform. */
  clustering?: ClusteringSummary;
  leftOut: LeftOut;
  /** Extract's reasons for the filtered figures. */
  filteredByReason: Record<string, number>;
  failures: {
    /** Carried from the extract manifest, by code. */
    extract: Record<string, number>;
    /** Samples load left out, by code (details in failures.jsonl). */
    load: Record<string, number>;
  };
}

export interface LoadSummary extends DatasetSummary {
  datasetDir: string;
  /** manifest.json, or '' when this run did not write it (a worker that did not finalize). */
  manifest: string;
  /** Planned shards not written yet, left to other workers (0 when complete). */
  shardsPending: number;
  /** Every shard is written and this run wrote the tables, card and manifest. */
  complete: boolean;
  /** What this run did, and where its time went (plan, shards, index tables). */
  run: {
    shardsWritten: number;
    shardsReused: number;
    /** Set when the run was worker `index` of `count`. */
    worker?: { index: number; count: number };
    ms: number;
    planMs: number;
    tablesMs: number;
    shardsMs: number;
  };
}

const n = (x: number) => x.toLocaleString('en-US');

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${n(v)}`).join(', ');
}

export function formatLoadSummary(s: LoadSummary): string {
  if (!s.complete) return formatWorkerSummary(s);
  const lines: string[] = [];
  lines.push(
    `Loaded ${n(s.samples)} samples from ${n(s.articles)} articles into ${n(s.shards)} shards (${formatBytes(s.bytes)}), ` +
      `${s.layout} layout, snapshot ${s.snapshotDate || 'unknown'}.`,
  );
  for (const g of s.groups) {
    lines.push(
      `  ${g.group.padEnd(14)} ${n(g.samples).padStart(10)} samples ${n(g.articles).padStart(9)} articles ${n(g.shards).padStart(6)} shards ${formatBytes(g.bytes).padStart(9)}`,
    );
  }
  const l = s.leftOut;
  lines.push(
    `Left out: ${n(l.tombstonedArticles)} retracted/removed articles, ${n(l.articlesWithoutSamples)} articles with no figure to keep,` +
      ` ${n(l.figuresFiltered)} filtered figures` +
      ` (${counts(s.filteredByReason)}), ${n(l.figuresFailed)} failed figures, ${n(l.subArticleFigures)} sub-article figures,` +
      ` ${n(l.samplesFailed)} images load could not use${l.notInSubset ? `, ${n(l.notInSubset)} images not in the subset` : ''}.`,
  );
  lines.push(`Failures in extract: ${counts(s.failures.extract)}.`);
  lines.push(`Failures in load: ${counts(s.failures.load)}${Object.keys(s.failures.load).length ? ` (see ${s.datasetDir}/failures.jsonl)` : ''}.`);
  if (s.labelled) lines.push(`By panel type: ${counts(s.byPanelType)}.`);
  else lines.push('Labels: none (no transform/ output in the run folder): image_cluster_id is -1 and the label fields are empty.');
  lines.push(
    `Shards written ${n(s.run.shardsWritten)}, unchanged ${n(s.run.shardsReused)}, in ${(s.run.ms / 1000).toFixed(1)} s.`,
  );
  lines.push(`Dataset: ${s.datasetDir} (card README.md, index/<group>.parquet, articles/<group>.parquet)`);
  lines.push(`Check it: biomedica verify ${s.datasetDir}`);

  const first = s.groups.find((g) => g.samples > 0);
  if (first) {
    const dir = `${s.datasetDir}/${first.group}`;
    const spec = first.shards > 1 ? `{000000..${String(first.shards - 1).padStart(6, '0')}}.tar` : '000000.tar';
    lines.push(
      '',
      'Stream it with webdataset:',
      '  import webdataset as wds',
      `  ds = wds.WebDataset(${JSON.stringify(`${dir}/${spec}`)}).decode("pil").to_tuple("jpg", "txt", "json")`,
      '  image, caption, meta = next(iter(ds))',
      '',
      'Or load it with Hugging Face datasets (the card in the folder names the configs and types):',
      '  from datasets import load_dataset',
      `  ds = load_dataset(${JSON.stringify(s.datasetDir)}, ${JSON.stringify(first.group)}, split="train")`,
      '  print(ds[0]["txt"], ds[0]["json"]["article_title"])',
    );
  }
  return lines.join('\n');
}

/** A worker that did not finalize: its share, and who finishes the dataset. */
function formatWorkerSummary(s: LoadSummary): string {
  const who = s.run.worker ? `Worker ${s.run.worker.index}/${s.run.worker.count}` : 'Load';
  const lines = [
    `${who}: shards written ${n(s.run.shardsWritten)}, unchanged ${n(s.run.shardsReused)}, in ${(s.run.ms / 1000).toFixed(1)} s.`,
  ];
  if (s.shardsPending > 0) {
    lines.push(
      `${n(s.shardsPending)} of ${n(s.shards)} shards pending (other workers); the dataset has no manifest yet.`,
      'The worker that finds every shard written finishes it; or, once no worker runs, a plain',
      `biomedica load with the same flags and no --worker writes what is left and finishes it: ${s.datasetDir}`,
    );
  } else {
    lines.push(`Every one of the ${n(s.shards)} shards is written; another worker writes the tables, card and manifest.`);
  }
  return lines.join('\n');
}
