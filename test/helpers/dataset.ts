/** Reading a dataset folder back in tests: tar members with offsets, file hashes, Parquet rows. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import tar from 'tar-stream';
import { withDuckDb, sqlString } from '../../src/stages/load/parquet.js';

export interface ReadMember {
  name: string;
  offset: number;
  data: Buffer;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  uname: string;
  gname: string;
}

/** Every member of a tar file, with the byte offset of its header (no pax headers expected). */
export async function readShard(path: string): Promise<ReadMember[]> {
  const extract = tar.extract();
  const bytes = await readFile(path);
  extract.end(bytes);
  const out: ReadMember[] = [];
  let pos = 0;
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header;
    out.push({
      name: h.name,
      offset: pos,
      data: Buffer.concat(chunks),
      mode: h.mode ?? -1,
      uid: h.uid ?? -1,
      gid: h.gid ?? -1,
      mtime: h.mtime?.getTime() ?? -1,
      uname: h.uname ?? '',
      gname: h.gname ?? '',
    });
    pos += 512 + Math.ceil((h.size ?? 0) / 512) * 512;
  }
  return out;
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** sha256 of every file under `dir`, by relative path. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await listFiles(dir)) out[f] = createHash('sha256').update(await readFile(join(dir, f))).digest('hex');
  return out;
}

export async function parquetRows(path: string, sql = 'SELECT * FROM t'): Promise<Record<string, unknown>[]> {
  return withDuckDb(async (conn) => {
    await conn.run(`CREATE VIEW t AS SELECT * FROM read_parquet(${sqlString(path)})`);
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  });
}

export { hasPython } from './python.js';
