/**
 * Extract checked against ground truth: the sample generator writes down what it put in every
 * article (sample/sample-truth.jsonl: figures, their full-size files and pixel sizes, licences, and
 * which item it broke on purpose). Every figure must come out with its own full-size file at its
 * real size, every broken item must end as the failure it is, and nothing else may fail.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readJsonl } from '../src/storage/files.js';
import type { ArticleRecord, FailureRecord, FigureRecord } from '../src/manifest/records.js';
import { licenseGroupOf } from '../src/sources/types.js';
import { repoRoot, runCli } from './helpers/cli.js';

interface TruthFigure {
  id: string;
  files: string[];
  width: number;
  height: number;
  emptyCaption: boolean;
}
interface Truth {
  pmcid: string;
  license: string;
  retracted: boolean;
  bad: string | null;
  badFigureId: string | null;
  figures: TruthFigure[];
}

/** What each deliberately broken item must end as. */
const EXPECTED_FAILURE: Record<string, { step: string; code: string } | null> = {
  'missing-package': { step: 'package', code: 'PACKAGE_NOT_FOUND' },
  'truncated-gzip': { step: 'package', code: 'PACKAGE_CORRUPT' },
  'malformed-nxml': { step: 'parse', code: 'XML_MALFORMED' },
  'corrupt-image': { step: 'image', code: 'IMAGE_CORRUPT' },
  'missing-image': { step: 'image', code: 'IMAGE_NOT_IN_PACKAGE' },
  // Filtered by the keep rule: not failures.
  'empty-caption': null,
  'tiny-image': null,
};

describe('extract of the bundled sample against its ground truth', () => {
  let out: string;
  const truth: Truth[] = [];
  const articles = new Map<string, ArticleRecord>();
  const figures = new Map<string, FigureRecord[]>();
  const failures: FailureRecord[] = [];

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'biomedica-truth-'));
    const r = await runCli(['extract', '--source', join(repoRoot, 'sample'), '--out', out, '--unit-size', '16', '--no-progress']);
    assert.equal(r.code, 0, r.stderr);
    for (const line of (await readFile(join(repoRoot, 'sample', 'sample-truth.jsonl'), 'utf8')).trim().split('\n')) truth.push(JSON.parse(line));
    const units = join(out, 'extract', 'units');
    for (const u of (await readdir(units)).sort()) {
      for await (const a of readJsonl<ArticleRecord>(join(units, u, 'articles.jsonl'))) articles.set(a.pmcid, a);
      for await (const f of readJsonl<FigureRecord>(join(units, u, 'figures.jsonl'))) {
        const pmcid = f.articleId.split('_')[0]!;
        figures.set(pmcid, [...(figures.get(pmcid) ?? []), f]);
      }
      for await (const f of readJsonl<FailureRecord>(join(units, u, 'failures.jsonl'))) failures.push(f);
    }
  });
  after(async () => rm(out, { recursive: true, force: true }));

  test('retracted rows are left out; every other article is there or failed for its known reason', () => {
    for (const t of truth) {
      if (t.retracted) {
        assert.ok(!articles.has(t.pmcid), `${t.pmcid} is retracted`);
        continue;
      }
      const whole = t.bad && ['missing-package', 'truncated-gzip', 'malformed-nxml'].includes(t.bad);
      assert.equal(articles.has(t.pmcid), !whole, `${t.pmcid} (${t.bad ?? 'good'})`);
      if (!whole) assert.equal(articles.get(t.pmcid)!.licenseGroup, licenseGroupOf(t.license));
    }
  });

  test('every figure comes out with its own full-size file at its real size', () => {
    let checked = 0;
    for (const t of truth) {
      if (!articles.has(t.pmcid)) continue;
      const got = new Map((figures.get(t.pmcid) ?? []).map((f) => [f.id, f]));
      assert.equal(got.size, t.figures.length, `${t.pmcid}: figure count`);
      for (const tf of t.figures) {
        const f = got.get(tf.id);
        assert.ok(f, `${t.pmcid} ${tf.id} missing`);
        if (tf.id === t.badFigureId) continue;
        assert.equal(f.status, 'ok', `${t.pmcid} ${tf.id}: ${f.reason}`);
        const image = f.images[0]!;
        const fullSize = tf.files.find((n) => !n.endsWith('.gif'));
        assert.equal(image.mediaName, fullSize, `${t.pmcid} ${tf.id}: took ${image.mediaName}`);
        assert.deepEqual([image.originalWidth, image.originalHeight], [tf.width, tf.height]);
        assert.ok(f.caption.length > 0);
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} figures checked`);
  });

  test('each broken item is exactly its expected failure; nothing else fails', () => {
    const expected: string[] = [];
    for (const t of truth) {
      if (!t.bad) continue;
      const want = EXPECTED_FAILURE[t.bad];
      assert.ok(want !== undefined, `unknown breakage ${t.bad}: add it here`);
      if (want === null) {
        const f = figures.get(t.pmcid)!.find((x) => x.id === t.badFigureId)!;
        assert.equal(f.status, 'filtered', `${t.pmcid} ${t.bad}`);
        assert.equal(f.reason, t.bad === 'tiny-image' ? 'IMAGE_TOO_SMALL' : 'EMPTY_CAPTION');
        continue;
      }
      expected.push(`${t.pmcid} ${want.step} ${want.code}`);
    }
    const got = failures.map((f) => `${f.item.split('_')[0]} ${f.step} ${f.code}`);
    assert.deepEqual(got.sort(), expected.sort());
  });
});
