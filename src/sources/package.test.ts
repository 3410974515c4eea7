import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { ItemError } from '../errors.js';
import { isImageName, readPackage } from './package.js';

const corpus = fileURLToPath(new URL('../../../shared/corpus/packages/', import.meta.url));
const realPackages = ['PMC7112410', 'PMC7135076', 'PMC7159299'].map((id) => join(corpus, `${id}.tar.gz`));

interface Spec {
  name: string;
  type?: 'file' | 'symlink' | 'link' | 'directory' | 'character-device' | 'fifo';
  linkname?: string;
  pax?: Record<string, string>;
  content?: string | Buffer;
}

async function tarOf(specs: Spec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const spec of specs) {
    const content = spec.content === undefined ? undefined : Buffer.from(spec.content);
    const header = { name: spec.name, type: spec.type ?? 'file', linkname: spec.linkname, pax: spec.pax, size: content?.length ?? 0 };
    await new Promise<void>((resolve, reject) => {
      if (content) pack.entry(header, content, (e) => (e ? reject(e) : resolve()));
      else pack.entry(header, (e) => (e ? reject(e) : resolve())).end(undefined);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const tgzOf = async (specs: Spec[]) => gzipSync(await tarOf(specs));
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
      { name: 'PMC1/main.nxml', content: xml },
      { name: 'PMC1/ok.jpg', content: 'ok' },
      { name: '../evil.jpg', content: 'x' },
      { name: '/etc/evil.jpg', content: 'x' },
      { name: 'PMC1/../../evil2.jpg', content: 'x' },
      { name: 'PMC1/safe-looking.jpg', pax: { path: '../../pax-evil.jpg' }, content: 'x' },
      { name: 'PMC1/link.jpg', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'PMC1/hard.jpg', type: 'link', linkname: 'PMC1/ok.jpg' },
      { name: 'PMC1/dev.jpg', type: 'character-device' },
      { name: 'PMC1/fifo.jpg', type: 'fifo' },
      { name: 'PMC1\\..\\win.jpg', content: 'x' },
      { name: 'C:/win.jpg', content: 'x' },
      { name: 'PMC1/a/dup.jpg', content: 'first' },
      { name: 'PMC1/b/dup.jpg', content: 'second' },
      { name: 'PMC1/._ok.jpg', content: 'resource fork' },
      { name: 'PMC1/main.pdf', content: '%PDF' },
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
      gzipSync((await tarOf([{ name: 'PMC1/main.nxml', content: xml }, { name: 'PMC1/a.jpg', content: 'x'.repeat(4000) }])).subarray(0, 1500)),
    ];
    for (const bytes of cases) {
      await assert.rejects(readPackage(streamOf(bytes)), (e: unknown) => e instanceof ItemError && e.code === 'PACKAGE_CORRUPT');
    }
  });

  test('XML choice: .nxml preferred, .xml as a fallback, none → PACKAGE_NO_XML', async () => {
    const both = await readPackage(streamOf(await tgzOf([{ name: 'P/meta.xml', content: '<meta/>' }, { name: 'P/a.nxml', content: xml }, { name: 'P/b.nxml', content: '<b/>' }])));
    assert.equal(both.xmlName, 'a.nxml');
    assert.deepEqual(both.warnings.map((w) => w.code), ['EXTRA_XML']);
    const onlyXml = await readPackage(streamOf(await tgzOf([{ name: 'P/article.xml', content: xml }, { name: 'P/f1.png', content: 'png' }])));
    assert.equal(onlyXml.xmlName, 'article.xml');
    assert.deepEqual([...onlyXml.media.keys()], ['f1.png']);
    await assert.rejects(readPackage(streamOf(await tgzOf([{ name: 'P/f1.jpg', content: 'x' }, { name: 'P/main.pdf', content: 'x' }]))), { code: 'PACKAGE_NO_XML' });
  });

  test('per-entry and entry-count limits', async () => {
    const tgz = await tgzOf([{ name: 'P/main.nxml', content: xml }, { name: 'P/big.jpg', content: Buffer.alloc(5000) }, { name: 'P/small.jpg', content: 'x' }]);
    const contents = await readPackage(streamOf(tgz), { maxEntryBytes: 1000 });
    assert.deepEqual([...contents.media.keys()], ['small.jpg']);
    assert.deepEqual(contents.warnings.map((w) => w.code), ['ENTRY_TOO_LARGE']);
    await assert.rejects(readPackage(streamOf(tgz), { maxEntryBytes: 10 }), { code: 'PACKAGE_TOO_LARGE' });
    await assert.rejects(readPackage(streamOf(tgz), { maxEntries: 2 }), { code: 'PACKAGE_TOO_LARGE' });
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
