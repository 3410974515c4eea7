/**
 * Hostile PMC packages, built in the test from a small JATS template and real images: archive
 * entries that try to escape, bombs of every kind, truncated and mislabelled files.
 */
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, deflateSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { corpusDir } from './servers.js';

export function jatsArticle(pmcid: string, figures: { id: string; href: string; caption: string }[], prolog = ''): string {
  const figs = figures
    .map(
      (f) =>
        `<fig id="${f.id}"><label>Figure ${f.id}</label><caption><p>${f.caption}</p></caption><graphic xlink:href="${f.href}"/></fig>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>${prolog}
<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="research-article">
<front><journal-meta><journal-title-group><journal-title>Hostile J</journal-title></journal-title-group></journal-meta>
<article-meta><article-id pub-id-type="pmc">${pmcid.replace('PMC', '')}</article-id>
<title-group><article-title>Article ${pmcid}</article-title></title-group>
<pub-date pub-type="epub"><day>2</day><month>3</month><year>2021</year></pub-date></article-meta></front>
<body><sec><p>See <xref ref-type="fig" rid="${figures.map((f) => f.id).join(' ')}">the figures</xref>.</p>
${figs}</sec></body></article>`;
}

export interface Entry {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'symlink' | 'link';
  linkname?: string;
  pax?: Record<string, string>;
}

export async function writeTarGz(path: string, entries: Entry[]): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createGzip(), createWriteStream(path));
  for (const e of entries) {
    const body = e.data === undefined ? undefined : Buffer.from(e.data);
    const header: Parameters<tar.Pack["entry"]>[0] = {
      name: e.name,
      type: e.type ?? 'file',
      size: body?.length ?? 0,
      mtime: new Date(0),
      ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
      ...(e.pax === undefined ? {} : { pax: e.pax }),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      // Links carry no data: an empty buffer ends their entry at once.
      pack.entry(header, body ?? '', done);
    });
  }
  pack.finalize();
  await done;
}

/** A valid PNG header claiming `side`×`side` pixels whose IDAT inflates to gigabytes of zeros. */
export function pngBomb(side: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  // Only the first rows are real data: enough for a decoder to start, and the header alone
  // already claims side² pixels.
  const rows = Buffer.alloc((side + 1) * 64);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const realJpeg = () => readFile(join(corpusDir, 'images', 'encoda', 'elife-30274-v1', 'fig1.jpg'));

/**
 * Build every hostile package in `dir` and return their paths, named PMC9000001… so that a
 * legacy mirror can list them. `expected` says what each must end as.
 */
export async function buildHostilePackages(dir: string): Promise<{ packages: string[]; expected: Record<string, string> }> {
  const jpeg = await realJpeg();
  const packages: string[] = [];
  const expected: Record<string, string> = {};
  const add = async (pmcid: string, entries: Entry[], outcome: string, raw?: Buffer) => {
    const path = join(dir, `${pmcid}.tar.gz`);
    if (raw) await writeFile(path, raw);
    else await writeTarGz(path, entries);
    packages.push(path);
    expected[pmcid] = outcome;
  };
  const one = (pmcid: string, href = 'fig1') => jatsArticle(pmcid, [{ id: 'F1', href, caption: 'A caption.' }]);

  // Escaping entries are skipped; the article itself is fine and its good image comes out.
  await add(
    'PMC9000001',
    [
      { name: 'PMC9000001/a.nxml', data: one('PMC9000001') },
      { name: 'PMC9000001/fig1.jpg', data: jpeg },
      { name: '../../escape-dotdot.jpg', data: jpeg },
      { name: '/tmp/escape-absolute.jpg', data: jpeg },
      { name: 'PMC9000001/link.jpg', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'PMC9000001/hard.jpg', type: 'link', linkname: '../../etc/passwd' },
      { name: 'PMC9000001/pax.jpg', data: jpeg, pax: { path: '../../escape-pax.jpg' } },
    ],
    'ok',
  );
  // 300 MB of zeros in one entry: the inflated-bytes cap stops it.
  const zeros = Buffer.alloc(300 * 1024 * 1024);
  await add('PMC9000002', [], 'PACKAGE_TOO_LARGE', await gzipTar('PMC9000002', one('PMC9000002'), zeros));
  // A real package cut in half.
  const real = await readFile(join(corpusDir, 'packages', 'PMC7112410.tar.gz'));
  await add('PMC9000003', [], 'PACKAGE_CORRUPT', real.subarray(0, Math.floor(real.length / 2)));
  // Entity bomb and external entity in the nXML.
  const bomb =
    '<!DOCTYPE article [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>';
  await add(
    'PMC9000004',
    [
      { name: 'PMC9000004/a.nxml', data: jatsArticle('PMC9000004', [{ id: 'F1', href: 'fig1', caption: '&g;' }], bomb) },
      { name: 'PMC9000004/fig1.jpg', data: jpeg },
    ],
    'XML_ENTITY',
  );
  await add(
    'PMC9000005',
    [
      {
        name: 'PMC9000005/a.nxml',
        data: jatsArticle('PMC9000005', [{ id: 'F1', href: 'fig1', caption: '&xxe;' }], '<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
      },
      { name: 'PMC9000005/fig1.jpg', data: jpeg },
    ],
    'XML_ENTITY',
  );
  // Image-level trouble: the article comes out, each bad figure is a recorded image failure.
  await add(
    'PMC9000006',
    [
      {
        name: 'PMC9000006/a.nxml',
        data: jatsArticle('PMC9000006', [
          { id: 'F1', href: 'bomb', caption: 'Decompression bomb.' },
          { id: 'F2', href: 'empty', caption: 'Zero bytes.' },
          { id: 'F3', href: 'html', caption: 'HTML named jpg.' },
          { id: 'F4', href: 'good', caption: 'The good one.' },
        ]),
      },
      { name: 'PMC9000006/bomb.png', data: pngBomb(40000) },
      { name: 'PMC9000006/empty.jpg', data: '' },
      { name: 'PMC9000006/html.jpg', data: '<html><body>Not found</body></html>' },
      { name: 'PMC9000006/good.jpg', data: jpeg },
    ],
    'ok',
  );
  return { packages, expected };
}

async function gzipTar(pmcid: string, xml: string, big: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  pack.entry({ name: `${pmcid}/a.nxml`, mtime: new Date(0) }, xml);
  pack.entry({ name: `${pmcid}/huge.jpg`, size: big.length, mtime: new Date(0) }, big);
  pack.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}
