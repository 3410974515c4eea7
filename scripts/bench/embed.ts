// The embed stage against the bare ONNX Runtime session on the same batches: is preprocessing the
// bottleneck? Goal: the stage keeps ≥ 90 % of the bare session's throughput.
//
//   bare   one InferenceSession on the main thread (same model, threads and optimisation level),
//          fed batches made beforehand from the same images: inference only.
//   stage  openEmbedder().embed() on the image files: reading, decoding (sharp), the recipe,
//          batch assembly, the inference worker, results.
// Inputs are the corpus's real figures stored as extract stores them (normalizeImage: baseline
// JPEG ≤ 2048 px), so decoding costs what it will cost in the pipeline. Model: the generated
// ViT-S/14 (random weights: the speed is the shape's, the features mean nothing). Runs alternate
// bare/stage so drift on a shared machine hits both; medians of --runs.
//
// Usage: npx tsx scripts/bench/embed.ts [--images 96] [--batch 16] [--runs 3] [--recipe biomedica]
//          [--shape s14|l14 | --model FILE] [--device cpu|webgpu|cuda] [--source corpus|synthetic]
// On a GPU (scripts/bench/gpu-embed.sh): --device webgpu --shape l14 --batch 64 --source synthetic,
// where --source synthetic makes seeded JPEGs of 800–2048 px (the corpus is not on that machine).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Random } from '../models/onnx-graph.js';
import { writeVit } from '../models/vit.js';
import type { Provider } from '../../src/embedding/devices.js';
import { openEmbedder, type EmbedItem } from '../../src/embedding/embedder.js';
import { RECIPES, decodeForRecipe, pixelTable, writePixels, type RecipeName } from '../../src/embedding/recipes.js';
import { DEFAULT_IMAGE_OPTIONS, normalizeImage } from '../../src/images/normalize.js';
import { silentLogger } from '../../src/log/logger.js';
import { listFiles } from '../../test/helpers/corpus.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '96' },
    batch: { type: 'string', default: '16' },
    runs: { type: 'string', default: '3' },
    recipe: { type: 'string', default: 'biomedica' },
    shape: { type: 'string', default: 's14' },
    model: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    source: { type: 'string', default: 'corpus' },
  },
});
const device = values.device as Provider;
const count = Number(values.images);
const batchSize = Number(values.batch);
const runs = Number(values.runs);
const recipe = RECIPES[values.recipe as RecipeName];
const threads = availableParallelism();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dir = await mkdtemp(join(tmpdir(), 'bench-embed-'));
try {
  let model = values.model;
  if (model === undefined) {
    model = join(dir, 'vit.onnx');
    await writeVit(model, { shape: values.shape as 's14', registers: 0, dtype: 'float32', seed: 0 });
  }

  // The figures as extract stores them, cycled to the requested count.
  const stored: string[] = [];
  if (values.source === 'synthetic') {
    const random = new Random(1);
    for (let i = 0; i < Math.min(count, 256); i++) {
      const width = 800 + Math.floor(random.uniform() * 1248);
      const height = 600 + Math.floor(random.uniform() * 1000);
      const noise = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 160, sigma: 60 } } }).png().toBuffer();
      const path = join(dir, `${i}.jpg`);
      // Smooth colour fields with sharp detail: costs a JPEG decoder about what a figure does.
      await sharp(noise).resize(width, height, { kernel: 'cubic' }).sharpen({ sigma: 2 }).jpeg({ quality: 90 }).toFile(path);
      stored.push(path);
    }
  } else {
    const sources = listFiles(resolve(root, '../shared/corpus/images'), /\.(jpe?g|png|gif|tiff?)$/i);
    for (const [i, source] of sources.entries()) {
      if (stored.length >= Math.min(count, sources.length)) break;
      try {
        const image = await normalizeImage(await readFile(source), DEFAULT_IMAGE_OPTIONS);
        const path = join(dir, `${i}.jpg`);
        await writeFile(path, image.bytes);
        stored.push(path);
      } catch {
        // Figures extract would refuse are not part of the workload.
      }
    }
  }
  const paths = Array.from({ length: count }, (_, i) => stored[i % stored.length]!);
  const items: EmbedItem[] = paths.map((path, i) => ({ key: String(i), path }));

  // The stage first: it resolves the model's contract, which the bare session then follows.
  const embedder = await openEmbedder({ model, device, recipe: recipe.name, batchSize, threads }, { log: silentLogger(), signal: new AbortController().signal });
  const { inputName, inputType, outputName } = embedder.info;

  // The bare session's batches: the same images through the same recipe, made before timing.
  const table = pixelTable(recipe, inputType);
  const perImage = 3 * recipe.size * recipe.size;
  const batches: (Float32Array | Uint16Array)[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const slice = paths.slice(start, start + batchSize);
    const input = inputType === 'float16' ? new Uint16Array(slice.length * perImage) : new Float32Array(slice.length * perImage);
    for (const [i, path] of slice.entries()) writePixels(await decodeForRecipe(await readFile(path), recipe), table, input, i * perImage);
    batches.push(input);
  }
  const session = await ort.InferenceSession.create(model, {
    executionProviders: [device === 'cuda' ? { name: 'cuda', deviceId: 0 } : device],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  // The output the stage reads: pooler_output, or last_hidden_state when it takes token 0 itself.
  const fetch = outputName.replace(/\[.*$/, '');
  const bare = async () => {
    const started = performance.now();
    for (const input of batches) await session.run({ [inputName]: new ort.Tensor(inputType, input, [input.length / perImage, 3, recipe.size, recipe.size]) }, [fetch]);
    return (performance.now() - started) / 1000;
  };

  const stage = async () => {
    const started = performance.now();
    let embedded = 0;
    for await (const r of embedder.embed(items)) if ('embedding' in r) embedded++;
    if (embedded !== count) throw new Error(`${count - embedded} images failed`);
    return (performance.now() - started) / 1000;
  };

  // Decoding alone, as the stage runs it (libuv's pool), for context.
  const decodeOnly = async () => {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Number(process.env['UV_THREADPOOL_SIZE']) || 4 }, async () => {
        while (next < paths.length) await decodeForRecipe(await readFile(paths[next++]!), recipe);
      }),
    );
    return (performance.now() - started) / 1000;
  };

  await bare(); // warm-up: first runs allocate ONNX Runtime's arenas
  await stage();
  const bareSeconds: number[] = [];
  const stageSeconds: number[] = [];
  for (let r = 0; r < runs; r++) {
    bareSeconds.push(await bare());
    stageSeconds.push(await stage());
  }
  const decodeSeconds = median([await decodeOnly(), await decodeOnly(), await decodeOnly()]);
  await embedder.close();
  await session.release();

  const bareRate = count / median(bareSeconds);
  const stageRate = count / median(stageSeconds);
  console.log(
    JSON.stringify({
      model: values.model ?? `vit-${values.shape} (generated, random weights)`,
      inputType,
      recipe: recipe.name,
      provider: embedder.info.provider,
      source: values.source,
      threads,
      images: count,
      distinctImages: stored.length,
      batchSize,
      runs,
      bareImagesPerSecond: +bareRate.toFixed(2),
      stageImagesPerSecond: +stageRate.toFixed(2),
      ratio: +(stageRate / bareRate).toFixed(3),
      decodeOnlyImagesPerSecond: +(count / decodeSeconds).toFixed(1),
      bareSeconds: bareSeconds.map((s) => +s.toFixed(2)),
      stageSeconds: stageSeconds.map((s) => +s.toFixed(2)),
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
