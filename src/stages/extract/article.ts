/**
 * One article: open it from the source, parse its XML, pair every figure graphic with a media
 * file, normalise the images, and apply the keep rule. The result is the article's outcome
 * (src/stages/extract/unit-store.ts): its records and the bytes of the images it keeps, which the
 * unit's writer stores. Nothing here throws for bad input: every problem becomes a FailureRecord
 * and the rest of the article still comes out. Storage faults are not the article's: they throw
 * (StorageError), so the unit gets no marker and the run stops, instead of the figures being
 * recorded as failed and lost for good.
 */
import type { LimitFunction } from 'p-limit';
import { toFailure } from '../../errors.js';
import { storageFault } from '../../storage/faults.js';
import { parseArticles } from '../../jats/parse.js';
import type { ParsedArticle, ParsedFigure } from '../../jats/types.js';
import { keepFigure, type KeepRule } from '../../images/keep.js';
import { normalizeImage } from '../../images/normalize.js';
import { resolveGraphic } from '../../images/resolve.js';
import type { ImageOptions, NormalizedImage } from '../../images/types.js';
import { imageStoreRel } from '../../manifest/extract-manifest.js';
import type { ArticleRecord, FailureRecord, FigureRecord, ImageRecord } from '../../manifest/records.js';
import type { ArticlePackage, ArticleRef, Source } from '../../sources/types.js';
import type { ArticleOutcome } from './unit-store.js';

export interface ArticleJob {
  unit: string;
  images: ImageOptions;
  keep: KeepRule;
  /** Shared across all articles so that image decoding stays about one per core. */
  imageLimit: LimitFunction;
  signal: AbortSignal;
}

export async function extractArticle(source: Source, ref: ArticleRef, job: ArticleJob): Promise<ArticleOutcome> {
  const failures: FailureRecord[] = [];
  const images = new Map<string, Buffer>();
  const fail = (step: FailureRecord['step'], item: string, error: unknown, fallback: string) => {
    failures.push({ unit: job.unit, item, step, ...toFailure(error, fallback) });
  };

  let pkg: ArticlePackage;
  try {
    pkg = await source.open(ref, job.signal);
  } catch (error) {
    rethrowRunProblems(error, job.signal);
    fail('package', ref.id, error, 'PACKAGE_FAILED');
    return { article: null, figures: [], failures, images };
  }
  for (const w of pkg.warnings ?? []) {
    failures.push({ unit: job.unit, item: ref.id, step: 'package', code: w.code, message: `${w.entry}: ${w.message}`, transient: false });
  }
  try {
    let parsed: ParsedArticle;
    try {
      parsed = pickArticle(parseArticles(pkg.xml), ref);
    } catch (error) {
      fail('parse', ref.id, error, 'PARSE_FAILED');
      return { article: null, figures: [], failures, images };
    }
    const figures = await Promise.all(parsed.figures.map((figure) => extractFigure(pkg, ref, figure, job, failures, images)));
    return { article: toArticleRecord(ref, parsed), figures, failures, images };
  } finally {
    await pkg.close();
  }
}

/** A package holds one article, but the XML may wrap several: take the one the source named. */
function pickArticle(articles: ParsedArticle[], ref: ArticleRef): ParsedArticle {
  return articles.find((a) => a.pmcid === ref.pmcid) ?? articles[0]!;
}

export function figureKey(articleId: string, index: number): string {
  return `${articleId}_f${String(index).padStart(3, '0')}`;
}

/** Alternatives show one image in several encodings: store one. Separate graphics are separate images. */
function distinctGraphicGroups(figure: ParsedFigure): string[][] {
  const groups: string[][] = [];
  const alternatives: string[] = [];
  for (const g of figure.graphics) {
    if (!g.href) continue;
    if (g.alternative) alternatives.push(g.href);
    else groups.push([g.href]);
  }
  if (alternatives.length > 0) groups.push(alternatives);
  return groups;
}

