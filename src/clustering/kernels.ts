/**
 * The clustering's heavy arithmetic as onnxruntime graphs: a covariance product for PCA, the
 * projection, the nearest-centroid search and the k-means++ candidate step. Each is one matrix
 * product plus cheap element-wise work, run by onnxruntime's GEMM (multi-threaded on CPU; the same
 * graph runs on a GPU execution provider), never a JavaScript triple loop: measured on 2 cores,
 * assigning 1 M points to 2,000 centroids takes 145–190 s as a JS loop and 3–5 s this way.
 *
 * Squared distances use the expansion ‖x‖² − 2x·c + ‖c‖², so the n×k distance matrix is one GEMM;
 * ArgMin picks the first of equal minima, so ties break by lowest cluster id, deterministically.
 */
import { machineDefaults } from '../config/cores.js';
import * as ort from 'onnxruntime-node';
import { encodeModel, type GraphSpec, type NodeSpec } from './onnx-graph.js';

export interface KernelOptions {
  /** onnxruntime execution providers in order of preference (default ['cpu']). */
  executionProviders?: string[];
  /** CPU threads for one kernel (default: every core; onnxruntime's own default used one here). */
  threads?: number;
}

/** Bound on the floats of one kernel's largest intermediate (the n×k distances): 64 MiB. */
export const MAX_BLOCK_VALUES = 1 << 24;

export function rowsPerBlock(valuesPerRow: number): number {
  return Math.max(1, Math.floor(MAX_BLOCK_VALUES / Math.max(1, valuesPerRow)));
}

