/**
 * The incremental (nightly) planner for the cloud source: one out dir accumulates across nights.
 * Each night with a new inventory appends an epoch to the plan: the units of the versions that are
 * new or changed, the tombstones of what they replace or of what vanished or was retracted, and a
 * new state file. A rerun on the same inventory resumes that epoch; a finished one changes nothing.
 * Design and file layout: src/sync/README.md.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../../errors.js';
import { extractPaths, unitId } from '../../manifest/extract-manifest.js';
import { ensureDir, readJsonIfExists, readJsonl, sha256, stableStringify, toJsonl, writeFileAtomic, writeJsonAtomic } from '../../storage/files.js';
import type { TombstoneRecord } from '../../manifest/records.js';
import type { StageContext } from '../../pipeline/context.js';
import type { CloudSource } from '../../sources/cloud/index.js';
import { carriedOutcome } from '../../sources/cloud/select.js';
import type { SourceFilter } from '../../sources/types.js';
import { diffGroups } from '../../sync/diff.js';
import { commitSyncState, readStateRows, readSyncState, statePaths, StateWriter, type KeyedStateRow, type SyncState } from '../../sync/state.js';
import { Plan, UnitWriter, readPlanUnit } from './plan.js';
import type { ExtractPlanner } from './run-extract.js';

export const PlanEpoch = z.object({
  id: z.number().int(),
  /** ISO date of the inventory this epoch was planned from, and its folder name. */
  snapshotDate: z.string(),
  inventory: z.string(),
  /** The units this epoch added: plan.units[firstUnit .. firstUnit + units). */
  firstUnit: z.number().int(),
  units: z.number().int(),
  articles: z.number().int(),
  skipped: z.record(z.string(), z.number().int()),
  /** Every version's metadata re-read (first run, or a state older than the inventory window). */
  fullListing: z.boolean(),
  fullListingReason: z.string(),
  groups: z.object({ total: z.number().int(), unchanged: z.number().int(), deferred: z.number().int() }),
  metadataReads: z.number().int(),
  tombstones: z.record(z.string(), z.number().int()),
  tombstonesFile: z.string(),
  tombstonesSha256: z.string(),
  stateFile: z.string(),
  stateSha256: z.string(),
  stateRows: z.number().int(),
});
export type PlanEpoch = z.infer<typeof PlanEpoch>;

export const SyncPlan = Plan.extend({ epochs: z.array(PlanEpoch).min(1) });
export type SyncPlan = z.infer<typeof SyncPlan>;

export interface SyncSummary {
  epoch: number;
  snapshotDate: string;
  inventory: string;
  previousSnapshotDate: string;
  /** This run resumed an epoch planned earlier from the same inventory (nothing was diffed). */
  resumed: boolean;
  fullListing: boolean;
  fullListingReason: string;
  groups: PlanEpoch['groups'];
  metadataReads: number;
  newArticles: number;
  newUnits: number;
  tombstones: Record<string, number>;
}

export interface SyncPlannerOptions {
  outDir: string;
  unitSize: number;
  filter: SourceFilter;
  /** The bucket keeps inventories this many days (cloud.inventoryWindowDays). */
  windowDays: number;
}

/** Source, filter (minus the per-night limit) and unit size: what makes two nights one dataset. */
export function syncInputHash(source: CloudSource, filter: SourceFilter, unitSize: number): string {
  const { limit: _limit, ...rest } = filter;
  const filterJson = { ...rest, pmcids: rest.pmcids ? [...rest.pmcids].sort() : undefined };
  return createHash('sha256')
    .update(stableStringify({ mode: 'sync', source: { kind: source.descriptor.kind, url: source.descriptor.url }, filter: filterJson, unitSize }))
    .digest('hex');
}

const epochTombstonesName = (id: number) => `e${String(id).padStart(6, '0')}.tombstones.jsonl`;
const DAY_MS = 86_400_000;

