/**
 * The embedder on real onnxruntime-node sessions, with models the project generates (tiny shapes,
 * so the whole file runs in seconds on two cores) and real figures from ../shared/corpus/images.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import sharp from 'sharp';
import { GraphBuilder, writeModel } from '../../scripts/models/onnx-graph.js';
import { corpusDir, listFiles } from '../../test/helpers/corpus.js';
import { tinyVit } from '../../test/helpers/models.js';
import { InterruptedError, UsageError } from '../errors.js';
import { testContext } from '../pipeline/context.js';
import { cudaProviderMissing, onnxruntimeDir } from './devices.js';
import { openEmbedder, type EmbedItem, type EmbedResult, type EmbedderOptions } from './embedder.js';

let dir: string;
// Every 40th real figure: jpg, png and gif, small and 2000-px ones.
const images = listFiles(join(corpusDir, 'images'), /\.(jpe?g|png|gif|tiff?)$/i).filter((_, i) => i % 40 === 3);
const items = (paths: string[] = images): EmbedItem[] => paths.map((path, i) => ({ key: `k${i}`, path }));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedder-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function embedAll(options: EmbedderOptions, input: EmbedItem[] = items(), ctx = testContext()) {
  const embedder = await openEmbedder({ device: 'cpu', ...options }, ctx);
  try {
    const results: EmbedResult[] = [];
    for await (const r of embedder.embed(input)) results.push(r);
    return { info: embedder.info, results };
  } finally {
    await embedder.close();
  }
}

const vectors = (results: EmbedResult[]) =>
  results.map((r) => {
    assert.ok('embedding' in r, `${r.key}: ${JSON.stringify('failure' in r ? r.failure : r)}`);
    return Buffer.from(r.embedding.buffer, r.embedding.byteOffset, r.embedding.byteLength).toString('hex');
  });

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { lines, ctx: testContext({ log: pino({ level: 'info' }, stream) }) };
}

describe('embeddings', () => {
  test('the same bytes on every run and whatever the batch size; one per image, in order', async () => {
    const model = await tinyVit(dir);
    const first = await embedAll({ model, batchSize: 4 });
    const again = await embedAll({ model, batchSize: 4 });
    const single = await embedAll({ model, batchSize: 1, threads: 1 });
    assert.equal(first.results.length, images.length);
    assert.deepEqual(first.results.map((r) => r.key), images.map((_, i) => `k${i}`));
    assert.deepEqual(vectors(again.results), vectors(first.results));
    assert.deepEqual(vectors(single.results), vectors(first.results));
    assert.equal(new Set(vectors(first.results)).size, images.length, 'different images, different embeddings');
    assert.equal(first.info.dim, 32);
    assert.equal(first.info.tokens, 257);
    assert.equal(first.info.inputName, 'pixel_values');
    assert.equal(first.info.provider, 'cpu');
    assert.match(first.info.modelSha256, /^[0-9a-f]{64}$/);
  });

  test('float16 exports: float16 end to end, and float16 inside float32 input and output', async () => {
    const reference = await embedAll({ model: await tinyVit(dir) });
    for (const ioType of ['float16', 'float32'] as const) {
      const half = await embedAll({ model: await tinyVit(dir, { dtype: 'float16', ioType }) });
      assert.equal(half.info.inputType, ioType);
      assert.equal(half.info.outputType, ioType);
      half.results.forEach((r, i) => {
        assert.ok('embedding' in r && 'embedding' in reference.results[i]!);
        // Same seed: the float16 model holds the float32 weights rounded, so it embeds nearly alike.
        const c = cosine(r.embedding, (reference.results[i] as { embedding: Float32Array }).embedding);
        assert.ok(c > 0.99, `${ioType} image ${i}: cosine ${c}`);
      });
    }
  });

  test('registers: CLS is token 0; pooler_output is used only when it is that token', async () => {
    const withPooler = await embedAll({ model: await tinyVit(dir, { registers: 4 }) });
    const tokensOnly = await embedAll({ model: await tinyVit(dir, { registers: 4, pooler: 'none' }) });
    const meanPooler = await embedAll({ model: await tinyVit(dir, { registers: 4, pooler: 'mean' }) });
    assert.equal(withPooler.info.tokens, 1 + 4 + 256);
    assert.equal(withPooler.info.outputName, 'pooler_output');
    assert.equal(tokensOnly.info.outputName, 'last_hidden_state[:, 0]');
    assert.equal(meanPooler.info.outputName, 'last_hidden_state[:, 0]');
    assert.deepEqual(vectors(tokensOnly.results), vectors(withPooler.results));
    assert.deepEqual(vectors(meanPooler.results), vectors(withPooler.results));
    const noRegisters = await embedAll({ model: await tinyVit(dir) });
    assert.notDeepEqual(vectors(noRegisters.results), vectors(withPooler.results));
  });

  test('a model with a fixed batch size: short batches are padded and give the same vectors', async () => {
    const dynamic = await embedAll({ model: await tinyVit(dir) });
    const fixed = await embedAll({ model: await tinyVit(dir, { batch: 3 }), batchSize: 8 });
    assert.equal(fixed.info.batchSize, 3);
    assert.ok(images.length % 3 !== 0, 'the last batch is short');
    assert.deepEqual(vectors(fixed.results), vectors(dynamic.results));
  });
});

describe('failures are results', () => {
  test('unreadable, corrupt and unsupported files fail in place; the others embed as in a clean run', async () => {
    const model = await tinyVit(dir);
    const truncated = join(dir, 'truncated.jpg');
    const jpeg = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#c04020', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    await writeFile(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    const text = join(dir, 'notes.png');
    await writeFile(text, 'not an image');
    const mixed = [images[0]!, truncated, images[1]!, join(dir, 'missing.jpg'), text, images[2]!];
    const { results } = await embedAll({ model, batchSize: 2 }, items(mixed));
    assert.deepEqual(
      results.map((r) => ('failure' in r ? r.failure.code : 'ok')),
      ['ok', 'IMAGE_CORRUPT', 'ok', 'IMAGE_UNREADABLE', 'IMAGE_UNSUPPORTED', 'ok'],
    );
    const clean = await embedAll({ model, batchSize: 2 }, items(images.slice(0, 3)));
    assert.deepEqual(vectors(results.filter((r) => 'embedding' in r)), vectors(clean.results));
  });

  test('an embedding with NaN is a failure, not a vector', async () => {
    // Finite for the probe (mean ≈ 0.5), NaN for an all-white image: sqrt(0.99 − mean).
    const g = new GraphBuilder('float32');
    const x = g.input('pixel_values', ['batch_size', 3, 224, 224]);
    const mean = g.op('ReduceMean', [x], { axes: [1, 2, 3], keepdims: 0 });
    const v = g.op('Sqrt', [g.op('Sub', [g.constant('limit', [], [0.99]), mean])]);
    g.op('Reshape', [v, g.int64('shape', [-1, 1, 1])], {}, 'last_hidden_state');
    g.output('last_hidden_state', ['batch_size', 1, 1]);
    const model = join(dir, 'nan.onnx');
    await writeModel(model, g, { producer: 'test', docString: '', metadata: {} });
    const white = join(dir, 'white.png');
    await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ffffff' } }).png().toFile(white);
    const { results } = await embedAll({ model }, items([images[0]!, white]));
    assert.ok('embedding' in results[0]!);
    assert.deepEqual('failure' in results[1]! && results[1].failure.code, 'EMBEDDING_NOT_FINITE');
  });
});

describe('bounded and interruptible', () => {
  test('decoding runs at most prefetch + in-flight batches ahead of the results', async () => {
    const model = await tinyVit(dir);
    const embedder = await openEmbedder({ model, device: 'cpu', batchSize: 2, prefetchBatches: 1, inflightBatches: 2 }, testContext());
    let pulled = 0;
    async function* many() {
      for (let i = 0; i < 40; i++) {
        pulled++;
        yield { key: String(i), path: images[i % images.length]! };
      }
    }
    let atFirst = -1;
    let count = 0;
    for await (const _ of embedder.embed(many())) {
      if (atFirst < 0) atFirst = pulled;
      count++;
    }
    await embedder.close();
    assert.equal(count, 40);
    // batchSize × (prefetchBatches + 1 decoding + inflightBatches sent) = 2 × (2 + 2)
    assert.ok(atFirst <= 8, `${atFirst} items pulled before the first result`);
  });

  test('an abort stops the run with InterruptedError', async () => {
    const controller = new AbortController();
    const embedder = await openEmbedder({ model: await tinyVit(dir), device: 'cpu', batchSize: 2 }, testContext({ signal: controller.signal }));
    let seen = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of embedder.embed(items([...images, ...images]))) {
          seen++;
          controller.abort();
        }
      })(),
      InterruptedError,
    );
    await embedder.close();
    assert.ok(seen < images.length * 2);
  });
});

describe('devices and models', () => {
  test('auto falls back to the CPU and says why each GPU provider failed', async (t) => {
    const { lines, ctx } = capture();
    const { info } = await embedAll({ model: await tinyVit(dir), device: 'auto' }, items(images.slice(0, 1)), ctx);
    if (info.provider !== 'cpu') return t.skip(`this machine runs ${info.provider}`);
    assert.deepEqual(info.providerAttempts.map((a) => a.provider), ['cuda', 'webgpu']);
    const warning = lines.find((l) => l['level'] === 40);
    assert.ok(warning, 'a warning is logged');
    assert.match(String(warning['msg']), /CPU/);
    const failed = warning['failed'] as { provider: string; error: string }[];
    assert.deepEqual(failed.map((f) => f.provider), ['cuda', 'webgpu']);
    for (const f of failed) assert.ok(f.error.length > 10, `${f.provider} has a reason`);
  });

  test('--device cuda without the CUDA provider: DEVICE_UNAVAILABLE with an install command that exists', { skip: cudaProviderMissing() ? false : 'the CUDA provider is installed here' }, async () => {
    const model = await tinyVit(dir);
    await assert.rejects(openEmbedder({ model, device: 'cuda' }, testContext()), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.code, 'DEVICE_UNAVAILABLE');
      assert.match(e.message, /--device cuda cannot run: the CUDA provider is not installed/);
      assert.ok(e.hint?.includes(`(cd ${onnxruntimeDir()} && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js)`), e.hint);
      assert.ok(existsSync(join(onnxruntimeDir(), 'script', 'install.js')));
      assert.match(e.hint!, /--device auto/);
      return true;
    });
  });

  test('missing, unreadable and wrong-shaped models are usage errors', async () => {
    await assert.rejects(openEmbedder({ model: join(dir, 'none.onnx') }, testContext()), (e: unknown) => e instanceof UsageError && e.code === 'MODEL_NOT_FOUND');
    const garbage = join(dir, 'garbage.onnx');
    await writeFile(garbage, 'not a model');
    await assert.rejects(openEmbedder({ model: garbage, device: 'cpu' }, testContext()), (e: unknown) => e instanceof UsageError && e.code === 'MODEL_INVALID');
    const g = new GraphBuilder('float32');
    const x = g.input('pixel_values', ['batch_size', 3, 518, 518]);
    g.op('Unsqueeze', [g.op('ReduceMean', [x], { axes: [2, 3], keepdims: 0 }), g.int64('axes', [1])], {}, 'last_hidden_state');
    g.output('last_hidden_state', ['batch_size', 1, 3]);
    const big = join(dir, 'big.onnx');
    await writeModel(big, g, { producer: 'test', docString: '', metadata: {} });
    await assert.rejects(openEmbedder({ model: big, device: 'cpu' }, testContext()), (e: unknown) => e instanceof UsageError && e.code === 'MODEL_CONTRACT' && /518×518/.test(e.message));
  });
});