async function createSession(spec: GraphSpec, options: KernelOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(spec), {
    executionProviders: options.executionProviders ?? ['cpu'],
    intraOpNumThreads: options.threads ?? machineDefaults().cores,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Idle pool threads spin by default, waiting for the next op. Between runs JavaScript does
    // its share (sums, sampling, I/O) on the same cores, and the spinning took it from them:
    // measured on 2 busy cores, a k-means++ step's median 39 ms spinning, 14 ms without.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

/** A session over one graph; `dim` is the row width it takes. Release it when done. */
abstract class Kernel {
  protected constructor(
    protected readonly session: ort.InferenceSession,
    readonly dim: number,
  ) {}

  async release(): Promise<void> {
    await this.session.release();
  }
}

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
const axes = (name: string, values: number[]) => ({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });

/**
 * Σ (x − shift)ᵀ(x − shift) and Σ (x − shift) over a block: the shifted sums from which PCA's
 * covariance follows without a second pass. Shifting by a value near the mean (the first block's)
 * keeps float32 products from cancelling when embeddings sit far from the origin.
 */
export class CovarianceKernel extends Kernel {
  static async create(dim: number, options: KernelOptions = {}): Promise<CovarianceKernel> {
    const session = await createSession(
      {
        name: 'covariance',
        inputs: [
          { name: 'x', type: 'float32', dims: ['n', dim] },
          { name: 'shift', type: 'float32', dims: [dim] },
        ],
        outputs: [
          { name: 'cov', type: 'float32', dims: [dim, dim] },
          { name: 'sum', type: 'float32', dims: [dim] },
        ],
        initializers: [axes('axis0', [0])],
        nodes: [
          { op: 'Sub', inputs: ['x', 'shift'], outputs: ['xc'] },
          { op: 'Gemm', inputs: ['xc', 'xc'], outputs: ['cov'], attrs: { transA: { i: 1 } } },
          { op: 'ReduceSum', inputs: ['xc', 'axis0'], outputs: ['sum'], attrs: { keepdims: { i: 0 } } },
        ],
      },
      options,
    );
    return new CovarianceKernel(session, dim);
  }

  async run(x: Float32Array, rows: number, shift: Float32Array): Promise<{ cov: Float32Array; sum: Float32Array }> {
    const out = await this.session.run({ x: f32(x, [rows, this.dim]), shift: f32(shift, [this.dim]) });
    return { cov: out['cov']!.data as Float32Array, sum: out['sum']!.data as Float32Array };
  }
}

/**
 * Nearest centroid per row. With a frozen model the PCA mean, components and centroids are baked
 * into the graph (raw embeddings in, ids out, one run per block); during Lloyd iterations the
 * centroids are inputs, so one session serves every iteration.
 */
export class NearestKernel extends Kernel {
  private constructor(
    session: ort.InferenceSession,
    dim: number,
    private readonly centroids?: { data: Float32Array; norms: Float32Array; k: number },
  ) {
    super(session, dim);
  }

  /** Rows of `dim` values against centroids given at each run. */
  static async create(dim: number, options: KernelOptions = {}): Promise<NearestKernel> {
    return new NearestKernel(await createSession(nearestGraph(dim, undefined), options), dim);
  }

  /** Raw `dim`-value embeddings → (x − mean)·componentsᵀ → nearest of the fixed centroids. */
  static async frozen(
    pca: { mean: Float32Array; components: Float32Array; count: number },
    centroids: Float32Array,
    options: KernelOptions = {},
  ): Promise<NearestKernel> {
    const dim = pca.mean.length;
    const k = centroids.length / pca.count;
    const norms = centroidNorms(centroids, pca.count);
    const session = await createSession(nearestGraph(pca.count, { mean: pca.mean, components: pca.components, dim, centroids, norms, k }), options);
    return new NearestKernel(session, dim, { data: centroids, norms, k });
  }

  get clusters(): number | undefined {
    return this.centroids?.k;
  }

  /** Cluster id per row of `x` (rows × dim). `centroids` (k × dim) only for a non-frozen kernel. */
  async run(x: Float32Array, rows: number, centroids?: Float32Array, norms?: Float32Array): Promise<Int32Array> {
    const feeds: Record<string, ort.Tensor> = { x: f32(x, [rows, this.dim]) };
    if (!this.centroids) {
      if (!centroids) throw new TypeError('NearestKernel.run: centroids required');
      const k = centroids.length / this.dim;
      feeds['c'] = f32(centroids, [k, this.dim]);
      feeds['cn'] = f32(norms ?? centroidNorms(centroids, this.dim), [k]);
    }
    const out = await this.session.run(feeds);
    return out['ids']!.data as Int32Array;
  }
}

/** ‖c‖² per centroid, summed in float64 and rounded once. */
export function centroidNorms(centroids: Float32Array, dim: number): Float32Array {
  const k = centroids.length / dim;
  const out = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += centroids[j * dim + d]! ** 2;
    out[j] = s;
  }
  return out;
}

function nearestGraph(
  dim: number,
  frozen: { mean: Float32Array; components: Float32Array; dim: number; centroids: Float32Array; norms: Float32Array; k: number } | undefined,
): GraphSpec {
  // ‖x‖² is the same for every centroid of a row, so argmin over −2x·c + ‖c‖² is enough: one Gemm.
  const search: NodeSpec[] = [
    { op: 'Gemm', inputs: [frozen ? 'y' : 'x', 'c', 'cn'], outputs: ['d'], attrs: { alpha: { f: -2 }, beta: { f: 1 }, transB: { i: 1 } } },
    { op: 'ArgMin', inputs: ['d'], outputs: ['a'], attrs: { axis: { i: 1 }, keepdims: { i: 0 }, select_last_index: { i: 0 } } },
    { op: 'Cast', inputs: ['a'], outputs: ['ids'], attrs: { to: { i: 6 } } },
  ];
  const outputs = [{ name: 'ids', type: 'int32' as const, dims: ['n'] }];
  if (!frozen) {
    return {
      name: 'nearest',
      inputs: [
        { name: 'x', type: 'float32', dims: ['n', dim] },
        { name: 'c', type: 'float32', dims: ['k', dim] },
        { name: 'cn', type: 'float32', dims: ['k'] },
      ],
      outputs,
      nodes: search,
    };
  }
  return {
    name: 'assign',
    inputs: [{ name: 'x', type: 'float32', dims: ['n', frozen.dim] }],
    outputs,
    initializers: [
      { name: 'mean', dims: [frozen.dim], data: frozen.mean },
      { name: 'w', dims: [dim, frozen.dim], data: frozen.components },
      { name: 'c', dims: [frozen.k, dim], data: frozen.centroids },
      { name: 'cn', dims: [frozen.k], data: frozen.norms },
    ],
    nodes: [
      { op: 'Sub', inputs: ['x', 'mean'], outputs: ['xc'] },
      { op: 'Gemm', inputs: ['xc', 'w'], outputs: ['y'], attrs: { transB: { i: 1 } } },
      ...search,
    ],
  };
}

/** (x − mean)·componentsᵀ: embeddings into PCA space. */
export class ProjectKernel extends Kernel {
  private constructor(
    session: ort.InferenceSession,
    dim: number,
    readonly components: number,
  ) {
    super(session, dim);
  }

  static async create(mean: Float32Array, components: Float32Array, count: number, options: KernelOptions = {}): Promise<ProjectKernel> {
    const dim = mean.length;
    const session = await createSession(
      {
        name: 'project',
        inputs: [{ name: 'x', type: 'float32', dims: ['n', dim] }],
        outputs: [{ name: 'y', type: 'float32', dims: ['n', count] }],
        initializers: [
          { name: 'mean', dims: [dim], data: mean },
          { name: 'w', dims: [count, dim], data: components },
        ],
        nodes: [
          { op: 'Sub', inputs: ['x', 'mean'], outputs: ['xc'] },
          { op: 'Gemm', inputs: ['xc', 'w'], outputs: ['y'], attrs: { transB: { i: 1 } } },
        ],
      },
      options,
    );
    return new ProjectKernel(session, dim, count);
  }

  async run(x: Float32Array, rows: number): Promise<Float32Array> {
    const out = await this.session.run({ x: f32(x, [rows, this.dim]) });
    return out['y']!.data as Float32Array;
  }
}

/**
 * One greedy k-means++ step: for t candidate centres, each row's squared distance to its closest
 * centre if that candidate were added (min(closest, ‖y − cand‖²), n×t) and the resulting potential
 * per candidate (column sums). The rows come augmented as [y, ‖y‖², 1] and the candidates as
 * [−2c, 1, ‖c‖²], so the whole squared distance is one GEMM and the step makes three passes over
 * the n×t block instead of six: measured at n = 100k, t = 9, C = 25, 4 ms a step instead of 14,
 * and a fit seeds 2,000 centres this way.
 */
export class SeedKernel extends Kernel {
  static async create(dim: number, options: KernelOptions = {}): Promise<SeedKernel> {
    const width = dim + 2;
    const session = await createSession(
      {
        name: 'kmeanspp_step',
        inputs: [
          { name: 'ya', type: 'float32', dims: ['n', width] },
          { name: 'ca', type: 'float32', dims: ['t', width] },
          { name: 'closest', type: 'float32', dims: ['n', 1] },
        ],
        outputs: [
          { name: 'm', type: 'float32', dims: ['n', 't'] },
          { name: 'pot', type: 'float32', dims: ['t'] },
        ],
        initializers: [axes('axis0', [0])],
        nodes: [
          { op: 'Gemm', inputs: ['ya', 'ca'], outputs: ['d'], attrs: { transB: { i: 1 } } },
          { op: 'Min', inputs: ['d', 'closest'], outputs: ['m'] },
          { op: 'ReduceSum', inputs: ['m', 'axis0'], outputs: ['pot'], attrs: { keepdims: { i: 0 } } },
        ],
      },
      options,
    );
    return new SeedKernel(session, dim);
  }

  /** Rows as the kernel takes them: [y, ‖y‖², 1] per row. */
  static augmentRows(y: Float32Array, dim: number): Float32Array {
    const n = y.length / dim;
    const out = new Float32Array(n * (dim + 2));
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const v = y[i * dim + d]!;
        out[i * (dim + 2) + d] = v;
        s += v * v;
      }
      out[i * (dim + 2) + dim] = s;
      out[i * (dim + 2) + dim + 1] = 1;
    }
    return out;
  }

  /** `rows` from augmentRows; `candidates` t × dim plain rows; `closest` n current distances. */
  async run(rows: Float32Array, candidates: Float32Array, closest: Float32Array): Promise<{ m: Float32Array; pot: Float32Array }> {
    const width = this.dim + 2;
    const n = closest.length;
    const t = candidates.length / this.dim;
    const ca = new Float32Array(t * width);
    for (let j = 0; j < t; j++) {
      let s = 0;
      for (let d = 0; d < this.dim; d++) {
        const v = candidates[j * this.dim + d]!;
        ca[j * width + d] = -2 * v;
        s += v * v;
      }
      ca[j * width + this.dim] = 1;
      ca[j * width + this.dim + 1] = s;
    }
    const out = await this.session.run({ ya: f32(rows, [n, width]), ca: f32(ca, [t, width]), closest: f32(closest, [n, 1]) });
    return { m: out['m']!.data as Float32Array, pot: out['pot']!.data as Float32Array };
  }
}
