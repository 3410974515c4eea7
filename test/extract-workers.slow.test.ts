/**
 * A run split over workers (several processes or machines sharing the out folder): one
 * `--plan-only`, then `--worker i/n` processes in parallel. The result must be the bytes of a
 * single-process run, and exactly one worker must write the manifest.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { collect, repoRoot, runCli, spawnCli, treeHashes } from './helpers/cli.js';

describe('extract split over workers', () => {
  let work: string;
  const mirror = join(repoRoot, 'sample');
  const ARGS = ['--source', mirror, '--unit-size', '6', '--no-progress', '--json'];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-workers-'));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  test('plan once, three workers at once: the same bytes as one process, one manifest writer', async () => {
    const single = join(work, 'single');
    const one = await runCli(['extract', '--out', single, ...ARGS]);
    assert.equal(one.code, 0, one.stderr);

    const split = join(work, 'split');
    const planned = await runCli(['extract', '--out', split, '--plan-only', ...ARGS]);
    assert.equal(planned.code, 0, planned.stderr);
    assert.equal(JSON.parse(planned.stdout).complete, false);

    const runs = await Promise.all([0, 1, 2].map((i) => collect(spawnCli(['extract', '--out', split, '--worker', `${i}/3`, ...ARGS]))));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const summaries = runs.map((r) => JSON.parse(r.stdout));
    assert.equal(summaries.filter((s) => s.complete).length, 1, 'exactly one worker finalizes');

    const expected = await treeHashes(join(single, 'extract'));
    assert.deepEqual(await treeHashes(join(split, 'extract')), expected);
  });

  test('a worker without a plan, or with a bad share, is refused', async () => {
    const none = await runCli(['extract', '--out', join(work, 'none'), '--worker', '0/2', ...ARGS]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /PLAN_MISSING[\s\S]*--plan-only/);
    const bad = await runCli(['extract', '--out', join(work, 'none'), '--worker', '2/2', ...ARGS]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FLAG_INVALID/);
  });
});
