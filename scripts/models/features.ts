/**
 * A small model whose features mean something, with the DINOv2 export's input/output contract,
 * so the demo's clusters group visibly similar figures (plots with plots, radiographs with
 * radiographs, equations with equations) without downloading a real DINOv2. It is not DINOv2 and
 * knows nothing semantic: it sees colour, layout, intensity and edges.
 *
 *   pixel_values       [batch_size, 3, 224, 224]  values in [0,1]: the `biomedica` recipe
 *                      (the `dinov2` recipe's normalised input shifts and scales every statistic
 *                      per channel; still consistent, but the histogram bins then mean other levels)
 *   last_hidden_state  [batch_size, 1, D]         one token: the feature vector (no patch tokens)
 *   pooler_output      [batch_size, D]            = last_hidden_state[:, 0]
 *
 * Features, every one an ONNX op on the image (no weights learnt):
 *   colour layout       mean R, G, B over a 4×4 grid of 56-px cells               48
 *   colour moments      mean and standard deviation of R, G, B over the image        6
 *   chroma              max − min over channels (saturation), mean over 2×2 cells    4
 *   intensity histogram 9 triangular bins of luma (sums to 1)                        9
 *   edges, 3 scales     mean |Sobel| response in 4 orientations over 2×2 cells,
 *                       at 224, 112 and 56 px                                       48
 * Each group is scaled by a fixed weight so that no group drowns the others in Euclidean
 * distance: the weights were set so each group's total variance over the 246 real figures in
 * ../shared/corpus/images is about 1 (measured with `make-models.ts --calibrate`).
 */
import { GraphBuilder, writeModel, type FloatType } from './onnx-graph.js';

export const FEATURE_GROUPS = ['layout', 'moments', 'chroma', 'histogram', 'edges'] as const;
export type FeatureGroup = (typeof FEATURE_GROUPS)[number];

/** Per-group weights; see the header. 1 everywhere gives the raw statistics (for calibration). */
export const FEATURE_WEIGHTS: Readonly<Record<FeatureGroup, number>> = Object.freeze({
  layout: 0.8,
  moments: 3.2,
  chroma: 9.2,
  histogram: 3.2,
  edges: 1.1,
});

export const FEATURE_SIZES: Readonly<Record<FeatureGroup, number>> = Object.freeze({ layout: 48, moments: 6, chroma: 4, histogram: 9, edges: 48 });
export const FEATURE_DIM = Object.values(FEATURE_SIZES).reduce((a, b) => a + b, 0);

export interface FeatureOptions {
  dtype: FloatType;
  weights?: Readonly<Record<FeatureGroup, number>>;
}

const SIZE = 224;
const SOBEL_X = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
const SOBEL_Y = [-1, -2, -1, 0, 0, 0, 1, 2, 1];

export function buildFeatures(options: FeatureOptions): GraphBuilder {
  const weights = options.weights ?? FEATURE_WEIGHTS;
  const g = new GraphBuilder(options.dtype);
  const x = g.input('pixel_values', ['batch_size', 3, SIZE, SIZE]);
  const flat = (t: string) => g.op('Flatten', [t], { axis: 1 });
  const pool = (t: string, k: number) => g.op('AveragePool', [t], { kernel_shape: [k, k], strides: [k, k] });
  const weighted = (t: string, group: FeatureGroup) => g.op('Mul', [t, g.constant(`weight.${group}`, [], [weights[group]])]);

  const layout = flat(pool(x, SIZE / 4));

  const mean = flat(g.op('ReduceMean', [x], { axes: [2, 3], keepdims: 1 }));
  const meanSquare = flat(g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [2, 3], keepdims: 1 }));
  const std = g.op('Sqrt', [g.op('Relu', [g.op('Sub', [meanSquare, g.op('Mul', [mean, mean])])])]);
  const moments = g.op('Concat', [mean, std], { axis: 1 });

  const chromaMap = g.op('Sub', [g.op('ReduceMax', [x], { axes: [1], keepdims: 1 }), g.op('ReduceMin', [x], { axes: [1], keepdims: 1 })]);
  const chroma = flat(pool(chromaMap, SIZE / 2));

  const luma = g.op('Conv', [x, g.constant('luma.weight', [1, 3, 1, 1], [0.299, 0.587, 0.114])]);
  const centres = g.constant('histogram.centres', [1, 9, 1, 1], [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1]);
  const triangles = g.op('Relu', [g.op('Sub', [g.constant('histogram.one', [], [1]), g.op('Mul', [g.op('Abs', [g.op('Sub', [luma, centres])]), g.constant('histogram.slope', [], [8])])])]);
  const histogram = flat(g.op('ReduceMean', [triangles], { axes: [2, 3], keepdims: 1 }));

  const diagonal = (a: number[], b: number[], sign: number) => a.map((v, i) => (v + sign * b[i]!) / Math.SQRT2);
  const sobel = g.constant('edges.kernels', [4, 1, 3, 3], [...SOBEL_X, ...SOBEL_Y, ...diagonal(SOBEL_X, SOBEL_Y, 1), ...diagonal(SOBEL_X, SOBEL_Y, -1)]);
  const edgeScales = [1, 2, 4].map((scale) => {
    const image = scale === 1 ? luma : pool(luma, scale);
    const response = g.op('Abs', [g.op('Conv', [image, sobel], { pads: [1, 1, 1, 1] })]);
    return flat(pool(response, SIZE / scale / 2));
  });
  const edges = g.op('Concat', edgeScales, { axis: 1 });

  const features = g.op(
    'Concat',
    [weighted(layout, 'layout'), weighted(moments, 'moments'), weighted(chroma, 'chroma'), weighted(histogram, 'histogram'), weighted(edges, 'edges')],
    { axis: 1 },
  );
  g.op('Unsqueeze', [features, g.int64('axes.token', [1])], {}, 'last_hidden_state');
  g.op('Identity', [features], {}, 'pooler_output');
  g.output('last_hidden_state', ['batch_size', 1, FEATURE_DIM]);
  g.output('pooler_output', ['batch_size', FEATURE_DIM]);
  return g;
}

export async function writeFeatures(path: string, options: FeatureOptions): Promise<string> {
  return writeModel(path, buildFeatures(options), {
    producer: 'biomedica scripts/make-models.ts',
    docString:
      'Image statistics (colour layout, colour moments, chroma, luma histogram, oriented edges at 3 scales) with the ' +
      "DINOv2 ONNX export's input/output contract. Not DINOv2: meaningful low-level features for demos, no semantics.",
    metadata: { 'biomedica.model': 'features', 'biomedica.dtype': options.dtype, 'biomedica.dim': String(FEATURE_DIM) },
  });
}
