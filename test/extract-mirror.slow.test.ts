/**
 * End to end: `biomedica extract` against a real FTP server and a real HTTP server on 127.0.0.1,
 * serving a legacy mirror built from the real PMC packages in ../shared/corpus/packages, plus a
 * set of hostile packages that must each end as a recorded failure without harming the rest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readJsonl } from '../src/storage/files.js';
import type { FailureRecord, FigureRecord } from '../src/manifest/records.js';
import { runCli, treeHashes } from './helpers/cli.js';
import { BOMB_LIMITS, buildHostilePackages } from './helpers/hostile.js';
import { buildLegacyMirror, corpusPackages, startFtpServer, startHttpServer } from './helpers/servers.js';
import { readStoredImage } from './helpers/extract-fixture.js';

let work: string;
let realMirror: string;
let firstPackagePath: string;

async function records<T>(out: string, name: string): Promise<T[]> {
  const unitsDir = join(out, 'extract', 'units');
  const all: T[] = [];
  for (const unit of (await readdir(unitsDir)).sort()) {
    for await (const r of readJsonl<T>(join(unitsDir, unit, name))) all.push(r);
  }
  return all;
}

describe('extract from real servers', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-mirror-'));
    realMirror = join(work, 'real');
    const mirror = await buildLegacyMirror(realMirror, corpusPackages, { missing: ['PMC1234567'] });
    firstPackagePath = `/pub/pmc/${mirror.rows[0]!.path}`;
  });
  after(async () => rm(work, { recursive: true, force: true }));

  const servers = {
    ftp: async () => {
      const s = await startFtpServer(realMirror);
      return { url: `${s.url}/pub/pmc`, close: () => s.close() };
    },
    http: async () => {
      const s = await startHttpServer(realMirror);
      // One transient failure on a package: the retry must absorb it.
      s.fault(firstPackagePath, { status: 503 }, { status: 503 });
      return {
        url: `${s.url}/pub/pmc`,
        close: async () => {
          assert.equal(s.requests.filter((r) => r.path === firstPackagePath).length, 3, 'two 503s, then the package');
          await s.close();
        },
      };
    },
  };

  const outputs: Record<string, Map<string, string>> = {};
  for (const [kind, start] of Object.entries(servers)) {
    test(`over ${kind}: every figure gets its full-size jpg, never the gif thumbnail`, async () => {
      const server = await start();
      const out = join(work, `out-${kind}`);
      try {
        const r = await runCli(['extract', '--source', server.url, '--out', out, '--no-progress', '--json']);
        assert.equal(r.code, 0, r.stderr);
        const summary = JSON.parse(r.stdout);
        assert.equal(summary.totals.articles, 3);
        assert.equal(summary.totals.articlesFailed, 1, 'the listed but missing package is a failed item');
      } finally {
        await server.close();
      }
      const figures = await records<FigureRecord>(out, 'figures.jsonl');
      // 4 + 1 + 3 figures, each a full-size jpg beside a gif thumbnail in its package.
      assert.equal(figures.length, 8);
      assert.equal(figures.filter((x) => x.status === 'ok').length, 8);
      for (const f of figures.filter((x) => x.status === 'ok')) {
        for (const image of f.images) {
          assert.match(image.mediaName, /\.jpg$/i, `${f.key} took ${image.mediaName}`);
          assert.equal(image.originalFormat, 'jpeg');
          const meta = await sharp(await readStoredImage(out, image)).metadata();
          assert.equal(meta.format, 'jpeg');
          assert.equal(meta.width, image.width);
          // The thumbnails are under 200 px wide; the full-size images are not.
          assert.ok(image.originalWidth > 200, `${f.key} is ${image.originalWidth} px wide: a thumbnail?`);
        }
      }
      const failures = await records<FailureRecord>(out, 'failures.jsonl');
      assert.deepEqual(
        failures.filter((x) => x.step === 'package').map((x) => [x.item, x.code]),
        [['PMC1234567', 'PACKAGE_NOT_FOUND']],
      );
      const tree = await treeHashes(join(out, 'extract'));
      tree.delete('plan/plan.json'); // names the source URL, which differs by server
      tree.delete('manifest.json');
      outputs[kind] = tree;
    });
  }

  test('FTP and HTTP give the same figure records and images', () => {
    assert.ok(outputs['ftp'] && outputs['http']);
    const strip = (m: Map<string, string>) => new Map([...m].filter(([k]) => !k.startsWith('plan/')));
    assert.deepEqual(strip(outputs['ftp']), strip(outputs['http']));
  });

  test('hostile packages end as recorded failures; nothing escapes; good articles still come out', async () => {
    const hostileDir = join(work, 'hostile-src');
    await mkdir(hostileDir, { recursive: true });
    const { packages, expected } = await buildHostilePackages(hostileDir);
    const mirror = join(work, 'hostile');
    await buildLegacyMirror(mirror, [...corpusPackages, ...packages]);
    const out = join(work, 'out-hostile');
    const config = join(work, 'hostile.json');
    // Most of this mirror is meant to fail; the bombs are sized for these limits.
    await writeFile(config, JSON.stringify({ extract: { maxFailureRate: 1 }, package: BOMB_LIMITS }));
    const r = await runCli(['extract', '--source', join(mirror, 'pub', 'pmc'), '--out', out, '--config', config, '--no-progress', '--json']);
    assert.equal(r.code, 0, r.stderr);

    const failures = await records<FailureRecord>(out, 'failures.jsonl');
    const byItem = (item: string) => failures.filter((f) => f.item === item || f.item.startsWith(`${item}_`));
    for (const [pmcid, outcome] of Object.entries(expected)) {
      if (outcome === 'ok') continue;
      assert.deepEqual(byItem(pmcid).map((f) => f.code), [outcome], `${pmcid}: ${JSON.stringify(byItem(pmcid))}`);
    }
    assert.deepEqual(
      byItem('PMC9000001').map((f) => f.code).sort(),
      ['LINK_ENTRY', 'LINK_ENTRY', 'UNSAFE_PATH', 'UNSAFE_PATH', 'UNSAFE_PATH'],
    );
    const figures = await records<FigureRecord>(out, 'figures.jsonl');
    const status = (key: string) => figures.find((f) => f.key === key);
    assert.equal(status('PMC9000001_f001')?.status, 'ok', 'the article with escaping entries keeps its real image');
    // Gzip bombs beside real figures: the figures read before the 2 GiB entry survive.
    assert.deepEqual(
      byItem('PMC9000002').map((f) => `${f.item} ${f.code}`).sort(),
      ['PMC9000002 ENTRY_TOO_LARGE', 'PMC9000002 PACKAGE_LIMIT', 'PMC9000002_f003 IMAGE_NOT_IN_PACKAGE'],
    );
    assert.equal(status('PMC9000002_f001')?.status, 'ok');
    assert.equal(status('PMC9000002_f002')?.status, 'ok');
    const mixed = Object.fromEntries(byItem('PMC9000006').map((f) => [f.item, f.code]));
    assert.equal(mixed['PMC9000006_f001'], 'IMAGE_TOO_LARGE');
    assert.equal(mixed['PMC9000006_f002'], 'IMAGE_EMPTY');
    assert.equal(mixed['PMC9000006_f003'], 'IMAGE_UNSUPPORTED');
    assert.equal(status('PMC9000006_f004')?.status, 'ok');
    // The real articles are untouched by their neighbours.
    for (const pmcid of ['PMC7112410', 'PMC7135076', 'PMC7159299']) {
      assert.ok(figures.some((f) => f.articleId === pmcid && f.status === 'ok'), pmcid);
    }
    for (const escaped of ['escape-dotdot.jpg', 'escape-absolute.jpg', 'escape-pax.jpg']) {
      assert.ok(!existsSync(join(work, escaped)) && !existsSync(join('/tmp', escaped)), escaped);
    }
    const stored = [...(await treeHashes(out)).keys()];
    assert.ok(stored.every((p) => !p.includes('..') && !/escape|passwd/.test(p)), stored.join('\n'));
  });
});
