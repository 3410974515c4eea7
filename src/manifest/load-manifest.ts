/**
 * The load stage's on-disk contract: the dataset folder that users download, stream and publish,
 * and that `biomedica verify` and `biomedica query` read back.
 *
 *   <dataset>/
 *     README.md                        Hugging Face dataset card (YAML configs per license group)
 *     commercial/000000.tar ...        WebDataset shards: <key>.jpg, <key>.json, <key>.txt per sample
 *     noncommercial/000000.tar ...     (a group with no samples has no folder)
 *     other/000000.tar ...
 *     index/<group>.parquet            IndexRow per sample: where it is (shard, offset) and what it is
 *     articles/<group>.parquet         ArticleRow per article: article-level text, stored once
 *     stats/<group>/000000.json        the shard's done marker (src/pipeline/runner.ts; result ShardStats):
 *                                      written after its shard, by rename; records the tar's sha256
 *     stats/summary.json               dataset-level summary (the LoadSummary of the run)
 *     failures.jsonl                   FailureRecord per sample that load had to leave out
 *     manifest.json                    LoadManifest, written last
 *
 * Shards hold tar members only for samples; per-shard stats live in stats/ so that a group folder
 * holds nothing but shards, and the 10,000-files-per-folder limit of the Hub means 9,999 shards.
 *
 * Layout "normalized" (the default) stores article-level text that is the same for every figure of
 * an article (`article_text`, `image_set`, `article_reference_list`) once, in
 * articles/<group>.parquet, and writes typed empty values ('' and []) for those fields in each
 * sample. Layout "denormalized" fills them in every sample, as BIOMEDICA did. The set of keys and
 * their types are the same in both. (A field that is [] in every sample of a group is no trouble
 * for Hugging Face's type inference: see src/stages/load/lead.ts.)
 */
import { join } from 'node:path';
import { z } from 'zod';
import { LicenseGroupSchema, type LicenseGroup } from './license.js';

export { LICENSE_GROUPS, type LicenseGroup } from './license.js';

export const LOAD_SCHEMA = 'biomedica.load';
export const LOAD_VERSION = 1;


/** Keys reach tar member names as `<key>.json`; ustar holds 100 bytes, and a pax header would move offsets. */
export const MAX_KEY_LENGTH = 95;
export const KEY_PATTERN = /^[A-Za-z0-9_-]+$/;

const str = z.string();
const int = z.number().int();
const strs = z.array(z.string());
const ints = z.array(z.number().int());

/**
 * `<key>.json` of every sample. BIOMEDICA's 25 fields keep their names and meanings (SOURCES.md
 * §5) so existing filtering code works; the fields after them are ours. Never null: a field that can
 * be missing holds a typed empty value, because readers infer column types from the first rows.
 */
export const SampleJson = z
  .object({
    image_file_name: str,
    image_cluster_id: int,
    image_hash: str,
    image_label_id: str,
    image_panel_type: str,
    image_panel_subtype: str,
    image_primary_label: strs,
    image_secondary_label: strs,
    image_size: ints,
    image_set: strs,
    image_context: strs,
    article_accession_id: str,
    article_title: str,
    article_journal: str,
    article_date: str,
    article_abstract: str,
    article_mesh_terms: strs,
    article_keywords: strs,
    article_reference_ids: strs,
    article_reference_count: int,
    article_reference_list: strs,
    article_subject: strs,
    article_citation: str,
    article_license: str,
    article_text: str,
    key: str,
    article_id: str,
    article_version: int,
    article_pmid: str,
    article_doi: str,
    article_publisher: str,
    article_type: str,
    article_license_group: str,
    article_license_url: str,
    figure_key: str,
    figure_id: str,
    figure_label: str,
    figure_index: int,
    figure_kind: str,
    figure_sub_article_id: str,
    image_index: int,
    image_count: int,
    image_bytes: int,
    image_original_format: str,
    image_original_size: ints,
  })
  .strict();
export type SampleJson = z.infer<typeof SampleJson>;

