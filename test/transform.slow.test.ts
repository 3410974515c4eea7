/**
 * The transform stage end to end on real onnxruntime sessions: an extract folder of real JPEGs
 * (test/helpers/extract-fixture.ts), the project's own generated models (scripts/models/), the
 * unit runner underneath. What a user relies on: every published image gets a cluster id and its
 * cluster's labels; reruns change no byte; a worker split gives the same bytes; a kill mid-embed
 * and a rerun give the same bytes; a second night with the frozen model embeds only new units;
 * a model fitted on another embedding model is refused.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildExtractFixture, corruptStoredImage, type ExtractFixture } from './helpers/extract-fixture.js';
import { collect, spawnCli, treeHashes, treeMtimes } from './helpers/cli.js';
import { writeFeatures } from '../scripts/models/features.js';
import { writeVit } from '../scripts/models/vit.js';
import { readNpyFloat32 } from '../src/clustering/npy.js';
import { testContext } from '../src/pipeline/context.js';
import { lockDirOf } from '../src/pipeline/lock.js';
import { runTransform, type TransformOptions } from '../src/stages/transform/run-transform.js';
import { TransformLabel, TransformManifest, transformPaths } from '../src/manifest/transform-records.js';
import { readJsonl } from '../src/storage/files.js';

let root: string;
let features: string;
let vit: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'biomedica-transform-'));
  features = join(root, 'features.onnx');
  vit = join(root, 'vit-tiny.onnx');
  await writeFeatures(features, { dtype: 'float32' });
  await writeVit(vit, { shape: 'tiny', registers: 0, dtype: 'float32', seed: 1 });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function options(outDir: string, extra: Partial<TransformOptions> = {}): TransformOptions {
  return {
    outDir,
    model: features,
    recipe: 'biomedica',
    device: 'cpu',
    batchSize: 8,
    threads: 1,
    components: 4,
    clusters: 3,
    seed: 0,
    sampleSize: 1000,
    maxIterations: 50,
    refit: false,
    check: 'fast',
    maxFailureRate: 0.5,
    lockDir: lockDirOf(outDir),
    ...extra,
  };
}

/** Published images of a fixture (figures with status ok), by unit. */
function publishedKeys(fixture: ExtractFixture): Set<string> {
  const keys = new Set<string>();
  for (const f of fixture.figures) if (f.status === 'ok') for (const i of f.images) keys.add(i.key);
  return keys;
}

async function labelLines(outDir: string): Promise<TransformLabel[]> {
  const dir = join(transformPaths(outDir).root, 'labels');
  const out: TransformLabel[] = [];
  for (const name of (await readdir(dir)).sort()) {
    for await (const raw of readJsonl(join(dir, name))) out.push(TransformLabel.parse(raw));
  }
  return out;
}

/** The run folder's transform/ (lock files live in <out>/.locks, outside it). */
async function transformTree(outDir: string): Promise<Map<string, string>> {
  return treeHashes(transformPaths(outDir).root);
}

