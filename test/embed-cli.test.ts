/**
 * `biomedica embed` as scripts call it: one JSON line per image in the given order, the exact
 * `{"path", "embedding"}` / `{"path", "error": {code, message}}` form, exit 3 when any image
 * failed, exit 2 with a working hint when the device cannot run. The vectors are the embedder's,
 * bit for bit, after the trip through JSON.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbedder } from '../src/embedding/embedder.js';
import { cudaProviderMissing } from '../src/embedding/devices.js';
import { testContext } from '../src/pipeline/context.js';
import { runCli } from './helpers/cli.js';
import { corpusDir } from './helpers/corpus.js';
import { tinyVit } from './helpers/models.js';

let dir: string;
let model: string;
const good = ['llava_med_examples/synpic32933.jpg', 'encoda/plosone-0093988/e082.png'].map((p) => join(corpusDir, 'images', p));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embed-cli-'));
  model = await tinyVit(dir, { registers: 4 });
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('one line per image in order; failures are error lines and exit 3', async () => {
  const broken = join(dir, 'broken.jpg');
  await writeFile(broken, Buffer.from('ffd8ffe000104a46494600', 'hex'));
  const paths = [good[0]!, broken, good[1]!, join(dir, 'missing.png'), good[0]!];
  const r = await runCli(['embed', '--model', model, '--device', 'cpu', '--recipe', 'dinov2', '--batch-size', '2', ...paths]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /error EMBED_FAILED: 2 of 5 images could not be embedded/);
  assert.match(r.stderr, /hint: /);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l['path']), paths);
  assert.deepEqual(lines.map((l) => Object.keys(l)), [['path', 'embedding'], ['path', 'error'], ['path', 'embedding'], ['path', 'error'], ['path', 'embedding']]);
  assert.deepEqual(Object.keys(lines[1]!['error'] as object), ['code', 'message']);
  assert.equal((lines[1]!['error'] as { code: string }).code, 'IMAGE_CORRUPT');
  assert.equal((lines[3]!['error'] as { code: string }).code, 'IMAGE_UNREADABLE');
  assert.deepEqual(lines[4]!['embedding'], lines[0]!['embedding'], 'the same file twice, the same vector');

  const embedder = await openEmbedder({ model, device: 'cpu', recipe: 'dinov2' }, testContext());
  const direct: Float32Array[] = [];
  for await (const result of embedder.embed(good.map((path) => ({ key: path, path })))) if ('embedding' in result) direct.push(result.embedding);
  await embedder.close();
  assert.deepEqual(lines[0]!['embedding'], Array.from(direct[0]!));
  assert.deepEqual(lines[2]!['embedding'], Array.from(direct[1]!));
  assert.equal(Float32Array.from(lines[2]!['embedding'] as number[]).length, 32);
});

test('all good: exit 0; bad flags exit 2', async () => {
  const r = await runCli(['embed', '--model', model, '--device', 'cpu', ...good]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 2);
  const recipe = await runCli(['embed', '--model', model, '--recipe', 'imagenet', good[0]!]);
  assert.equal(recipe.code, 2);
  const batch = await runCli(['embed', '--model', model, '--batch-size', '0', good[0]!]);
  assert.equal(batch.code, 2);
  assert.match(batch.stderr, /FLAG_INVALID: --batch-size/);
});

test('--device cuda on a machine without the CUDA provider: exit 2, DEVICE_UNAVAILABLE and the install command', { skip: cudaProviderMissing() ? false : 'the CUDA provider is installed here' }, async () => {
  const r = await runCli(['embed', '--model', model, '--device', 'cuda', good[0]!]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /error DEVICE_UNAVAILABLE: --device cuda cannot run: the CUDA provider is not installed/);
  assert.match(r.stderr, /hint: install the CUDA provider .*ONNXRUNTIME_NODE_INSTALL=cuda12 node script\/install\.js.*--device auto/);
});
