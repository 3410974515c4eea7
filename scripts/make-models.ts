// Generates the project's own ONNX models (no Python, no download):
//   vit       a ViT with DINOv2's ONNX contract and seeded random weights: contract tests and speed
//             measurement only, its features mean nothing (scripts/models/vit.ts)
//   features  image statistics with the same contract, meaningful enough for the demo's clusters
//             (scripts/models/features.ts)
// Models go to a git-ignored folder (default models/); weights are never committed.
//
//   npm run models                                   → models/features.onnx, models/vit-s14.onnx
//   npm run models -- --model vit --shape l14 --registers 4 --dtype float16 --out models/vit-l14-reg-fp16.onnx
//   npm run models -- --calibrate                    → per-group variance of the raw features on the corpus
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FEATURE_GROUPS, FEATURE_SIZES, writeFeatures, type FeatureGroup } from './models/features.js';
import { VIT_SHAPES, writeVit, type VitShapeName } from './models/vit.js';
import type { FloatType } from './models/onnx-graph.js';
import { listFiles } from '../test/helpers/corpus.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    shape: { type: 'string', default: 's14' },
    registers: { type: 'string', default: '0' },
    dtype: { type: 'string', default: 'float32' },
    io: { type: 'string' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string' },
    calibrate: { type: 'boolean', default: false },
  },
});

function floatType(value: string | undefined, flag: string): FloatType | undefined {
  if (value === undefined) return undefined;
  if (value !== 'float32' && value !== 'float16') throw new Error(`${flag} must be float32 or float16, got ${value}`);
  return value;
}

async function make(kind: string, out: string): Promise<void> {
  const started = performance.now();
  await mkdir(dirname(out), { recursive: true });
  const dtype = floatType(values.dtype, '--dtype')!;
  let sha256: string;
  if (kind === 'features') {
    sha256 = await writeFeatures(out, { dtype });
  } else if (kind === 'vit') {
    if (!(values.shape! in VIT_SHAPES)) throw new Error(`--shape must be one of ${Object.keys(VIT_SHAPES).join(', ')}`);
    sha256 = await writeVit(out, {
      shape: values.shape as VitShapeName,
      registers: Number(values.registers),
      dtype,
      ioType: floatType(values.io, '--io'),
      seed: Number(values.seed),
    });
  } else {
    throw new Error(`--model must be vit or features, got ${kind}`);
  }
  console.log(JSON.stringify({ model: kind, out, sha256, seconds: +((performance.now() - started) / 1000).toFixed(2) }));
}

/** Variance of each raw feature group (all weights 1) over the corpus's real figures. */
async function calibrate(): Promise<void> {
  const { openEmbedder } = await import('../src/embedding/embedder.js');
  const { silentLogger } = await import('../src/log/logger.js');
  const dir = await mkdtemp(join(tmpdir(), 'calibrate-'));
  try {
    const model = join(dir, 'raw.onnx');
    const ones = Object.fromEntries(FEATURE_GROUPS.map((g) => [g, 1])) as Record<FeatureGroup, number>;
    await writeFeatures(model, { dtype: 'float32', weights: ones });
    const files = listFiles(resolve(root, '../shared/corpus/images'), /\.(jpe?g|png|gif|tiff?)$/i);
    const embedder = await openEmbedder({ model, device: 'cpu', recipe: 'biomedica' }, { log: silentLogger(), signal: new AbortController().signal });
    const rows: Float32Array[] = [];
    for await (const r of embedder.embed(files.map((path) => ({ key: path, path })))) if ('embedding' in r) rows.push(r.embedding.slice());
    await embedder.close();
    let offset = 0;
    const report: Record<string, number> = {};
    for (const group of FEATURE_GROUPS) {
      let total = 0;
      for (let j = offset; j < offset + FEATURE_SIZES[group]; j++) {
        const mean = rows.reduce((s, r) => s + r[j]!, 0) / rows.length;
        total += rows.reduce((s, r) => s + (r[j]! - mean) ** 2, 0) / rows.length;
      }
      report[group] = total;
      offset += FEATURE_SIZES[group];
    }
    const weights = Object.fromEntries(Object.entries(report).map(([g, v]) => [g, +(1 / Math.sqrt(v)).toPrecision(2)]));
    console.log(JSON.stringify({ images: rows.length, varianceByGroup: report, suggestedWeights: weights }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (values.calibrate) {
  await calibrate();
} else if (values.model) {
  await make(values.model, values.out ?? join(root, 'models', `${values.model}.onnx`));
} else {
  await make('features', join(root, 'models', 'features.onnx'));
  await make('vit', join(root, 'models', 'vit-s14.onnx'));
}
