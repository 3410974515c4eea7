/**
 * `biomedica verify DIR`: re-read a dataset folder the way its users will and report every defect
 * with the file and the byte offset where it is. Nothing is trusted: each shard is streamed through
 * tar-stream (headers, checksums, sizes), each sample is checked against the key and field rules,
 * its JSON schema, its image (decoded with sharp, hash compared), its index row (key, shard, offset,
 * size, caption) and the shard's stats; the shard and table hashes are compared with the manifest.
 *
 * Memory: one shard's index rows and one sample at a time, plus a few images being decoded.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import tar from 'tar-stream';
import { ManifestError } from '../../errors.js';
import { sha256File } from '../../storage/files.js';
import {
  KEY_PATTERN,
  LICENSE_GROUPS,
  LOAD_SCHEMA,
  LOAD_VERSION,
  LoadManifest,
  SHARD_NAME,
  SampleJson,
  ShardStats,
  DATASET_MANIFEST_HINTS,
  loadPaths,
  type LicenseGroup,
} from '../../manifest/load-manifest.js';
import { readManifest } from '../../manifest/read.js';
import type { StageContext } from '../../pipeline/context.js';
import { UnitMarkerSchema } from '../../pipeline/runner.js';
import { sqlString, withDuckDb } from './parquet.js';
import { SAMPLE_EXTS } from './tar.js';
import { END_OF_ARCHIVE, memberBytes } from '../../storage/tar.js';

export interface Defect {
  /** The file the defect is in, relative to the dataset folder: 'commercial/000003.tar', 'index/other.parquet'. */
  file: string;
  /** Byte offset in that file (the sample's or member's first header), or null when it is not about one place. */
  offset: number | null;
  /** The sample's key when the defect belongs to one; '' otherwise. */
  key: string;
  code: string;
  message: string;
}

export interface VerifyReport {
  datasetDir: string;
  ok: boolean;
  shards: number;
  samples: number;
  bytes: number;
  /** Every defect found (up to `maxDefects`); `defectCount` counts them all. */
  defects: Defect[];
  defectCount: number;
  defectsByCode: Record<string, number>;
}

export interface VerifyOptions {
  /** Decode every image with sharp (the slow part). Default true. */
  decodeImages?: boolean;
  maxDefects?: number;
}

interface IndexEntry {
  key: string;
  offset: number;
  sampleBytes: number;
  caption: string;
  imageHash: string;
  jsonSha256: string;
}

