/**
 * `biomedica transform fit` and `transform assign` as a user runs them on plain .npy files: exact
 * flag forms, outputs numpy's format, byte-identical reruns, exit codes, and refusal hints that
 * work when pasted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withNpy, writeNpy } from '../src/clustering/npy.js';
import { makeBlobs } from './helpers/blobs.js';
import { runCli, treeHashes } from './helpers/cli.js';

describe('transform fit / assign CLI', () => {
  let dir: string;
  const blobs = makeBlobs({ rows: 1000, dim: 12, blobs: 5, seed: 11, centreSpread: 10 });
  const a = () => join(dir, 'a.npy');
  const b = () => join(dir, 'b.npy');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'transform-cli-'));
    // The same embeddings split over two unit files, as the transform stage writes them.
    await writeNpy(a(), blobs.data.subarray(0, 600 * 12), [600, 12]);
    await writeNpy(b(), blobs.data.subarray(600 * 12), [400, 12]);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('fit on two files, assign each: every blob one cluster; a rerun writes the same bytes', async () => {
    const fit = ['transform', 'fit', '--embeddings', a(), b(), '--components', '4', '--clusters', '5', '--seed', '3', '--sample', '800'];
    const r = await runCli([...fit, '--model-out', join(dir, 'm1'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.sampleSize, 800);
    assert.equal(summary.totalRows, 1000);
    assert.equal(summary.clusters, 5);
    assert.ok(summary.explainedVarianceRatio > 0.9);
    const again = await runCli([...fit, '--model-out', join(dir, 'm2')]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /model written to/);
    assert.deepEqual(await treeHashes(join(dir, 'm2')), await treeHashes(join(dir, 'm1')));

    const ids: number[] = [];
    for (const [file, out] of [[a(), 'ids-a.npy'], [b(), 'ids-b.npy']] as const) {
      const as = await runCli(['transform', 'assign', '--model', join(dir, 'm1'), '--embeddings', file, '--ids-out', join(dir, out), '--json']);
      assert.equal(as.code, 0, as.stderr);
      await withNpy(join(dir, out), { ndim: 1, dtypes: ['int32'] }, async (reader) => ids.push(...(await reader.readInt32(0, reader.rows))));
    }
    assert.equal(ids.length, 1000);
    const clusterOfBlob = new Map<number, Set<number>>();
    blobs.truth.forEach((blob, i) => (clusterOfBlob.get(blob) ?? clusterOfBlob.set(blob, new Set()).get(blob)!).add(ids[i]!));
    for (const [blob, clusters] of clusterOfBlob) assert.equal(clusters.size, 1, `blob ${blob} split over ${[...clusters]}`);
    assert.equal(new Set(ids).size, 5);
  });

  test('a model fitted on other embeddings is refused (exit 3) and the hint, pasted, fixes it', async () => {
    const fit = await runCli(['transform', 'fit', '--embeddings', a(), '--components', '3', '--clusters', '4', '--seed', '1', '--recipe', 'biomedica', '--model-out', join(dir, 'bio')]);
    assert.equal(fit.code, 0, fit.stderr);
    const wrongRecipe = await runCli(['transform', 'assign', '--model', join(dir, 'bio'), '--embeddings', a(), '--ids-out', join(dir, 'x.npy'), '--recipe', 'dinov2']);
    assert.equal(wrongRecipe.code, 3);
    assert.match(wrongRecipe.stderr, /CLUSTER_MODEL_MISMATCH.*recipe biomedica; these have dinov2/);

    const narrow = join(dir, 'narrow.npy');
    await writeNpy(narrow, blobs.data.subarray(0, 300 * 8), [300, 8]);
    const ids = join(dir, 'narrow-ids.npy');
    const refused = await runCli(['transform', 'assign', '--model', join(dir, 'bio'), '--embeddings', narrow, '--ids-out', ids]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /CLUSTER_MODEL_MISMATCH.*fitted on 12-value embeddings; these have 8/);
    // The hint names the command as it runs here (npx biomedica in a checkout): pasted, it works.
    const hint = /hint: fit a model on these embeddings: (?:npx )?biomedica (transform fit .*), then assign with --model (\S+)/.exec(refused.stderr);
    assert.ok(hint, refused.stderr);
    const refit = await runCli(hint[1]!.split(' '));
    assert.equal(refit.code, 0, refit.stderr);
    const assigned = await runCli(['transform', 'assign', '--model', hint[2]!, '--embeddings', narrow, '--ids-out', ids]);
    assert.equal(assigned.code, 0, assigned.stderr);
    assert.match(assigned.stdout, /300 rows assigned to \d+ of 4 clusters/);
  });

  test('usage errors exit 2; a missing model or a malformed file exits 3', async () => {
    const badFlag = await runCli(['transform', 'fit', '--embeddings', a(), '--clusters', 'many', '--model-out', join(dir, 'z')]);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /FLAG_INVALID.*--clusters/);
    const tooWide = await runCli(['transform', 'fit', '--embeddings', a(), '--clusters', '5', '--model-out', join(dir, 'z')]);
    assert.equal(tooWide.code, 2, 'the default 25 components on 12-value rows');
    assert.match(tooWide.stderr, /hint: lower --components to at most 12/);
    const tooMany = await runCli(['transform', 'fit', '--embeddings', a(), '--components', '3', '--clusters', '5000', '--model-out', join(dir, 'z')]);
    assert.equal(tooMany.code, 2);
    assert.match(tooMany.stderr, /hint: lower --clusters or raise --sample/);
    const noModel = await runCli(['transform', 'assign', '--model', join(dir, 'nothing'), '--embeddings', a(), '--ids-out', join(dir, 'y.npy')]);
    assert.equal(noModel.code, 3);
    assert.match(noModel.stderr, /CLUSTER_MODEL_MISSING/);
    const notNpy = await runCli(['transform', 'fit', '--embeddings', join(dir, 'm1', 'model.json'), '--model-out', join(dir, 'z')]);
    assert.equal(notNpy.code, 3);
    assert.match(notNpy.stderr, /NPY_NOT_NPY/);
  });
});
