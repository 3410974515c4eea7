/**
 * "Any DINOv2 ONNX export must work": a real transformers export, made here by torch.onnx from
 * Dinov2Model and Dinov2WithRegistersModel with tiny random configs (test/helpers/hf_export.py),
 * read by the embedder through its own contract checks, and its vectors compared with
 * transformers' own last_hidden_state[:, 0] for the same input. The export keeps its weights in
 * model.onnx.data beside the model, as large exports do.
 *
 * Slow: the first run makes a venv with CPU torch, transformers and onnxscript (a few minutes).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbedder } from '../src/embedding/embedder.js';
import { RECIPES, decodeForRecipe, pixelTable, writePixels } from '../src/embedding/recipes.js';
import { testContext } from '../src/pipeline/context.js';
import { corpusDir } from './helpers/corpus.js';
import { ensureVenv, hasPython } from './helpers/python.js';
import { repoRoot } from './helpers/servers.js';

const skip = hasPython ? false : 'python3 is not installed';
const images = ['llava_med_examples/synpic32933.jpg', 'encoda/plosone-0093988/e082.png', 'medicat/57c9ad0f4aab133f96d40992c46926fabc901ffa_2-Figure1-1.png'].map((p) => join(corpusDir, 'images', p));
let python: string;
let dir: string;

before(async () => {
  if (!hasPython) return;
  // CPU torch: the default wheel pulls gigabytes of CUDA libraries. The extra index is where
  // PyPI users find the +cpu builds; the project machines' local index has them too.
  ({ python } = await ensureVenv(
    'biomedica-hf-export-venv',
    ['--extra-index-url', 'https://download.pytorch.org/whl/cpu', 'torch==2.13.0+cpu', 'transformers', 'onnx', 'onnxscript'],
    'import torch, transformers, onnx, onnxscript',
  ));
  dir = await mkdtemp(join(tmpdir(), 'embed-hf-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('transformers exports of DINOv2, with and without registers, embed as transformers computes them', { skip }, async () => {
  // Two exports (each takes the exporter half a minute): registers with one recipe, none with the other.
  for (const [kind, recipe] of [['reg', RECIPES.biomedica], ['plain', RECIPES.dinov2]] as const) {
    const table = pixelTable(recipe, 'float32');
    const input = new Float32Array(images.length * 3 * 224 * 224);
    for (const [i, path] of images.entries()) writePixels(await decodeForRecipe(await readFile(path), recipe), table, input, i * 3 * 224 * 224);
    await writeFile(join(dir, 'input.f32'), Buffer.from(input.buffer));
    const model = join(dir, `${kind}-${recipe.name}.onnx`);
    const r = spawnSync(python, [join(repoRoot, 'test/helpers/hf_export.py'), kind, model, join(dir, 'input.f32'), String(images.length)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const reference = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tokens: number; cls: number[][]; poolerIsCls: boolean };
    assert.equal(reference.tokens, kind === 'reg' ? 261 : 257);

    const embedder = await openEmbedder({ model, device: 'cpu', recipe: recipe.name, batchSize: 2 }, testContext());
    const info = embedder.info;
    const vectors: Float32Array[] = [];
    for await (const result of embedder.embed(images.map((path) => ({ key: path, path })))) {
      assert.ok('embedding' in result, JSON.stringify(result));
      vectors.push(result.embedding);
    }
    await embedder.close();

    assert.equal(info.inputName, 'pixel_values');
    assert.equal(info.tokens, reference.tokens);
    assert.equal(info.dim, 64);
    // transformers defines pooler_output as the normalised CLS token; the probe found it so.
    assert.equal(reference.poolerIsCls, true);
    assert.equal(info.outputName, 'pooler_output');
    const external = (await readFile(`${model}.data`)).length;
    assert.ok(info.modelBytes > external, 'the external weights are part of the model hash');
    for (const [i, v] of vectors.entries()) {
      const expected = reference.cls[i]!;
      const worst = Math.max(...Array.from(v, (x, j) => Math.abs(x - expected[j]!)));
      assert.ok(worst < 1e-4, `${kind} ${recipe.name} image ${i}: |Δ| ${worst}`);
    }
  }
});
