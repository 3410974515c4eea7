/**
 * PCA fitted on a sample: the mean, the top principal axes and their variances.
 *
 * Two routes, chosen by size, giving the same axes (up to rounding):
 * - small (n·D up to SMALL_PCA_VALUES): ml-pca's SVD of the centred data, in memory.
 * - large: one pass over the sample accumulating Σ(x−s)ᵀ(x−s) with an onnxruntime GEMM per block,
 *   then ml-matrix's symmetric eigendecomposition of the D×D covariance. ml-pca takes the SVD of
 *   the whole n×D matrix in JavaScript, O(n·D²) with no BLAS: measured here, 100k×1024 → 45
 *   components took 39 minutes with ml-pca and 12.3 s this way. Memory is one block plus D×D.
 *
 * Signs: an axis and its negation are equally valid, so each axis is flipped to make its largest
 * absolute coefficient positive (the first such on ties), as scikit-learn's svd_flip does on the
 * components; the result does not depend on which route or library produced the vectors.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { PCA } from 'ml-pca';
import { CovarianceKernel, ProjectKernel, rowsPerBlock, type KernelOptions } from './kernels.js';
import { collectRows, type RowSource } from './sample.js';

export interface PcaModel {
  /** D values. */
  mean: Float32Array;
  /** count × D, one principal axis per row (scikit-learn's components_ layout). */
  components: Float32Array;
  count: number;
  /** Variance along each kept axis, largest first (unbiased, n − 1). */
  explainedVariance: number[];
  /** Sum of the variances of all D input dimensions. */
  totalVariance: number;
  engine: 'ml-pca' | 'onnxruntime';
}

export const SMALL_PCA_VALUES = 1 << 20;

export interface PcaOptions extends KernelOptions {
  /** Force a route (tests compare them); by default the size decides. */
  engine?: 'ml-pca' | 'onnxruntime';
}

export async function fitPca(source: RowSource, count: number, options: PcaOptions = {}): Promise<PcaModel> {
  const { rows: n, dim } = source;
  if (!Number.isInteger(count) || count < 1 || count > dim || count > n) {
    throw new RangeError(`PCA to ${count} components needs 1 ≤ components ≤ min(rows ${n}, dimensions ${dim})`);
  }
  const engine = options.engine ?? (n * dim <= SMALL_PCA_VALUES ? 'ml-pca' : 'onnxruntime');
  return engine === 'ml-pca' ? fitSmall(source, count) : fitLarge(source, count, options);
}

async function fitSmall(source: RowSource, count: number): Promise<PcaModel> {
  const { rows: n, dim } = source;
  const flat = await collectRows(source);
  const data = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * dim, (i + 1) * dim)));
  const pca = new PCA(data, { center: true, scale: false, method: 'SVD' });
  const vectors = pca.getEigenvectors(); // D × min(n, D), one axis per column, variance descending
  const variances = pca.getEigenvalues();
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += flat[i * dim + d]!;
  for (let d = 0; d < dim; d++) mean[d]! /= n;
  let totalVariance = 0;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) totalVariance += (flat[i * dim + d]! - mean[d]!) ** 2;
  totalVariance /= Math.max(1, n - 1);
  const order = Array.from({ length: vectors.columns }, (_, j) => j);
  return finish(Float32Array.from(mean), dim, count, order, (j, d) => vectors.get(d, j), (j) => variances[j] ?? 0, totalVariance, 'ml-pca');
}

async function fitLarge(source: RowSource, count: number, options: KernelOptions): Promise<PcaModel> {
  const { rows: n, dim } = source;
  const kernel = await CovarianceKernel.create(dim, options);
  const cov = new Float64Array(dim * dim);
  const sum = new Float64Array(dim);
  let shift: Float32Array | undefined;
  try {
    for await (const block of source.blocks(rowsPerBlock(dim))) {
      if (!shift) {
        const s = new Float64Array(dim);
        for (let i = 0; i < block.rows; i++) for (let d = 0; d < dim; d++) s[d]! += block.data[i * dim + d]!;
        shift = Float32Array.from(s, (v) => v / block.rows);
      }
      const part = await kernel.run(block.data, block.rows, shift);
      for (let i = 0; i < cov.length; i++) cov[i]! += part.cov[i]!;
      for (let d = 0; d < dim; d++) sum[d]! += part.sum[d]!;
    }
  } finally {
    await kernel.release();
  }
  // Covariance of the shifted data equals the data's: (Σ zzᵀ − n·m mᵀ)/(n − 1), m = mean of z.
  const m = Float64Array.from(sum, (v) => v / n);
  const c = new Matrix(dim, dim);
  let totalVariance = 0;
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b < dim; b++) {
      // Symmetrise: the GEMM's two triangles may differ in the last bit.
      const v = ((cov[a * dim + b]! + cov[b * dim + a]!) / 2 - n * m[a]! * m[b]!) / Math.max(1, n - 1);
      c.set(a, b, v);
    }
    totalVariance += c.get(a, a);
  }
  const evd = new EigenvalueDecomposition(c, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix; // one axis per column
  const order = Array.from({ length: dim }, (_, j) => j).sort((a, b) => values[b]! - values[a]! || a - b);
  const mean = Float32Array.from(m, (v, d) => v + shift![d]!);
  return finish(mean, dim, count, order, (j, d) => vectors.get(d, j), (j) => values[j]!, totalVariance, 'onnxruntime');
}

function finish(
  mean: Float32Array,
  dim: number,
  count: number,
  order: number[],
  coef: (axis: number, d: number) => number,
  variance: (axis: number) => number,
  totalVariance: number,
  engine: PcaModel['engine'],
): PcaModel {
  const components = new Float32Array(count * dim);
  const explainedVariance: number[] = [];
  for (let r = 0; r < count; r++) {
    const j = order[r]!;
    let big = 0;
    for (let d = 1; d < dim; d++) if (Math.abs(coef(j, d)) > Math.abs(coef(j, big))) big = d;
    const sign = coef(j, big) < 0 ? -1 : 1;
    for (let d = 0; d < dim; d++) components[r * dim + d] = sign * coef(j, d);
    // An eigenvalue a hair below zero (rounding on a rank-deficient sample) is a zero variance.
    explainedVariance.push(Math.max(0, variance(j)));
  }
  return { mean, components, count, explainedVariance, totalVariance, engine };
}

/** Project a whole source into PCA space, in memory: count floats per row (the k-means input). */
export async function projectSource(source: RowSource, pca: Pick<PcaModel, 'mean' | 'components' | 'count'>, options: KernelOptions = {}): Promise<Float32Array> {
  const kernel = await ProjectKernel.create(pca.mean, pca.components, pca.count, options);
  const out = new Float32Array(source.rows * pca.count);
  let at = 0;
  try {
    for await (const block of source.blocks(rowsPerBlock(source.dim + pca.count))) {
      out.set(await kernel.run(block.data, block.rows), at);
      at += block.rows * pca.count;
    }
  } finally {
    await kernel.release();
  }
  return out;
}
