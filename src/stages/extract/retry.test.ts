import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXTRACT_STEP, EXTRACT_VERSION, emptyStats, extractPaths } from '../../manifest/extract-manifest.js';
import type { FailureRecord } from '../../manifest/records.js';
import { MARKER_SCHEMA, MARKER_VERSION } from '../../pipeline/runner.js';
import { pathExists, toJsonl, writeFileAtomic, writeJsonAtomic } from '../../storage/files.js';
import { articleOfImage, finishRetry, pendingRetry, prepareRetry, selectRetry } from './retry.js';

const failure = (unit: string, item: string, step: FailureRecord['step'], code: string, transient: boolean): FailureRecord => ({
  unit,
  item,
  step,
  code,
  message: code,
  transient,
});

async function writeUnit(out: string, unit: string, failures: FailureRecord[], version = EXTRACT_VERSION): Promise<void> {
  const paths = extractPaths(out);
  await writeFileAtomic(paths.unitFile(unit, 'failures.jsonl'), toJsonl(failures));
  await writeFileAtomic(
    paths.unitFile(unit, 'figures.jsonl'),
    toJsonl([{ key: 'PMC5_1_f001', articleId: 'PMC5_1' }, { key: 'PMC6_2_f012', articleId: 'PMC6_2' }]),
  );
  await writeJsonAtomic(paths.unitMarker(unit), {
    schema: MARKER_SCHEMA,
    version: MARKER_VERSION,
    step: EXTRACT_STEP,
    stepVersion: version,
    unit,
    key: 'k',
    result: { stats: emptyStats(), files: {} },
    outputs: {},
  });
}

describe('retry selection', () => {
  let out: string;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'bm-retry-unit-'));
    await writeUnit(out, 'u000000', [
      failure('u000000', 'PMC5_1_f001_2', 'image', 'SERVER_ERROR', true),
      failure('u000000', 'PMC6_2_f012', 'image', 'IMAGE_TOO_SMALL', false),
      failure('u000000', 'PMC7_1', 'package', 'NETWORK', true),
    ]);
    await writeUnit(out, 'u000001', [failure('u000001', 'PMC8_1', 'parse', 'XML_MALFORMED', false)]);
    // A unit of an older extract version is redone whole by extract: nothing of it is reused.
    await writeUnit(out, 'u000002', [failure('u000002', 'PMC9_1', 'package', 'NETWORK', true)], EXTRACT_VERSION - 1);
  });
  after(() => rm(out, { recursive: true, force: true }));

  test('an image names its article through the figure records, or through its key', () => {
    const figures = new Map([['PMC5_1_f001', 'PMC5_1']]);
    assert.equal(articleOfImage('PMC5_1_f001', figures), 'PMC5_1');
    assert.equal(articleOfImage('PMC5_1_f001_3', figures), 'PMC5_1');
    assert.equal(articleOfImage('PMC77_1_f1002_2', figures), 'PMC77_1');
  });

  test('transient failures pick their articles; content failures are counted, never retried', async () => {
    const s = await selectRetry(out, ['u000000', 'u000001', 'u000002', 'u000003'].map((id) => ({ id })));
    assert.deepEqual(s.units.map((u) => [u.unit, u.articles]), [['u000000', ['PMC5_1', 'PMC7_1']]]);
    assert.equal(s.transient, 2);
    assert.equal(s.content, 2);
    assert.deepEqual(s.transientByCode, { NETWORK: 1, SERVER_ERROR: 1 });
    assert.deepEqual(s.contentByCode, { IMAGE_TOO_SMALL: 1, XML_MALFORMED: 1 });
    // Units made under other options (another key) are not retried: the run redoes them whole.
    const other = await selectRetry(out, [{ id: 'u000000', key: 'other options' }]);
    assert.deepEqual(other.units, []);
    assert.deepEqual(other.otherOptions, ['u000000']);
  });

  test('prepare moves the unit aside whole; a second selection resumes it; finish clears it once the unit is done again', async () => {
    const paths = extractPaths(out);
    const s = await selectRetry(out, [{ id: 'u000000', key: 'k' }, { id: 'u000001', key: 'k' }]);
    await prepareRetry(out, s);
    assert.equal(await pathExists(paths.unitDir('u000000')), false);
    const pending = await pendingRetry(out, 'u000000', 'k');
    assert.equal(await pendingRetry(out, 'u000000', 'other options'), undefined, 'never reused under another key');
    assert.deepEqual([...(pending?.articles ?? [])], ['PMC5_1', 'PMC7_1']);
    assert.deepEqual((await readdir(pending!.previousDir)).sort(), ['done.json', 'failures.jsonl', 'figures.jsonl']);
    assert.equal(pending!.previousDir, join(paths.root, 'retry', 'units', 'u000000'));

    const again = await selectRetry(out, [{ id: 'u000000', key: 'k' }, { id: 'u000001', key: 'k' }]);
    assert.deepEqual(again.resuming, ['u000000']);
    assert.deepEqual(again.units, []);

    // Not done yet: finish keeps the old content.
    await finishRetry(out);
    assert.ok(await pendingRetry(out, 'u000000', 'k'));
    await writeUnit(out, 'u000000', []);
    await finishRetry(out);
    assert.equal(await pendingRetry(out, 'u000000', 'k'), undefined);
    assert.equal(await pathExists(join(paths.root, 'retry')), false);
  });
});
