/**
 * The counts a run reports agree with each other and with the files on disk, on the bundled sample
 * (what `npm run demo` builds): every stored image file is counted, and every article extract
 * calls ok is either in the dataset or listed by load as left out, with the reason.
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatLoadSummary, type LoadSummary } from '../src/stages/load/summary.js';
import type { ExtractSummary } from '../src/stages/extract/run-extract.js';
import type { FigureRecord } from '../src/manifest/records.js';
import { figureKey } from '../src/stages/extract/article.js';
import { articleIdOf } from '../src/sources/types.js';
import { repoRoot, runCli } from './helpers/cli.js';

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

  test('images stored = members of the unit image stores (a dropped figure leaves nothing behind)', async () => {
    const units = join(out, 'extract', 'units');
    let members = 0;
    for (const unit of await readdir(units)) {
      members += execFileSync('tar', ['tf', join(units, unit, 'images.tar')], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    }
    assert.equal(members, extract.totals.images);
    assert.equal(load.samples, extract.totals.images);
  });

  test('the card states the scope of this build: the whole sample listing, read from a local mirror', async () => {
    const card = await readFile(join(load.datasetDir, 'README.md'), 'utf8');
    assert.match(card, /Every figure image of the PubMed Central Open Access Subset as listed on \d{4}-\d\d-\d\d, read from a local copy/);
    assert.doesNotMatch(card, /Cloud Service bucket|a selection/);
    assert.match(card, new RegExp(`^${load.leftOut.articlesWithoutSamples} articles with no figure to keep,$`, 'm'));
  });

  test("the README's key examples are real keys: the legacy one is in this build, the cloud one is the same with the version", async () => {
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const bullet = /^- Keys look like [\s\S]*?(?=^- )/m.exec(readme)?.[0] ?? '';
    const examples = [...bullet.matchAll(/`(PMC\w+)`/g)].map((m) => m[1]!);
    assert.ok(examples.length >= 3, bullet);
    const keys = new Set<string>();
    const units = join(out, 'extract', 'units');
    for (const unit of await readdir(units)) {
      for (const line of (await readFile(join(units, unit, 'figures.jsonl'), 'utf8')).trim().split('\n')) {
        const figure = JSON.parse(line) as FigureRecord;
        keys.add(figure.key);
        for (const image of figure.images) keys.add(image.key);
      }
    }
    for (const example of examples) {
      const m = /^(PMC\d+)(?:_(\d+))?_f(\d{3})(?:_(\d+))?$/.exec(example);
      assert.ok(m, `${example}: not a key shape`);
      const figure = figureKey(articleIdOf(m[1]!, m[2] === undefined ? null : Number(m[2])), Number(m[3]));
      assert.equal(m[4] === undefined ? figure : `${figure}_${m[4]}`, example, 'the key as extract builds it');
      if (m[2] === undefined && m[4] === undefined) assert.ok(keys.has(example), `${example} is a key of the bundled sample`);
    }
  });

  test("extract's ok articles = load's articles + those it left out, and the summary says so", () => {
    const l = load.leftOut;
    assert.equal(extract.totals.articles, load.articles + l.articlesWithoutSamples + l.tombstonedArticles);
    const text = formatLoadSummary(load);
    assert.match(text, new RegExp(`from ${load.articles} articles`));
    assert.match(text, new RegExp(`Left out: ${l.tombstonedArticles} retracted/removed articles, ${l.articlesWithoutSamples} articles with no figure to keep`));
  });
});
