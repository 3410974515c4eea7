import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeBlobs } from '../../test/helpers/blobs.js';
import { ManifestError } from '../errors.js';
import { MODEL_FILES, assignFile, assignRows, fitClusterModel, loadModel, saveModel, type ClusterModel, type FitOptions } from './model.js';
import { readNpyFloat32, withNpy, writeNpy } from './npy.js';
import { memorySource, sampleEmbeddings } from './sample.js';

const SHA = 'a'.repeat(64);

describe('cluster model', () => {
  let dir: string;
  const blobs = makeBlobs({ rows: 900, dim: 16, blobs: 6, seed: 2, centreSpread: 8, offset: 3 });
  const options: FitOptions = { components: 5, clusters: 6, seed: 4, embedding: { modelSha256: SHA, recipe: 'biomedica' } };
  let model: ClusterModel;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cluster-model-'));
    model = await fitClusterModel(memorySource(blobs.data, blobs.dim), options);
    await saveModel(model, join(dir, 'a'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('saved and loaded: same arrays and metadata; model.json lists every array hash', async () => {
    const loaded = await loadModel(join(dir, 'a'), { dim: 16, embedding: { modelSha256: SHA, recipe: 'biomedica' } });
    assert.deepEqual(loaded.meta, model.meta);
    assert.deepEqual(loaded.centroids, model.centroids);
    assert.deepEqual(loaded.components, model.components);
    assert.deepEqual(loaded.mean, model.mean);
    assert.deepEqual((await readdir(join(dir, 'a'))).sort(), Object.values(MODEL_FILES).sort());
    assert.deepEqual((await readNpyFloat32(join(dir, 'a', MODEL_FILES.centroids), 2)).shape, [6, 5]);
    assert.deepEqual((await readNpyFloat32(join(dir, 'a', MODEL_FILES.components), 2)).shape, [5, 16]);
  });

  test('determinism: the same seed writes byte-identical model files; another seed does not', async () => {
    await saveModel(await fitClusterModel(memorySource(blobs.data, blobs.dim), options), join(dir, 'b'));
    for (const name of Object.values(MODEL_FILES)) {
      assert.deepEqual(await readFile(join(dir, 'b', name)), await readFile(join(dir, 'a', name)), name);
    }
    // Same data on the forced large routes: byte-identical between runs too.
    const big = { ...options, pcaEngine: 'onnxruntime', kmeansEngine: 'onnxruntime' } as const;
    await saveModel(await fitClusterModel(memorySource(blobs.data, blobs.dim), big), join(dir, 'c1'));
    await saveModel(await fitClusterModel(memorySource(blobs.data, blobs.dim), big), join(dir, 'c2'));
    for (const name of Object.values(MODEL_FILES)) assert.deepEqual(await readFile(join(dir, 'c1', name)), await readFile(join(dir, 'c2', name)), name);
    // Another seed: the same partition of these blobs, reached from other k-means++ seeds, so the
    // clusters come out numbered differently.
    await saveModel(await fitClusterModel(memorySource(blobs.data, blobs.dim), { ...big, seed: 5 }), join(dir, 'c3'));
    assert.notDeepEqual(await readFile(join(dir, 'c3', MODEL_FILES.centroids)), await readFile(join(dir, 'c1', MODEL_FILES.centroids)));
  });

  test('a model from another embedding model, recipe or dimension is refused with the caller’s hint', async () => {
    const hint = 'biomedica transform fit --embeddings x.npy --model-out elsewhere';
    const cases = [
      { dim: 32 },
      { embedding: { modelSha256: 'b'.repeat(64), recipe: 'biomedica' } },
      { embedding: { modelSha256: SHA, recipe: 'dinov2' } },
      { embedding: { modelSha256: null, recipe: 'biomedica' } },
    ];
    for (const expect of cases) {
      await assert.rejects(loadModel(join(dir, 'a'), { ...expect, refitHint: hint }), (e: unknown) => {
        assert.ok(e instanceof ManifestError);
        assert.equal(e.code, 'CLUSTER_MODEL_MISMATCH', JSON.stringify(expect));
        assert.equal(e.hint, hint);
        return true;
      });
    }
  });

  test('a damaged, swapped, missing or other-version model is refused', async () => {
    const m = join(dir, 'damaged');
    await saveModel(model, m);
    const other = makeBlobs({ rows: 900, dim: 16, blobs: 6, seed: 3 });
    await saveModel(await fitClusterModel(memorySource(other.data, 16), options), join(dir, 'other'));
    await copyFile(join(dir, 'other', MODEL_FILES.centroids), join(m, MODEL_FILES.centroids));
    await assert.rejects(loadModel(m), { code: 'CLUSTER_MODEL_DAMAGED' });
    await rm(join(m, MODEL_FILES.centroids));
    await assert.rejects(loadModel(m), { code: 'CLUSTER_MODEL_DAMAGED' });
    const meta = JSON.parse(await readFile(join(dir, 'a', MODEL_FILES.meta), 'utf8'));
    await writeFile(join(m, MODEL_FILES.meta), JSON.stringify({ ...meta, version: 99 }));
    await assert.rejects(loadModel(m), { code: 'CLUSTER_MODEL_VERSION' });
    await writeFile(join(m, MODEL_FILES.meta), '{"schema": "biomedica.cluster-mod');
    await assert.rejects(loadModel(m), { code: 'CLUSTER_MODEL_INVALID' });
    await assert.rejects(loadModel(join(dir, 'none')), (e: unknown) => e instanceof ManifestError && e.code === 'CLUSTER_MODEL_MISSING' && /transform fit/.test(e.hint ?? ''));
  });

  test('assignment = the nearest centroid in PCA space, computed independently; streamed file = rows in memory', async () => {
    const ids = await assignRows(model, blobs.data, blobs.rows);
    const { dim } = blobs;
    const c = model.meta.components;
    for (let i = 0; i < blobs.rows; i++) {
      const y = Array.from({ length: c }, (_, j) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += (blobs.data[i * dim + d]! - model.mean[d]!) * model.components[j * dim + d]!;
        return s;
      });
      let best = -1;
      let bestDist = Infinity;
      for (let k = 0; k < model.meta.clusters; k++) {
        const dist = y.reduce((s, v, j) => s + (v - model.centroids[k * c + j]!) ** 2, 0);
        if (dist < bestDist) [best, bestDist] = [k, dist];
      }
      assert.equal(ids[i], best, `row ${i}`);
    }
    const input = join(dir, 'emb.npy');
    await writeNpy(input, blobs.data, [blobs.rows, dim]);
    const result = await assignFile(model, input, join(dir, 'ids.npy'), { blockRows: 64 });
    assert.equal(result.rows, blobs.rows);
    assert.equal(result.counts.reduce((a, b) => a + b, 0), blobs.rows);
    await withNpy(join(dir, 'ids.npy'), { ndim: 1, dtypes: ['int32'] }, async (r) => assert.deepEqual(await r.readInt32(0, r.rows), ids));
    const narrow = join(dir, 'narrow.npy');
    await writeNpy(narrow, new Float32Array(8 * 4), [4, 8]);
    await assert.rejects(assignFile(model, narrow, join(dir, 'ids2.npy')), { code: 'CLUSTER_MODEL_MISMATCH' });
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('.ids2')), 'no temporary left');
  });

  test('a sample over several files: seeded, exact size, in order, the same rows on every walk', async () => {
    // Row r of the concatenation holds the value r in every column, so a row tells where it came from.
    const sizes = [50, 0, 130, 20];
    const paths: string[] = [];
    let at = 0;
    for (const [i, rows] of sizes.entries()) {
      const data = new Float32Array(rows * 3).map((_, j) => at + Math.floor(j / 3));
      paths.push(join(dir, `part${i}.npy`));
      await writeNpy(paths[i]!, data, [rows, 3]);
      at += rows;
    }
    const walk = async (s: Awaited<ReturnType<typeof sampleEmbeddings>>, block: number) => {
      const rows: number[] = [];
      for await (const b of s.blocks(block)) for (let i = 0; i < b.rows; i++) rows.push(b.data[i * 3]!, b.data[i * 3 + 2]!);
      return rows;
    };
    const s = await sampleEmbeddings(paths, 77, 1);
    assert.equal(s.rows, 77);
    assert.equal(s.totalRows, 200);
    const first = await walk(s, 10);
    assert.deepEqual(await walk(s, 1000), first, 'block size does not change the rows');
    const ids = first.filter((_, i) => i % 2 === 0);
    assert.deepEqual(first.filter((_, i) => i % 2 === 1), ids, 'whole rows');
    assert.ok(ids.every((v, i) => i === 0 || v > ids[i - 1]!), 'increasing, distinct');
    assert.ok(ids.some((v) => v < 50) && ids.some((v) => v >= 180), 'drawn from every non-empty file');
    assert.deepEqual(await walk(await sampleEmbeddings(paths, 77, 1), 7), first, 'same seed, same rows');
    assert.notDeepEqual(await walk(await sampleEmbeddings(paths, 77, 2), 7), first);
    assert.equal((await walk(await sampleEmbeddings(paths, 500, 1), 64)).length, 400, 'a sample larger than the input is the input');
    await writeNpy(join(dir, 'wide.npy'), new Float32Array(8), [2, 4]);
    await assert.rejects(sampleEmbeddings([paths[0]!, join(dir, 'wide.npy')], 10, 1), { code: 'EMBEDDINGS_DIM_MISMATCH' });
  });
});
