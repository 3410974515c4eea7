/**
 * Which version of an article becomes the dataset's record, and what changed since the last run.
 *
 * The rule: walk an article's versions from the highest version number down and take the first
 * one that is open access (`is_pmc_openaccess`, or any version when cloud.openAccessOnly is off).
 * Versions above it that are not open access are passed over (typically a newer author
 * manuscript); versions below it are "superseded" and their metadata is never read. Higher
 * versions of one PMCID are corrections or the published form of a manuscript, so the highest
 * open one is the article as PMC shows it today, and one version per article keeps figures from
 * being counted twice. The chosen version then meets the filter: retracted (flag or a title
 * starting "RETRACTED") excludes the whole article rather than falling back to an older version,
 * because a retraction covers the article, not one rendering of it; so do the license groups and
 * the updated-date range.
 *
 * With a previous state, a version whose ETag is unchanged keeps what was decided for it without a
 * request; only versions that are new, changed, or flagged for retry have their metadata read.
 * A group whose rows all match the state is "unchanged" and costs nothing at all.
 */
import { toFailure, type FailureInfo } from '../../errors.js';
import type { TombstoneRecord } from '../../manifest/records.js';
import type { ArticleGroup } from '../../sync/diff.js';
import { orderedMap } from '../../sync/ordered.js';
import { versionKey, type VersionRow } from '../../sync/rows.js';
import type { KeyedStateRow, StateRow } from '../../sync/state.js';
import type { ArticleRef, LicenseGroup } from '../types.js';
import { refFromKey, refFromMetadata, type VersionMetadata } from './metadata.js';

export interface SelectFilter {
  licenseGroups?: LicenseGroup[] | undefined;
  includeRetracted?: boolean | undefined;
  /** Inclusive 'YYYY-MM-DD' bounds on the listing's last-modified date. */
  updatedFrom?: string | undefined;
  updatedTo?: string | undefined;
  openAccessOnly: boolean;
}

export type MetadataResult =
  | { kind: 'ok'; meta: VersionMetadata; revision: string; fromNetwork: boolean }
  | { kind: 'missing'; reason: string; fromNetwork: boolean }
  | { kind: 'failed'; error: unknown };

export type MetadataLookup = (row: VersionRow, key: string) => Promise<MetadataResult>;

export interface GroupOutcome {
  pmcid: string;
  /** State rows for the versions listed now, ascending. The `extract` row's unit is filled by the planner. */
  rows: StateRow[];
  extract: { ref: ArticleRef; row: StateRow } | undefined;
  tombstones: TombstoneRecord[];
  /** Versions reported as not listed, with the reason (the plan's `skipped` counts). */
  skips: { ref: ArticleRef; reason: string }[];
  /** Every row matched the previous state: nothing was read and nothing changes. */
  unchanged: boolean;
  /** Metadata could not be read: the previous rows stand and the group is retried next run. */
  deferred: FailureInfo | undefined;
  /** The previous state's rows, for callers that decide to carry the group over unchanged. */
  previous: KeyedStateRow[];
  metadataReads: number;
}

export interface ResolveOptions {
  lookup: MetadataLookup;
  filter: SelectFilter;
  /** Re-read every version's metadata, ignoring the ETag shortcut (state older than the window). */
  full: boolean;
  /** Article ids that failed in the last run: their versions count as changed. */
  retry: ReadonlySet<string>;
}

export function stripKeys(row: KeyedStateRow): StateRow {
  return {
    key: row.key,
    etag: row.etag,
    lastModified: row.lastModified,
    oa: row.oa,
    status: row.status,
    reason: row.reason,
    articleId: row.articleId,
    unit: row.unit,
  };
}

/** True when the group can be carried over with no request: same versions, same ETags, no retry. */
export function isUnchanged(group: ArticleGroup, options: Pick<ResolveOptions, 'full' | 'retry'>): boolean {
  if (options.full || group.current.length !== group.previous.length) return false;
  for (let i = 0; i < group.current.length; i++) {
    const c = group.current[i]!;
    const p = group.previous[i]!;
    if (c.version !== p.version || c.etag !== p.etag) return false;
    if (options.retry.size > 0 && p.articleId !== '' && options.retry.has(p.articleId)) return false;
  }
  return true;
}