export const BIOMEDICA_FIELDS = [
  'image_file_name', 'image_cluster_id', 'image_hash', 'image_label_id', 'image_panel_type',
  'image_panel_subtype', 'image_primary_label', 'image_secondary_label', 'image_size', 'image_set',
  'image_context', 'article_accession_id', 'article_title', 'article_journal', 'article_date',
  'article_abstract', 'article_mesh_terms', 'article_keywords', 'article_reference_ids',
  'article_reference_count', 'article_reference_list', 'article_subject', 'article_citation',
  'article_license', 'article_text',
] as const satisfies readonly (keyof SampleJson)[];

/** Where each field comes from; the dataset card prints this table. */
export const SAMPLE_FIELD_DOCS: Record<keyof SampleJson, string> = {
  image_file_name: 'name of the image file in the article package (ImageRecord.mediaName)',
  image_cluster_id: 'k-means cluster of the image embedding (transform stage); -1 when not clustered',
  image_hash: 'sha256 (hex) of the stored JPEG bytes, i.e. of the `.jpg` member itself',
  image_label_id: "id of the cluster's label set (transform stage); '' when unlabelled",
  image_panel_type: "panel type of the image's cluster (transform stage); '' when unlabelled",
  image_panel_subtype: "panel subtype of the image's cluster (transform stage); '' when unlabelled",
  image_primary_label: "global classes of the image's cluster (transform stage); [] when unlabelled",
  image_secondary_label: "local classes of the image's cluster (transform stage); [] when unlabelled",
  image_size: '[width, height] in pixels of the stored JPEG',
  image_set: 'image_file_name of every image of the article in this dataset, in order; [] in the normalized layout (see articles/<group>.parquet)',
  image_context: 'paragraphs of the article body that cite the figure',
  article_accession_id: "PMCID ('PMC4599423')",
  article_title: 'article title (plain text)',
  article_journal: 'journal title',
  article_date: "publication date from the XML's <pub-date>: 'YYYY-MM-DD', 'YYYY-MM', 'YYYY' or ''",
  article_abstract: 'abstract (plain text)',
  article_mesh_terms: 'MeSH descriptors from PubMed; [] until PubMed enrichment has run',
  article_keywords: 'author keywords (<kwd>)',
  article_reference_ids: 'PMIDs of the cited references',
  article_reference_count: 'number of references in the reference list',
  article_reference_list:
    "text of each reference in list order, one per reference (as many as article_reference_count; '' for a ref with no text): element-citation fields joined as 'Smith J, Jones A. Title. Nature. 2001. 12. 1–9. doi:10.1/x', mixed-citation text as the publisher wrote it; [] in the normalized layout (see articles/<group>.parquet)",
  article_subject: 'subject headings (<subject>)',
  article_citation: 'citation string from the PMC file list',
  article_license: "license code as PMC lists it ('CC BY', 'CC BY-NC', 'NO-CC CODE', ...)",
  article_text: "full body text; '' in the normalized layout (see articles/<group>.parquet)",
  key: 'the WebDataset key (`__key__`): unique, stable across runs, no dots',
  article_id: "article id: PMCID plus version ('PMC4599423_1', cloud) or PMCID (legacy)",
  article_version: 'article version in the PMC Cloud Service; -1 for the legacy layout',
  article_pmid: "PubMed id; '' when none",
  article_doi: "DOI; '' when none",
  article_publisher: 'publisher name',
  article_type: "JATS article-type ('research-article', 'review-article', ...)",
  article_license_group: "license group: 'commercial', 'noncommercial' or 'other' (the shard folder)",
  article_license_url: "license URL from the XML; '' when none",
  figure_key: "figure key '<article_id>_f<index>'; a figure with several images has several samples",
  figure_id: "the figure's XML id",
  figure_label: "the figure's label ('Figure 3')",
  figure_index: 'position of the figure in the article, from 1',
  figure_kind: "'figure', or 'table-image' for a table given as an image",
  figure_sub_article_id: "id of the sub-article holding the figure; '' in the main article",
  image_index: 'position of the image within its figure, from 1',
  image_count: 'number of images stored for the figure',
  image_bytes: 'size of the stored JPEG in bytes',
  image_original_format: "format of the image in the package ('jpeg', 'tiff', ...)",
  image_original_size: '[width, height] in pixels of the image in the package',
};