export function createSyncPlanner(source: CloudSource, options: SyncPlannerOptions): ExtractPlanner {
  return new SyncPlanner(source, options);
}

class SyncPlanner implements ExtractPlanner {
  private result: SyncSummary | undefined;

  constructor(
    private readonly source: CloudSource,
    private readonly options: SyncPlannerOptions,
  ) {}

  summary(): SyncSummary {
    if (!this.result) throw new Error('summary() before plan()');
    return this.result;
  }

  async plan(ctx: Pick<StageContext, 'log' | 'signal'>): Promise<Plan> {
    const { outDir } = this.options;
    const paths = extractPaths(outDir);
    const inputSha256 = syncInputHash(this.source, this.options.filter, this.options.unitSize);
    const existing = await this.readPlan(paths.plan, inputSha256);
    const snapshot = await this.source.useInventory('newest', ctx.signal);
    const last = existing?.epochs[existing.epochs.length - 1];

    if (existing && last && (last.inventory === snapshot.folder || last.snapshotDate > snapshot.date)) {
      if (last.inventory !== snapshot.folder) {
        ctx.log.warn({ planned: last.inventory, newest: snapshot.folder }, 'newest inventory is older than the last planned one; resuming that');
      }
      ctx.log.info({ epoch: last.id, inventory: last.inventory, units: last.units }, 'sync epoch resumed');
      this.result = summaryOf(last, existing.epochs[existing.epochs.length - 2]?.snapshotDate ?? '', true);
      return existing;
    }

    const committed = await readSyncState(outDir);
    let full = false;
    let fullReason = '';
    if (!last) {
      full = true;
      fullReason = 'first run: no previous state';
    } else if (Date.parse(snapshot.date) - Date.parse(last.snapshotDate) > this.options.windowDays * DAY_MS) {
      full = true;
      fullReason = `last state (${last.snapshotDate}) is older than the ${this.options.windowDays}-day inventory window`;
      ctx.log.warn({ lastSnapshot: last.snapshotDate, inventory: snapshot.date, windowDays: this.options.windowDays }, 'sync state older than the inventory window: full listing');
    }
    // Failed articles of the committed run are retried; if the last epoch never finished, its
    // units run in this same run anyway.
    const retry = new Set(committed && last && committed.epoch === last.id ? committed.retry : []);
    const previousFile = last ? join(statePaths(outDir).dir, last.stateFile) : undefined;
    const epochId = last ? last.id + 1 : 0;
    const firstUnit = existing?.units.length ?? 0;

    await ensureDir(paths.planDir);
    const stateWriter = await StateWriter.create(statePaths(outDir).versions(snapshot.folder));
    const newUnits: Plan['units'] = [];
    const skipped: Record<string, number> = {};
    const tombstones: TombstoneRecord[] = [];
    const groups = { total: 0, unchanged: 0, deferred: 0 };
    let writer: UnitWriter | undefined;
    let articles = 0;
    const limit = this.options.filter.limit;
    const readsBefore = this.source.counters.metadataReads;

    const rows = this.source.inventoryRows(this.options.filter, ctx.signal);
    const previous: AsyncIterable<KeyedStateRow[]> = previousFile ? readStateRows(previousFile) : emptyRows();
    const outcomes = this.source.resolveGroups(diffGroups(rows, previous), this.options.filter, { full, retry, signal: ctx.signal });
    try {
      for await (const batch of outcomes) {
        if (ctx.signal.aborted) break;
        for (let outcome of batch) {
          groups.total++;
          // Past the night's article limit nothing new is taken: the previous rows stand, so the
          // rest is still "changed" tomorrow.
          if (limit !== undefined && articles >= limit && !outcome.unchanged && (outcome.extract || outcome.tombstones.length > 0)) {
            outcome = carriedOutcome({ pmcNum: Number(outcome.pmcid.slice(3)), previous: outcome.previous });
          }
          if (outcome.unchanged) {
            groups.unchanged++;
            for (const row of outcome.rows) stateWriter.add(row);
            continue;
          }
          if (outcome.deferred) {
            groups.deferred++;
            skipped['metadata-failed'] = (skipped['metadata-failed'] ?? 0) + 1;
            ctx.log.warn({ pmcid: outcome.pmcid, ...outcome.deferred }, 'metadata unreadable, article kept as it was');
          }
          for (const s of outcome.skips) skipped[s.reason] = (skipped[s.reason] ?? 0) + 1;
          if (outcome.extract) {
            if (!writer) {
              const id = unitId(firstUnit + newUnits.length);
              writer = new UnitWriter(id, paths.planUnit(id));
            }
            outcome.extract.row.unit = writer.id;
            await writer.add(outcome.extract.ref);
            articles++;
            if (writer.count >= this.options.unitSize) {
              newUnits.push(await writer.finish());
              writer = undefined;
            }
          }
          for (const row of outcome.rows) stateWriter.add(row);
          for (const t of outcome.tombstones) tombstones.push(t);
        }
        await stateWriter.flush();
      }
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (writer) newUnits.push(await writer.finish());
    } catch (error) {
      await stateWriter.abort();
      // Unit files of an unrecorded epoch are harmless (a rerun rewrites them), but leave none.
      for (const u of newUnits) await rm(paths.planUnit(u.id), { force: true });
      throw error;
    }
    const state = await stateWriter.finish();

    const tombstonesText = toJsonl(tombstones);
    const tombstonesFile = epochTombstonesName(epochId);
    await writeFileAtomic(join(paths.planDir, tombstonesFile), tombstonesText);
    const tombstoneCounts: Record<string, number> = {};
    for (const t of tombstones) tombstoneCounts[t.reason] = (tombstoneCounts[t.reason] ?? 0) + 1;

    const epoch: PlanEpoch = {
      id: epochId,
      snapshotDate: snapshot.date,
      inventory: snapshot.folder,
      firstUnit,
      units: newUnits.length,
      articles,
      skipped,
      fullListing: full,
      fullListingReason: fullReason,
      groups,
      metadataReads: this.source.counters.metadataReads - readsBefore,
      tombstones: tombstoneCounts,
      tombstonesFile,
      tombstonesSha256: sha256(tombstonesText),
      stateFile: basename(state.path),
      stateSha256: state.sha256,
      stateRows: state.rows,
    };
    const plan: SyncPlan = {
      schema: 'biomedica.extract.plan',
      version: 1,
      inputSha256,
      source: { kind: 'cloud', url: this.source.descriptor.url, snapshotDate: snapshot.date },
      units: [...(existing?.units ?? []), ...newUnits],
      articles: (existing?.articles ?? 0) + articles,
      skipped,
      epochs: [...(existing?.epochs ?? []), epoch],
    };
    await writeJsonAtomic(paths.plan, plan);
    ctx.log.info(
      { epoch: epochId, inventory: snapshot.folder, units: newUnits.length, articles, groups, tombstones: tombstoneCounts, fullListing: full },
      'sync epoch planned',
    );
    this.result = summaryOf(epoch, last?.snapshotDate ?? '', false);
    return plan;
  }

