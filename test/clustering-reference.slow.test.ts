/**
 * The clustering against the reference implementations users compare with, run in a Python venv
 * (numpy, scikit-learn; made once in node_modules/.cache/biomedica-sklearn-venv):
 * - .npy interop both ways: what numpy writes (format v1/v2/v3, float32/float16/float64/int32) we
 *   read; what we write numpy reads, and our bytes are numpy.save's.
 * - PCA: our components and variances against sklearn.decomposition.PCA(svd_solver='full').
 * - k-means: inertia against sklearn.cluster.KMeans(init='k-means++', n_init=1, same k, tol=1e-4,
 *   max_iter=100) on the same data, PCA'd by our model (both fit the very same float32 rows).
 *   A single k-means run lands in one of many local optima (the spread between seeds here is a few
 *   percent), so the comparison is of medians over five seeds each: ours within 2 % of sklearn's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fitKMeans } from '../src/clustering/kmeans.js';
import { readNpyFloat32, withNpy, writeNpy } from '../src/clustering/npy.js';
import { fitPca, projectSource } from '../src/clustering/pca.js';
import { memorySource } from '../src/clustering/sample.js';
import { makeBlobs } from './helpers/blobs.js';
import { ensureVenv, hasPython, runPython, type Venv } from './helpers/python.js';

const skip = hasPython ? false : 'python3 is not installed';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('clustering against numpy and scikit-learn', { skip }, () => {
  let dir: string;
  let venv: Venv;
  before(async () => {
    if (!hasPython) return;
    venv = await ensureVenv('biomedica-sklearn-venv', ['numpy', 'scikit-learn'], 'import numpy, sklearn');
    dir = await mkdtemp(join(tmpdir(), 'cluster-ref-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('numpy writes, we read: every supported dtype and format version', async () => {
    const written = runPython<string[]>(venv, `
import json, sys, numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
a = (np.arange(12, dtype=np.float64).reshape(3, 4) / 7 - 0.5)
np.save(f'{d}/f4.npy', a.astype(np.float32))
np.save(f'{d}/f2.npy', a.astype(np.float16))
np.save(f'{d}/f8.npy', a)
np.save(f'{d}/i4.npy', np.array([5, -1, 2**31 - 1], dtype=np.int32))
for v in (2, 3):
    with open(f'{d}/v{v}.npy', 'wb') as f:
        fmt.write_array(f, a.astype(np.float32), version=(v, 0))
np.save(f'{d}/fortran.npy', np.asfortranarray(a.astype(np.float32)))
np.save(f'{d}/big.npy', a.astype('>f4'))
print(json.dumps(['f4', 'f2', 'f8', 'i4', 'v2', 'v3']))
`, [dir]);
    assert.equal(written.length, 6);
    const expected = Array.from({ length: 12 }, (_, i) => i / 7 - 0.5);
    for (const name of ['f4', 'f8', 'v2', 'v3']) {
      const { data, shape } = await readNpyFloat32(join(dir, `${name}.npy`), 2);
      assert.deepEqual(shape, [3, 4]);
      assert.deepEqual(Array.from(data), expected.map(Math.fround), name);
    }
    const half = await readNpyFloat32(join(dir, 'f2.npy'), 2);
    half.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-3, `f2 ${i}`));
    await withNpy(join(dir, 'i4.npy'), { ndim: 1, dtypes: ['int32'] }, async (r) => assert.deepEqual(Array.from(await r.readInt32(0, 3)), [5, -1, 2 ** 31 - 1]));
    await assert.rejects(readNpyFloat32(join(dir, 'fortran.npy'), 2), { code: 'NPY_FORTRAN_ORDER' });
    await assert.rejects(readNpyFloat32(join(dir, 'big.npy'), 2), { code: 'NPY_DTYPE' });
  });

  test('we write, numpy reads; the bytes are numpy.save’s', async () => {
    const f = Float32Array.from({ length: 1000 * 7 }, (_, i) => Math.sin(i) * 100);
    await writeNpy(join(dir, 'ours-f.npy'), f, [1000, 7]);
    await writeNpy(join(dir, 'ours-i.npy'), Int32Array.from({ length: 12345 }, (_, i) => (i * 7919) % 2000), [12345]);
    const r = runPython<{ f: number[]; i: number[]; same: boolean[] }>(venv, `
import io, json, sys, numpy as np
d = sys.argv[1]
f = np.load(f'{d}/ours-f.npy'); i = np.load(f'{d}/ours-i.npy')
assert f.dtype == np.float32 and f.shape == (1000, 7) and f.flags.c_contiguous
assert i.dtype == np.int32 and i.shape == (12345,)
def saved(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
same = [saved(f) == open(f'{d}/ours-f.npy', 'rb').read(), saved(i) == open(f'{d}/ours-i.npy', 'rb').read()]
print(json.dumps({'f': f[[0, 999], [0, 6]].tolist(), 'i': i[[0, 1, 12344]].tolist(), 'same': same}))
`, [dir]);
    assert.deepEqual(r.same, [true, true]);
    assert.deepEqual(r.f, [f[0], f[999 * 7 + 6]]);
    assert.deepEqual(r.i, [0, 7919 % 2000, (12344 * 7919) % 2000]);
  });

  test('PCA: same components (sign included) and variances as scikit-learn, on both routes', async () => {
    const blobs = makeBlobs({ rows: 3000, dim: 40, blobs: 30, seed: 3, uneven: true, centreSpread: 3, offset: 50 });
    await writeNpy(join(dir, 'pca-x.npy'), blobs.data, [blobs.rows, blobs.dim]);
    const ref = runPython<{ components: number[][]; variance: number[]; mean: number[] }>(venv, `
import json, sys, numpy as np
from sklearn.decomposition import PCA
p = PCA(n_components=8, svd_solver='full').fit(np.load(sys.argv[1]))
print(json.dumps({'components': p.components_.tolist(), 'variance': p.explained_variance_.tolist(), 'mean': p.mean_.tolist()}))
`, [join(dir, 'pca-x.npy')]);
    for (const engine of ['ml-pca', 'onnxruntime'] as const) {
      const pca = await fitPca(memorySource(blobs.data, blobs.dim), 8, { engine });
      for (let j = 0; j < 8; j++) {
        assert.ok(Math.abs(pca.explainedVariance[j]! / ref.variance[j]! - 1) < 1e-4, `${engine} variance ${j}: ${pca.explainedVariance[j]} vs ${ref.variance[j]}`);
        const worst = Math.max(...ref.components[j]!.map((v, d) => Math.abs(v - pca.components[j * blobs.dim + d]!)));
        assert.ok(worst < 1e-3, `${engine} component ${j} differs by up to ${worst}`);
      }
      ref.mean.forEach((v, d) => assert.ok(Math.abs(v - pca.mean[d]!) < 1e-3, 'mean'));
    }
  });

  test('k-means inertia within 2 % of scikit-learn KMeans(init=k-means++, n_init=1) on the same PCA’d data', async (t) => {
    // 150 blobs of uneven size and spread, 80 clusters: many local optima, like real embeddings.
    const blobs = makeBlobs({ rows: 8000, dim: 48, blobs: 150, seed: 3, uneven: true, centreSpread: 3, offset: 50 });
    const source = memorySource(blobs.data, blobs.dim);
    const y = await projectSource(source, await fitPca(source, 12));
    await writeNpy(join(dir, 'km-y.npy'), y, [blobs.rows, 12]);
    const seeds = [0, 1, 2, 3, 4];
    const ref = runPython<number[]>(venv, `
import json, sys, numpy as np
from sklearn.cluster import KMeans
y = np.load(sys.argv[1])
print(json.dumps([float(KMeans(n_clusters=80, init='k-means++', n_init=1, tol=1e-4, max_iter=100, random_state=s).fit(y).inertia_) for s in range(5)]))
`, [join(dir, 'km-y.npy')]);
    for (const engine of ['ml-kmeans', 'onnxruntime'] as const) {
      const ours: number[] = [];
      for (const seed of seeds) ours.push((await fitKMeans(y, 12, { clusters: 80, seed, engine, maxIterations: 100, tolerance: 1e-4 })).inertia);
      const ratio = median(ours) / median(ref);
      t.diagnostic(`${engine}: median inertia ${Math.round(median(ours))}, scikit-learn ${Math.round(median(ref))}, ratio ${ratio.toFixed(4)}`);
      assert.ok(ratio <= 1.02, `${engine}: median inertia ${median(ours)} vs scikit-learn ${median(ref)} (ratio ${ratio.toFixed(4)}; ours ${ours.map(Math.round)}, sklearn ${ref.map(Math.round)})`);
      // Far below the reference would mean a different objective, not a better optimum.
      assert.ok(ratio >= 0.95, `${engine}: ratio ${ratio.toFixed(4)} is implausibly low`);
    }
    // And the inputs really were the same rows: sklearn reads back exactly what we clustered.
    assert.deepEqual((await readNpyFloat32(join(dir, 'km-y.npy'), 2)).data, y);
    assert.ok((await readFile(join(dir, 'km-y.npy'))).length > 8000 * 12 * 4);
  });
});
