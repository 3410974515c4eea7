/**
 * The extract stage's on-disk contract, read by transform and load.
 *
 *   <out>/extract/
 *     manifest.json                  ExtractManifest, written last when every unit is done
 *     plan/plan.json                 the article list split into units (written once, reused on resume)
 *     plan/<unit>.jsonl              ArticleRef per line
 *     units/<unit>/articles.jsonl    ArticleRecord per line, in plan order
 *     units/<unit>/figures.jsonl     FigureRecord per line
 *     units/<unit>/failures.jsonl    FailureRecord per line
 *     units/<unit>/images.tar        the unit's images: one uncompressed tar, a member '<key>.jpg' per
 *                                    stored image in plan order (article, figure, image), headers as
 *                                    load's shards (src/storage/tar.ts), so `tar xf` unpacks it;
 *                                    ImageRecord.offset is each image's byte offset in it, and every
 *                                    reader goes through src/manifest/image-store.ts
 *     units/<unit>/done.json         the unit's marker (src/pipeline/runner.ts, result ExtractUnitResult):
 *                                    written last, atomically; it records every file of the unit
 *                                    (size, sha256), so a rerun finds and redoes a unit edited since
 *     tombstones.jsonl               TombstoneRecord per line (incremental sync; may be empty)
 */
import { join } from 'node:path';
import { z } from 'zod';
import { sha256, stableStringify, toJsonl, writeFileAtomic } from '../storage/files.js';
import type { ArticleRecord, FailureRecord, FigureRecord } from './records.js';

export const EXTRACT_SCHEMA = 'biomedica.extract';
/**
 * Bumped whenever a record's shape changes, so that load refuses an older extract with a clear
 * MANIFEST_VERSION error and extract redoes its units, instead of failing record by record.
 * v2: ArticleRecord.references. v3: ImageRecord.passThrough, UnitStats.imagesPassedThrough.
 * v4: FailureRecord.transient. v5: a unit's images in one file, units/<unit>/images.tar, and
 * ImageRecord.offset (v4 had units/<unit>/images/<key>.jpg, one file per image); extract redoes a
 * v4 unit whole, as any unit whose marker has another version.
 */
export const EXTRACT_VERSION = 5;

export const UnitStats = z.object({
  articles: z.number().int(),
  articlesFailed: z.number().int(),
  figures: z.number().int(),
  figuresOk: z.number().int(),
  figuresFiltered: z.number().int(),
  figuresFailed: z.number().int(),
  images: z.number().int(),
  /** Of `images`, those stored as the package had them (ImageRecord.passThrough). */
  imagesPassedThrough: z.number().int(),
  imageBytes: z.number().int(),
  failures: z.number().int(),
  failuresByCode: z.record(z.string(), z.number().int()),
});
export type UnitStats = z.infer<typeof UnitStats>;

/** plan/plan.json: which articles make up which unit, fixed before any work starts (src/stages/extract/plan.ts). */
export const Plan = z.object({
  schema: z.literal('biomedica.extract.plan'),
  version: z.literal(1),
  /** Hash of the source and filter the plan was made from; a different one is another dataset. */
  inputSha256: z.string(),
  source: z.object({ kind: z.string(), url: z.string(), snapshotDate: z.string() }),
  units: z.array(z.object({ id: z.string(), articles: z.number().int(), sha256: z.string() })),
  articles: z.number().int(),
  skipped: z.record(z.string(), z.number().int()),
});
export type Plan = z.infer<typeof Plan>;

/** An extract unit's key in its marker: its plan file and the options that shape its output (ExtractManifest.optionsSha256). */
export function extractUnitKey(planSha256: string, optionsSha256: string): string {
  return sha256(stableStringify({ plan: planSha256, options: optionsSha256 }));
}

/** The step name in extract units' markers. */
export const EXTRACT_STEP = 'extract';

/** What an extract unit's marker records as its result (the manifest copies it per unit). */
export const ExtractUnitResult = z.object({
  stats: UnitStats,
  /**
   * sha256 of each file the unit wrote: the record files and images.tar (hashed as it was written;
   * each image is also hashed in its record). Readers hash the jsonl files; images.tar is checked
   * by its marker (runner outputs) and by byte ranges, not re-read to hash it.
   */
  files: z.record(z.string(), z.string()),
});
export type ExtractUnitResult = z.infer<typeof ExtractUnitResult>;

/**
 * Which articles of the source the extract took (its filters): the dataset card states the scope
 * from it. Absent in manifests written before it was recorded; the card then says it is unknown.
 */