describe('transform stage', () => {
  let fixture: ExtractFixture;
  let out: string;

  before(async () => {
    out = join(root, 'one');
    fixture = await buildExtractFixture(out, { generated: { articles: 24, figuresPerArticle: 2, unitSize: 8 } });
  });

  test('every published image gets one embedding, a cluster id and a label line; the manifest says how', async () => {
    const summary = await runTransform(options(out), testContext());
    assert.equal(summary.complete, true);
    const published = publishedKeys(fixture);
    const lines = await labelLines(out);
    assert.deepEqual(new Set(lines.map((l) => l.key)), published);
    assert.ok(lines.every((l) => l.clusterId >= 0 && l.clusterId < 3));
    assert.equal(new Set(lines.map((l) => l.clusterId)).size, 3, 'three clusters in use');
    // No labels imported: every cluster explicitly unlabelled, not missing.
    assert.ok(lines.every((l) => l.labelId === '' && l.panelType === '' && l.primaryLabel.length === 0));

    const manifest = TransformManifest.parse(JSON.parse(await readFile(transformPaths(out).manifest, 'utf8')));
    assert.deepEqual(manifest.embedding.providers, ['cpu']);
    assert.equal(manifest.model.clusters, 3);
    assert.equal(manifest.totals.embedded, published.size);
    assert.equal(manifest.totals.unlabelled, published.size);
    assert.equal(manifest.units.length, fixture.units.length);

    // The embeddings are a numpy-readable N×D float32 array in keys.txt order.
    const unit = fixture.units[2]!;
    const { shape } = await readNpyFloat32(transformPaths(out).embeddings(unit), 2);
    const keys = (await readFile(transformPaths(out).keys(unit), 'utf8')).trim().split('\n');
    assert.equal(shape[0], keys.length);
    assert.equal(shape[1], manifest.embedding.dim);
  });

  test('a rerun changes no byte and touches no file', async () => {
    const hashes = await transformTree(out);
    const mtimes = await treeMtimes(transformPaths(out).root);
    const summary = await runTransform(options(out), testContext());
    assert.equal(summary.steps.embed?.written, 0);
    assert.equal(summary.steps.assign?.written, 0);
    assert.equal(summary.steps.label?.written, 0);
    assert.deepEqual(await transformTree(out), hashes);
    const after = await treeMtimes(transformPaths(out).root);
    for (const [path, mtime] of after) assert.equal(mtime, mtimes.get(path), path);
  });

  test('two workers give the same bytes as one process', async () => {
    const split = join(root, 'split');
    await buildExtractFixture(split, { generated: { articles: 24, figuresPerArticle: 2, unitSize: 8 } });
    const first = await runTransform(options(split, { worker: { index: 0, count: 2 } }), testContext());
    assert.equal(first.complete, false, 'worker 0 alone cannot finish: worker 1 has units to embed');
    const second = await runTransform(options(split, { worker: { index: 1, count: 2 } }), testContext());
    assert.equal(second.complete, true, 'the last worker fits, assigns and labels everything');
    assert.deepEqual(await transformTree(split), await transformTree(out));
  });

  test('a hand-edited embedding file is redone by a plain rerun', async () => {
    const unit = fixture.units[1]!;
    const path = transformPaths(out).embeddings(unit);
    const bytes = await readFile(path);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(path, bytes);
    const before = await transformTree(out);
    assert.notDeepEqual(before, await transformTree(join(root, 'split')));
    const summary = await runTransform(options(out), testContext());
    assert.equal(summary.steps.embed?.repaired, 1);
    assert.deepEqual(await transformTree(out), await transformTree(join(root, 'split')));
  });

  test('a model fitted on another embedding model is refused, with a hint that works', async () => {
    const other = join(root, 'other');
    await buildExtractFixture(other, { generated: { articles: 8, figuresPerArticle: 2, unitSize: 8 } });
    await runTransform(options(other, { model: vit, clusters: 2 }), testContext());
    await assert.rejects(
      runTransform(options(out, { modelFrom: transformPaths(other).modelDir }), testContext()),
      (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, 'CLUSTER_MODEL_MISMATCH');
        assert.match(error.hint ?? '', /same ONNX model and recipe|drop --model-from/);
        return true;
      },
    );
  });

  test('the frozen model refuses other cluster settings unless --refit', async () => {
    await assert.rejects(runTransform(options(out, { clusters: 4 }), testContext()), /MODEL_FROZEN|frozen|asks for 4/);
    const refit = await runTransform(options(out, { clusters: 4, refit: true }), testContext());
    assert.equal(refit.model?.clusters, 4);
    assert.equal(refit.steps.embed?.written, 0, 'a refit reuses every embedding');
    assert.equal(refit.steps.assign?.written, fixture.units.length);
    // Back to 3 clusters: the same bytes as the first fit (seeded).
    await runTransform(options(out, { clusters: 3, refit: true }), testContext());
    assert.deepEqual(await transformTree(out), await transformTree(join(root, 'split')));
  });
});