  private async readPlan(path: string, inputSha256: string): Promise<SyncPlan | undefined> {
    const raw = await readJsonIfExists(path);
    if (raw === undefined) return undefined;
    const parsed = SyncPlan.safeParse(raw);
    if (!parsed.success) {
      const oneShot = Plan.safeParse(raw).success;
      throw new ManifestError(oneShot ? 'PLAN_MISMATCH' : 'PLAN_INVALID', oneShot ? 'this output folder holds a one-shot extract, not a synced one' : `unreadable plan at ${path}`, {
        path,
        hint: oneShot ? 'use another --out for nightly syncs, or run without --sync' : 'delete the extract/ folder or use another --out',
      });
    }
    if (parsed.data.inputSha256 !== inputSha256) {
      throw new ManifestError('PLAN_MISMATCH', 'this output folder was synced from another source, filter or unit size', {
        path,
        hint: 'use another --out, or delete its extract/ folder to start over',
      });
    }
    return parsed.data;
  }

  /** tombstones.jsonl is every epoch's tombstones in epoch order, rebuilt so a rerun gives the same bytes. */
  async beforeManifest(plan: Plan): Promise<void> {
    const paths = extractPaths(this.options.outDir);
    const epochs = (plan as SyncPlan).epochs;
    let text = '';
    for (const epoch of epochs) {
      const part = await readFile(join(paths.planDir, epoch.tombstonesFile), 'utf8').catch(() => undefined);
      if (part === undefined || sha256(part) !== epoch.tombstonesSha256) {
        throw new ManifestError('PLAN_INVALID', `tombstones of epoch ${epoch.id} are missing or altered`, {
          path: join(paths.planDir, epoch.tombstonesFile),
          hint: 'delete the extract/ folder to rebuild from a full listing',
        });
      }
      text += part;
    }
    const current = await readFile(paths.tombstones, 'utf8').catch(() => undefined);
    if (current !== text) await writeFileAtomic(paths.tombstones, text);
  }

