// The sample generator writes the demo mirror and the benchmark mirrors, so its output must be a
// faithful legacy layout and reproducible byte for byte. Runs take a few seconds: each one renders
// its own small image pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { XMLValidator } from 'fast-xml-parser';
import sharp from 'sharp';
import { extract } from 'tar-stream';
import { BAD_KINDS } from '../scripts/sample/article.js';
import { FILE_LIST_HEADER, generateSample } from '../scripts/sample/generate.js';

const repoRoot = new URL('..', import.meta.url).pathname;

interface Entry {
  name: string;
  type: string;
  bytes: Buffer;
}

async function untar(gz: Buffer): Promise<Entry[]> {
  const tar = gunzipSync(gz);
  const ex = extract();
  const out: Entry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.push({ name: header.name, type: header.type ?? 'file', bytes: Buffer.concat(chunks) });
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return out;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out.sort();
}

type Row = Record<string, string>;

async function readRows(dir: string): Promise<{ header: string; rows: Row[] }> {
  const text = await readFile(join(dir, 'oa_file_list.csv'), 'utf8');
  return { header: text.slice(0, text.indexOf('\n')), rows: parse(text, { columns: true, skip_empty_lines: true }) as Row[] };
}

function graphicHrefs(xml: string): string[] {
  return [...xml.matchAll(/<graphic\b[^>]*\bxlink:href="([^"]+)"/g)].map((m) => m[1]!);
}

