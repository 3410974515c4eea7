import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransportError } from '../../errors.js';
import type { ArticleGroup } from '../../sync/diff.js';
import type { VersionRow } from '../../sync/rows.js';
import type { KeyedStateRow, StateRow } from '../../sync/state.js';
import { parseVersionMetadata } from './metadata.js';
import { isUnchanged, resolveGroup, type MetadataLookup, type ResolveOptions } from './select.js';

type Meta = { oa?: boolean; retracted?: boolean; title?: string; license?: string | null };

/** A lookup over fixed metadata that records which versions it was asked for. */
function lookupOf(metas: Record<string, Meta | 'missing' | 'fail'>) {
  const asked: string[] = [];
  const lookup: MetadataLookup = async (row, key) => {
    asked.push(key);
    const m = metas[key];
    if (m === undefined || m === 'missing') return { kind: 'missing', reason: 'metadata-missing', fromNetwork: true };
    if (m === 'fail') return { kind: 'failed', error: new TransportError('SERVER_ERROR', 'HTTP 500', { retryable: true }) };
    const [pmcid, version] = key.split('.');
    const meta = parseVersionMetadata(
      JSON.stringify({ pmcid, version: Number(version), title: m.title ?? 'A title', is_pmc_openaccess: m.oa ?? true, is_retracted: m.retracted ?? false, license_code: m.license === undefined ? 'CC BY' : m.license }),
    );
    return { kind: 'ok', meta, revision: row.etag, fromNetwork: true };
  };
  return { asked, lookup };
}

const row = (version: number, etag = `e${version}`): VersionRow => ({ pmcNum: 7, version, etag, lastModified: '2026-08-01T00:00:00.000Z' });
const prev = (version: number, over: Partial<StateRow> = {}): KeyedStateRow => ({
  pmcNum: 7,
  version,
  key: `PMC7.${version}`,
  etag: `e${version}`,
  lastModified: '2026-08-01T00:00:00.000Z',
  oa: true,
  status: 'extracted',
  reason: '',
  articleId: `PMC7_${version}`,
  unit: 'u000003',
  ...over,
});
const group = (current: VersionRow[], previous: KeyedStateRow[] = []): ArticleGroup => ({ pmcNum: 7, current, previous });
const opts = (lookup: MetadataLookup, over: Partial<ResolveOptions> = {}): ResolveOptions => ({
  lookup,
  filter: { openAccessOnly: true },
  full: false,
  retry: new Set(),
  ...over,
});

test('the highest open-access version wins; lower ones are never read', async () => {
  const { asked, lookup } = lookupOf({ 'PMC7.1': {}, 'PMC7.2': {}, 'PMC7.10': { oa: false } });
  const out = await resolveGroup(group([row(1), row(2), row(10)]), opts(lookup));
  assert.equal(out.extract?.ref.id, 'PMC7_2', '.10 sorts after .2 and is passed over (not open access)');
  assert.deepEqual(asked, ['PMC7.10', 'PMC7.2']);
  assert.deepEqual(out.rows.map((r) => [r.key, r.status, r.oa]), [
    ['PMC7.1', 'superseded', null],
    ['PMC7.2', 'extracted', true],
    ['PMC7.10', 'not-open-access', false],
  ]);
  assert.deepEqual(out.skips.map((s) => [s.ref.id, s.reason]), [['PMC7_10', 'not-open-access'], ['PMC7_1', 'superseded-version']]);
});

test('a retracted newest version excludes the article; no fallback to an older one', async () => {
  const { asked, lookup } = lookupOf({ 'PMC7.1': {}, 'PMC7.2': { title: 'RETRACTED: A title' } });
  const out = await resolveGroup(group([row(1), row(2)]), opts(lookup));
  assert.equal(out.extract, undefined);
  assert.deepEqual(asked, ['PMC7.2']);
  assert.deepEqual(out.skips.map((s) => s.reason), ['retracted', 'superseded-version']);
  const kept = await resolveGroup(group([row(1), row(2)]), opts(lookupOf({ 'PMC7.2': { retracted: true } }).lookup, { filter: { openAccessOnly: true, includeRetracted: true } }));
  assert.equal(kept.extract?.ref.retracted, true);
});

