/**
 * Interop with the reader users actually run: Hugging Face `datasets`, through its own webdataset
 * builder (which infers column types from the first samples) and through the dataset card's
 * declared features. Slow: the first run makes a Python venv and pip-installs `datasets` and
 * Pillow (pip here uses the machine's configured index; on a user's machine PyPI). The venv is kept
 * in node_modules/.cache/biomedica-hf-venv for later runs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../src/pipeline/context.js';
import { LICENSE_GROUPS } from '../src/manifest/load-manifest.js';
import { LoadOptions, runLoad, type LoadSummary } from '../src/stages/load/run-load.js';
import { buildExtractFixture, writeTransformFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { ensureVenv, hasPython } from './helpers/python.js';

let python: string;
let dir: string;
let fx: ExtractFixture;
let summary: LoadSummary;

before(async () => {
  if (!hasPython) return;
  ({ python } = await ensureVenv('biomedica-hf-venv', ['datasets', 'pillow'], 'import datasets, PIL'));
  dir = await mkdtemp(join(tmpdir(), 'load-hf-'));
  fx = await buildExtractFixture(join(dir, 'out'), { generated: { articles: 14, figuresPerArticle: 2, unitSize: 5 } });
  // Labels on some images only: list fields that are empty in some samples and not in others,
  // the case that breaks type inference from the first samples.
  await writeTransformFixture(fx, (key) =>
    /^PMC20000(0[5-9]|1)/.test(key)
      ? { clusterId: 4, panelType: 'Microscopy', panelSubtype: 'Light', primaryLabel: ['microscopy'], secondaryLabel: ['histology'], labelId: 'L4' }
      : undefined,
  );
  summary = await runLoad(LoadOptions.parse({ outDir: fx.outDir, shardMaxSamples: 4 }), testContext());
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SCRIPT = `
import glob, json, sys
from datasets import load_dataset
dataset, group, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == 'webdataset':
    files = sorted(glob.glob(f'{dataset}/{group}/*.tar'))
    ds = load_dataset('webdataset', data_files={'train': files}, split='train')
else:
    ds = load_dataset(dataset, group, split='train')
def kind(v):
    if isinstance(v, list): return 'list:' + ','.join(sorted({type(x).__name__ for x in v}))
    return type(v).__name__
types = sorted({json.dumps({k: kind(v) for k, v in row['json'].items()}, sort_keys=True) for row in ds})
first = ds[0]
print(json.dumps({
    'rows': ds.num_rows,
    'columns': sorted(ds.column_names),
    'keys': list(ds['__key__']),
    'image': list(first['jpg'].size),
    'image_size': first['json']['image_size'],
    'caption': first['txt'],
    'types': [json.loads(t) for t in types],
}))
`;

interface PyResult {
  rows: number;
  columns: string[];
  keys: string[];
  image: number[];
  image_size: number[];
  caption: string;
  types: Record<string, string>[];
}

function load(group: string, mode: 'webdataset' | 'card', datasetDir = summary.datasetDir): PyResult {
  const r = spawnSync(python, ['-c', SCRIPT, datasetDir, group, mode], {
    encoding: 'utf8',
    env: { ...process.env, HF_DATASETS_CACHE: join(dir, `hf-cache-${group}-${mode}-${datasetDir.length}`), HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PyResult;
}

/** A list is typed by its items; an empty one says nothing, so compare the non-empty ones only. */
function merged(types: Record<string, string>[]): Record<string, Set<string>> {
  const out: Record<string, Set<string>> = {};
  for (const t of types) for (const [k, v] of Object.entries(t)) (out[k] ??= new Set()).add(v === 'list:' ? 'list' : v.startsWith('list:') ? `list:${v.slice(5)}` : v);
  return out;
}

test("every license group loads through Hugging Face's webdataset builder and through the card", { skip: hasPython ? false : 'python3 is not installed' }, () => {
  for (const group of LICENSE_GROUPS) {
    const expected = fx.expected[group];
    const shards = summary.groups.find((g) => g.group === group)!.shards;
    assert.ok(shards >= 2, `${group}: several shards`);
    for (const mode of ['webdataset', 'card'] as const) {
      const r = load(group, mode);
      assert.equal(r.rows, expected.length, `${group} ${mode}: rows`);
      assert.deepEqual(r.columns, ['__key__', '__url__', 'jpg', 'json', 'txt']);
      assert.deepEqual([...r.keys].sort(), [...expected].sort());
      assert.deepEqual(r.image, r.image_size, 'the image decodes to the size the JSON gives');
      assert.ok(r.caption.length > 0);
      // The same JSON keys and scalar types in every row; lists hold strings or ints only.
      const keys = new Set(r.types.map((t) => Object.keys(t).sort().join(',')));
      assert.equal(keys.size, 1, `${group} ${mode}: one key set`);
      for (const [field, kinds] of Object.entries(merged(r.types))) {
        const nonEmpty = [...kinds].filter((k) => k !== 'list');
        assert.ok(nonEmpty.length <= 1, `${group} ${mode}: ${field} has types ${[...kinds].join(' ')}`);
        assert.ok(!nonEmpty.includes('NoneType'), `${group} ${mode}: ${field} is null`);
      }
    }
  }
});

test('denormalized: article_reference_list empty in the first samples of a group and filled later still loads', { skip: hasPython ? false : 'python3 is not installed' }, async () => {
  // Generated articles 0-8 have no references; 9-13 do. In each group the first five samples in
  // dataset order would all hold [] but for the lead samples load puts first.
  const denorm = await buildExtractFixture(join(dir, 'out-denorm'), {
    handWritten: false,
    generated: { articles: 14, figuresPerArticle: 2, unitSize: 5, referencesFrom: 9 },
  });
  const out = await runLoad(LoadOptions.parse({ outDir: denorm.outDir, datasetDir: join(dir, 'denorm'), shardMaxSamples: 4, denormalized: true }), testContext());
  for (const group of LICENSE_GROUPS) {
    const r = load(group, 'webdataset', out.datasetDir);
    assert.equal(r.rows, denorm.expected[group].length, `${group}: rows`);
    const kinds = merged(r.types)['article_reference_list']!;
    assert.deepEqual([...kinds].sort(), ['list', 'list:str'], `${group}: empty and filled reference lists, strings only`);
  }
});

test("the card's loading snippet runs as written, from the dataset folder", { skip: hasPython ? false : 'python3 is not installed' }, async () => {
  const card = await readFile(join(summary.datasetDir, 'README.md'), 'utf8');
  const snippet = [...card.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('load_dataset('));
  assert.ok(snippet, 'the card has a load_dataset snippet');
  const r = spawnSync(python, ['-c', `${snippet}\nprint(next(iter(ds))["__key__"])`], {
    cwd: summary.datasetDir,
    encoding: 'utf8',
    env: { ...process.env, HF_DATASETS_CACHE: join(dir, 'hf-cache-card-snippet'), HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' },
  });
  assert.equal(r.status, 0, `${snippet}\n${r.stderr}`);
  const first = summary.groups.find((g) => g.samples > 0)!.group;
  assert.ok(fx.expected[first].includes(r.stdout.trim().split('\n').at(-1)!), r.stdout);
});