describe('transform: failures and nights', () => {
  test('a corrupt stored image is a recorded failure with no label line; the rest is labelled', async () => {
    const out = join(root, 'corrupt');
    const fixture = await buildExtractFixture(out, { generated: { articles: 8, figuresPerArticle: 2, unitSize: 8 } });
    const victim = fixture.figures.find((f) => f.status === 'ok')!.images[0]!;
    await corruptStoredImage(out, victim);
    const summary = await runTransform(options(out, { clusters: 2 }), testContext());
    assert.equal(summary.totals.failed, 1);
    const lines = await labelLines(out);
    assert.ok(!lines.some((l) => l.key === victim.key));
    assert.equal(lines.length, publishedKeys(fixture).size - 1);
    const unit = fixture.units.find((u) => victim.file.includes(u))!;
    const failures = [];
    for await (const f of readJsonl<{ item: string; code: string; step: string }>(transformPaths(out).failures(unit))) failures.push(f);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.item, victim.key);
    assert.equal(failures[0]!.step, 'embed');
  });

  test('a second night embeds and assigns only the new unit, with the first night\'s model', async () => {
    const night = join(root, 'night');
    await buildExtractFixture(night, { generated: { articles: 16, figuresPerArticle: 2, unitSize: 8 } });
    await runTransform(options(night), testContext());
    const model = await readFile(join(transformPaths(night).modelDir, 'model.json'));
    const firstUnits = new Set((await readdir(join(transformPaths(night).root, 'embed'))).filter((f) => f.endsWith('.npy')));
    const before = await transformTree(night);

    // Night 2: the extract gained a unit (the fixture with more articles keeps the first units' bytes).
    const grown = join(root, 'night-grown');
    await buildExtractFixture(grown, { generated: { articles: 24, figuresPerArticle: 2, unitSize: 8 } });
    await rm(join(night, 'extract'), { recursive: true });
    await cp(join(grown, 'extract'), join(night, 'extract'), { recursive: true });
    const summary = await runTransform(options(night), testContext());
    assert.equal(summary.model?.origin, 'frozen');
    assert.equal(summary.steps.embed?.written, 1);
    assert.equal(summary.steps.assign?.written, 1);
    assert.deepEqual(await readFile(join(transformPaths(night).modelDir, 'model.json')), model);
    const after = await transformTree(night);
    for (const name of firstUnits) assert.equal(after.get(`embed/${name}`), before.get(`embed/${name}`), name);
  });

  test('killed mid-embed, a rerun gives the same bytes as an uninterrupted run', async () => {
    const killed = join(root, 'killed');
    const clean = join(root, 'clean');
    for (const dir of [killed, clean]) await buildExtractFixture(dir, { generated: { articles: 40, figuresPerArticle: 3, unitSize: 4 } });
    const args = (dir: string) => ['transform', '--out', dir, '--model', features, '--device', 'cpu', '--threads', '1', '--batch-size', '4', '--clusters', '3', '--components', '4', '--no-progress'];
    assert.equal((await collect(spawnCli(args(clean)))).code, 0);

    const child = spawnCli(args(killed));
    const markers = join(transformPaths(killed).root, 'markers', 'embed');
    // Kill once at least one unit is marked done and before every unit is.
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const done = await readdir(markers).catch(() => [] as string[]);
      if (done.length >= 1) break;
    }
    child.kill('SIGKILL');
    await collect(child);
    const partial = (await readdir(markers)).length;
    assert.ok(partial < 10, `killed before the end (${partial} of 10 units marked)`);
    const rerun = await collect(spawnCli(args(killed)));
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(await transformTree(killed), await transformTree(clean));
  });
});
