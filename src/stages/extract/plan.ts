/**
 * The plan fixes which articles make up which unit before any work starts. Writing it once and
 * reusing it on resume is what makes a killed run come back to the same units, and a rerun produce
 * the same bytes, even if the source's listing changes in between.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { InterruptedError, ManifestError } from '../../errors.js';
import { Plan, extractPaths, unitId } from '../../manifest/extract-manifest.js';
import { ensureDir, readJsonIfExists, readJsonl, stableStringify, writeJsonAtomic } from '../../storage/files.js';
import type { ArticleRef, Source, SourceDescriptor, SourceFilter } from '../../sources/types.js';
import type { StageContext } from '../../pipeline/context.js';
import { onOutput } from '../../storage/faults.js';
import { createOutputStream, endStream, writeChunk } from '../../storage/streams.js';

// The plan's schema is a contract (status reads it too): it lives with extract's other files.
export { Plan } from '../../manifest/extract-manifest.js';

export function planInputHash(source: Source, filter: SourceFilter, unitSize: number): string {
  const filterJson = { ...filter, pmcids: filter.pmcids ? [...filter.pmcids].sort() : undefined };
  return createHash('sha256')
    .update(stableStringify({ source: source.descriptor, filter: filterJson, unitSize }))
    .digest('hex');
}

/** A unit file being filled: refs are streamed to a temp file and hashed as they go. */
export class UnitWriter {
  private readonly hash = createHash('sha256');
  private readonly tmp: string;
  private readonly stream;
  count = 0;
  constructor(readonly id: string, readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.tmp`);
    this.stream = createOutputStream(this.tmp);
  }
  async add(ref: ArticleRef): Promise<void> {
    const line = stableStringify(ref) + '\n';
    this.hash.update(line);
    this.count++;
    await onOutput(this.path, () => writeChunk(this.stream, line));
  }
  async finish(): Promise<{ id: string; articles: number; sha256: string }> {
    await onOutput(this.path, async () => {
      await endStream(this.stream);
      await rename(this.tmp, this.path);
    });
    return { id: this.id, articles: this.count, sha256: this.hash.digest('hex') };
  }
}

/** Return the existing plan when it was made from the same inputs, or write a new one. */
export async function ensurePlan(
  outDir: string,
  source: Source,
  filter: SourceFilter,
  unitSize: number,
  ctx: Pick<StageContext, 'log' | 'signal'>,
  opts: { requireExisting?: boolean } = {},
): Promise<Plan> {
  const paths = extractPaths(outDir);
  const inputSha256 = planInputHash(source, filter, unitSize);
  const existing = await readJsonIfExists(paths.plan);
  if (existing === undefined && opts.requireExisting) {
    // Workers must share one plan; each listing its own could race on the plan files.
    throw new ManifestError('PLAN_MISSING', `no plan at ${paths.plan}`, {
      hint: 'run `biomedica extract --plan-only` once with the same source and filters, then start the workers',
    });
  }
  if (existing !== undefined) {
    const plan = Plan.safeParse(existing);
    if (!plan.success) {
      throw new ManifestError('PLAN_INVALID', `unreadable plan at ${paths.plan}`, {
        hint: 'delete the extract/ folder or use another --out',
      });
    }
    if (plan.data.inputSha256 !== inputSha256) {
      throw new ManifestError('PLAN_MISMATCH', 'this output folder was made from another source or filter', {
        path: paths.plan,
        hint: 'use another --out, or delete its extract/ folder to start over',
      });
    }
    ctx.log.info({ units: plan.data.units.length, articles: plan.data.articles }, 'plan reused');
    return plan.data;
  }

  await rm(paths.planDir, { recursive: true, force: true });
  await ensureDir(paths.planDir);
  const units: Plan['units'] = [];
  const skipped: Record<string, number> = {};
  let writer: UnitWriter | undefined;
  let articles = 0;
  let newestUpdate = '';
  for await (const ref of source.list(filter, (_ref, reason) => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
  })) {
    if (ctx.signal.aborted) break;
    // Ids are unique per source listing (one row per package, one prefix per version); no Set of
    // six million ids is kept here to check it. load's key check catches a violation.
    if (!writer) {
      const id = unitId(units.length);
      writer = new UnitWriter(id, paths.planUnit(id));
    }
    await writer.add(ref);
    articles++;
    const day = ref.lastUpdated.slice(0, 10);
    if (/^\d{4}-\d{2}-\d{2}$/.test(day) && day > newestUpdate) newestUpdate = day;
    if (writer.count >= unitSize) {
      units.push(await writer.finish());
      writer = undefined;
    }
  }
  if (writer) units.push(await writer.finish());
  if (ctx.signal.aborted) {
    // A plan from a cut-short listing would silently shrink the dataset: do not keep it.
    await rm(paths.planDir, { recursive: true, force: true });
    throw new InterruptedError('INTERRUPTED', 'stopped while listing the source; no plan was kept', {
      hint: 'rerun the same command: the listing starts over',
    });
  }
  const plan: Plan = {
    schema: 'biomedica.extract.plan',
    version: 1,
    inputSha256,
    // A legacy file list carries no snapshot date of its own: the newest "Last Updated" among
    // the listed articles says how current the copy is, which is what a release must state.
    source: { ...source.descriptor, snapshotDate: source.descriptor.snapshotDate || newestUpdate },
    units,
    articles,
    skipped,
  };
  await writeJsonAtomic(paths.plan, plan);
  ctx.log.info({ units: units.length, articles, skipped }, 'plan written');
  return plan;
}

/**
 * The listing an existing one-shot plan was made from, for the source to list the same inventory
 * again on resume. Undefined when there is no plan, or a synced one (it pins its own epochs).
 */
export async function plannedListing(outDir: string): Promise<SourceDescriptor | undefined> {
  // A plan that is not JSON pins nothing here; ensurePlan reports it as PLAN_INVALID.
  const raw = (await readJsonIfExists(extractPaths(outDir).plan).catch((error: unknown) => {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  })) as { source?: Partial<SourceDescriptor>; epochs?: unknown } | undefined;
  const s = raw?.source;
  if (!raw || raw.epochs !== undefined || !s || typeof s.url !== 'string' || typeof s.snapshotDate !== 'string') return undefined;
  if (s.kind !== 'cloud' && s.kind !== 'legacy-local' && s.kind !== 'legacy-ftp' && s.kind !== 'legacy-http') return undefined;
  return { kind: s.kind, url: s.url, snapshotDate: s.snapshotDate };
}

export async function* readPlanUnit(outDir: string, unit: string): AsyncGenerator<ArticleRef> {
  yield* readJsonl<ArticleRef>(extractPaths(outDir).planUnit(unit));
}
