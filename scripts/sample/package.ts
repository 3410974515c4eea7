/**
 * Legacy package bytes: a gzip'd tar holding one directory `PMCn/` with the nxml, a PDF, the
 * figures and supplements. Byte-identical for identical input: fixed modes, owner names and
 * mtimes (the row's Last Updated), and node's gzip header, which carries mtime 0 and a fixed OS byte.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

const gzip = promisify(gzipCb);

export interface PackageFile {
  name: string;
  bytes: Buffer;
}

export async function tarGz(dir: string, files: readonly PackageFile[], mtime: Date): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const owner = { uid: 1000, gid: 1000, uname: 'pmc', gname: 'pmcdev', mtime };
  pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o775, ...owner });
  for (const f of files) pack.entry({ name: `${dir}/${f.name}`, type: 'file', mode: 0o664, size: f.bytes.length, ...owner }, f.bytes);
  pack.finalize();
  await done;
  return gzip(Buffer.concat(chunks), { level: 6 });
}

/** A small but well-formed one-page PDF standing in for the article PDF. */
export function dummyPdf(lines: readonly string[]): Buffer {
  const ascii = (s: string): string => s.replace(/<[^>]+>/g, '').replace(/&#x[0-9a-f]+;|&\w+;/gi, ' ').replace(/[^\x20-\x7e]/g, '?').replace(/([\\()])/g, '\\$1');
  const text = lines.map((l, i) => `BT /F1 ${i === 0 ? 14 : 10} Tf 56 ${760 - i * 22} Td (${ascii(l).slice(0, 95)}) Tj ET`).join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${Buffer.byteLength(text)} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(out));
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out);
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