test('same seed and size give byte-identical samples in the legacy layout', async () => {
  const base = await mkdtemp(join(tmpdir(), 'make-sample-'));
  try {
    const a = join(base, 'a');
    const b = join(base, 'b');
    const stats = await generateSample({ out: a, articles: 5, seed: 11, imagesPerArticleMax: 4, bad: false });
    await generateSample({ out: b, articles: 5, seed: 11, imagesPerArticleMax: 4, bad: false });

    const filesA = await walk(a);
    const filesB = await walk(b);
    assert.deepEqual(filesA.map((f) => relative(a, f)), filesB.map((f) => relative(b, f)));
    for (const f of filesA) assert.ok((await readFile(f)).equals(await readFile(join(b, relative(a, f)))), `${relative(a, f)} differs`);

    const { header, rows } = await readRows(a);
    assert.equal(header, FILE_LIST_HEADER);
    assert.equal(rows.length, 5);
    assert.equal(stats.articles, 5);
    let figures = 0;
    for (const row of rows) {
      assert.deepEqual(Object.keys(row), FILE_LIST_HEADER.split(','));
      const pmcid = row['Accession ID']!;
      assert.match(pmcid, /^PMC\d+$/);
      assert.match(row.File!, new RegExp(`^oa_package/[0-9a-f]{2}/[0-9a-f]{2}/${pmcid}\\.tar\\.gz$`));
      assert.match(row['Last Updated (YYYY-MM-DD HH:MM:SS)']!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.match(row.PMID!, /^(\d+)?$/);
      assert.ok(['CC BY', 'CC0', 'CC BY-NC', 'CC BY-NC-ND', 'CC BY-NC-SA', 'NO-CC CODE'].includes(row.License!), row.License);
      assert.ok(['yes', 'no'].includes(row.Retracted!));
      assert.match(row['Article Citation']!, /^\S.*?\. \d{4} [A-Z][a-z]{2} \d{1,2}; \d+/);

      const gz = await readFile(join(a, row.File!));
      assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], 'gzip header with mtime 0 and a fixed OS byte');
      const entries = await untar(gz);
      assert.equal(entries[0]!.name, `${pmcid}/`);
      assert.equal(entries[0]!.type, 'directory');
      const files = entries.slice(1);
      for (const e of files) {
        assert.equal(e.type, 'file');
        assert.match(e.name, new RegExp(`^${pmcid}/[^/]+$`), 'one flat directory per package');
      }
      const names = new Set(files.map((e) => e.name.slice(pmcid.length + 1)));
      const nxml = files.filter((e) => e.name.endsWith('.nxml'));
      assert.equal(nxml.length, 1);
      assert.ok(files.some((e) => e.name.endsWith('.pdf') && e.bytes.subarray(0, 5).toString() === '%PDF-'));
      const xml = nxml[0]!.bytes.toString('utf8');
      assert.equal(XMLValidator.validate(xml), true);
      assert.ok(!xml.includes('<!DOCTYPE'));
      assert.match(xml, new RegExp(`<article-id pub-id-type="pmc">${pmcid.slice(3)}</article-id>`));
      assert.ok(xml.includes(`license-type="open-access"`));

      for (const href of graphicHrefs(xml)) {
        figures += 1;
        assert.ok(!/\.(jpe?g|png|tiff?|gif)$/i.test(href), `href ${href} has no extension`);
        const full = ['jpg', 'png', 'tif'].map((ext) => `${href}.${ext}`).filter((n) => names.has(n));
        assert.equal(full.length, 1, `one full-size raster for ${href}`);
        assert.ok(names.has(`${href}.gif`), `thumbnail for ${href}`);
        const big = await sharp(files.find((e) => e.name.endsWith(`/${full[0]}`))!.bytes).metadata();
        const thumb = await sharp(files.find((e) => e.name.endsWith(`/${href}.gif`))!.bytes).metadata();
        assert.ok(big.width! >= 400 && big.width! <= 1400, `width ${big.width}`);
        assert.equal(thumb.format, 'gif');
        assert.ok(thumb.width! < big.width!);
      }
    }
    assert.equal(figures, stats.figures);
    assert.ok(figures > 0);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('--bad adds one recorded failure of each kind', async () => {
  const out = await mkdtemp(join(tmpdir(), 'make-sample-bad-'));
  try {
    const stats = await generateSample({ out, articles: BAD_KINDS.length, seed: 2, imagesPerArticleMax: 2, bad: true });
    assert.deepEqual(stats.bad.map((b) => b.kind).sort(), [...BAD_KINDS].sort());
    const { rows } = await readRows(out);
    const byId = new Map(rows.map((r) => [r['Accession ID']!, r]));
    const badOf = (kind: string) => stats.bad.find((b) => b.kind === kind)!;
    const packageOf = async (kind: string) => untar(await readFile(join(out, byId.get(badOf(kind).pmcid)!.File!)));

    assert.ok(byId.has(badOf('missing-package').pmcid), 'the row stays in the list');
    assert.equal(existsSync(join(out, byId.get(badOf('missing-package').pmcid)!.File!)), false);

    assert.throws(() => gunzipSync(readFileSync(join(out, byId.get(badOf('truncated-gzip').pmcid)!.File!))));

    const malformed = (await packageOf('malformed-nxml')).find((e) => e.name.endsWith('.nxml'))!;
    assert.notEqual(XMLValidator.validate(malformed.bytes.toString('utf8')), true);

    const figureFiles = async (kind: string) => {
      const entries = await packageOf(kind);
      const xml = entries.find((e) => e.name.endsWith('.nxml'))!.bytes.toString('utf8');
      assert.equal(XMLValidator.validate(xml), true, `${kind}: only the figure is broken`);
      const id = badOf(kind).figureId!;
      const fig = xml.slice(xml.indexOf(`<fig id="${id}"`));
      const href = graphicHrefs(fig)[0]!;
      return { xml: fig.slice(0, fig.indexOf('</fig>')), files: entries.filter((e) => e.name.split('/')[1]!.startsWith(`${href}.`)) };
    };
    const corrupt = (await figureFiles('corrupt-image')).files.find((e) => !e.name.endsWith('.gif'))!;
    await assert.rejects(sharp(corrupt.bytes).raw().toBuffer());
    assert.match((await figureFiles('empty-caption')).xml, /<caption><p\/><\/caption>/);
    const tiny = (await figureFiles('tiny-image')).files.find((e) => e.name.endsWith('.jpg'))!;
    const meta = await sharp(tiny.bytes).metadata();
    assert.deepEqual([meta.width, meta.height], [16, 16]);
    assert.equal((await figureFiles('missing-image')).files.length, 0);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('the script refuses a non-empty directory that is not a sample, and bad flags, with exit code 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'make-sample-cli-'));
  try {
    await writeFile(join(dir, 'precious.txt'), 'keep me');
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/make-sample.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });
    const notEmpty = run('--out', dir, '--articles', '2');
    assert.equal(notEmpty.status, 2, notEmpty.stderr);
    assert.match(notEmpty.stderr, /SAMPLE_OUT_NOT_EMPTY/);
    assert.equal(await readFile(join(dir, 'precious.txt'), 'utf8'), 'keep me');
    const badFlag = run('--out', join(dir, 'new'), '--articles', 'many');
    assert.equal(badFlag.status, 2);
    assert.match(badFlag.stderr, /--articles must be a whole number/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
