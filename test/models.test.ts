/**
 * The models scripts/make-models.ts writes: the streamed file is the protobuf the graph says,
 * the same seed gives the same bytes, and the feature model's vectors mean something (figures of
 * one kind are each other's nearest neighbours). Real onnxruntime-node sessions throughout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import sharp from 'sharp';
import { Random } from '../scripts/models/onnx-graph.js';
import { FEATURE_DIM } from '../scripts/models/features.js';
import { buildVit } from '../scripts/models/vit.js';
import { openEmbedder, type EmbedItem } from '../src/embedding/embedder.js';
import { float32ToFloat16 } from '../src/embedding/float16.js';
import { testContext } from '../src/pipeline/context.js';
import { corpusDir, listFiles } from './helpers/corpus.js';
import { featureModel, tinyVit } from './helpers/models.js';

const { onnx } = onnxProto;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'models-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the model writer', () => {
  test('the streamed file decodes to the graph built, with every tensor in place', async () => {
    for (const dtype of ['float32', 'float16'] as const) {
      const path = await tinyVit(dir, { dtype, registers: 4 });
      const model = onnx.ModelProto.decode(await readFile(path));
      const graph = buildVit({ shape: 'tiny', registers: 4, dtype, seed: 7 });
      assert.equal(model.graph?.node?.length, graph.nodes.length);
      assert.deepEqual(model.graph?.input?.map((i) => i.name), ['pixel_values']);
      assert.deepEqual(model.graph?.output?.map((o) => o.name), ['last_hidden_state', 'pooler_output']);
      assert.deepEqual(model.graph?.initializer?.map((t) => t.name), graph.initializers.map((t) => t.name));
      for (const [i, init] of graph.initializers.entries()) {
        const stored: onnxProto.onnx.ITensorProto = model.graph!.initializer![i]!;
        assert.deepEqual(stored.dims?.map(Number), init.dims);
        const values = init.values();
        const expected = init.type === 'float16' ? float32ToFloat16(values as Float32Array) : values;
        assert.ok(Buffer.from(stored.rawData!).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)), init.name);
      }
    }
  });

  test('the same seed writes the same bytes; another seed, other weights', async () => {
    const sha = async (seed: number) => createHash('sha256').update(await readFile(await tinyVit(join(dir), { seed }))).digest('hex');
    assert.equal(await sha(3), await sha(3));
    assert.notEqual(await sha(3), await sha(4));
    // Normal draws: mean near 0, variance near 1.
    const r = new Random(1);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `${mean} ${variance}`);
  });
});

/** Seeded synthetic figures of five kinds, rendered from SVG at random sizes and aspect ratios. */
function syntheticFigure(kind: number, random: Random): Buffer {
  const w = 240 + Math.floor(random.uniform() * 360);
  const h = 160 + Math.floor(random.uniform() * 300);
  const at = (n: number) => (random.uniform() * n).toFixed(1);
  const colour = () => `hsl(${Math.floor(random.uniform() * 360)},80%,45%)`;
  const parts: string[] = [];
  if (kind === 0) {
    // Line plot: axes and polylines on white.
    parts.push(`<rect width="${w}" height="${h}" fill="white"/><path d="M40 10 V${h - 30} H${w - 10}" stroke="black" stroke-width="2" fill="none"/>`);
    for (let l = 0; l < 3; l++) {
      const points = Array.from({ length: 12 }, (_, i) => `${40 + (i * (w - 60)) / 11},${at(h - 60)}`).join(' ');
      parts.push(`<polyline points="${points}" stroke="${colour()}" stroke-width="2" fill="none"/>`);
    }
  } else if (kind === 1) {
    // Bar chart on white.
    parts.push(`<rect width="${w}" height="${h}" fill="white"/>`);
    const bars = 4 + Math.floor(random.uniform() * 6);
    const fill = colour();
    for (let b = 0; b < bars; b++) {
      const bh = 20 + random.uniform() * (h - 60);
      parts.push(`<rect x="${40 + (b * (w - 60)) / bars}" y="${h - 30 - bh}" width="${((w - 60) / bars) * 0.6}" height="${bh}" fill="${fill}"/>`);
    }
  } else if (kind === 2) {
    // Radiograph: a bright blurred body on black, grey only.
    parts.push(`<defs><filter id="b"><feGaussianBlur stdDeviation="${(w / 40).toFixed(1)}"/></filter></defs><rect width="${w}" height="${h}" fill="black"/>`);
    parts.push(`<ellipse cx="${w / 2}" cy="${h / 2}" rx="${w * 0.35}" ry="${h * 0.42}" fill="rgb(150,150,150)" filter="url(#b)"/>`);
    for (let i = 0; i < 6; i++) parts.push(`<ellipse cx="${at(w)}" cy="${at(h)}" rx="${at(w / 6)}" ry="${at(h / 10)}" fill="rgb(220,220,220)" filter="url(#b)"/>`);
  } else if (kind === 3) {
    // Fluorescence: small glowing blue and green cells on black.
    parts.push(`<defs><filter id="b"><feGaussianBlur stdDeviation="2"/></filter></defs><rect width="${w}" height="${h}" fill="black"/>`);
    for (let i = 0; i < 60; i++) parts.push(`<circle cx="${at(w)}" cy="${at(h)}" r="${(3 + random.uniform() * 8).toFixed(1)}" fill="${random.uniform() < 0.5 ? '#3050ff' : '#30ff60'}" filter="url(#b)"/>`);
  } else {
    // Histology: purple nuclei on pink tissue.
    parts.push(`<rect width="${w}" height="${h}" fill="rgb(235,170,200)"/>`);
    for (let i = 0; i < 120; i++) parts.push(`<ellipse cx="${at(w)}" cy="${at(h)}" rx="${(4 + random.uniform() * 10).toFixed(1)}" ry="${(3 + random.uniform() * 7).toFixed(1)}" fill="rgb(${90 + Math.floor(random.uniform() * 40)},40,140)"/>`);
  }
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`);
}

async function embedAll(model: string, input: EmbedItem[]): Promise<Float32Array[]> {
  const embedder = await openEmbedder({ model, device: 'cpu' }, testContext());
  const out: Float32Array[] = [];
  for await (const r of embedder.embed(input)) {
    assert.ok('embedding' in r, JSON.stringify(r));
    out.push(r.embedding);
  }
  await embedder.close();
  return out;
}

const distance = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);
const nearest = (xs: Float32Array[], q: number) => xs.reduce((best, x, i) => (i !== q && (best < 0 || distance(xs[q]!, x) < distance(xs[q]!, xs[best]!)) ? i : best), -1);

describe('the feature model means something', () => {
  test('synthetic figures: each one\'s nearest neighbour is of its kind', async () => {
    const random = new Random(42);
    const items: EmbedItem[] = [];
    const kinds: number[] = [];
    for (let kind = 0; kind < 5; kind++) {
      for (let i = 0; i < 6; i++) {
        // Rendered to PNG first: the recipes refuse SVG input.
        items.push({ key: `${kind}-${i}`, bytes: await sharp(syntheticFigure(kind, random)).png().toBuffer() });
        kinds.push(kind);
      }
    }
    const xs = await embedAll(await featureModel(dir), items);
    assert.equal(xs[0]!.length, FEATURE_DIM);
    const right = xs.filter((_, q) => kinds[nearest(xs, q)] === kinds[q]).length;
    // Measured: 30 of 30.
    assert.ok(right / xs.length >= 0.9, `${right} of ${xs.length} nearest neighbours of the same kind`);
  });

  test('real figures: equation images find equation images', async () => {
    const paths = listFiles(join(corpusDir, 'images'), /\.(jpe?g|png|gif|tiff?)$/i);
    const isEquation = (p: string) => /plosone-0093988\/e\d+\.png$/.test(p);
    const xs = await embedAll(await featureModel(dir), paths.map((path) => ({ key: path, path })));
    const equations = paths.map((p, i) => [p, i] as const).filter(([p]) => isEquation(p));
    const right = equations.filter(([, q]) => isEquation(paths[nearest(xs, q)]!)).length;
    // Measured: 20 of the corpus's 23.
    assert.ok(right / equations.length >= 0.75, `${right} of ${equations.length}`);
  });
});
