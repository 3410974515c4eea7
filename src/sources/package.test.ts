import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { bombTarGz, realJpeg, tarOf, type Entry } from '../../test/helpers/hostile.js';
import { ItemError } from '../errors.js';
import { isImageName, readPackage } from './package.js';

const corpus = fileURLToPath(new URL('../../../shared/corpus/packages/', import.meta.url));
const realPackages = ['PMC7112410', 'PMC7135076', 'PMC7159299'].map((id) => join(corpus, `${id}.tar.gz`));

const tgzOf = async (entries: Entry[]) => gzipSync(await tarOf(entries));
const streamOf = (b: Buffer) => Readable.from([b]);
const xml = '<?xml version="1.0"?><article><body/></article>';

function listing(pkg: string): string[] {
  return execFileSync('tar', ['-tzf', pkg], { encoding: 'utf8' }).trim().split('\n');
}

describe('readPackage', () => {
  let sandbox: string;
  let cwd: string;
  before(async () => {
    // Run inside an empty directory: any write relative to cwd would show up here.
    sandbox = await mkdtemp(join(tmpdir(), 'biomedica-pkg-'));
    cwd = process.cwd();
    process.chdir(join(sandbox));
  });
  after(async () => {
    process.chdir(cwd);
    assert.deepEqual(await readdir(sandbox), [], 'readPackage wrote into the working directory');
    await rm(sandbox, { recursive: true, force: true });
    await assert.rejects(stat(join(tmpdir(), 'evil.jpg')), { code: 'ENOENT' });
  });

  for (const pkg of realPackages) {
    test(`real package ${basename(pkg)}: the nxml, and every jpg and gif as media (no PDF)`, async () => {
      const entries = listing(pkg);
      const contents = await readPackage(createReadStream(pkg), { label: basename(pkg) });
      assert.equal(contents.xmlName, 'main.nxml');
      assert.match(contents.xml.toString('utf8', 0, 200), /<\?xml|<!DOCTYPE|<article/);
      const expected = entries.filter((e) => isImageName(e)).map((e) => basename(e)).sort();
      assert.deepEqual([...contents.media.keys()].sort(), expected);
      assert.ok(expected.some((n) => n.endsWith('.jpg')) && expected.some((n) => n.endsWith('.gif')));
      assert.ok(![...contents.media.keys()].some((n) => n.endsWith('.pdf')));
      assert.deepEqual(contents.warnings, []);
      const dir = entries[0]!.split('/')[0]!;
      const nxml = execFileSync('tar', ['-xzOf', pkg, `${dir}/main.nxml`]);
      assert.ok(contents.xml.equals(nxml));
      const jpg = expected.find((n) => n.endsWith('.jpg'))!;
      assert.ok(contents.media.get(jpg)!.equals(execFileSync('tar', ['-xzOf', pkg, `${dir}/${jpg}`], { maxBuffer: 1 << 26 })));
    });
  }

  test('hostile entries are skipped and reported; safe ones kept', async () => {
    const tgz = await tgzOf([
      { name: 'PMC1/', type: 'directory' },
      { name: 'PMC1/main.nxml', data: xml },
      { name: 'PMC1/ok.jpg', data: 'ok' },
      { name: '../evil.jpg', data: 'x' },
      { name: '/etc/evil.jpg', data: 'x' },
      { name: 'PMC1/../../evil2.jpg', data: 'x' },
      { name: 'PMC1/safe-looking.jpg', pax: { path: '../../pax-evil.jpg' }, data: 'x' },
      { name: 'PMC1/link.jpg', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'PMC1/hard.jpg', type: 'link', linkname: 'PMC1/ok.jpg' },
      { name: 'PMC1/dev.jpg', type: 'character-device' },
      { name: 'PMC1/fifo.jpg', type: 'fifo' },
      { name: 'PMC1\\..\\win.jpg', data: 'x' },
      { name: 'C:/win.jpg', data: 'x' },
      { name: 'PMC1/a/dup.jpg', data: 'first' },
      { name: 'PMC1/b/dup.jpg', data: 'second' },
      { name: 'PMC1/._ok.jpg', data: 'resource fork' },
      { name: 'PMC1/main.pdf', data: '%PDF' },
    ]);
    const contents = await readPackage(streamOf(tgz));
    assert.equal(contents.xml.toString(), xml);
    assert.deepEqual([...contents.media.keys()], ['ok.jpg', 'dup.jpg']);
    assert.equal(contents.media.get('dup.jpg')!.toString(), 'first');
    const codes = contents.warnings.map((w) => `${w.code} ${w.entry}`);
    assert.deepEqual(codes, [
      'UNSAFE_PATH "../evil.jpg"',
      'UNSAFE_PATH "/etc/evil.jpg"',
      'UNSAFE_PATH "PMC1/../../evil2.jpg"',
      'UNSAFE_PATH "../../pax-evil.jpg"',
      'LINK_ENTRY "PMC1/link.jpg"',
      'LINK_ENTRY "PMC1/hard.jpg"',
      'SPECIAL_ENTRY "PMC1/dev.jpg"',
      'SPECIAL_ENTRY "PMC1/fifo.jpg"',
      'UNSAFE_PATH "PMC1\\\\..\\\\win.jpg"',
      'UNSAFE_PATH "C:/win.jpg"',
      'DUPLICATE_NAME "PMC1/b/dup.jpg"',
    ]);
  });

  test('a gzip bomb stops at the inflated cap, fast', async () => {
    // 200 MB of zeros in one entry; deflate packs it into a few hundred KB.
    const pack = tar.pack();
    const gzip = createGzip();
    const chunks: Buffer[] = [];
    gzip.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((resolve) => gzip.on('end', resolve));
    pack.pipe(gzip);
    const size = 200 * 1024 * 1024;
    const entry = pack.entry({ name: 'PMC1/zeros.bin', size });
    const mb = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 200; i++) if (!entry.write(mb)) await new Promise<void>((r) => entry.once('drain', () => r()));
    entry.end(undefined);
    pack.entry({ name: 'PMC1/main.nxml' }, xml);
    pack.finalize();
    await done;
    const bomb = Buffer.concat(chunks);
    assert.ok(bomb.length < 1024 * 1024, `bomb is ${bomb.length} bytes`);
    const started = performance.now();
    await assert.rejects(readPackage(streamOf(bomb), { maxTotalBytes: 50 * 1024 * 1024 }), (e: unknown) => e instanceof ItemError && e.code === 'PACKAGE_TOO_LARGE');
    assert.ok(performance.now() - started < 3000, `took ${performance.now() - started} ms`);
  });

  test('truncated or non-gzip input is PACKAGE_CORRUPT', async () => {
    const real = await readFile(realPackages[1]!);
    const cases = [
      real.subarray(0, Math.floor(real.length / 2)),
      real.subarray(0, 100),
      Buffer.from('<html><body>503 Service Unavailable</body></html>'),
      gzipSync((await tarOf([{ name: 'PMC1/main.nxml', data: xml }, { name: 'PMC1/a.jpg', data: 'x'.repeat(4000) }])).subarray(0, 1500)),
    ];
    for (const bytes of cases) {
      await assert.rejects(readPackage(streamOf(bytes)), (e: unknown) => e instanceof ItemError && e.code === 'PACKAGE_CORRUPT');
    }
  });

  test('XML choice: .nxml preferred, .xml as a fallback, none → PACKAGE_NO_XML', async () => {
    const both = await readPackage(streamOf(await tgzOf([{ name: 'P/meta.xml', data: '<meta/>' }, { name: 'P/a.nxml', data: xml }, { name: 'P/b.nxml', data: '<b/>' }])));
    assert.equal(both.xmlName, 'a.nxml');
    assert.deepEqual(both.warnings.map((w) => w.code), ['EXTRA_XML']);
    const onlyXml = await readPackage(streamOf(await tgzOf([{ name: 'P/article.xml', data: xml }, { name: 'P/f1.png', data: 'png' }])));
    assert.equal(onlyXml.xmlName, 'article.xml');
    assert.deepEqual([...onlyXml.media.keys()], ['f1.png']);
    await assert.rejects(readPackage(streamOf(await tgzOf([{ name: 'P/f1.jpg', data: 'x' }, { name: 'P/main.pdf', data: 'x' }]))), { code: 'PACKAGE_NO_XML' });
  });

  test('per-entry, entry-count and kept-bytes limits keep what came before', async () => {
    const tgz = await tgzOf([{ name: 'P/main.nxml', data: xml }, { name: 'P/big.jpg', data: Buffer.alloc(5000) }, { name: 'P/small.jpg', data: 'x' }]);
    const contents = await readPackage(streamOf(tgz), { maxEntryBytes: 1000 });
    assert.deepEqual([...contents.media.keys()], ['small.jpg']);
    assert.deepEqual(contents.warnings.map((w) => w.code), ['ENTRY_TOO_LARGE']);
    await assert.rejects(readPackage(streamOf(tgz), { maxEntryBytes: 10 }), { code: 'PACKAGE_TOO_LARGE' });
    const counted = await readPackage(streamOf(tgz), { maxEntries: 2 });
    assert.deepEqual([...counted.media.keys()], ['big.jpg']);
    assert.deepEqual(counted.warnings.map((w) => `${w.code} ${w.entry}`), ['PACKAGE_LIMIT "P/small.jpg"']);
    await assert.rejects(readPackage(streamOf(tgz), { maxEntries: 0 }), { code: 'PACKAGE_TOO_LARGE' });
    const held = await readPackage(streamOf(tgz), { maxKeptBytes: 5000 + xml.length });
    assert.deepEqual([...held.media.keys()], ['big.jpg']);
    assert.deepEqual(held.warnings.map((w) => w.code), ['PACKAGE_LIMIT']);
  });

  test('gzip bombs next to valid figures: the figures survive, each bomb is a warning, and it stops early', async () => {
    const jpeg = await realJpeg();
    const bomb = await bombTarGz([
      { name: 'P/main.nxml', data: xml },
      { name: 'P/fig1.jpg', data: jpeg },
      { name: 'P/big.jpg', mib: 96 },
      { name: 'P/fig2.jpg', data: jpeg },
      { name: 'P/huge.jpg', mib: 2048 },
      { name: 'P/fig3.jpg', data: jpeg },
    ]);
    assert.ok(bomb.length < 3 << 20, `the bomb is ${bomb.length} bytes`);
    const started = performance.now();
    const contents = await readPackage(streamOf(bomb));
    const ms = performance.now() - started;
    assert.deepEqual([...contents.media.keys()], ['fig1.jpg', 'fig2.jpg']);
    assert.ok(contents.media.get('fig2.jpg')!.equals(jpeg));
    assert.deepEqual(contents.warnings.map((w) => `${w.code} ${w.entry}`), ['ENTRY_TOO_LARGE "P/big.jpg"', 'PACKAGE_LIMIT "P/huge.jpg"']);
    // Only the 96 MiB entry is inflated (to be skipped); the 2 GiB one is refused at its header.
    assert.ok(ms < 5000, `took ${ms} ms`);
    // The bomb before the XML: nothing to keep.
    const first = await bombTarGz([{ name: 'P/huge.jpg', mib: 2048 }, { name: 'P/main.nxml', data: xml }]);
    await assert.rejects(readPackage(streamOf(first)), (e: unknown) => e instanceof ItemError && e.code === 'PACKAGE_TOO_LARGE' && /before the article XML/.test(e.message));
  });

  test('reading bombs, four at once, holds no more memory than real figures need', async () => {
    // A child process, so that the peak RSS it reports is this read's alone.
    const jpeg = await realJpeg();
    const bomb = await bombTarGz([
      { name: 'P/main.nxml', data: xml },
      { name: 'P/fig1.jpg', data: jpeg },
      { name: 'P/big.jpg', mib: 200 },
      { name: 'P/fig2.jpg', data: jpeg },
      { name: 'P/huge.jpg', mib: 2048 },
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'biomedica-bomb-'));
    const path = join(dir, 'bomb.tar.gz');
    await writeFile(path, bomb);
    const script = `
      import { readFile } from 'node:fs/promises';
      import { Readable } from 'node:stream';
      import { readPackage } from ${JSON.stringify(new URL('./package.ts', import.meta.url).href)};
      const bytes = await readFile(process.argv[1]);
      // Warm up: the first read loads zlib and tar-stream code.
      await readPackage(Readable.from([bytes])).catch(() => undefined);
      globalThis.gc?.();
      const before = process.resourceUsage().maxRSS;
      const results = await Promise.all([0, 1, 2, 3].map(() => readPackage(Readable.from([bytes])).then(
        (c) => ({ media: [...c.media.keys()], warnings: c.warnings.map((w) => w.code) }),
        (e) => ({ error: e.code ?? String(e) }),
      )));
      console.log(JSON.stringify({ growthKiB: process.resourceUsage().maxRSS - before, results }));
    `;
    const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
    let out: string;
    try {
      out = execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', '--input-type=module', '-e', script, path], { encoding: 'utf8', cwd: repoRoot });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const { growthKiB, results } = JSON.parse(out) as { growthKiB: number; results: unknown[] };
    for (const r of results) assert.deepEqual(r, { media: ['fig1.jpg', 'fig2.jpg'], warnings: ['ENTRY_TOO_LARGE', 'PACKAGE_LIMIT'] });
    // Before the header checks this was 800 MB and more: each 200 MiB entry was held whole.
    assert.ok(growthKiB < 64 * 1024, `peak RSS grew by ${Math.round(growthKiB / 1024)} MiB`);
  });

  test('an unreadable input surfaces its own error; an abort its reason', async () => {
    await assert.rejects(readPackage(createReadStream(join(corpus, 'PMC0.tar.gz'))), { code: 'ENOENT' });
    const controller = new AbortController();
    const slow = new Readable({ read() {} });
    const pending = readPackage(slow, { signal: controller.signal });
    controller.abort(new Error('interrupted'));
    await assert.rejects(pending, /interrupted/);
  });
});