async function extractFigure(
  pkg: ArticlePackage,
  ref: ArticleRef,
  figure: ParsedFigure,
  job: ArticleJob,
  failures: FailureRecord[],
  images: Map<string, Buffer>,
): Promise<FigureRecord> {
  const key = figureKey(ref.id, figure.index);
  const record: FigureRecord = {
    key,
    articleId: ref.id,
    index: figure.index,
    id: figure.id,
    label: figure.label,
    caption: figure.caption,
    graphics: figure.graphics.map((g) => g.href),
    citingParagraphs: figure.citingParagraphs,
    location: figure.location,
    inFigGroup: figure.inFigGroup,
    subArticleId: figure.subArticleId,
    kind: figure.kind,
    images: [],
    status: 'failed',
    reason: '',
  };
  const groups = distinctGraphicGroups(figure);
  if (groups.length === 0) {
    record.reason = 'NO_GRAPHIC';
    return record;
  }
  // The caption part of the keep rule needs no pixels: skip the download and decode.
  const captionVerdict = keepFigure(figure.caption, { width: Number.MAX_SAFE_INTEGER, height: Number.MAX_SAFE_INTEGER }, job.keep);
  if (!captionVerdict.keep) {
    record.status = 'filtered';
    record.reason = captionVerdict.reason;
    return record;
  }

  const reasons: string[] = [];
  for (const [i, hrefs] of groups.entries()) {
    const imageKey = i === 0 ? key : `${key}_${i + 1}`;
    const href = hrefs.find((h) => resolveGraphic(h, pkg.mediaNames) !== null) ?? hrefs[0]!;
    const mediaName = resolveGraphic(href, pkg.mediaNames);
    if (mediaName === null) {
      reasons.push('IMAGE_NOT_IN_PACKAGE');
      failures.push({ unit: job.unit, item: imageKey, step: 'image', code: 'IMAGE_NOT_IN_PACKAGE', message: `no media file matches graphic href "${href}"`, transient: false });
      continue;
    }
    try {
      const bytes = await pkg.getMedia(mediaName, job.signal);
      const image = await job.imageLimit(() => normalizeImage(bytes, job.images));
      // Judged before storing: an image the keep rule drops must not stay behind in the unit.
      const verdict = keepFigure(figure.caption, image, job.keep);
      if (!verdict.keep) {
        reasons.push(verdict.reason);
        continue;
      }
      record.images.push(imageRecord(image, { mediaName, href, key: imageKey }, job.unit));
      images.set(imageKey, image.bytes);
    } catch (error) {
      rethrowRunProblems(error, job.signal);
      const failure = toFailure(error, 'IMAGE_FAILED');
      reasons.push(failure.code);
      failures.push({ unit: job.unit, item: imageKey, step: 'image', ...failure });
    }
  }
  if (record.images.length > 0) record.status = 'ok';
  else if (reasons.length > 0 && reasons.every((r) => r === 'IMAGE_TOO_SMALL')) record.status = 'filtered';
  record.reason = record.status === 'ok' ? '' : [...new Set(reasons)].join(',');
  return record;
}

/** The image's record; where it lands in the unit's store (`offset`) is the unit writer's to fill in. */
function imageRecord(image: NormalizedImage, source: { mediaName: string; href: string; key: string }, unit: string): ImageRecord {
  const { mediaName, href, key } = source;
  return {
    key,
    href,
    mediaName,
    file: imageStoreRel(unit),
    offset: 0,
    width: image.width,
    height: image.height,
    bytes: image.bytes.length,
    originalFormat: image.originalFormat,
    originalWidth: image.originalWidth,
    originalHeight: image.originalHeight,
    sha256: image.sha256,
    passThrough: image.passThrough,
  };
}

/**
 * What must not become an item's failure: the disk failing under the run (a full disk is not a bad
 * figure), and an interrupt (the unit is discarded whole, so nothing it recorded would be true).
 */
function rethrowRunProblems(error: unknown, signal: AbortSignal): void {
  const fault = storageFault(error);
  if (fault) throw fault;
  if (signal.aborted) throw error;
}

function toArticleRecord(ref: ArticleRef, a: ParsedArticle): ArticleRecord {
  return {
    id: ref.id,
    pmcid: ref.pmcid || a.pmcid,
    version: ref.version,
    pmid: a.pmid || ref.pmid,
    doi: a.doi,
    title: a.title,
    abstract: a.abstract,
    keywords: a.keywords,
    subjects: a.subjects,
    journal: a.journal,
    publisher: a.publisher,
    pubDate: a.pubDate,
    licenseCode: ref.licenseCode,
    licenseGroup: ref.licenseGroup,
    licenseText: a.license.text,
    licenseUrl: a.license.url,
    articleType: a.articleType,
    citation: ref.citation,
    bodyText: a.bodyText,
    referencePmids: a.referencePmids,
    referenceCount: a.referenceCount,
    references: a.references,
    meshTerms: [],
    figureCount: a.figures.length,
    sourceLocation: ref.location,
    sourceRevision: ref.revision,
    lastUpdated: ref.lastUpdated,
  };
}
