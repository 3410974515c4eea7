/**
 * A unit's files from its articles' outcomes, and back.
 *
 * The seam: a producer turns one planned article into an ArticleOutcome (its records and the bytes
 * of every image it stored). `extractArticle` is the producer of a normal run; another one may
 * reuse an article's outcome from a unit written before (`readUnitOutcomes`) instead of downloading
 * it again. The writer does not care where outcomes come from: it takes them in plan order and
 * writes the unit's image store (`units/<unit>/images.tar`, src/manifest/extract-manifest.ts) and
 * its record files, so the same outcomes give the same bytes whichever producer made them.
 *
 * Memory stays bounded: `outcomesInOrder` runs at most `concurrency` producers and holds at most
 * `window` outcomes started but not yet written. An article that is slow holds back the start of
 * new ones instead of letting finished outcomes pile up behind it.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { InterruptedError } from '../../errors.js';
import {
  IMAGE_STORE_NAME,
  extractPaths,
  imageStoreRel,
  unitStatsOf,
  writeUnitRecords,
  type ExtractUnitResult,
} from '../../manifest/extract-manifest.js';
import { StoredImages } from '../../manifest/image-store.js';
import { ArticleRecord, FailureRecord, FigureRecord } from '../../manifest/records.js';
import type { Outputs } from '../../pipeline/runner.js';
import type { ArticleRef } from '../../sources/types.js';
import { ensureDir, readJsonl } from '../../storage/files.js';
import { onOutput } from '../../storage/faults.js';
import { BLOCK, memberBytes, writeTar, type TarMember } from '../../storage/tar.js';

export interface ArticleOutcome {
  /** null: the article failed as a whole (its failures say why). */
  article: ArticleRecord | null;
  /**
   * In figure order. Their ImageRecords' `file` and `offset` are the writer's to set (a producer
   * may leave them as anything): they depend on where the image lands in the unit's store.
   */
  figures: FigureRecord[];
  failures: FailureRecord[];
  /** The JPEG of every ImageRecord in `figures`, by image key. */
  images: ReadonlyMap<string, Buffer>;
}

/** Makes one planned article's outcome. Throws only for the run's problems (storage faults, interrupts). */
export type ArticleProducer = (ref: ArticleRef, ctx: { unit: string; signal: AbortSignal }) => Promise<ArticleOutcome>;

/** All images members get this mtime: the store's bytes depend on nothing but its images. */
const STORE_MTIME = new Date(0);

export interface OrderOptions {
  /** Producers running at once. */
  concurrency: number;
  /** Outcomes started but not yet taken by the consumer, at most (≥ concurrency). */
  window: number;
  /**
   * Called when the consumer stops early (an error, or it gave up): in-flight producers should
   * see their signal abort, so the wait for them to settle is short.
   */
  stop: (reason?: unknown) => void;
}

/**
 * Runs `produce` over `refs` and yields the outcomes in the order of `refs`, whatever order they
 * finish in. When the consumer stops early, every producer started has settled before this ends:
 * nothing writes into the unit after its writer has given up.
 */
export async function* outcomesInOrder<T>(
  refs: AsyncIterable<ArticleRef>,
  produce: (ref: ArticleRef) => Promise<T>,
  options: OrderOptions,
): AsyncGenerator<T> {
  const limit = pLimit(Math.max(1, options.concurrency));
  const window = Math.max(options.window, options.concurrency, 1);
  const queue: Promise<T>[] = [];
  let finished = false;
  let stopped = false;
  try {
    for await (const ref of refs) {
      // Once stopped, a producer still waiting for its turn settles at once instead of running.
      const p = limit(() => (stopped ? Promise.reject(new Error('stopped before its turn')) : produce(ref)));
      // Rejections are met when the outcome's turn comes; this keeps Node from flagging them early.
      p.catch(() => {});
      queue.push(p);
      if (queue.length >= window) yield await queue.shift()!;
    }
    while (queue.length > 0) yield await queue.shift()!;
    finished = true;
  } finally {
    if (!finished) {
      stopped = true;
      options.stop();
      await Promise.allSettled(queue);
    }
  }
}

export interface UnitWritten {
  result: ExtractUnitResult;
  /** Every file of the unit, for its marker (paths relative to the unit's folder). */
  outputs: Outputs;
}

/**
 * Writes the unit from its outcomes in plan order: images.tar (through a temporary name, renamed
 * into place, hashed as it is written), then articles/figures/failures.jsonl with each image's
 * `file` and `offset` in the store. The caller writes the marker after (the runner does).
 */
