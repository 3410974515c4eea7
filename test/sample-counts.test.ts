/**
 * The counts a run reports agree with each other and with the files on disk, on the bundled sample
 * (what `npm run demo` builds): every stored image file is counted, and every article extract
 * calls ok is either in the dataset or listed by load as left out, with the reason.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatLoadSummary, type LoadSummary } from '../src/stages/load/summary.js';
import type { ExtractSummary } from '../src/stages/extract/run-extract.js';
import { runCli } from './helpers/cli.js';

describe('the demo run on the bundled sample: counts agree', () => {
  let out: string;
  let extract: ExtractSummary;
  let load: LoadSummary;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'biomedica-counts-'));
    const r = await runCli(['run', '--source', 'sample', '--out', out, '--json', '--no-progress']);
    assert.equal(r.code, 0, r.stderr);
    ({ extract, load } = JSON.parse(r.stdout));
  });
  after(() => rm(out, { recursive: true, force: true }));

  test('the sample exercises both cases: a figure the keep rule drops for its size, an article with no figure', () => {
    assert.ok((load.filteredByReason['IMAGE_TOO_SMALL'] ?? 0) >= 1, JSON.stringify(load.filteredByReason));
    assert.ok(load.leftOut.articlesWithoutSamples >= 1);
  });

  test('images stored = image files in the units (a dropped figure leaves no file behind)', async () => {
    const units = join(out, 'extract', 'units');
    let files = 0;
    for (const unit of await readdir(units)) files += (await readdir(join(units, unit, 'images'))).length;
    assert.equal(files, extract.totals.images);
    assert.equal(load.samples, extract.totals.images);
  });

  test('the card states the scope of this build: the whole sample listing, read from a local mirror', async () => {
    const card = await readFile(join(load.datasetDir, 'README.md'), 'utf8');
    assert.match(card, /Every figure image of the PubMed Central Open Access Subset as listed on \d{4}-\d\d-\d\d, read from a local copy/);
    assert.doesNotMatch(card, /Cloud Service bucket|a selection/);
    assert.match(card, new RegExp(`^${load.leftOut.articlesWithoutSamples} articles with no figure to keep,$`, 'm'));
  });

  test("extract's ok articles = load's articles + those it left out, and the summary says so", () => {
    const l = load.leftOut;
    assert.equal(extract.totals.articles, load.articles + l.articlesWithoutSamples + l.tombstonedArticles);
    const text = formatLoadSummary(load);
    assert.match(text, new RegExp(`from ${load.articles} articles`));
    assert.match(text, new RegExp(`Left out: ${l.tombstonedArticles} retracted/removed articles, ${l.articlesWithoutSamples} articles with no figure to keep`));
  });
});
