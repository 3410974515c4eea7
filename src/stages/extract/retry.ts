/**
 * `biomedica retry-failed`, extract's part: fetch again the articles whose failures were transient
 * (network, 5xx, throttling, a cut transfer: FailureRecord.transient), and nothing else.
 *
 * A unit is the grain of resume, so a unit holding a transient failure is rewritten whole, but
 * only its retried articles go back to the source: every other article's outcome (records, image
 * bytes, content failures) is read back from the unit as it was. The unit writer puts outcomes in
 * plan order whatever their origin, so the rewritten unit is byte for byte the unit a run would
 * have written had those articles succeeded the first time.
 *
 *   extract/retry/<unit>.json          RetryUnit: which articles go back to the source
 *   extract/retry/units/<unit>/        the unit as it was (records, images.tar, its old marker), moved
 *                                      here in one rename; the rewritten unit reads the other articles
 *                                      from it (its records name `units/<unit>/images.tar`, so the
 *                                      folder mirrors the extract folder's layout)
 *
 * Both stay until the unit's new marker is written, so a retry that is killed resumes with the same
 * articles (a plain `extract` rerun resumes it too), and nothing the first run got right is lost.
 */
import { readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../../errors.js';
import { ExtractUnitResult, EXTRACT_STEP, EXTRACT_VERSION, extractPaths } from '../../manifest/extract-manifest.js';
import { FailureRecord, FigureRecord } from '../../manifest/records.js';
import { lockDirOf } from '../../pipeline/lock.js';
import { UnitMarkerSchema, forgetFinalized } from '../../pipeline/runner.js';
import { onOutput } from '../../storage/faults.js';
import { ensureDir, pathExists, readJsonIfExists, readJsonl, writeJsonAtomic } from '../../storage/files.js';
import { Plan, readPlanUnit } from './plan.js';
import { readUnitOutcomes, type ArticleProducer } from './unit-store.js';

export const RETRY_SCHEMA = 'biomedica.extract.retry';

export const RetryUnit = z.object({
  schema: z.literal(RETRY_SCHEMA),
  version: z.literal(1),
  unit: z.string(),
  /**
   * The unit's key (plan and shaping options) its old outcomes were made under: they are reused
   * only by a run with the same key, never mixed into a unit made with other options.
   */
  key: z.string(),
  /** Article ids (ArticleRef.id) fetched again; every other article of the unit is reused. */
  articles: z.array(z.string()),
});
export type RetryUnit = z.infer<typeof RetryUnit>;

export const retryPaths = (outDir: string) => {
  const root = join(extractPaths(outDir).root, 'retry');
  return {
    root,
    unit: (unit: string) => join(root, `${unit}.json`),
    /** The extract-folder-shaped root the moved units lie under. */
    previousRoot: join(root),
    previous: (unit: string) => join(root, 'units', unit),
  };
};

export interface RetrySelection {
  /** Units to rewrite, each with the articles that go back to the source. */
  units: RetryUnit[];
  /** Failure records by kind, over the finished units read. */
  transient: number;
  content: number;
  transientByCode: Record<string, number>;
  contentByCode: Record<string, number>;
  /** Units whose retry was started by an earlier run and not finished: they resume. */
  resuming: string[];
  /** Finished units whose marker has another key than this run's: made with other flags or options. */
  otherOptions: string[];
}

/**
 * Reads the finished units' failure ledgers (markers of this extract version only: a unit of
 * another version is redone whole by extract anyway) and picks the articles to fetch again.
 */
export async function selectRetry(outDir: string, planned: readonly { id: string; key?: string }[]): Promise<RetrySelection> {
  const paths = extractPaths(outDir);
  const selection: RetrySelection = { units: [], transient: 0, content: 0, transientByCode: {}, contentByCode: {}, resuming: [], otherOptions: [] };
  for (const { id: unit, key } of planned) {
    const pending = await readRetryUnit(outDir, unit);
    if (pending && (key === undefined || pending.key === key) && (await pathExists(retryPaths(outDir).previous(unit)))) {
      selection.resuming.push(unit);
      continue;
    }
    // With `key` (the run's own), a unit made under other options is not retried: the run redoes it whole.
    const markerKey = await currentExtractMarkerKey(paths.unitMarker(unit));
    if (markerKey === undefined) continue;
    if (key !== undefined && markerKey !== key) {
      selection.otherOptions.push(unit);
      continue;
    }
    const articles = new Set<string>();
    let figures: Map<string, string> | undefined;
    for await (const raw of readJsonl(paths.unitFile(unit, 'failures.jsonl'))) {
      const failure = FailureRecord.parse(raw);
      const [count, byCode] = failure.transient ? ['transient', selection.transientByCode] as const : ['content', selection.contentByCode] as const;
      selection[count]++;
      byCode[failure.code] = (byCode[failure.code] ?? 0) + 1;
      if (!failure.transient) continue;
      if (failure.step === 'image') {
        figures ??= await figureArticles(paths.unitFile(unit, 'figures.jsonl'));
        articles.add(articleOfImage(failure.item, figures));
      } else {
        articles.add(failure.item);
      }
    }
    if (articles.size > 0) selection.units.push({ schema: RETRY_SCHEMA, version: 1, unit, key: markerKey, articles: [...articles].sort() });
  }
  return selection;
}

/**
 * Moves each selected unit aside (one rename, after its RetryUnit is on disk), so the runner sees
 * the unit as not done and rewrites it; a unit already moved by a killed retry keeps its old
 * content, and its half-rewritten folder is dropped.
 */
export async function prepareRetry(outDir: string, selection: RetrySelection): Promise<void> {
  const paths = extractPaths(outDir);
  const retry = retryPaths(outDir);
  if (selection.units.length === 0 && selection.resuming.length === 0) return;
  // The manifest describes the units: it goes before the first one is moved (runExtract writes it again).
  await forgetFinalized(lockDirOf(outDir), 'extract');
  await onOutput(paths.manifest, () => rm(paths.manifest, { force: true }));
  await onOutput(retry.root, () => ensureDir(join(retry.root, 'units')));
  for (const unit of selection.resuming) {
    if (await pathExists(paths.unitMarker(unit))) continue;
    await onOutput(paths.unitDir(unit), () => rm(paths.unitDir(unit), { recursive: true, force: true }));
  }
  for (const r of selection.units) {
    await writeJsonAtomic(retry.unit(r.unit), r);
    await onOutput(paths.unitDir(r.unit), () => rename(paths.unitDir(r.unit), retry.previous(r.unit)));
  }
}

/** The retry of `unit` in progress, if any: its RetryUnit, and where the unit as it was lies. */
export async function pendingRetry(outDir: string, unit: string, key: string): Promise<{ articles: ReadonlySet<string>; previousDir: string } | undefined> {
  const retry = retryPaths(outDir);
  const record = await readRetryUnit(outDir, unit);
  if (!record || record.key !== key || !(await pathExists(retry.previous(unit)))) return undefined;
  return { articles: new Set(record.articles), previousDir: retry.previous(unit) };
}

/**
 * The producer of a unit under retry: a retried article comes from `fresh` (the source), every
 * other one is read back from the unit as it was. Producers start in plan order (outcomesInOrder),
 * so the old unit is read once, front to back, in step with them.
 */
export function retryProducer(
  outDir: string,
  unit: string,
  retry: { articles: ReadonlySet<string> },
  fresh: ArticleProducer,
): { produce: ArticleProducer; close: () => Promise<void> } {
  const previous = readUnitOutcomes(outDir, unit, readPlanUnit(outDir, unit), retryPaths(outDir).previousRoot);
  let turn: Promise<unknown> = Promise.resolve();
  const produce: ArticleProducer = (ref, ctx) => {
    // One read of the old unit per planned article, in call order, whether it is used or not.
    const old = turn.then(() => previous.next());
    turn = old.catch(() => {});
    if (retry.articles.has(ref.id)) {
      return old.then(() => fresh(ref, ctx));
    }
    return old.then((next) => {
      if (next.done) throw new ManifestError('RETRY_MISMATCH', `unit ${unit} as it was holds fewer articles than its plan`, { hint: RETRY_MISMATCH_HINT });
      if (next.value.article !== null && next.value.article.id !== ref.id) {
        throw new ManifestError('RETRY_MISMATCH', `unit ${unit} as it was holds ${next.value.article.id} where its plan has ${ref.id}`, { hint: RETRY_MISMATCH_HINT });
      }
      return next.value;
    });
  };
  // Closes the old unit's store, also when the unit stops part way.
  const close = async () => {
    await turn;
    await previous.return(undefined);
  };
  return { produce, close };
}

const RETRY_MISMATCH_HINT = 'remove extract/retry/ and rerun biomedica extract: the unit is then redone whole from the source';

/** After units got their new markers: their old content is no longer needed. */
export async function finishRetry(outDir: string): Promise<void> {
  const paths = extractPaths(outDir);
  const retry = retryPaths(outDir);
  const names = await readdir(retry.root).catch(() => [] as string[]);
  for (const name of names) {
    const unit = /^(.+)\.json$/.exec(name)?.[1];
    if (unit === undefined || !(await pathExists(paths.unitMarker(unit)))) continue;
    await onOutput(retry.previous(unit), async () => {
      await rm(retry.previous(unit), { recursive: true, force: true });
      await rm(retry.unit(unit), { force: true });
    });
  }
  // Only when empty: other units may still be waiting for their retry.
  await rmdir(join(retry.root, 'units')).catch(() => {});
  await rmdir(retry.root).catch(() => {});
}

async function readRetryUnit(outDir: string, unit: string): Promise<RetryUnit | undefined> {
  const raw = await readJsonIfExists(retryPaths(outDir).unit(unit));
  if (raw === undefined) return undefined;
  const parsed = RetryUnit.safeParse(raw);
  // A damaged record cannot say which articles to fetch: the unit is left to a plain rerun, whole.
  return parsed.success && parsed.data.unit === unit ? parsed.data : undefined;
}

/** The key of a finished unit's marker of this extract version; undefined for anything else. */
async function currentExtractMarkerKey(path: string): Promise<string | undefined> {
  if (!(await stat(path).then(() => true, () => false))) return undefined;
  const raw = await readJsonIfExists(path).catch(() => undefined);
  const marker = UnitMarkerSchema.safeParse(raw);
  const current = marker.success && marker.data.step === EXTRACT_STEP && marker.data.stepVersion === EXTRACT_VERSION && ExtractUnitResult.safeParse(marker.data.result).success;
  return current ? marker.data.key : undefined;
}

async function figureArticles(path: string): Promise<Map<string, string>> {
  const byKey = new Map<string, string>();
  for await (const raw of readJsonl(path)) {
    const figure = FigureRecord.pick({ key: true, articleId: true }).parse(raw);
    byKey.set(figure.key, figure.articleId);
  }
  return byKey;
}

/** An image item is its figure's key, or that key and '_<n>' for a figure's n-th graphic. */
export function articleOfImage(item: string, figures: ReadonlyMap<string, string>): string {
  const direct = figures.get(item);
  if (direct !== undefined) return direct;
  const figureKey = item.replace(/_\d+$/, '');
  return figures.get(figureKey) ?? figureKey.replace(/_f\d{3,}$/, '');
}

/** The units of the folder's plan; a folder without one has nothing to retry. */
export async function plannedUnits(outDir: string): Promise<{ id: string }[]> {
  const raw = await readJsonIfExists(extractPaths(outDir).plan);
  if (raw === undefined) {
    throw new ManifestError('PLAN_MISSING', `${outDir} holds no extract plan: nothing was extracted there`, {
      hint: `check --out; a folder is made by \`biomedica run --out ${outDir}\``,
    });
  }
  const plan = Plan.safeParse(raw);
  if (!plan.success) {
    throw new ManifestError('PLAN_INVALID', `${extractPaths(outDir).plan} is not an extract plan`, { hint: 'rerun biomedica extract with the same flags: it writes the plan again' });
  }
  return plan.data.units.map((u) => ({ id: u.id }));
}

export function formatRetrySelection(s: RetrySelection): string {
  const articles = s.units.reduce((n, u) => n + u.articles.length, 0);
  const codes = (byCode: Record<string, number>) =>
    Object.entries(byCode)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([code, n]) => `${code}=${n}`)
      .join(' ') || 'none';
  const lines = [
    `retry-failed: ${articles} article${articles === 1 ? '' : 's'} in ${s.units.length} unit${s.units.length === 1 ? '' : 's'} go back to the source${s.resuming.length ? `; ${s.resuming.length} unit${s.resuming.length === 1 ? '' : 's'} resume an earlier retry` : ''}`,
    `  transient    ${s.transient} failure${s.transient === 1 ? '' : 's'} (${codes(s.transientByCode)})`,
    `  content      ${s.content} failure${s.content === 1 ? '' : 's'} left as they are: another attempt would fail the same way (${codes(s.contentByCode)})`,
  ];
  return lines.join('\n');
}