test('licence groups and the date range exclude; a group wholly out of range costs no read', async () => {
  const lic = await resolveGroup(group([row(1)]), opts(lookupOf({ 'PMC7.1': { license: 'CC BY-NC' } }).lookup, { filter: { openAccessOnly: true, licenseGroups: ['commercial'] } }));
  assert.deepEqual(lic.skips.map((s) => s.reason), ['license']);
  const { asked, lookup } = lookupOf({ 'PMC7.1': {} });
  const dated = await resolveGroup(group([row(1)]), opts(lookup, { filter: { openAccessOnly: true, updatedFrom: '2026-08-15' } }));
  assert.deepEqual(asked, []);
  assert.equal(dated.rows[0]?.status, 'excluded');
  assert.equal(dated.rows[0]?.reason, 'updated-range');
});

test('an unchanged group costs nothing; a changed ETag is re-extracted and replaces the old unit', async () => {
  assert.equal(isUnchanged(group([row(1)], [prev(1)]), { full: false, retry: new Set() }), true);
  assert.equal(isUnchanged(group([row(1)], [prev(1)]), { full: false, retry: new Set(['PMC7_1']) }), false);
  const { asked, lookup } = lookupOf({ 'PMC7.1': {} });
  const out = await resolveGroup(group([row(1, 'changed')], [prev(1)]), opts(lookup));
  assert.deepEqual(asked, ['PMC7.1']);
  assert.equal(out.extract?.ref.revision, 'changed');
  assert.deepEqual(out.tombstones, [{ articleId: 'PMC7_1', unit: 'u000003', reason: 'replaced' }]);
});

test('a new version supersedes; a vanished one is removed; a newly retracted one is retracted', async () => {
  const added = await resolveGroup(group([row(1), row(2)], [prev(1)]), opts(lookupOf({ 'PMC7.2': {} }).lookup));
  assert.equal(added.extract?.ref.id, 'PMC7_2');
  assert.deepEqual(added.tombstones, [{ articleId: 'PMC7_1', unit: 'u000003', reason: 'replaced' }]);
  assert.equal(added.rows[0]?.status, 'superseded');
  assert.equal(added.rows[0]?.oa, true, 'what was known of an unchanged version is kept');

  const gone = await resolveGroup(group([], [prev(1)]), opts(lookupOf({}).lookup));
  assert.deepEqual(gone.tombstones, [{ articleId: 'PMC7_1', unit: '', reason: 'removed' }]);
  assert.deepEqual(gone.rows, []);

  const retracted = await resolveGroup(group([row(1, 'new')], [prev(1)]), opts(lookupOf({ 'PMC7.1': { retracted: true } }).lookup));
  assert.deepEqual(retracted.tombstones, [{ articleId: 'PMC7_1', unit: '', reason: 'retracted' }]);

  const closed = await resolveGroup(group([row(1, 'new')], [prev(1)]), opts(lookupOf({ 'PMC7.1': { oa: false } }).lookup));
  assert.deepEqual(closed.tombstones, [{ articleId: 'PMC7_1', unit: '', reason: 'removed' }]);
});

test('a full re-listing reads again but does not redo what is unchanged', async () => {
  const { asked, lookup } = lookupOf({ 'PMC7.1': {} });
  const out = await resolveGroup(group([row(1)], [prev(1)]), opts(lookup, { full: true }));
  assert.deepEqual(asked, ['PMC7.1']);
  assert.equal(out.extract, undefined);
  assert.deepEqual(out.tombstones, []);
  assert.equal(out.rows[0]?.unit, 'u000003');
});

test('a known non-open-access version is passed over without a read', async () => {
  const { asked, lookup } = lookupOf({ 'PMC7.1': {}, 'PMC7.2': { oa: false } });
  const previous = [prev(1, { status: 'superseded', oa: null, articleId: '', unit: '' }), prev(2, { status: 'not-open-access', oa: false, articleId: '', unit: '' })];
  const out = await resolveGroup(group([row(1, 'x'), row(2)], previous), opts(lookup));
  assert.deepEqual(asked, ['PMC7.1']);
  assert.equal(out.extract?.ref.id, 'PMC7_1');
});

test('unreadable metadata defers the group: the previous rows stand', async () => {
  const previous = [prev(1)];
  const out = await resolveGroup(group([row(1, 'changed')], previous), opts(lookupOf({ 'PMC7.1': 'fail' }).lookup));
  assert.equal(out.deferred?.code, 'SERVER_ERROR');
  assert.equal(out.rows, previous);
  assert.deepEqual(out.tombstones, []);
  const missing = await resolveGroup(group([row(1)]), opts(lookupOf({ 'PMC7.1': 'missing' }).lookup));
  assert.equal(missing.rows[0]?.status, 'missing');
  assert.deepEqual(missing.skips.map((s) => s.reason), ['metadata-missing']);
});