  /** Point state.json at the last epoch's versions file, with the articles that failed to retry. */
  async afterManifest(plan: Plan, ctx: Pick<StageContext, 'log'>): Promise<void> {
    const { outDir } = this.options;
    const epochs = (plan as SyncPlan).epochs;
    const last = epochs[epochs.length - 1]!;
    const committed = await readSyncState(outDir);
    if (committed && committed.epoch === last.id && committed.versionsFile === last.stateFile) return;
    const fresh = epochs.filter((e) => !committed || e.id > committed.epoch);
    const planned = new Set<string>();
    const failed = new Set<string>();
    for (const epoch of fresh) {
      for (const unit of plan.units.slice(epoch.firstUnit, epoch.firstUnit + epoch.units)) {
        const done = new Set<string>();
        for await (const a of readJsonl<{ id: string }>(extractPaths(outDir).unitFile(unit.id, 'articles.jsonl'))) done.add(a.id);
        for await (const ref of readPlanUnit(outDir, unit.id)) {
          planned.add(ref.id);
          if (!done.has(ref.id)) failed.add(ref.id);
        }
      }
    }
    for (const id of committed?.retry ?? []) if (!planned.has(id)) failed.add(id);
    const state: SyncState = {
      schema: 'biomedica.sync.state',
      version: 1,
      inputSha256: plan.inputSha256,
      snapshotDate: last.snapshotDate,
      epoch: last.id,
      versionsFile: last.stateFile,
      versionsSha256: last.stateSha256,
      rows: last.stateRows,
      retry: [...failed].sort(),
    };
    const paths = statePaths(outDir);
    await commitSyncState(outDir, state);
    for (const name of await readdir(paths.dir)) {
      if (name.startsWith('versions-') && name !== last.stateFile) await rm(join(paths.dir, name), { force: true });
    }
    ctx.log.info({ epoch: last.id, snapshotDate: last.snapshotDate, rows: last.stateRows, retry: state.retry.length }, 'sync state committed');
  }
}

function summaryOf(epoch: PlanEpoch, previousSnapshotDate: string, resumed: boolean): SyncSummary {
  return {
    epoch: epoch.id,
    snapshotDate: epoch.snapshotDate,
    inventory: epoch.inventory,
    previousSnapshotDate,
    resumed,
    fullListing: epoch.fullListing,
    fullListingReason: epoch.fullListingReason,
    groups: epoch.groups,
    metadataReads: epoch.metadataReads,
    newArticles: epoch.articles,
    newUnits: epoch.units,
    tombstones: epoch.tombstones,
  };
}

async function* emptyRows(): AsyncGenerator<KeyedStateRow[]> {}

