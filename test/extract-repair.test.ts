/**
 * Hints that repair (issue 7, defects 5 and 6) on the extract side, in process on the bundled
 * sample mirror (12 articles, units of 4):
 *
 * - a unit edited by hand after extract makes load fail with MANIFEST_MISMATCH and the hint "rerun
 *   biomedica extract": following it redoes that unit (its files no longer match its marker) and
 *   the load then succeeds, with the bytes of an untouched extract. Before, extract skipped the
 *   unit by its marker alone and the hint did nothing.
 * - a second round of workers after a config change rewrites the manifest. Before, the first
 *   round's finalize lock was never removed, nobody finalized, and load failed MANIFEST_MISMATCH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../src/config/schema.js';
import { ManifestError } from '../src/errors.js';
import { extractPaths } from '../src/manifest/extract-manifest.js';
import { testContext } from '../src/pipeline/context.js';
import { createSource } from '../src/sources/index.js';
import type { Source } from '../src/sources/types.js';
import { extractOptionsFromConfig } from '../src/stages/extract/from-config.js';
import { runExtract, type ExtractOptions } from '../src/stages/extract/run-extract.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { readPlanUnit } from '../src/stages/extract/plan.js';
import { readUnitOutcomes, writeUnitStore } from '../src/stages/extract/unit-store.js';
import type { FigureRecord } from '../src/manifest/records.js';
import { sha256 } from '../src/storage/files.js';
import { repoRoot, treeHashes } from './helpers/cli.js';
import { readStoredImage } from './helpers/extract-fixture.js';

const FILTER = { limit: 12 };
let work: string;
let source: Source;
let reference: Map<string, string>;
const options = (outDir: string, extra: Partial<ExtractOptions> = {}, quality = 90): ExtractOptions => ({
  ...extractOptionsFromConfig(resolveConfig({ env: {}, overrides: { images: { quality } } as never }), outDir),
  unitSize: 4,
  ...extra,
});
const extract = (outDir: string, extra: Partial<ExtractOptions> = {}, quality?: number) => runExtract(options(outDir, extra, quality), source, FILTER, testContext());

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'extract-repair-'));
  source = await createSource(join(repoRoot, 'sample'));
  const ref = join(work, 'reference');
  const s = await extract(ref);
  assert.equal(s.units, 3);
  reference = await treeHashes(join(ref, 'extract'));
});
after(async () => {
  await source.close();
  await rm(work, { recursive: true, force: true });
});

describe('extract repairs what its hints promise', () => {
  test('a hand-edited unit: load refuses with "rerun biomedica extract"; that rerun redoes the unit and load succeeds', async () => {
    const out = join(work, 'edited');
    await extract(out);
    const figures = extractPaths(out).unitFile('u000001', 'figures.jsonl');
    await appendFile(figures, '{"hand":"edit"}\n');
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), (e: unknown) => {
      assert.ok(e instanceof ManifestError);
      assert.equal(e.code, 'MANIFEST_MISMATCH');
      assert.match(e.hint ?? '', /rerun biomedica extract/);
      return true;
    });
    const rerun = await extract(out);
    assert.equal(rerun.unitsRepaired, 1);
    assert.equal(rerun.unitsSkipped, 2);
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);
    const loaded = await runLoad(LoadOptions.parse({ outDir: out }), testContext());
    assert.equal(loaded.complete, true);
  });

  test('a flipped byte in a unit image store (same size) is found by a plain rerun; one with its old mtime by --check', async () => {
    const out = join(work, 'flipped');
    await extract(out);
    const path = extractPaths(out).imageStore('u000002');
    const flip = async (at: (size: number) => number, keepMtime: boolean) => {
      const before = await stat(path);
      const bytes = await readFile(path);
      const i = at(bytes.length);
      bytes[i] = bytes[i]! ^ 0x55;
      await writeFile(path, bytes);
      if (keepMtime) await utimes(path, before.atime, before.mtime);
    };
    // Inside the first image's data (after its 512-byte header), then in the middle of the store.
    await flip(() => 600, false);
    assert.equal((await extract(out)).unitsRepaired, 1);
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);

    await flip((size) => size >> 1, true);
    assert.equal((await extract(out)).unitsRepaired, 0, 'the cheap check trusts a file not modified since its marker');
    assert.equal((await extract(out, { check: 'full' })).unitsRepaired, 1);
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);
  });

  test('an extract of the older version (one file per image): load refuses it with MANIFEST_VERSION; the hint\'s rerun redoes every unit and load succeeds', async () => {
    const out = join(work, 'older');
    await extract(out);
    const paths = extractPaths(out);
    // What a v4 run left: markers and manifest of version 4, images one file each, no images.tar.
    for (const unit of ['u000000', 'u000001', 'u000002']) {
      const marker = JSON.parse(await readFile(paths.unitMarker(unit), 'utf8'));
      await writeFile(paths.unitMarker(unit), JSON.stringify({ ...marker, stepVersion: 4 }));
      await rm(paths.imageStore(unit));
      await mkdir(join(paths.unitDir(unit), 'images'));
      await writeFile(join(paths.unitDir(unit), 'images', 'PMC1_f001.jpg'), 'old layout');
    }
    const manifest = JSON.parse(await readFile(paths.manifest, 'utf8'));
    await writeFile(paths.manifest, JSON.stringify({ ...manifest, version: 4 }));
    let hint = '';
    await assert.rejects(runLoad(LoadOptions.parse({ outDir: out }), testContext()), (e: unknown) => {
      assert.ok(e instanceof ManifestError);
      assert.equal(e.code, 'MANIFEST_VERSION');
      hint = e.hint ?? '';
      return true;
    });
    assert.ok(hint.includes(`rerun biomedica extract --out ${out} `), hint);
    const rerun = await extract(out);
    assert.equal(rerun.unitsSkipped, 0, 'every unit of the older version is redone');
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);
    assert.equal((await runLoad(LoadOptions.parse({ outDir: out }), testContext())).complete, true);
  });

  test('every unit store lists with the system tar, members in record order, and each range holds its record\'s bytes', async () => {
    const out = join(work, 'reference');
    const paths = extractPaths(out);
    let images = 0;
    for (const unit of ['u000000', 'u000001', 'u000002']) {
      const records = (await readFile(paths.unitFile(unit, 'figures.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as FigureRecord).flatMap((f) => f.images);
      const listed = execFileSync('tar', ['tf', paths.imageStore(unit)], { encoding: 'utf8' }).split('\n').filter(Boolean);
      assert.deepEqual(listed, records.map((i) => `${i.key}.jpg`));
      for (const image of records) {
        const member = execFileSync('tar', ['xOf', paths.imageStore(unit), `${image.key}.jpg`], { maxBuffer: 64 << 20 });
        assert.equal(sha256(member), image.sha256);
        assert.deepEqual(await readStoredImage(out, image), member);
        images++;
      }
    }
    assert.ok(images > 10, `only ${images} images in the sample extract`);
  });

  test('a finished unit read back as outcomes and written again: the same bytes (the seam retry-failed reuses)', async () => {
    const out = join(work, 'reference');
    const copy = join(work, 'rewritten');
    for (const unit of ['u000000', 'u000001', 'u000002']) {
      const written = await writeUnitStore(copy, unit, readUnitOutcomes(out, unit, readPlanUnit(out, unit)), new AbortController().signal);
      const marker = JSON.parse(await readFile(extractPaths(out).unitMarker(unit), 'utf8'));
      assert.deepEqual(written.outputs, marker.outputs);
      for (const name of Object.keys(marker.outputs)) {
        assert.equal(sha256(await readFile(extractPaths(copy).unitFile(unit, name))), reference.get(`units/${unit}/${name}`), `${unit}/${name}`);
      }
    }
  });

  test('a second round of workers after a config change rewrites the manifest (the finalize lock is per content)', async () => {
    const out = join(work, 'rounds');
    await extract(out, { planOnly: true });
    const round = async (quality: number) => {
      const summaries = [];
      for (const index of [0, 1]) summaries.push(await extract(out, { worker: { index, count: 2 } }, quality));
      return summaries;
    };
    const first = await round(90);
    assert.deepEqual(first.map((s) => s.complete), [false, true]);
    const manifestOf = async () => JSON.parse(await readFile(extractPaths(out).manifest, 'utf8'));
    const m1 = await manifestOf();

    const second = await round(60);
    assert.deepEqual(second.map((s) => s.complete), [false, true], 'the last worker of the second round finalizes');
    const m2 = await manifestOf();
    assert.notEqual(m2.optionsSha256, m1.optionsSha256);
    assert.equal((m2.options as { images: { quality: number } }).images.quality, 60);
    const loaded = await runLoad(LoadOptions.parse({ outDir: out }), testContext());
    assert.equal(loaded.complete, true);

    // A third round on the same content changes nothing and finalizes nothing again.
    const third = await round(60);
    assert.deepEqual(third.map((s) => [s.complete, s.unitsSkipped]), [[false, 2], [false, 1]]);
    assert.deepEqual(await manifestOf(), m2);
  });
});