/** One row per sample of index/<group>.parquet, in shard order. */
export const IndexRow = z
  .object({
    key: str,
    /** Shard path relative to the dataset folder: 'commercial/000003.tar'. */
    shard: str,
    /** Byte offset of the sample's first tar member header in the shard. */
    offset: int,
    /** Bytes the sample's members take in the shard, headers and padding included. */
    sample_bytes: int,
    caption: str,
    /** sha256 of the `.json` member's bytes (the image's is image_hash; the caption is here whole). */
    json_sha256: str,
    // The same fields, with the same types, as the sample JSON: filters written for one work on the other.
    ...SampleJson.pick({
      image_file_name: true,
      image_cluster_id: true,
      image_hash: true,
      image_label_id: true,
      image_panel_type: true,
      image_panel_subtype: true,
      image_primary_label: true,
      image_secondary_label: true,
    }).shape,
    image_width: int,
    image_height: int,
    image_bytes: int,
    figure_key: str,
    figure_label: str,
    figure_kind: str,
    figure_sub_article_id: str,
    article_id: str,
    article_accession_id: str,
    article_pmid: str,
    article_doi: str,
    article_title: str,
    article_journal: str,
    article_date: str,
    article_license: str,
    article_license_group: str,
  })
  .strict();
export type IndexRow = z.infer<typeof IndexRow>;

/** One row per article with at least one sample, of articles/<group>.parquet, in dataset order. */
export const ArticleRow = z
  .object({
    article_id: str,
    article_accession_id: str,
    article_version: int,
    article_pmid: str,
    article_doi: str,
    article_title: str,
    article_journal: str,
    article_publisher: str,
    article_date: str,
    article_type: str,
    article_abstract: str,
    article_keywords: strs,
    article_subject: strs,
    article_mesh_terms: strs,
    article_reference_ids: strs,
    article_reference_count: int,
    article_reference_list: strs,
    article_citation: str,
    article_license: str,
    article_license_group: str,
    article_license_url: str,
    article_text: str,
    image_set: strs,
    sample_keys: strs,
    /** Figures in the article's XML, kept or not. */
    figure_count: int,
    sample_count: int,
  })
  .strict();
export type ArticleRow = z.infer<typeof ArticleRow>;

export type FieldKind = 'string' | 'int' | 'string[]' | 'int[]';

/** The kind of each field of a flat record schema, read from the zod schema so nothing is typed twice. */
export function fieldKinds(schema: z.ZodObject): Record<string, FieldKind> {
  const out: Record<string, FieldKind> = {};
  for (const [name, field] of Object.entries(schema.shape)) {
    if (field instanceof z.ZodString) out[name] = 'string';
    else if (field instanceof z.ZodNumber) out[name] = 'int';
    else if (field instanceof z.ZodArray) out[name] = field.element instanceof z.ZodString ? 'string[]' : 'int[]';
    else throw new Error(`field ${name}: no column kind for this schema type`);
  }
  return out;
}

/** What a shard's marker (stats/<group>/NNNNNN.json, step LOAD_SHARD_STEP) records as its result. */
export const ShardStats = z.object({
  group: LicenseGroupSchema,
  /** 'commercial/000003.tar' */
  shard: z.string(),
  /** sha256 and size of the tar file. */
  sha256: z.string(),
  bytes: int,
  samples: int,
  articles: int,
  imageBytes: int,
  firstKey: z.string(),
  lastKey: z.string(),
  /** Samples per image_panel_type ('' = unlabelled). */
  byPanelType: z.record(z.string(), int),
});
/** The step name in shard markers; their key is the sha256 of everything the shard is made from. */
export const LOAD_SHARD_STEP = 'load.shard';
export type ShardStats = z.infer<typeof ShardStats>;

const FileRef = z.object({ file: z.string(), sha256: z.string(), rows: int });