export const Selection = z.object({
  /** The license groups read ([]: no restriction). */
  licenseGroups: z.array(z.string()),
  /** At most this many articles, the first of the listing (0: no limit). */
  limit: z.number().int(),
  /** Size of the --pmcids list (0: no list). */
  pmcids: z.number().int(),
  updatedFrom: z.string(),
  updatedTo: z.string(),
  includeRetracted: z.boolean(),
});
export type Selection = z.infer<typeof Selection>;

export const ExtractManifest = z.object({
  schema: z.literal(EXTRACT_SCHEMA),
  version: z.literal(EXTRACT_VERSION),
  source: z.object({
    kind: z.string(),
    url: z.string(),
    snapshotDate: z.string(),
  }),
  /** Hash of the options that shape the output (filters, image settings, keep rule). */
  optionsSha256: z.string(),
  options: z.record(z.string(), z.unknown()),
  units: z.array(
    z.object({
      id: z.string(),
      stats: UnitStats,
      files: z.record(z.string(), z.string()),
    }),
  ),
  totals: UnitStats,
  /** sha256 of tombstones.jsonl ('' when there is none). */
  tombstonesSha256: z.string(),
  selection: Selection.optional(),
});
export type ExtractManifest = z.infer<typeof ExtractManifest>;

/** File name of a unit's image store, in the unit's folder. */
export const IMAGE_STORE_NAME = 'images.tar';

export const imageStoreRel = (unit: string) => `units/${unit}/${IMAGE_STORE_NAME}`;

export const extractPaths = (outDir: string) => {
  const root = join(outDir, 'extract');
  return {
    root,
    manifest: join(root, 'manifest.json'),
    planDir: join(root, 'plan'),
    plan: join(root, 'plan', 'plan.json'),
    planUnit: (unit: string) => join(root, 'plan', `${unit}.jsonl`),
    unitDir: (unit: string) => join(root, 'units', unit),
    unitFile: (unit: string, name: string) => join(root, 'units', unit, name),
    unitMarker: (unit: string) => join(root, 'units', unit, 'done.json'),
    /** The unit's image store (src/manifest/image-store.ts). */
    imageStore: (unit: string) => join(root, 'units', unit, IMAGE_STORE_NAME),
    /** The unit's image store relative to the extract root, as stored in ImageRecord.file. */
    imageStoreRel: (unit: string) => imageStoreRel(unit),
    tombstones: join(root, 'tombstones.jsonl'),
  };
};

export function emptyStats(): UnitStats {
  return {
    articles: 0,
    articlesFailed: 0,
    figures: 0,
    figuresOk: 0,
    figuresFiltered: 0,
    figuresFailed: 0,
    images: 0,
    imagesPassedThrough: 0,
    imageBytes: 0,
    failures: 0,
    failuresByCode: {},
  };
}

/** A unit's counts, derived from the records it wrote (the marker stores them for cheap totals). */
export function unitStatsOf(
  articles: number,
  articlesFailed: number,
  figures: readonly FigureRecord[],
  failures: readonly FailureRecord[],
): UnitStats {
  const stats = emptyStats();
  stats.articles = articles;
  stats.articlesFailed = articlesFailed;
  stats.figures = figures.length;
  for (const f of figures) {
    if (f.status === 'ok') stats.figuresOk++;
    else if (f.status === 'filtered') stats.figuresFiltered++;
    else stats.figuresFailed++;
    stats.images += f.images.length;
    for (const image of f.images) {
      stats.imageBytes += image.bytes;
      if (image.passThrough) stats.imagesPassedThrough++;
    }
  }
  stats.failures = failures.length;
  for (const f of failures) stats.failuresByCode[f.code] = (stats.failuresByCode[f.code] ?? 0) + 1;
  return stats;
}

export function addStats(into: UnitStats, from: UnitStats): UnitStats {
  for (const k of Object.keys(into) as (keyof UnitStats)[]) {
    if (k === 'failuresByCode') continue;
    into[k] += from[k];
  }
  for (const [code, n] of Object.entries(from.failuresByCode)) {
    into.failuresByCode[code] = (into.failuresByCode[code] ?? 0) + n;
  }
  return into;
}

/** Unit ids sort in plan order: 'u000000', 'u000001', ... */
export function unitId(index: number): string {
  return `u${String(index).padStart(6, '0')}`;
}

/** Write a unit's three record files atomically; returns their sha256 for the unit's marker. */
export async function writeUnitRecords(
  outDir: string,
  unit: string,
  records: { articles: readonly ArticleRecord[]; figures: readonly FigureRecord[]; failures: readonly FailureRecord[] },
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const [name, list] of [
    ['articles.jsonl', records.articles],
    ['figures.jsonl', records.figures],
    ['failures.jsonl', records.failures],
  ] as const) {
    const text = toJsonl(list);
    await writeFileAtomic(extractPaths(outDir).unitFile(unit, name), text);
    files[name] = sha256(text);
  }
  return files;
}