export function unchangedOutcome(group: ArticleGroup): GroupOutcome {
  return {
    pmcid: `PMC${group.pmcNum}`,
    rows: group.previous,
    extract: undefined,
    tombstones: [],
    skips: [],
    unchanged: true,
    deferred: undefined,
    previous: group.previous,
    metadataReads: 0,
  };
}

/** The previous rows stand as they are (a deferred group, or one past the run's article limit). */
export function carriedOutcome(group: { pmcNum: number; previous: KeyedStateRow[] }, deferred?: FailureInfo): GroupOutcome {
  return { ...unchangedOutcome({ pmcNum: group.pmcNum, current: [], previous: group.previous }), unchanged: false, deferred };
}

function inDateRange(lastModified: string, filter: SelectFilter): boolean {
  if (!filter.updatedFrom && !filter.updatedTo) return true;
  const day = lastModified.slice(0, 10);
  // A listing without dates (explicit PMCIDs) cannot be filtered by date: keep the version.
  if (day === '') return true;
  if (filter.updatedFrom && day < filter.updatedFrom) return false;
  if (filter.updatedTo && day > filter.updatedTo) return false;
  return true;
}

export function exclusionReason(ref: ArticleRef, lastModified: string, filter: SelectFilter): string {
  if (ref.retracted && !filter.includeRetracted) return 'retracted';
  if (filter.licenseGroups && !filter.licenseGroups.includes(ref.licenseGroup)) return 'license';
  if (!inDateRange(lastModified, filter)) return 'updated-range';
  return '';
}

