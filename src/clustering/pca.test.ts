import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Matrix, QrDecomposition } from 'ml-matrix';
import { gaussian } from '../../test/helpers/blobs.js';
import { fitPca, projectSource } from './pca.js';
import { Random } from './random.js';
import { memorySource } from './sample.js';

/** Rows x = offset + R·diag(scales)·z: the principal axes are R's columns, variances scales². */
function anisotropic(rows: number, scales: number[], offset: number, seed: number) {
  const dim = scales.length;
  const random = new Random(seed);
  const r = new QrDecomposition(Matrix.from1DArray(dim, dim, Array.from({ length: dim * dim }, () => gaussian(random)))).orthogonalMatrix;
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const z = scales.map((s) => gaussian(random) * s);
    for (let d = 0; d < dim; d++) {
      let v = offset;
      for (let j = 0; j < dim; j++) v += r.get(d, j) * z[j]!;
      data[i * dim + d] = v;
    }
  }
  return { data, dim, axes: (j: number) => r.getColumn(j) };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);

describe('PCA', () => {
  const scales = [10, 6, 3, 1, 0.5, 0.3, 0.2, 0.1];
  // An offset far larger than the spread: the large route's shifted covariance must not cancel.
  const { data, dim, axes } = anisotropic(4000, scales, 500, 1);
  const source = memorySource(data, dim);

  for (const engine of ['ml-pca', 'onnxruntime'] as const) {
    test(`${engine}: finds the known axes and variances, largest first, signs fixed`, async () => {
      const pca = await fitPca(source, 3, { engine });
      assert.equal(pca.engine, engine);
      for (let j = 0; j < 3; j++) {
        const c = pca.components.subarray(j * dim, (j + 1) * dim);
        assert.ok(Math.abs(dot(c, axes(j))) > 0.999, `axis ${j}: |cos| ${Math.abs(dot(c, axes(j)))}`);
        assert.ok(Math.abs(pca.explainedVariance[j]! / scales[j]! ** 2 - 1) < 0.08, `variance ${j}: ${pca.explainedVariance[j]} vs ${scales[j]! ** 2}`);
        let big = 0;
        for (let d = 1; d < dim; d++) if (Math.abs(c[d]!) > Math.abs(c[big]!)) big = d;
        assert.ok(c[big]! > 0, 'largest coefficient positive');
      }
      const total = scales.reduce((s, v) => s + v * v, 0);
      assert.ok(Math.abs(pca.totalVariance / total - 1) < 0.05);
      for (let d = 0; d < dim; d++) assert.ok(Math.abs(pca.mean[d]! - 500) < 1, 'mean');
    });
  }

  test('both routes give the same model (to float32 rounding) and the projection centres the data', async () => {
    const small = await fitPca(source, 4, { engine: 'ml-pca' });
    const large = await fitPca(source, 4, { engine: 'onnxruntime' });
    for (let i = 0; i < small.components.length; i++) assert.ok(Math.abs(small.components[i]! - large.components[i]!) < 1e-4, `component value ${i}`);
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(small.explainedVariance[j]! / large.explainedVariance[j]! - 1) < 1e-4);
    for (let d = 0; d < dim; d++) assert.ok(Math.abs(small.mean[d]! - large.mean[d]!) < 1e-3);
    const y = await projectSource(source, large);
    for (let j = 0; j < 4; j++) {
      let mean = 0;
      let sq = 0;
      for (let i = 0; i < 4000; i++) mean += y[i * 4 + j]!;
      mean /= 4000;
      for (let i = 0; i < 4000; i++) sq += (y[i * 4 + j]! - mean) ** 2;
      assert.ok(Math.abs(mean) < 1e-2, `projected mean ${mean}`);
      assert.ok(Math.abs(sq / 3999 / large.explainedVariance[j]! - 1) < 1e-3, 'projected variance = explained variance');
    }
  });

  test('more components than rows or dimensions is refused', async () => {
    await assert.rejects(fitPca(source, dim + 1), RangeError);
    await assert.rejects(fitPca(memorySource(data.subarray(0, 3 * dim), dim), 4), RangeError);
  });
});
