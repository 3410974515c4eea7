/**
 * The embedding path checked against independent Python implementations
 * (test/helpers/embed_reference.py; a venv with Pillow, numpy and onnx is made on first use):
 *
 * - both recipes on every real figure in ../shared/corpus/images, against PIL + numpy;
 * - the generated ViT against a numpy DINOv2 forward pass from the weights in the ONNX file,
 *   with onnx's own checker run on the file first.
 *
 * Tolerances, in [0, 1] pixel units. The recipes cannot match PIL bit for bit: libvips decodes a
 * large JPEG at a reduced DCT scale (shrink-on-load, where PIL decodes all of it) and reduces with
 * a box filter before its kernel, where PIL applies one antialiased kernel; JPEG decoders round
 * differently too. Measured on this corpus (246 images × 2 recipes,
 * sharp 0.35.5 / libvips 8.18.7 against Pillow from the local index): per-image mean |Δ| median
 * 0.0004, worst 0.009; the differences sit on thin lines and text (99th percentile up to 0.13 on
 * 2,000-px JPEGs) and fade at the scale of the model's 14-px patches (patch-mean |Δ| median 0.001,
 * worst 0.015). The bounds are those figures with room (1.5–3×) for other libvips and Pillow
 * builds. Mutations run against these bounds while writing this test: nearest-neighbour instead
 * of the recipe's kernel fails 87–92 % of the images, a crop 8 px off 100 %, R and B swapped
 * 41–44 % (greyscale figures cannot tell) and the median bounds, libvips' own enlargement (half
 * an output pixel off) 26–30 % and the median bounds. EXIF rotation is not exercised here (no
 * figure in the corpus carries one); recipes.test.ts covers it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECIPES, decodeForRecipe, pixelTable, writePixels, type RecipeName } from '../src/embedding/recipes.js';
import { openEmbedder } from '../src/embedding/embedder.js';
import { testContext } from '../src/pipeline/context.js';
import { corpusDir, listFiles } from './helpers/corpus.js';
import { tinyVit } from './helpers/models.js';
import { ensureVenv, hasPython } from './helpers/python.js';
import { repoRoot } from './helpers/servers.js';

const skip = hasPython ? false : 'python3 is not installed';
const script = join(repoRoot, 'test/helpers/embed_reference.py');
const images = listFiles(join(corpusDir, 'images'), /\.(jpe?g|png|gif|tiff?)$/i);
let python: string;
let dir: string;

before(async () => {
  if (!hasPython) return;
  ({ python } = await ensureVenv('biomedica-embed-venv', ['pillow', 'numpy', 'onnx'], 'import PIL, numpy, onnx'));
  dir = await mkdtemp(join(tmpdir(), 'embed-reference-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function runPython(args: string[]): unknown {
  const r = spawnSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('both recipes match PIL + numpy on every real figure', { skip }, async () => {
  const spec: Record<string, { tensors: string; paths: string[] }> = {};
  for (const name of ['biomedica', 'dinov2'] as RecipeName[]) {
    const recipe = RECIPES[name];
    const table = pixelTable(recipe, 'float32');
    const tensors = join(dir, `${name}.f32`);
    const out = createWriteStream(tensors);
    for (const path of images) {
      const values = new Float32Array(3 * 224 * 224);
      writePixels(await decodeForRecipe(await readFile(path), recipe), table, values, 0);
      if (!out.write(Buffer.from(values.buffer))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    spec[name] = { tensors, paths: images };
  }
  await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
  const result = runPython(['recipes', join(dir, 'spec.json')]) as {
    images: { recipe: string; path: string; meanAbs: number; p99: number; max: number; patchMax: number }[];
    table: { biomedica: number[]; dinov2: number[][] };
  };

  assert.equal(result.images.length, images.length * 2);
  for (const r of result.images) {
    const where = `${r.recipe} ${r.path.slice(corpusDir.length)}: mean ${r.meanAbs.toFixed(4)} p99 ${r.p99.toFixed(3)} patch ${r.patchMax.toFixed(4)}`;
    assert.ok(r.meanAbs <= 0.015, where);
    assert.ok(r.patchMax <= 0.03, where);
    assert.ok(r.p99 <= 0.2, where);
  }
  for (const recipe of ['biomedica', 'dinov2']) {
    const rows = result.images.filter((r) => r.recipe === recipe);
    assert.ok(median(rows.map((r) => r.meanAbs)) <= 0.001, `${recipe}: median mean |Δ|`);
    assert.ok(median(rows.map((r) => r.patchMax)) <= 0.003, `${recipe}: median patch |Δ|`);
  }

  // The value mapping, byte by byte: equal to numpy's float32 to within one rounding.
  const b = pixelTable(RECIPES.biomedica, 'float32');
  const d = pixelTable(RECIPES.dinov2, 'float32');
  for (let v = 0; v < 256; v++) {
    assert.ok(Math.abs(b[v]! - result.table.biomedica[v]!) <= 1e-7, `biomedica ${v}`);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(d[c * 256 + v]! - result.table.dinov2[c]![v]!) <= 1e-6, `dinov2 channel ${c} value ${v}`);
  }
});

test('the generated ViT computes DINOv2: onnx checker passes, numpy forward pass agrees with ONNX Runtime', { skip }, async () => {
  for (const registers of [0, 4]) {
    const model = await tinyVit(dir, { registers, seed: 11 });
    const paths = images.filter((_, i) => i % 60 === 5);
    const table = pixelTable(RECIPES.biomedica, 'float32');
    const input = new Float32Array(paths.length * 3 * 224 * 224);
    for (const [i, path] of paths.entries()) writePixels(await decodeForRecipe(await readFile(path), RECIPES.biomedica), table, input, i * 3 * 224 * 224);
    const embedder = await openEmbedder({ model, device: 'cpu', recipe: 'biomedica' }, testContext());
    const output: number[] = [];
    for await (const r of embedder.embed(paths.map((path) => ({ key: path, path })))) {
      assert.ok('embedding' in r);
      output.push(...r.embedding);
    }
    await embedder.close();
    await writeFile(join(dir, 'input.f32'), Buffer.from(input.buffer));
    await writeFile(join(dir, 'output.f32'), Buffer.from(Float32Array.from(output).buffer));
    const r = runPython(['vit', model, join(dir, 'input.f32'), join(dir, 'output.f32'), String(paths.length), String(registers)]) as Record<string, unknown>;
    assert.deepEqual(r['inputs'], ['pixel_values']);
    assert.deepEqual(r['outputs'], ['last_hidden_state', 'pooler_output']);
    assert.equal(r['tokens'], 1 + registers + 256);
    assert.equal(r['opset'], 17);
    // float32 in ONNX Runtime against float64 in numpy, through two blocks and three LayerNorms.
    assert.ok((r['maxAbs'] as number) <= 1e-4 * Math.max(1, r['scale'] as number), JSON.stringify(r));
  }
});
