import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeBlobs } from '../../test/helpers/blobs.js';
import { InterruptedError } from '../errors.js';
import { fitKMeans, inertiaOf, relocateEmpty } from './kmeans.js';

/** Every blob lands whole in one cluster, and no two blobs share one. */
function assertRecovered(labels: Int32Array, truth: Int32Array, blobs: number): void {
  const clusterOf = new Map<number, number>();
  for (let i = 0; i < truth.length; i++) {
    const seen = clusterOf.get(truth[i]!);
    if (seen === undefined) clusterOf.set(truth[i]!, labels[i]!);
    else assert.equal(labels[i], seen, `row ${i} of blob ${truth[i]} left its cluster`);
  }
  assert.equal(new Set(clusterOf.values()).size, blobs, 'two blobs merged');
}

describe('k-means', () => {
  const blobs = makeBlobs({ rows: 1200, dim: 6, blobs: 8, seed: 5, centreSpread: 12, pointSpread: 1 });

  for (const engine of ['ml-kmeans', 'onnxruntime'] as const) {
    test(`${engine}: recovers well-separated blobs; inertia is that of the true partition`, async () => {
      const r = await fitKMeans(blobs.data, blobs.dim, { clusters: 8, seed: 1, engine });
      assert.equal(r.engine, engine);
      assertRecovered(r.labels, blobs.truth, 8);
      assert.ok(r.converged);
      // The true partition's centroids are its blob means: the optimum on this data.
      const means = new Float32Array(8 * blobs.dim);
      const counts = new Float64Array(8);
      const sums = new Float64Array(8 * blobs.dim);
      blobs.truth.forEach((b, i) => {
        counts[b]!++;
        for (let d = 0; d < blobs.dim; d++) sums[b * blobs.dim + d]! += blobs.data[i * blobs.dim + d]!;
      });
      sums.forEach((s, j) => (means[j] = s / counts[Math.floor(j / blobs.dim)]!));
      const best = inertiaOf(blobs.data, blobs.dim, means, blobs.truth);
      assert.ok(Math.abs(r.inertia / best - 1) < 1e-5, `${r.inertia} vs ${best}`);
      assert.equal(r.inertia, inertiaOf(blobs.data, blobs.dim, r.centroids, r.labels), 'inertia matches the returned labels and centroids');
    });
  }

  test('the same seed gives the same centroids bit for bit; seeding on a subsample still recovers the blobs', async () => {
    const a = await fitKMeans(blobs.data, blobs.dim, { clusters: 8, seed: 9, engine: 'onnxruntime' });
    const b = await fitKMeans(blobs.data, blobs.dim, { clusters: 8, seed: 9, engine: 'onnxruntime' });
    assert.deepEqual(Buffer.from(a.centroids.buffer), Buffer.from(b.centroids.buffer));
    const sub = await fitKMeans(blobs.data, blobs.dim, { clusters: 8, seed: 9, engine: 'onnxruntime', seedingSample: 300 });
    assert.equal(sub.seedingRows, 300);
    assertRecovered(sub.labels, blobs.truth, 8);
  });

  test('fewer distinct points than clusters: no NaN centre, every point at distance 0', async () => {
    const data = Float32Array.from([0, 0, 0, 0, 5, 5, 5, 5, 9, 1, 9, 1]);
    for (const engine of ['ml-kmeans', 'onnxruntime'] as const) {
      const r = await fitKMeans(data, 2, { clusters: 4, seed: 0, engine });
      assert.ok(r.centroids.every(Number.isFinite), engine);
      assert.equal(r.inertia, 0, engine);
    }
  });

  test('an empty cluster takes the farthest point, which leaves its old cluster', () => {
    // Three points in cluster 0 (centre near 0), cluster 1 empty; the point at 10 is farthest.
    const data = Float32Array.from([0, 1, 10]);
    const labels = Int32Array.from([0, 0, 0]);
    const distance = Float64Array.from([1, 0, 81]);
    const sums = Float64Array.from([11, 0]);
    const counts = Float64Array.from([3, 0]);
    relocateEmpty(data, 1, labels, distance, sums, counts);
    assert.deepEqual(Array.from(sums), [1, 10]);
    assert.deepEqual(Array.from(counts), [2, 1]);
  });

  test('an aborted fit stops with InterruptedError', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(fitKMeans(blobs.data, blobs.dim, { clusters: 8, seed: 1, engine: 'onnxruntime', signal: controller.signal }), InterruptedError);
  });

  test('more clusters than rows is refused', async () => {
    await assert.rejects(fitKMeans(blobs.data.subarray(0, 12), blobs.dim, { clusters: 3, seed: 0 }), RangeError);
  });
});
