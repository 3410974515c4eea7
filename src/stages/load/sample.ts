/**
 * Extract records (+ transform labels) → the three files of a sample and its index row. Pure
 * functions: the same records always give the same bytes, which the determinism of the shards
 * rests on.
 */
import { createHash } from 'node:crypto';
import type { ArticleRow, IndexRow, SampleJson } from '../../manifest/load-manifest.js';
import { stableStringify } from '../../storage/files.js';
import type { ArticleRecord, FigureRecord, ImageRecord } from '../../manifest/records.js';
import type { TransformLabel } from '../../manifest/transform-records.js';

export type Layout = 'normalized' | 'denormalized';

/** The values an image has until transform labels it: typed, never null, the same schema. */
export const NO_LABEL: Omit<TransformLabel, 'key'> = {
  clusterId: -1,
  panelType: '',
  panelSubtype: '',
  primaryLabel: [],
  secondaryLabel: [],
  labelId: '',
};

export interface SampleInput {
  article: ArticleRecord;
  figure: FigureRecord;
  image: ImageRecord;
  /** Position of the image within its figure, from 0. */
  imageIndex: number;
  label: Omit<TransformLabel, 'key'>;
  /** image_file_name of every image of the article in the dataset (the figure set). */
  imageSet: string[];
  layout: Layout;
}

export interface BuiltSample {
  key: string;
  json: SampleJson;
  /** The `.json` member's text: sorted keys, so the bytes do not depend on assignment order. */
  jsonText: string;
  /** The `.txt` member's text: the caption. */
  txt: string;
}

export function buildSample(input: SampleInput): BuiltSample {
  const { article: a, figure: f, image: i, label, layout } = input;
  const denormalized = layout === 'denormalized';
  const json: SampleJson = {
    image_file_name: i.mediaName,
    image_cluster_id: label.clusterId,
    image_hash: i.sha256,
    image_label_id: label.labelId,
    image_panel_type: label.panelType,
    image_panel_subtype: label.panelSubtype,
    image_primary_label: label.primaryLabel,
    image_secondary_label: label.secondaryLabel,
    image_size: [i.width, i.height],
    image_set: denormalized ? input.imageSet : [],
    image_context: f.citingParagraphs,
    article_accession_id: a.pmcid,
    article_title: a.title,
    article_journal: a.journal,
    article_date: a.pubDate,
    article_abstract: a.abstract,
    article_mesh_terms: a.meshTerms,
    article_keywords: a.keywords,
    article_reference_ids: a.referencePmids,
    article_reference_count: a.referenceCount,
    article_reference_list: denormalized ? a.references : [],
    article_subject: a.subjects,
    article_citation: a.citation,
    article_license: a.licenseCode,
    article_text: denormalized ? a.bodyText : '',
    key: i.key,
    article_id: a.id,
    article_version: a.version ?? -1,
    article_pmid: a.pmid,
    article_doi: a.doi,
    article_publisher: a.publisher,
    article_type: a.articleType,
    article_license_group: a.licenseGroup,
    article_license_url: a.licenseUrl,
    figure_key: f.key,
    figure_id: f.id,
    figure_label: f.label,
    figure_index: f.index,
    figure_kind: f.kind,
    figure_sub_article_id: f.subArticleId,
    image_index: input.imageIndex + 1,
    image_count: f.images.length,
    image_bytes: i.bytes,
    image_original_format: i.originalFormat,
    image_original_size: [i.originalWidth, i.originalHeight],
  };
  return { key: i.key, json, jsonText: stableStringify(json), txt: f.caption };
}

export function indexRowOf(
  sample: BuiltSample,
  where: { shard: string; offset: number; sampleBytes: number },
): IndexRow {
  const j = sample.json;
  return {
    key: sample.key,
    shard: where.shard,
    offset: where.offset,
    sample_bytes: where.sampleBytes,
    caption: sample.txt,
    json_sha256: createHash('sha256').update(sample.jsonText).digest('hex'),
    image_file_name: j.image_file_name,
    image_cluster_id: j.image_cluster_id,
    image_hash: j.image_hash,
    image_label_id: j.image_label_id,
    image_panel_type: j.image_panel_type,
    image_panel_subtype: j.image_panel_subtype,
    image_primary_label: j.image_primary_label,
    image_secondary_label: j.image_secondary_label,
    image_width: j.image_size[0] ?? 0,
    image_height: j.image_size[1] ?? 0,
    image_bytes: j.image_bytes,
    figure_key: j.figure_key,
    figure_label: j.figure_label,
    figure_kind: j.figure_kind,
    figure_sub_article_id: j.figure_sub_article_id,
    article_id: j.article_id,
    article_accession_id: j.article_accession_id,
    article_pmid: j.article_pmid,
    article_doi: j.article_doi,
    article_title: j.article_title,
    article_journal: j.article_journal,
    article_date: j.article_date,
    article_license: j.article_license,
    article_license_group: j.article_license_group,
  };
}

export function articleRowOf(a: ArticleRecord, imageSet: string[], sampleKeys: string[]): ArticleRow {
  return {
    article_id: a.id,
    article_accession_id: a.pmcid,
    article_version: a.version ?? -1,
    article_pmid: a.pmid,
    article_doi: a.doi,
    article_title: a.title,
    article_journal: a.journal,
    article_publisher: a.publisher,
    article_date: a.pubDate,
    article_type: a.articleType,
    article_abstract: a.abstract,
    article_keywords: a.keywords,
    article_subject: a.subjects,
    article_mesh_terms: a.meshTerms,
    article_reference_ids: a.referencePmids,
    article_reference_count: a.referenceCount,
    article_reference_list: a.references,
    article_citation: a.citation,
    article_license: a.licenseCode,
    article_license_group: a.licenseGroup,
    article_license_url: a.licenseUrl,
    article_text: a.bodyText,
    image_set: imageSet,
    sample_keys: sampleKeys,
    figure_count: a.figureCount,
    sample_count: sampleKeys.length,
  };
}