export const LoadManifest = z.object({
  schema: z.literal(LOAD_SCHEMA),
  version: z.literal(LOAD_VERSION),
  layout: z.enum(['normalized', 'denormalized']),
  snapshotDate: z.string(),
  options: z.object({
    shardMaxBytes: int,
    shardMaxSamples: int,
    includeSubArticles: z.boolean(),
    /** The training subset load wrote (load --subset), when it wrote one. */
    subset: z.record(z.string(), z.unknown()).optional(),
  }),
  upstream: z.object({
    /** What the dataset was made from: an extract manifest, or (a query subset) another dataset. */
    kind: z.enum(['extract', 'dataset']),
    manifestSha256: z.string(),
    /** sha256 of transform/manifest.json; '' when the labels were left empty. */
    transformSha256: z.string(),
  }),
  groups: z.array(
    z.object({
      group: LicenseGroupSchema,
      samples: int,
      articles: int,
      bytes: int,
      shards: z.array(z.object({ shard: z.string(), samples: int, bytes: int, sha256: z.string() })),
      index: FileRef,
      articlesTable: FileRef,
    }),
  ),
  totals: z.object({ samples: int, articles: int, shards: int, bytes: int }),
});
export type LoadManifest = z.infer<typeof LoadManifest>;

/**
 * `.work/plan-<key>/plan.json`, the plan every worker of a load shares (src/stages/load/run-load.ts
 * writes it last in its folder), as far as a reader outside load needs it (`status`): the shards per
 * group and each shard's key. Load keeps the rest of the plan's shape to itself (passthrough).
 */
export const LOAD_PLAN_SCHEMA = 'biomedica.load.plan';
export const LOAD_PLAN_VERSION = 1;
export const LoadPlanFile = z.object({
  schema: z.literal(LOAD_PLAN_SCHEMA),
  version: z.literal(LOAD_PLAN_VERSION),
  key: z.string(),
  plan: z
    .object({
      groups: z.array(
        z.object({ group: LicenseGroupSchema, shards: z.array(z.object({ n: int, samples: int, inputSha256: z.string() }).passthrough()) }).passthrough(),
      ),
      /** The staging file of the samples load left out (FailureRecord per line), relative to the plan's folder. */
      failuresStaging: z.string(),
    })
    .passthrough(),
});
export type LoadPlanFile = z.infer<typeof LoadPlanFile>;

/** What to do when a dataset's manifest is missing or damaged: the same words for verify, query and load. */
export const DATASET_MANIFEST_HINTS = {
  missing: 'point at a dataset folder made by biomedica load (an unfinished load has no manifest yet: rerun the load to finish it)',
  invalid: 'rerun biomedica load with this version of biomedica (same --out and --dataset)',
};

export const shardName = (n: number) => `${String(n).padStart(6, '0')}.tar`;
export const SHARD_NAME = /^\d{6}\.tar$/;

export const loadPaths = (datasetDir: string) => ({
  root: datasetDir,
  card: join(datasetDir, 'README.md'),
  manifest: join(datasetDir, 'manifest.json'),
  summary: join(datasetDir, 'stats', 'summary.json'),
  failures: join(datasetDir, 'failures.jsonl'),
  groupDir: (group: LicenseGroup) => join(datasetDir, group),
  /** Shard path relative to the dataset folder, as the index and stats name it. */
  shardRel: (group: LicenseGroup, n: number) => `${group}/${shardName(n)}`,
  shard: (group: LicenseGroup, n: number) => join(datasetDir, group, shardName(n)),
  statsDir: (group: LicenseGroup) => join(datasetDir, 'stats', group),
  shardStats: (group: LicenseGroup, n: number) => join(datasetDir, 'stats', group, `${String(n).padStart(6, '0')}.json`),
  indexRel: (group: LicenseGroup) => `index/${group}.parquet`,
  articlesRel: (group: LicenseGroup) => `articles/${group}.parquet`,
  /** Staging files of a run in progress (the shared plan); removed when the run finishes. */
  work: join(datasetDir, '.work'),
  /** The plan of one set of inputs, shared by every worker of a load (stages/load/run-load.ts). */
  planDir: (key: string) => join(datasetDir, '.work', `plan-${key.slice(0, 16)}`),
});