const DECODES_IN_FLIGHT = 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function runVerify(
  datasetDir: string,
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const root = resolve(datasetDir);
  const paths = loadPaths(root);
  const maxDefects = options.maxDefects ?? 1000;
  const report: VerifyReport = { datasetDir: root, ok: false, shards: 0, samples: 0, bytes: 0, defects: [], defectCount: 0, defectsByCode: {} };
  const defect = (d: Defect) => {
    report.defectCount++;
    report.defectsByCode[d.code] = (report.defectsByCode[d.code] ?? 0) + 1;
    if (report.defects.length < maxDefects) report.defects.push(d);
  };

  const { value: manifest } = await readManifest(paths.manifest, LoadManifest, DATASET_MANIFEST_HINTS);
  if ((await stat(paths.card).catch(() => null)) === null) {
    defect({ file: 'README.md', offset: null, key: '', code: 'CARD_MISSING', message: 'the dataset card is missing' });
  }

  ctx.progress.start(manifest.totals.samples, 'verify');
  try {
    await withDuckDb(async (conn) => {
      for (const group of LICENSE_GROUPS) {
        const entry = manifest.groups.find((g) => g.group === group);
        await checkFolder(root, group, entry?.shards.map((s) => s.shard) ?? [], defect);
        if (!entry) continue;

        for (const table of [entry.index, entry.articlesTable]) {
          const actual = await sha256File(join(root, table.file)).catch(() => 'missing');
          if (actual !== table.sha256) {
            defect({ file: table.file, offset: null, key: '', code: 'TABLE_MISMATCH', message: actual === 'missing' ? 'file is missing' : 'sha256 differs from the manifest' });
          }
        }
        const indexPath = join(root, entry.index.file);
        const indexOk = (await stat(indexPath).catch(() => null)) !== null;
        if (indexOk) {
          const rows = await conn.runAndReadAll(`SELECT count(*)::BIGINT FROM read_parquet(${sqlString(indexPath)})`);
          const count = Number(rows.getRowsJS()[0]![0]);
          if (count !== entry.samples) {
            defect({ file: entry.index.file, offset: null, key: '', code: 'INDEX_MISMATCH', message: `index has ${count} rows, the manifest ${entry.samples} samples` });
          }
        }

        let groupSamples = 0;
        for (const shard of entry.shards) {
          if (ctx.signal.aborted) return;
          const index = new Map<string, IndexEntry>();
          if (indexOk) {
            const reader = await conn.runAndReadAll(
              `SELECT key, "offset", sample_bytes, caption, image_hash, json_sha256 FROM read_parquet(${sqlString(indexPath)}) WHERE shard = ${sqlString(shard.shard)} ORDER BY "offset"`,
            );
            for (const [key, offset, sampleBytes, caption, imageHash, jsonSha256] of reader.getRowsJS()) {
              index.set(String(key), {
                key: String(key),
                offset: Number(offset),
                sampleBytes: Number(sampleBytes),
                caption: String(caption),
                imageHash: String(imageHash),
                jsonSha256: String(jsonSha256),
              });
            }
          }
          const result = await verifyShard(root, group, shard, index, defect, options.decodeImages ?? true, () => ctx.progress.tick(1));
          report.shards++;
          report.samples += result.samples;
          report.bytes += result.bytes;
          groupSamples += result.samples;
          await checkShardStats(root, group, shard, result, defect);
        }
        if (groupSamples !== entry.samples) {
          defect({ file: `${group}/`, offset: null, key: '', code: 'STATS_MISMATCH', message: `shards hold ${groupSamples} samples, the manifest says ${entry.samples}` });
        }
      }
      // Keys are unique across the whole dataset, not only within a group.
      const indexes: string[] = [];
      for (const g of manifest.groups) {
        if ((await stat(join(root, g.index.file)).catch(() => null)) !== null) indexes.push(sqlString(join(root, g.index.file)));
      }
      if (indexes.length > 0) {
        const dupes = await conn.runAndReadAll(
          `SELECT key, count(*)::INTEGER, min(shard) FROM read_parquet([${indexes.join(', ')}]) GROUP BY key HAVING count(*) > 1 ORDER BY key LIMIT 100`,
        );
        for (const [key, n, shard] of dupes.getRowsJS()) {
          defect({ file: String(shard), offset: null, key: String(key), code: 'DUPLICATE_KEY', message: `key occurs ${String(n)} times in the index` });
        }
      }
    });
  } finally {
    ctx.progress.stop();
  }
  report.ok = report.defectCount === 0;
  ctx.log.info({ datasetDir: root, shards: report.shards, samples: report.samples, defects: report.defectCount }, 'verify finished');
  return report;
}


/** A group folder holds exactly the manifest's shards, numbered from 000000 without gaps. */
async function checkFolder(root: string, group: LicenseGroup, expected: string[], defect: (d: Defect) => void): Promise<void> {
  const names = await readdir(join(root, group)).catch(() => [] as string[]);
  const present = new Set(names.map((n) => `${group}/${n}`));
  expected.forEach((shard, i) => {
    if (shard !== `${group}/${String(i).padStart(6, '0')}.tar`) {
      defect({ file: shard, offset: null, key: '', code: 'SHARD_NAME', message: `shard ${i} of ${group} should be named ${String(i).padStart(6, '0')}.tar` });
    }
    if (!present.has(shard)) defect({ file: shard, offset: null, key: '', code: 'SHARD_MISSING', message: 'the manifest lists this shard but it is not there' });
  });
  const listed = new Set(expected);
  for (const name of names) {
    const rel = `${group}/${name}`;
    if (!listed.has(rel)) {
      defect({ file: rel, offset: null, key: '', code: 'UNEXPECTED_FILE', message: SHARD_NAME.test(name) ? 'a shard the manifest does not list' : 'a file that is not a shard' });
    }
  }
  if (names.length >= 10_000) defect({ file: `${group}/`, offset: null, key: '', code: 'FOLDER_TOO_BIG', message: `${names.length} files; the Hub allows fewer than 10,000 per folder` });
}

