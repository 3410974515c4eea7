/**
 * The whole CLI, stage after stage, on the bundled sample and on a mirror of the real PMC
 * packages: `run` (extract → load) then `verify`, then a sample read back with GNU tar equals the
 * extract record it came from.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../src/storage/files.js';
import type { FigureRecord } from '../src/manifest/records.js';
import { repoRoot, runCli } from './helpers/cli.js';
import { buildLegacyMirror, corpusPackages } from './helpers/servers.js';
import { readStoredImage } from './helpers/extract-fixture.js';

let work: string;

async function okFigures(out: string): Promise<FigureRecord[]> {
  const units = join(out, 'extract', 'units');
  const all: FigureRecord[] = [];
  for (const u of (await readdir(units)).sort()) {
    for await (const f of readJsonl<FigureRecord>(join(units, u, 'figures.jsonl'))) if (f.status === 'ok') all.push(f);
  }
  return all;
}

describe('extract → load → verify through the CLI', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-roundtrip-'));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  const cases = {
    'the bundled sample': async () => join(repoRoot, 'sample'),
    'a mirror of the real packages': async () => {
      const m = await buildLegacyMirror(join(work, 'real'), corpusPackages);
      return m.root;
    },
  };
  for (const [name, mirror] of Object.entries(cases)) {
    test(name, async () => {
      const out = join(work, name.replace(/\W+/g, '-'));
      const r = await runCli(['run', '--source', await mirror(), '--out', out, '--no-progress', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const { extract, load } = JSON.parse(r.stdout);
      const figures = await okFigures(out);
      const images = figures.reduce((n, f) => n + f.images.length, 0);
      assert.equal(extract.totals.images, images);
      assert.ok(images > 0);

      const v = await runCli(['verify', join(out, 'dataset'), '--json']);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      const report = JSON.parse(v.stdout);
      assert.equal(report.samples, images, 'every stored image of a kept figure is one sample');
      assert.equal(load.samples ?? report.samples, report.samples);

      // Read one sample back with GNU tar and compare it with its extract record.
      const figure = figures[0]!;
      const image = figure.images[0]!;
      const shards: string[] = [];
      for (const group of ['commercial', 'noncommercial', 'other']) {
        const dir = join(out, 'dataset', group);
        for (const s of await readdir(dir).catch(() => [])) if (s.endsWith('.tar')) shards.push(join(dir, s));
      }
      const shard = shards.find((s) => execFileSync('tar', ['tf', s], { encoding: 'utf8' }).split('\n').includes(`${image.key}.jpg`));
      assert.ok(shard, `no shard holds ${image.key}`);
      const caption = execFileSync('tar', ['xOf', shard, `${image.key}.txt`], { encoding: 'utf8' });
      assert.equal(caption, figure.caption);
      const jpg = execFileSync('tar', ['xOf', shard, `${image.key}.jpg`], { maxBuffer: 64 << 20 });
      assert.deepEqual(jpg, await readStoredImage(out, image));
      const meta = JSON.parse(execFileSync('tar', ['xOf', shard, `${image.key}.json`], { encoding: 'utf8' }));
      assert.equal(meta.image_hash, image.sha256);
      assert.equal(meta.article_accession_id, figure.articleId.split('_')[0]);
    });
  }
});
