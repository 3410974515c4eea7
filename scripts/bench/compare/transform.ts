/**
 * Rows of the transform benches (scripts/bench/cluster.ts, scripts/bench/embed.ts), which print
 * their own JSON: these map it to the table. Clustering sits beside scikit-learn measured in the
 * same command; embedding beside a bare ONNX Runtime session on the same model and images (the
 * floor the stage's decode, batching and worker thread add to).
 */
import type { CompareRow } from './row.js';
import { round } from '../lib/measure.js';

interface ClusterResult {
  fit: {
    data: string;
    ours: { seconds: number; cpuSeconds: number; iterations: number; inertia: number };
    sklearn?: { seconds: number; cpuSeconds: number; iterations: number; inertia: number; pcaSeconds: number; kmeansSeconds: number };
    inertiaRatio?: number;
  };
  assign: { points: number; clusters: number; kernelSeconds: number; kernelCpuSeconds: number; kernelRuns: number[]; jsLoopSeconds: number; jsLoopCpuSeconds: number; jsLoopMeasuredOn: number };
}

export function clusterRows(raw: Record<string, unknown>): CompareRow[] {
  const r = raw as unknown as ClusterResult;
  const { ours, sklearn } = r.fit;
  const fit: CompareRow = sklearn
    ? {
        stage: 'transform',
        measure: `PCA + k-means fit, ${r.fit.data}: fits/hour (1 fit each)`,
        unit: 'fits/h',
        ours: round(3600 / ours.seconds),
        peer: 'scikit-learn (PCA default solver; KMeans k-means++, n_init=1, same rows, same max-iter)',
        peerValue: round(3600 / sklearn.seconds),
        ratio: round(sklearn.seconds / ours.seconds),
        cpuRatio: round(sklearn.cpuSeconds / ours.cpuSeconds),
        runs: 1,
        kind: 'measured',
        note: `ours ${ours.seconds} s (${ours.cpuSeconds} CPU-s), ${ours.iterations} iterations; scikit-learn ${sklearn.seconds} s (${sklearn.cpuSeconds} CPU-s), ${sklearn.iterations} iterations; inertia ours ÷ scikit-learn ${r.fit.inertiaRatio?.toFixed(4)}`,
        detail: r.fit,
      }
    : {
        stage: 'transform',
        measure: `PCA + k-means fit, ${r.fit.data}`,
        unit: '',
        ours: null,
        peer: 'scikit-learn',
        peerValue: null,
        ratio: null,
        runs: 0,
        kind: 'skipped',
        note: 'scikit-learn did not run (no python3 here)',
      };
  const a = r.assign;
  const assign: CompareRow = {
    stage: 'transform',
    measure: `assign ${a.points.toLocaleString('en-US')} points × ${a.clusters} centroids (PCA'd rows), nearest centroid`,
    unit: 'points/s',
    ours: round(a.points / a.kernelSeconds),
    peer: `a plain JavaScript nearest-centroid loop (timed on ${a.jsLoopMeasuredOn.toLocaleString('en-US')} rows, scaled)`,
    peerValue: round(a.points / a.jsLoopSeconds),
    ratio: round(a.jsLoopSeconds / a.kernelSeconds),
    cpuRatio: round(a.jsLoopCpuSeconds / a.kernelCpuSeconds),
    runs: a.kernelRuns.length,
    kind: 'measured',
    detail: a,
  };
  return [fit, assign];
}

interface EmbedResult {
  model: string;
  recipe: string;
  provider: string;
  threads: number;
  images: number;
  batchSize: number;
  runs: number;
  bareImagesPerSecond: number;
  stageImagesPerSecond: number;
  decodeOnlyImagesPerSecond: number;
}

export function embedRows(raw: Record<string, unknown>): CompareRow[] {
  const r = raw as unknown as EmbedResult;
  return [
    {
      stage: 'transform',
      measure: `embed ${r.images} images, ${r.model}, recipe ${r.recipe}, ${r.provider}, ${r.threads} threads, batch ${r.batchSize}`,
      unit: 'images/s',
      ours: r.stageImagesPerSecond,
      peer: 'a bare ONNX Runtime session on the same model, inputs decoded beforehand',
      peerValue: r.bareImagesPerSecond,
      ratio: round(r.stageImagesPerSecond / r.bareImagesPerSecond),
      runs: r.runs,
      kind: 'measured',
      note: `decode + preprocess alone: ${r.decodeOnlyImagesPerSecond} images/s`,
      detail: r,
    },
  ];
}