interface ShardResult {
  samples: number;
  bytes: number;
  sha256: string;
}

interface Member {
  name: string;
  ext: string;
  offset: number;
  data: Buffer;
}

async function verifyShard(
  root: string,
  group: LicenseGroup,
  shard: LoadManifest['groups'][number]['shards'][number],
  index: Map<string, IndexEntry>,
  defect: (d: Defect) => void,
  decodeImages: boolean,
  tick: () => void,
): Promise<ShardResult> {
  const file = shard.shard;
  const path = join(root, file);
  const size = await stat(path).then((s) => s.size, () => -1);
  if (size < 0) return { samples: 0, bytes: 0, sha256: '' };
  if (size !== shard.bytes) {
    defect({ file, offset: Math.min(size, shard.bytes), key: '', code: 'SIZE_MISMATCH', message: `shard has ${size} bytes, the manifest says ${shard.bytes}` });
  }

  const hash = createHash('sha256');
  const extract = tar.extract();
  const feed = (async () => {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      if (!extract.write(chunk)) await once(extract, 'drain');
    }
    extract.end(undefined);
  })();
  feed.catch((error) => extract.destroy(error as Error));

  const seen = new Set<string>();
  const decoding = new Set<Promise<void>>();
  let samples = 0;
  let pos = 0;
  let current: Member[] = [];
  let entryOffset = 0;
  let corrupt = false;
  /** [end of data, end of padding) of every member: tar-stream skips padding unread. */
  const padding: [number, number][] = [];

  const finishSample = async (members: Member[]) => {
    if (members.length === 0) return;
    samples++;
    tick();
    const key = members[0]!.name;
    const offset = members[0]!.offset;
    const at = (code: string, message: string, where = offset) => defect({ file, offset: where, key, code, message });
    const exts = members.map((m) => m.ext).join(',');
    if (exts !== SAMPLE_EXTS.join(',')) at('SAMPLE_INCOMPLETE', `members ${exts}; every sample needs ${SAMPLE_EXTS.join(',')}`);
    if (seen.has(key)) at('DUPLICATE_KEY', 'key occurs twice in the shard');
    seen.add(key);

    const row = index.get(key);
    const sampleBytes = members.reduce((a, m) => a + memberBytes(m.data.length), 0);
    if (!row) at('INDEX_MISMATCH', 'no index row names this sample in this shard');
    else {
      index.delete(key);
      if (row.offset !== offset) at('INDEX_MISMATCH', `index offset ${row.offset}, found at ${offset}`);
      if (row.sampleBytes !== sampleBytes) at('INDEX_MISMATCH', `index size ${row.sampleBytes}, found ${sampleBytes}`);
    }

    const byExt = new Map(members.map((m) => [m.ext, m]));
    const txt = byExt.get('txt');
    if (txt) {
      let caption: string | undefined;
      try {
        caption = utf8.decode(txt.data);
      } catch {
        at('TXT_ENCODING', 'caption is not valid UTF-8', txt.offset);
      }
      if (caption !== undefined && row && caption !== row.caption) at('INDEX_MISMATCH', 'caption differs from the index', txt.offset);
    }

    const jsonMember = byExt.get('json');
    let json: SampleJson | undefined;
    if (jsonMember) {
      if (row && createHash('sha256').update(jsonMember.data).digest('hex') !== row.jsonSha256) {
        at('JSON_HASH', 'json bytes differ from what the index recorded', jsonMember.offset);
      }
      try {
        const parsed = SampleJson.safeParse(JSON.parse(utf8.decode(jsonMember.data)));
        if (parsed.success) json = parsed.data;
        else {
          const issue = parsed.error.issues[0]!;
          at('JSON_SCHEMA', `${issue.path.join('.') || '(root)'}: ${issue.message} (${parsed.error.issues.length} issues)`, jsonMember.offset);
        }
      } catch (error) {
        at('JSON_INVALID', `not JSON: ${(error as Error).message}`, jsonMember.offset);
      }
      if (json && json.key !== key) at('JSON_SCHEMA', `json.key is "${json.key}"`, jsonMember.offset);
      if (json && json.article_license_group !== group) at('WRONG_GROUP', `a ${json.article_license_group} sample in the ${group} folder`, jsonMember.offset);
    }

    const jpg = byExt.get('jpg');
    if (jpg) {
      const digest = createHash('sha256').update(jpg.data).digest('hex');
      if (json && digest !== json.image_hash) at('IMAGE_HASH', 'image bytes do not match image_hash', jpg.offset);
      else if (row && digest !== row.imageHash) at('IMAGE_HASH', 'image bytes do not match the index', jpg.offset);
      if (decodeImages) {
        while (decoding.size >= DECODES_IN_FLIGHT) await Promise.race(decoding);
        const task = decode(jpg.data).then(
          (dims) => {
            if (json && (dims.width !== json.image_size[0] || dims.height !== json.image_size[1])) {
              at('IMAGE_SIZE', `decoded ${dims.width}x${dims.height}, image_size says ${json.image_size.join('x')}`, jpg.offset);
            }
          },
          (error: Error) => at('IMAGE_DECODE', `image does not decode: ${error.message}`, jpg.offset),
        );
        const tracked = task.finally(() => decoding.delete(tracked));
        decoding.add(tracked);
      }
    }
  };

  try {
    for await (const entry of extract) {
      const header = entry.header;
      entryOffset = pos;
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      const entrySize = header.size ?? 0;
      pos += memberBytes(entrySize);
      padding.push([entryOffset + 512 + entrySize, pos]);
      if ('pax' in header && header.pax) {
        defect({ file, offset: entryOffset, key: '', code: 'TAR_HEADER', message: 'unexpected pax header: offsets after it are off' });
      }
      if (header.type !== 'file') {
        defect({ file, offset: entryOffset, key: '', code: 'TAR_HEADER', message: `member ${header.name} is a ${header.type}, not a file` });
        continue;
      }
      const dot = header.name.indexOf('.');
      const key = dot < 0 ? header.name : header.name.slice(0, dot);
      const ext = dot < 0 ? '' : header.name.slice(dot + 1);
      if (!KEY_PATTERN.test(key) || !(SAMPLE_EXTS as readonly string[]).includes(ext)) {
        defect({ file, offset: entryOffset, key, code: 'KEY_INVALID', message: `member name "${header.name}" is not <key>.{${SAMPLE_EXTS.join(',')}} with a key of [A-Za-z0-9_-]` });
      }
      if (current.length > 0 && current[0]!.name !== key) {
        await finishSample(current);
        current = [];
      }
      current.push({ name: key, ext, offset: entryOffset, data });
    }
    await finishSample(current);
    if (pos + END_OF_ARCHIVE !== size) {
      defect({ file, offset: pos, key: '', code: 'TAR_TRAILER', message: `archive members end at ${pos}; expected ${END_OF_ARCHIVE} zero bytes and the end of the file (size ${size})` });
    }
  } catch (error) {
    // `pos` is where the reader stopped: the header of the member it was reading, or of the next one.
    defect({ file, offset: pos, key: current[0]?.name ?? '', code: 'TAR_CORRUPT', message: (error as Error).message });
    corrupt = true;
    await feed.catch(() => {});
  }
  await Promise.all(decoding);
  await feed.catch(() => {});
  const unread = [...index.values()];
  if (corrupt && unread.length > 0) {
    // One defect, not one per sample: everything after the break is unreadable for the same reason.
    const first = unread.reduce((a, b) => (b.offset < a.offset ? b : a));
    defect({ file, offset: first.offset, key: first.key, code: 'INDEX_MISMATCH', message: `${unread.length} samples of the index, from this offset on, could not be read` });
  } else {
    for (const row of unread) {
      defect({ file, offset: row.offset, key: row.key, code: 'INDEX_MISMATCH', message: 'the index names a sample the shard does not hold' });
    }
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== shard.sha256) {
    const at = await firstNonZero(path, [...padding, [pos, size]]);
    if (at !== null) defect({ file, offset: at, key: '', code: 'TAR_PADDING', message: 'non-zero byte in tar padding or end-of-archive blocks' });
    defect({ file, offset: null, key: '', code: 'SHA256_MISMATCH', message: 'shard sha256 differs from the manifest' });
  }
  if (samples !== shard.samples) {
    defect({ file, offset: null, key: '', code: 'STATS_MISMATCH', message: `shard holds ${samples} samples, the manifest says ${shard.samples}` });
  }
  return { samples, bytes: size, sha256 };
}