export async function resolveGroup(group: ArticleGroup, options: ResolveOptions): Promise<GroupOutcome> {
  const { filter, retry } = options;
  const pmcid = `PMC${group.pmcNum}`;
  const previousByVersion = new Map(group.previous.map((p) => [p.version, p]));
  const descending = [...group.current].sort((a, b) => b.version - a.version);
  const rows = new Map<number, StateRow>();
  const skips: GroupOutcome['skips'] = [];
  let reads = 0;
  let extract: GroupOutcome['extract'];
  let excludedAs = '';

  const base = (row: VersionRow): Pick<StateRow, 'key' | 'etag' | 'lastModified'> => ({
    key: versionKey(row.pmcNum, row.version),
    etag: row.etag,
    lastModified: row.lastModified,
  });
  const sameAsBefore = (row: VersionRow): KeyedStateRow | undefined => {
    const prev = previousByVersion.get(row.version);
    if (!prev || prev.etag !== row.etag || options.full) return undefined;
    if (prev.articleId !== '' && retry.has(prev.articleId)) return undefined;
    return prev;
  };

  let chosen = -1;
  const allOutOfRange = (filter.updatedFrom || filter.updatedTo) && descending.every((r) => !inDateRange(r.lastModified, filter));
  if (allOutOfRange && descending.length > 0) {
    // No version is in the date range: decided from the listing alone, no metadata read.
    for (const row of descending) {
      const prev = previousByVersion.get(row.version);
      rows.set(row.version, { ...base(row), oa: prev?.etag === row.etag ? prev.oa : null, status: 'excluded', reason: 'updated-range', articleId: '', unit: '' });
    }
    const top = descending[0]!;
    skips.push({ ref: refFromKey(versionKey(top.pmcNum, top.version), { lastModified: top.lastModified, revision: top.etag }), reason: 'updated-range' });
    excludedAs = 'updated-range';
  } else {
    for (const [i, row] of descending.entries()) {
      const key = versionKey(row.pmcNum, row.version);
      const same = sameAsBefore(row);
      if (same && same.oa === false) {
        rows.set(row.version, { ...stripKeys(same), lastModified: row.lastModified });
        continue;
      }
      if (same && (same.status === 'extracted' || same.status === 'excluded')) {
        rows.set(row.version, { ...stripKeys(same), lastModified: row.lastModified });
        if (same.status === 'excluded') excludedAs = same.reason;
        chosen = i;
        break;
      }
      const got = await options.lookup(row, key);
      if (got.kind === 'failed') {
        return carriedOutcome(group, toFailure(got.error, 'METADATA_FAILED'));
      }
      if (got.fromNetwork) reads++;
      if (got.kind === 'missing') {
        rows.set(row.version, { ...base(row), oa: false, status: 'missing', reason: got.reason, articleId: '', unit: '' });
        skips.push({ ref: refFromKey(key, { lastModified: row.lastModified, revision: row.etag }), reason: got.reason });
        continue;
      }
      const ref = refFromMetadata(got.meta, { lastModified: row.lastModified, revision: got.revision });
      if (filter.openAccessOnly && !got.meta.isOpenAccess) {
        rows.set(row.version, { ...base(row), oa: false, status: 'not-open-access', reason: '', articleId: '', unit: '' });
        skips.push({ ref, reason: 'not-open-access' });
        continue;
      }
      chosen = i;
      const reason = exclusionReason(ref, row.lastModified, filter);
      const prev = previousByVersion.get(row.version);
      if (reason !== '') {
        rows.set(row.version, { ...base(row), oa: got.meta.isOpenAccess, status: 'excluded', reason, articleId: '', unit: '' });
        skips.push({ ref, reason });
        excludedAs = reason;
      } else if (prev && prev.status === 'extracted' && prev.etag === row.etag && !retry.has(prev.articleId)) {
        // A full re-listing confirmed what was extracted before: keep it, do not redo it.
        rows.set(row.version, { ...stripKeys(prev), lastModified: row.lastModified });
      } else {
        const state: StateRow = { ...base(row), oa: got.meta.isOpenAccess, status: 'extracted', reason: '', articleId: ref.id, unit: '' };
        rows.set(row.version, state);
        extract = { ref, row: state };
      }
      break;
    }
    if (chosen >= 0) {
      for (const row of descending.slice(chosen + 1)) {
        const prev = previousByVersion.get(row.version);
        const oa = prev && prev.etag === row.etag ? prev.oa : null;
        rows.set(row.version, { ...base(row), oa, status: 'superseded', reason: '', articleId: '', unit: '' });
        skips.push({ ref: refFromKey(versionKey(row.pmcNum, row.version), { lastModified: row.lastModified, revision: row.etag }), reason: 'superseded-version' });
      }
    }
  }

  const tombstones: TombstoneRecord[] = [];
  for (const old of group.previous) {
    if (old.status !== 'extracted') continue;
    const now = rows.get(old.version);
    const kept = now?.status === 'extracted' && now.unit === old.unit && now.unit !== '' && extract?.row !== now;
    if (kept) continue;
    // Replaced: only the old unit's records go (the article id may be the same). Retracted or
    // removed: the article goes from every unit.
    if (extract) tombstones.push({ articleId: old.articleId, unit: old.unit, reason: 'replaced' });
    else tombstones.push({ articleId: old.articleId, unit: '', reason: excludedAs === 'retracted' ? 'retracted' : 'removed' });
  }

  return {
    pmcid,
    rows: group.current.map((r) => rows.get(r.version)!),
    extract,
    tombstones,
    skips,
    unchanged: false,
    deferred: undefined,
    previous: group.previous,
    metadataReads: reads,
  };
}

/**
 * Outcomes for a stream of group batches, in order, with up to `window` batches in flight.
 * Unchanged groups are answered at once, and a batch with nothing to read resolves without a
 * promise, which keeps a night of 8 million mostly unchanged rows cheap; metadata reads are
 * bounded by the lookup itself.
 */
export function resolveGroupStream(
  batches: AsyncIterable<ArticleGroup[]>,
  options: ResolveOptions,
  window: number,
  signal?: AbortSignal,
): AsyncGenerator<GroupOutcome[]> {
  return orderedMap(batches, window, (groups) => {
    const out: Array<GroupOutcome | Promise<GroupOutcome>> = new Array(groups.length);
    let pending = false;
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      if (signal?.aborted) out[i] = carriedOutcome(group);
      else if (group.previous.length > 0 && isUnchanged(group, options)) out[i] = unchangedOutcome(group);
      else {
        out[i] = resolveGroup(group, options);
        pending = true;
      }
    }
    return pending ? Promise.all(out) : (out as GroupOutcome[]);
  });
}