export async function writeUnitStore(
  outDir: string,
  unit: string,
  outcomes: AsyncIterable<ArticleOutcome>,
  signal: AbortSignal,
): Promise<UnitWritten> {
  const paths = extractPaths(outDir);
  const file = imageStoreRel(unit);
  const articles: ArticleRecord[] = [];
  const figures: FigureRecord[] = [];
  const failures: FailureRecord[] = [];
  let articlesFailed = 0;
  let offset = 0;

  async function* members(): AsyncGenerator<TarMember> {
    for await (const outcome of outcomes) {
      if (outcome.article) articles.push(outcome.article);
      else articlesFailed++;
      for (const figure of outcome.figures) {
        const images = [];
        for (const image of figure.images) {
          const data = outcome.images.get(image.key);
          if (!data || data.length !== image.bytes) {
            throw new Error(`unit ${unit}: the outcome of ${figure.articleId} has ${data ? `${data.length} bytes` : 'no bytes'} for image ${image.key}, its record says ${image.bytes}`);
          }
          images.push({ ...image, file, offset: offset + BLOCK });
          offset += memberBytes(data.length);
          yield { name: `${image.key}.jpg`, data };
        }
        figures.push({ ...figure, images });
      }
      failures.push(...outcome.failures);
    }
  }

  await onOutput(paths.unitDir(unit), () => ensureDir(paths.unitDir(unit)));
  const store = await writeTar(paths.imageStore(unit), members(), STORE_MTIME, signal);
  if (signal.aborted) throw new InterruptedError('INTERRUPTED', `unit ${unit} stopped before all its articles were done`);
  const files = await writeUnitRecords(outDir, unit, { articles, figures, failures });
  const outputs: Outputs = { [IMAGE_STORE_NAME]: { bytes: store.bytes, sha256: store.sha256 } };
  for (const [name, sha256] of Object.entries(files)) {
    const path = paths.unitFile(unit, name);
    outputs[name] = { bytes: (await onOutput(path, () => stat(path))).size, sha256 };
  }
  files[IMAGE_STORE_NAME] = store.sha256;
  const stats = unitStatsOf(articles.length, articlesFailed, figures, failures);
  return { result: { stats, files }, outputs };
}

/**
 * A finished unit read back as the outcomes of its planned articles, in plan order: the records
 * from its jsonl files, each image's bytes by byte range from its images.tar. Writing them back
 * with `writeUnitStore` gives the same files, byte for byte. An article the unit has no record
 * of (it failed) comes back with `article: null` and its failures.
 */
export async function* readUnitOutcomes(
  outDir: string,
  unit: string,
  refs: AsyncIterable<ArticleRef>,
  /** Where the unit lies, `<root>/units/<unit>/`: the extract folder, or where retry-failed moved it aside. */
  root = extractPaths(outDir).root,
): AsyncGenerator<ArticleOutcome> {
  const paths = { unitFile: (u: string, name: string) => join(root, 'units', u, name), root };
  const articles = new Map<string, ArticleRecord>();
  for await (const raw of readJsonl(paths.unitFile(unit, 'articles.jsonl'))) {
    const a = ArticleRecord.parse(raw);
    articles.set(a.id, a);
  }
  const figuresOf = new Map<string, FigureRecord[]>();
  for await (const raw of readJsonl(paths.unitFile(unit, 'figures.jsonl'))) {
    const f = FigureRecord.parse(raw);
    figuresOf.set(f.articleId, [...(figuresOf.get(f.articleId) ?? []), f]);
  }
  const failures: FailureRecord[] = [];
  for await (const raw of readJsonl(paths.unitFile(unit, 'failures.jsonl'))) failures.push(FailureRecord.parse(raw));

  const reader = new StoredImages(paths.root);
  let nextFailure = 0;
  try {
    for await (const ref of refs) {
      const figures = figuresOf.get(ref.id) ?? [];
      figuresOf.delete(ref.id);
      // The writer put each article's failures together, in plan order: take this article's run of them.
      const own: FailureRecord[] = [];
      while (nextFailure < failures.length && failureOf(failures[nextFailure]!.item, ref.id)) own.push(failures[nextFailure++]!);
      const images = new Map<string, Buffer>();
      for (const figure of figures) for (const image of figure.images) images.set(image.key, await reader.read(image, unit));
      yield { article: articles.get(ref.id) ?? null, figures, failures: own, images };
    }
  } finally {
    await reader.close();
  }
  if (figuresOf.size > 0 || nextFailure < failures.length) {
    throw new Error(`unit ${unit}: records of articles its plan does not hold (${[...figuresOf.keys(), ...failures.slice(nextFailure).map((f) => f.item)].slice(0, 3).join(', ')})`);
  }
}

/** A failure's item is the article id itself, or one of its figure or image keys ('<id>_f003', '<id>_f003_2'). */
function failureOf(item: string, articleId: string): boolean {
  return item === articleId || (item.startsWith(`${articleId}_f`) && /^\d{3}/.test(item.slice(articleId.length + 2)));
}