/** The first non-zero byte inside the given ranges (which must all be zeros in our shards). */
async function firstNonZero(path: string, ranges: [number, number][]): Promise<number | null> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(END_OF_ARCHIVE);
    for (const [start, end] of ranges) {
      for (let at = start; at < end; at += buf.length) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, end - at), at);
        for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0) return at + i;
        if (bytesRead === 0) break;
      }
    }
    return null;
  } finally {
    await handle.close();
  }
}

async function decode(data: Buffer): Promise<{ width: number; height: number }> {
  const { info } = await sharp(data, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height };
}

async function checkShardStats(
  root: string,
  group: LicenseGroup,
  shard: LoadManifest['groups'][number]['shards'][number],
  result: ShardResult,
  defect: (d: Defect) => void,
): Promise<void> {
  const n = Number(shard.shard.slice(group.length + 1, group.length + 7));
  const rel = `stats/${group}/${String(n).padStart(6, '0')}.json`;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(root, rel), 'utf8'));
  } catch {
    defect({ file: rel, offset: null, key: '', code: 'STATS_MISSING', message: `no readable stats for ${shard.shard}` });
    return;
  }
  const marker = UnitMarkerSchema.safeParse(raw);
  const stats = ShardStats.safeParse(marker.success ? marker.data.result : undefined);
  if (!stats.success) {
    defect({ file: rel, offset: null, key: '', code: 'STATS_MISMATCH', message: 'stats file does not match its schema' });
    return;
  }
  const s = stats.data;
  if (s.shard !== shard.shard || s.samples !== shard.samples || s.bytes !== shard.bytes || s.sha256 !== shard.sha256) {
    defect({ file: rel, offset: null, key: '', code: 'STATS_MISMATCH', message: `stats say ${s.samples} samples, ${s.bytes} bytes; the manifest ${shard.samples}, ${shard.bytes}` });
  }
  if (result.samples !== s.samples && result.samples === shard.samples) {
    defect({ file: rel, offset: null, key: '', code: 'STATS_MISMATCH', message: `stats say ${s.samples} samples, the shard holds ${result.samples}` });
  }
}

export function formatVerifyReport(r: VerifyReport): string {
  const lines = [
    `${r.ok ? 'OK' : 'DEFECTS'}: ${r.datasetDir}: ${r.shards} shards, ${r.samples} samples, ${r.defectCount} defects`,
  ];
  for (const d of r.defects) {
    lines.push(`  ${d.file}${d.offset === null ? '' : ` @${d.offset}`}${d.key ? ` [${d.key}]` : ''} ${d.code}: ${d.message}`);
  }
  if (r.defectCount > r.defects.length) lines.push(`  ... and ${r.defectCount - r.defects.length} more`);
  return lines.join('\n');
}
