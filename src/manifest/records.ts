/**
 * The records the stages hand each other, one JSON object per line. Schemas are the single source
 * of truth: TypeScript types are derived from them.
 *
 * Every string field is a string (never null) so that downstream readers that infer types from the
 * first rows (Hugging Face, DuckDB) see one type per column.
 */
import { z } from 'zod';
import { LicenseGroupSchema } from './license.js';

export { LicenseGroupSchema } from './license.js';

export const ArticleRecord = z.object({
  /** Stable id with no dots: 'PMC4599423_1' (cloud) or 'PMC4599423' (legacy). */
  id: z.string().regex(/^[A-Za-z0-9_-]+$/),
  pmcid: z.string(),
  version: z.number().int().nullable(),
  pmid: z.string(),
  doi: z.string(),
  title: z.string(),
  abstract: z.string(),
  keywords: z.array(z.string()),
  subjects: z.array(z.string()),
  journal: z.string(),
  publisher: z.string(),
  /** From <pub-date>: 'YYYY-MM-DD' | 'YYYY-MM' | 'YYYY' | ''. */
  pubDate: z.string(),
  licenseCode: z.string(),
  licenseGroup: LicenseGroupSchema,
  licenseText: z.string(),
  licenseUrl: z.string(),
  articleType: z.string(),
  citation: z.string(),
  bodyText: z.string(),
  referencePmids: z.array(z.string()),
  referenceCount: z.number().int(),
  /**
   * The text of each reference, one entry per <ref> in list order ('' for a ref with no text), so
   * its length is referenceCount. Citation fields are joined by a documented rule (src/jats/parse.ts,
   * "References"): 'Smith J, Jones A. Title. Nature. 2001. 12. 1–9. doi:10.1/x'.
   */
  references: z.array(z.string()),
  /** Filled by PubMed enrichment; [] until then. */
  meshTerms: z.array(z.string()),
  figureCount: z.number().int(),
  /** Where it came from, for audit and incremental sync. */
  sourceLocation: z.string(),
  sourceRevision: z.string(),
  lastUpdated: z.string(),
});
export type ArticleRecord = z.infer<typeof ArticleRecord>;

export const ImageRecord = z.object({
  /** WebDataset key: unique, stable, no dots. 'PMC4599423_1_f003' or 'PMC4599423_1_f003_2'. */
  key: z.string().regex(/^[A-Za-z0-9_-]+$/),
  /** The graphic href the image came from and the media file it was matched to. */
  href: z.string(),
  mediaName: z.string(),
  /**
   * The unit's image store that holds the JPEG, relative to the extract directory: always
   * 'units/<unit>/images.tar' (src/manifest/image-store.ts refuses any other name).
   */
  file: z.string(),
  /** Byte offset of the JPEG's data within `file` (after its member's 512-byte tar header); `bytes` long. */
  offset: z.number().int().min(0),
  width: z.number().int(),
  height: z.number().int(),
  bytes: z.number().int(),
  originalFormat: z.string(),
  originalWidth: z.number().int(),
  originalHeight: z.number().int(),
  sha256: z.string(),
  /** True when the stored file is the package's own JPEG, byte for byte (it met the stored format); false when re-encoded. */
  passThrough: z.boolean(),
});
export type ImageRecord = z.infer<typeof ImageRecord>;

export const FigureStatus = z.enum(['ok', 'filtered', 'failed']);

export const FigureRecord = z.object({
  /** Figure key: '<articleId>_f<index:3>'. */
  key: z.string().regex(/^[A-Za-z0-9_-]+$/),
  articleId: z.string(),
  index: z.number().int(),
  id: z.string(),
  label: z.string(),
  caption: z.string(),
  graphics: z.array(z.string()),
  citingParagraphs: z.array(z.string()),
  location: z.string(),
  inFigGroup: z.boolean(),
  subArticleId: z.string(),
  kind: z.enum(['figure', 'table-image']),
  /** Images stored for this figure (one per distinct graphic; alternatives count once). */
  images: z.array(ImageRecord),
  /** ok: at least one image stored and the keep rule passed; filtered: dropped by the keep rule. */
  status: FigureStatus,
  /** Why it was filtered or failed ('' when ok). */
  reason: z.string(),
});
export type FigureRecord = z.infer<typeof FigureRecord>;

export const FailureRecord = z.object({
  unit: z.string(),
  /** Article id, figure key, or package path: whatever failed. */
  item: z.string(),
  step: z.enum(['list', 'download', 'package', 'parse', 'image', 'enrich', 'embed']),
  code: z.string(),
  message: z.string(),
  /** Another attempt may succeed (network, 5xx, throttling, timeouts): what `retry-failed` re-attempts. */
  transient: z.boolean(),
});
export type FailureRecord = z.infer<typeof FailureRecord>;

/** Articles that a previous release had and this one must drop (issue: incremental sync). */
export const TombstoneRecord = z.object({
  articleId: z.string(),
  /** The unit whose records of this article are dropped; '' drops them from every unit. */
  unit: z.string(),
  reason: z.enum(['removed', 'retracted', 'replaced']),
});
export type TombstoneRecord = z.infer<typeof TombstoneRecord>;
