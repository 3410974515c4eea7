/**
 * Hostile PMC packages, built in the test from a small JATS template and real images: archive
 * entries that try to escape, bombs of every kind, truncated and mislabelled files.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
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
  type?: 'file' | 'symlink' | 'link' | 'directory' | 'character-device' | 'fifo';
  linkname?: string;
  pax?: Record<string, string>;
}

export async function writeTarGz(path: string, entries: Entry[]): Promise<void> {
  await writeFile(path, gzipSync(await tarOf(entries)));
}

/** A ustar header for a regular file of `size` bytes; sizes past 8 GiB in GNU base-256. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  if (size < 8 ** 11) h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  else {
    h[124] = 0x80;
    for (let i = 135, rest = size; i > 124; i--, rest = Math.floor(rest / 256)) h[i] = rest % 256;
  }
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** An entry of `mib` MiB of zeros: a gzip bomb's payload. */
export interface ZeroEntry {
  name: string;
  mib: number;
}

const ZERO_MEMBER_MIB = 8;
let zeroMember: Buffer | undefined;

/**
 * A .tar.gz whose zero entries cost about 1 KB per MiB, built in milliseconds: gzip allows
 * concatenated members, so each zero entry is its header in one member and then one precompressed
 * member of 8 MiB of zeros repeated (a 2 GiB entry is a 2 MB file, the size of the bomb in
 * issue 7). Ordinary entries go through tar-stream as usual.
 */
export async function bombTarGz(parts: (Entry | ZeroEntry)[]): Promise<Buffer> {
  zeroMember ??= gzipSync(Buffer.alloc(ZERO_MEMBER_MIB << 20), { level: 9 });
  const members: Buffer[] = [];
  for (const part of parts) {
    if ('mib' in part) {
      if (part.mib % ZERO_MEMBER_MIB !== 0) throw new Error(`zero entries come in multiples of ${ZERO_MEMBER_MIB} MiB`);
      members.push(gzipSync(tarHeader(part.name, part.mib * 1024 * 1024)));
      for (let i = 0; i < part.mib / ZERO_MEMBER_MIB; i++) members.push(zeroMember);
      continue;
    }
    const tarBytes = await tarOf([part]);
    // Keep the entry, drop tar-stream's end-of-archive blocks: more entries follow.
    members.push(gzipSync(tarBytes.subarray(0, tarBytes.length - 1024)));
  }
  members.push(gzipSync(Buffer.alloc(1024)));
  return Buffer.concat(members);
}

/** The uncompressed tar of `entries`, in order; links and special entries carry no data. */
export async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const body = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const header: Parameters<tar.Pack["entry"]>[0] = {
      name: e.name,
      type: e.type ?? 'file',
      size: body.length,
      mtime: new Date(0),
      ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
      ...(e.pax === undefined ? {} : { pax: e.pax }),
    };
    await new Promise<void>((resolve, reject) => pack.entry(header, body, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
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

/** The package limits buildHostilePackages' bombs are made for. */
export const BOMB_LIMITS = { maxEntryBytes: 16 << 20, maxTotalBytes: 64 << 20 } as const;

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
  // Gzip bombs next to real figures (a 24 MiB entry over the per-entry cap, then one declaring
  // 2 GiB): the figures before the 2 GiB entry come out, the rest is recorded. Run with
  // package.maxEntryBytes 16 MiB and maxTotalBytes 64 MiB (see BOMB_LIMITS).
  await add(
    'PMC9000002',
    [],
    'ok',
    await bombTarGz([
      {
        name: 'PMC9000002/a.nxml',
        data: jatsArticle('PMC9000002', [
          { id: 'F1', href: 'fig1', caption: 'Before the bombs.' },
          { id: 'F2', href: 'fig2', caption: 'Between the bombs.' },
          { id: 'F3', href: 'fig3', caption: 'After the 2 GiB entry.' },
        ]),
      },
      { name: 'PMC9000002/fig1.jpg', data: jpeg },
      { name: 'PMC9000002/big.jpg', mib: 24 },
      { name: 'PMC9000002/fig2.jpg', data: jpeg },
      { name: 'PMC9000002/huge.jpg', mib: 2048 },
      { name: 'PMC9000002/fig3.jpg', data: jpeg },
    ]),
  );
  // The same 2 GiB entry before the XML: nothing of the article can be had.
  await add(
    'PMC9000007',
    [],
    'PACKAGE_TOO_LARGE',
    await bombTarGz([{ name: 'PMC9000007/huge.jpg', mib: 2048 }, { name: 'PMC9000007/a.nxml', data: one('PMC9000007') }, { name: 'PMC9000007/fig1.jpg', data: jpeg }]),
  );
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
