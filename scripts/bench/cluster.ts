// Clustering at scale: PCA + k-means fit on 100k×384 → 25 components, k = 2,000, against
// scikit-learn run in the same command (a venv made by test/helpers/python.ts; skipped with a note
// where python3 is missing), then assignment of 1 M points to the 2,000 centroids: the bare
// onnxruntime kernel on PCA'd rows, the whole streamed path (1 M × 384 .npy → ids .npy), and a plain
// JavaScript loop (ml-kmeans' approach) on a slice, scaled up, as the baseline.
// The data are seeded Gaussian blobs (3,000 of uneven size and spread), not real embeddings.
// Usage: npx tsx scripts/bench/cluster.ts [--rows 100000] [--dim 384] [--components 25] [--clusters 2000]
//          [--max-iter 100] [--assign-rows 1000000] [--runs 3] [--dir bench-out] [--no-sklearn]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NearestKernel, centroidNorms } from '../../src/clustering/kernels.js';
import { assignFile, createAssigner, fitClusterModel, saveModel } from '../../src/clustering/model.js';
import { NpyWriter, readNpyFloat32, writeNpy } from '../../src/clustering/npy.js';
import { projectSource } from '../../src/clustering/pca.js';
import { sampleEmbeddings } from '../../src/clustering/sample.js';
import { makeBlobs } from '../../test/helpers/blobs.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '384' },
    components: { type: 'string', default: '25' },
    clusters: { type: 'string', default: '2000' },
    'max-iter': { type: 'string', default: '100' },
    'assign-rows': { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: 'bench-out' },
    'no-sklearn': { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const dim = Number(values.dim);
const components = Number(values.components);
const clusters = Number(values.clusters);
const maxIter = Number(values['max-iter']);
const assignRows = Number(values['assign-rows']);
const runs = Number(values.runs);
const loadAtStart = loadavg()[0];
const dir = resolve(values.dir, 'cluster');
mkdirSync(dir, { recursive: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (t: number) => Math.round((performance.now() - t) / 10) / 100;
// CPU seconds of this process, onnxruntime's threads included: on a shared machine wall time
// swings with the neighbours' load, CPU time much less.
const cpuStart = () => process.cpuUsage();
const cpuSeconds = (c: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c);
  return Math.round((d.user + d.system) / 1e4) / 100;
};
const note = (msg: string) => process.stderr.write(msg + '\n');

// ---- data: cached between runs of the bench
const spec = `${rows}x${dim}`;
const xPath = join(dir, `x-${spec}.npy`);
const bigPath = join(dir, `x-${assignRows}x${dim}.npy`);
if (!existsSync(xPath) || !existsSync(bigPath)) {
  const t = performance.now();
  const blobs = makeBlobs({ rows, dim, blobs: 3000, seed: 1, uneven: true, centreSpread: 2, pointSpread: 1, offset: 0.5 });
  await writeNpy(xPath, blobs.data, [rows, dim]);
  // The assignment input: the same rows repeated up to assign-rows, streamed to disk.
  const w = await NpyWriter.create(bigPath, 'float32', dim);
  for (let done = 0; done < assignRows; done += rows) await w.append(blobs.data.subarray(0, Math.min(rows, assignRows - done) * dim));
  await w.finish();
  note(`data ${spec} and ${assignRows}x${dim} written in ${seconds(t)} s`);
}

// ---- fit (one run by default: minutes; --runs applies to the assignment timings)
const phases: Record<string, number> = {};
const log = {
  info: (o: Record<string, unknown>, msg: string) => {
    if (typeof o['ms'] === 'number') phases[msg] = o['ms'] / 1000;
  },
  debug: () => undefined,
};
let t = performance.now();
let cpu = cpuStart();
const sample = await sampleEmbeddings([xPath], rows, 0);
const model = await fitClusterModel(sample, { components, clusters, seed: 0, maxIterations: maxIter, tolerance: 1e-4 }, { log });
const fitSeconds = seconds(t);
const fitCpuSeconds = cpuSeconds(cpu);
const modelDir = join(dir, 'model');
await saveModel(model, modelDir);
const y = await projectSource(sample, { mean: model.mean, components: model.components, count: model.meta.components });
const yPath = join(dir, `y-${spec}.npy`);
await writeNpy(yPath, y, [rows, components]);
const ours = {
  seconds: fitSeconds,
  cpuSeconds: fitCpuSeconds,
  pcaSeconds: phases['PCA fitted'],
  seedingSeconds: phases['k-means++ seeding done'],
  lloydSeconds: phases['k-means done'] !== undefined && phases['k-means++ seeding done'] !== undefined ? Math.round((phases['k-means done'] - phases['k-means++ seeding done']) * 100) / 100 : undefined,
  iterations: model.meta.kmeans.iterations,
  converged: model.meta.kmeans.converged,
  inertia: model.meta.kmeans.inertia,
  engines: `${model.meta.pca.engine}/${model.meta.kmeans.engine}`,
};
note(`ours: ${JSON.stringify(ours)}`);

// ---- scikit-learn on the same data: PCA on X (its default solver, as a user runs it); KMeans on
// our PCA'd rows (the same float32 values), so the inertias compare one clustering of one input.
let sklearn: Record<string, unknown> | undefined;
if (!values['no-sklearn'] && spawnSync('python3', ['--version']).status === 0) {
  const { ensureVenv, runPython } = await import('../../test/helpers/python.js');
  const venv = await ensureVenv('biomedica-sklearn-venv', ['numpy', 'scikit-learn'], 'import numpy, sklearn');
  sklearn = runPython(venv, `
import json, sys, time, numpy as np
from sklearn.decomposition import PCA
from sklearn.cluster import KMeans
x = np.load(sys.argv[1]); y = np.load(sys.argv[2]); k, comps, it = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c = time.process_time(); t = time.perf_counter(); PCA(n_components=comps).fit(x); pca = time.perf_counter() - t
km = KMeans(n_clusters=k, init='k-means++', n_init=1, max_iter=it, tol=1e-4, random_state=0)
t = time.perf_counter(); km.fit(y); kmt = time.perf_counter() - t; cpu = time.process_time() - c
print(json.dumps({'pcaSeconds': round(pca, 2), 'kmeansSeconds': round(kmt, 2), 'seconds': round(pca + kmt, 2), 'cpuSeconds': round(cpu, 2), 'iterations': int(km.n_iter_), 'inertia': float(km.inertia_)}))
`, [xPath, yPath, String(clusters), String(components), String(maxIter)]);
  note(`scikit-learn: ${JSON.stringify(sklearn)}`);
} else note('scikit-learn: skipped (no python3 or --no-sklearn)');

// ---- assignment of assign-rows points to the centroids
const kernelTimes: number[] = [];
const kernelCpu: number[] = [];
const tiled = new Float32Array(assignRows * components);
for (let done = 0; done < assignRows; done += rows) tiled.set(y.subarray(0, Math.min(rows, assignRows - done) * components), done * components);
const kernel = await NearestKernel.create(components);
const norms = centroidNorms(model.centroids, components);
const block = Math.floor((1 << 24) / (clusters + components));
for (let r = 0; r < runs; r++) {
  t = performance.now();
  cpu = cpuStart();
  for (let s = 0; s < assignRows; s += block) {
    const n = Math.min(block, assignRows - s);
    await kernel.run(tiled.subarray(s * components, (s + n) * components), n, model.centroids, norms);
  }
  kernelTimes.push(seconds(t));
  kernelCpu.push(cpuSeconds(cpu));
}
await kernel.release();

const fileTimes: number[] = [];
const fileCpu: number[] = [];
const assigner = await createAssigner(model);
for (let r = 0; r < runs; r++) {
  t = performance.now();
  cpu = cpuStart();
  await assignFile(assigner, bigPath, join(dir, 'ids.npy'));
  fileTimes.push(seconds(t));
  fileCpu.push(cpuSeconds(cpu));
}
await assigner.release();

// Baseline: nearest centroid by a JavaScript double loop (what ml-kmeans does per iteration) on a
// slice of the PCA'd rows, scaled to assign-rows.
const slice = Math.min(20_000, assignRows);
t = performance.now();
cpu = cpuStart();
let checksum = 0;
for (let i = 0; i < slice; i++) {
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < clusters; c++) {
    let dist = 0;
    for (let d = 0; d < components; d++) dist += (tiled[i * components + d]! - model.centroids[c * components + d]!) ** 2;
    if (dist < bestDist) [best, bestDist] = [c, dist];
  }
  checksum += best;
}
const jsLoopSeconds = Math.round(((performance.now() - t) / 1000) * (assignRows / slice) * 100) / 100;
const jsLoopCpuSeconds = Math.round(cpuSeconds(cpu) * (assignRows / slice) * 100) / 100;

const inertiaRatio = sklearn ? model.meta.kmeans.inertia / (sklearn['inertia'] as number) : undefined;
const result = {
  fit: {
    data: `${spec} → ${components} components, k=${clusters}, max-iter ${maxIter}`,
    ours,
    sklearn,
    inertiaRatio,
    speedupVsSklearn: sklearn ? (sklearn['seconds'] as number) / fitSeconds : undefined,
    cpuRatioVsSklearn: sklearn ? fitCpuSeconds / (sklearn['cpuSeconds'] as number) : undefined,
  },
  loadAverage: { start: loadAtStart, end: loadavg()[0], cores: availableParallelism() },
  assign: {
    points: assignRows,
    clusters,
    kernelSeconds: median(kernelTimes),
    kernelRuns: kernelTimes,
    kernelCpuSeconds: median(kernelCpu),
    fileSeconds: median(fileTimes),
    fileRuns: fileTimes,
    fileCpuSeconds: median(fileCpu),
    fileRowsPerSecond: Math.round(assignRows / median(fileTimes)),
    jsLoopSeconds,
    jsLoopCpuSeconds,
    jsLoopMeasuredOn: slice,
    kernelSpeedupVsJsLoop: Math.round((jsLoopSeconds / median(kernelTimes)) * 10) / 10,
    checksum,
  },
  maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
};
writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
