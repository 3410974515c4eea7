/**
 * `biomedica query`: filter a dataset through its Parquet index with an SQL predicate, without
 * reading the shards, and write either the matching keys (or index rows) or a new dataset folder
 * holding only the matching samples.
 *
 * The predicate sees one row per sample: every column of index/<group>.parquet, plus the article
 * table's columns (abstract, keywords, MeSH terms, ...) when it names one of them. It runs as a
 * single prepared statement, so it cannot smuggle in a second one.
 *
 * The subset copies each sample's tar bytes unchanged (its three members, headers included) from
 * the source shards into new shards cut by the same size rules, so its samples are byte-identical
 * to the source's, and `biomedica verify` accepts the new folder.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import { InterruptedError, ManifestError, UsageError } from '../../errors.js';
import { ensureDir, readJsonIfExists, readJsonl, sha256File, writeFileAtomic, writeJsonAtomic } from '../../storage/files.js';
import {
  ArticleRow,
  IndexRow,
  LICENSE_GROUPS,
  LOAD_SCHEMA,
  LOAD_VERSION,
  LoadManifest,
  DATASET_MANIFEST_HINTS,
  loadPaths,
  type SampleJson,
  type LicenseGroup,
  type ShardStats,
} from '../../manifest/load-manifest.js';
import type { StageContext } from '../../pipeline/context.js';
import { readManifest } from '../../manifest/read.js';
import { writeMarker } from '../../pipeline/runner.js';
import { renderCard } from './card.js';
import { shardStep } from './shard-step.js';
import { sqlIdent, sqlString, withDuckDb } from './parquet.js';
import { LeadChooser } from './lead.js';
import type { BuildScope, DatasetSummary } from './summary.js';
import { BLOCK, END_OF_ARCHIVE, memberBytes } from '../../storage/tar.js';

/** What --output writes, by the file's extension: DuckDB COPY options, or the key list. */
export const OUTPUT_FORMATS: Record<string, string | null> = {
  '.txt': null,
  '.parquet': 'FORMAT parquet, COMPRESSION zstd',
  '.csv': 'FORMAT csv, HEADER true',
  '.jsonl': 'FORMAT json',
  '.json': 'FORMAT json, ARRAY true',
};

export const QueryOptions = z.object({
  datasetDir: z.string().min(1),
  /** An SQL predicate over the index, e.g. "image_panel_type = 'Microscopy' AND image_width >= 256". */
  where: z.string().min(1),
  /** Matching keys, one a line (.txt); or the matching index rows (.parquet, .csv, .jsonl, .json). */
  output: z
    .string()
    .min(1)
    .refine((path) => Object.hasOwn(OUTPUT_FORMATS, extname(path).toLowerCase()), {
      message: `unknown output format; the file name must end in ${Object.keys(OUTPUT_FORMATS).join(', ')}`,
    })
    .optional(),
  /** A new dataset folder with only the matching samples. */
  subsetDir: z.string().min(1).optional(),
  /** Shard limits of the subset; default: the source dataset's. */
  shardMaxBytes: z.coerce.number().int().min(4096).optional(),
  shardMaxSamples: z.coerce.number().int().min(1).optional(),
});
export type QueryOptions = z.infer<typeof QueryOptions>;

export interface QueryResult {
  datasetDir: string;
  where: string;
  matched: number;
  byGroup: Record<LicenseGroup, number>;
  /** Absolute paths of what was written; '' when not asked for. */
  output: string;
  subsetDir: string;
  subsetShards: number;
}

const INDEX_COLUMNS = Object.keys(IndexRow.shape);
const ARTICLE_ONLY = Object.keys(ArticleRow.shape).filter((c) => !INDEX_COLUMNS.includes(c));

export async function runQuery(options: QueryOptions, ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>): Promise<QueryResult> {
  const root = resolve(options.datasetDir);
  const paths = loadPaths(root);
  const { value: manifest } = await readManifest(paths.manifest, LoadManifest, DATASET_MANIFEST_HINTS);
  if (!options.output && !options.subsetDir) {
    throw new UsageError('QUERY_NO_OUTPUT', 'nothing to write', { hint: 'pass --output FILE (keys) and/or --subset DIR (a new dataset)' });
  }
  const result: QueryResult = {
    datasetDir: root,
    where: options.where,
    matched: 0,
    byGroup: { commercial: 0, noncommercial: 0, other: 0 },
    output: '',
    subsetDir: '',
    subsetShards: 0,
  };
  if (manifest.groups.length === 0) return result;

  return withDuckDb(async (conn) => {
    const indexFiles = manifest.groups.map((g) => sqlString(join(root, g.index.file))).join(', ');
    const articleFiles = manifest.groups.map((g) => sqlString(join(root, g.articlesTable.file))).join(', ');
    await conn.run(`CREATE VIEW idx AS SELECT * FROM read_parquet([${indexFiles}])`);
    await conn.run(`CREATE VIEW art AS SELECT * FROM read_parquet([${articleFiles}])`);
    // Join the article table only when the predicate needs it: the index alone is much smaller.
    const needsArticles = ARTICLE_ONLY.some((c) => new RegExp(`\\b${c}\\b`).test(options.where));
    await conn.run(
      needsArticles
        ? `CREATE VIEW samples AS SELECT idx.*, ${ARTICLE_ONLY.map((c) => `art.${sqlIdent(c)}`).join(', ')} FROM idx LEFT JOIN art USING (article_id)`
        : 'CREATE VIEW samples AS SELECT * FROM idx',
    );
    const groupOrder = `CASE article_license_group ${LICENSE_GROUPS.map((g, i) => `WHEN ${sqlString(g)} THEN ${i}`).join(' ')} END`;
    const matching = (columns: string) => `SELECT ${columns} FROM samples WHERE (${options.where}) ORDER BY ${groupOrder}, shard, "offset"`;

    try {
      const counts = await (await conn.prepare(`SELECT article_license_group, count(*)::BIGINT FROM samples WHERE (${options.where}) GROUP BY ALL`)).runAndReadAll();
      for (const [group, n] of counts.getRowsJS()) {
        result.byGroup[String(group) as LicenseGroup] = Number(n);
        result.matched += Number(n);
      }
    } catch (cause) {
      throw new UsageError('QUERY_INVALID', `the predicate does not run: ${(cause as Error).message}`, {
        cause,
        hint: `one SQL predicate over the index columns, e.g. "image_panel_type = 'Microscopy'"; columns: ${INDEX_COLUMNS.join(', ')}, ${ARTICLE_ONLY.join(', ')}`,
      });
    }

    if (options.output) {
      const out = resolve(options.output);
      await ensureDir(dirname(out));
      const tmp = join(dirname(out), `.${basename(out)}.tmp`);
      const ext = extname(out).toLowerCase();
      const format = OUTPUT_FORMATS[ext];
      const copy = format
        ? `COPY (${matching(INDEX_COLUMNS.map(sqlIdent).join(', '))}) TO ${sqlString(tmp)} (${format})`
        : `COPY (${matching('key')}) TO ${sqlString(tmp)} (FORMAT csv, HEADER false)`;
      await (await conn.prepare(copy)).run();
      await rename(tmp, out);
      result.output = out;
    }

    if (options.subsetDir) {
      const subset = resolve(options.subsetDir);
      if (subset === root) throw new UsageError('QUERY_SUBSET_IS_SOURCE', 'the subset folder is the source dataset', { hint: 'name a new folder' });
      result.subsetShards = await writeSubset(conn, {
        source: root,
        sourceManifest: manifest,
        sourceManifestSha256: await sha256File(paths.manifest),
        subset,
        scope: { ...(await sourceScope(paths.summary, manifest)), subsetWhere: options.where },
        select: matching('key, shard, "offset", sample_bytes, article_id, article_license_group, image_bytes, image_panel_type'),
        shardMaxBytes: options.shardMaxBytes ?? manifest.options.shardMaxBytes,
        shardMaxSamples: options.shardMaxSamples ?? manifest.options.shardMaxSamples,
        ctx,
      });
      result.subsetDir = subset;
    }
    ctx.log.info({ datasetDir: root, matched: result.matched, output: result.output, subsetDir: result.subsetDir }, 'query finished');
    return result;
  });
}


interface Hit {
  key: string;
  shard: string;
  offset: number;
  sampleBytes: number;
  articleId: string;
  group: LicenseGroup;
  imageBytes: number;
  panelType: string;
}

/** The scope of the dataset a subset is cut from (its stats/summary.json), so the subset's card can state it. */
async function sourceScope(summaryPath: string, manifest: LoadManifest): Promise<BuildScope> {
  let summary: Partial<DatasetSummary> | undefined;
  try {
    summary = (await readJsonIfExists(summaryPath)) as Partial<DatasetSummary> | undefined;
  } catch (error) {
    // A damaged stats file costs the subset's card its scope line, not the query.
    if (!(error instanceof SyntaxError)) throw error;
  }
  if (summary?.scope?.source) return summary.scope;
  return { source: { kind: 'unknown', url: '', snapshotDate: manifest.snapshotDate } };
}

interface SubsetInput {
  source: string;
  sourceManifest: LoadManifest;
  sourceManifestSha256: string;
  subset: string;
  scope: BuildScope;
  select: string;
  shardMaxBytes: number;
  shardMaxSamples: number;
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>;
}

/** Reads sample byte ranges from the source shards, one open file at a time. */
class SourceReader {
  private handle: FileHandle | undefined;
  private name = '';
  constructor(private readonly root: string) {}
  async read(hit: Hit): Promise<Buffer> {
    await this.openShard(hit.shard);
    const buf = Buffer.alloc(hit.sampleBytes);
    const { bytesRead } = await this.handle!.read(buf, 0, buf.length, hit.offset);
    if (bytesRead !== buf.length) {
      throw new ManifestError('MANIFEST_MISMATCH', `${hit.shard} ends inside sample ${hit.key}`, { hint: `run biomedica verify ${this.root}` });
    }
    return buf;
  }
  /** Only the `.json` member: it follows the jpg member, whose size the index gives. */
  async readJson(hit: Hit): Promise<SampleJson> {
    await this.openShard(hit.shard);
    const at = hit.offset + memberBytes(hit.imageBytes);
    const header = Buffer.alloc(BLOCK);
    await this.handle!.read(header, 0, BLOCK, at);
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    if (name !== `${hit.key}.json` || !Number.isFinite(size)) {
      throw new ManifestError('MANIFEST_MISMATCH', `${hit.shard}: no ${hit.key}.json member where the index says`, { hint: `run biomedica verify ${this.root}` });
    }
    const data = Buffer.alloc(size);
    await this.handle!.read(data, 0, size, at + BLOCK);
    return JSON.parse(data.toString('utf8')) as SampleJson;
  }
  private async openShard(shard: string): Promise<void> {
    if (this.name === shard) return;
    await this.handle?.close();
    this.handle = await open(join(this.root, shard), 'r');
    this.name = shard;
  }
  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    this.name = '';
  }
}

async function writeSubset(conn: DuckDBConnection, input: SubsetInput): Promise<number> {
  const { subset, sourceManifest: src } = input;
  const paths = loadPaths(subset);
  await ensureDir(subset);
  await rm(paths.manifest, { force: true });
  await rm(paths.work, { recursive: true, force: true });
  await ensureDir(paths.work);

  // Pass 1: stream the matching rows to a staging file; choose each group's lead samples (lead.ts).
  const hitsFile = join(paths.work, 'hits.jsonl');
  const hits = createWriteStream(hitsFile);
  const mapping = createWriteStream(join(paths.work, 'mapping.jsonl'));
  const reader = new SourceReader(input.source);
  const leads = new Map(LICENSE_GROUPS.map((g) => [g, { chooser: new LeadChooser<Hit>(), n: 0 }]));
  const groups: LoadManifest['groups'] = [];
  const byPanelType: Record<string, number> = {};
  const labelled = src.upstream.transformSha256 !== '';
  let count = 0;
  try {
    const result = await (await conn.prepare(input.select)).stream();
    for await (const rows of result.yieldRowsJs()) {
      for (const [key, shard, offset, sampleBytes, articleId, group, imageBytes, panelType] of rows) {
        const hit: Hit = {
          key: String(key),
          shard: String(shard),
          offset: Number(offset),
          sampleBytes: Number(sampleBytes),
          articleId: String(articleId),
          group: String(group) as LicenseGroup,
          imageBytes: Number(imageBytes),
          panelType: String(panelType),
        };
        count++;
        const lead = leads.get(hit.group)!;
        lead.chooser.offer(lead.n++, await reader.readJson(hit), hit);
        if (!hits.write(JSON.stringify(hit) + '\n')) await once(hits, 'drain');
      }
    }
    hits.end();
    await once(hits, 'finish');

    // Pass 2: leads first, then the rest in order; cut into shards by the subset's limits.
    for (const group of LICENSE_GROUPS) {
      let shardHits: Hit[] = [];
      let shardBytes = 0;
      const shards: LoadManifest['groups'][number]['shards'] = [];
      const articles = new Set<string>();
      const flush = async () => {
        if (shardHits.length === 0) return;
        const n = shards.length;
        const written = await writeRawShard(paths.shard(group, n), shardHits, reader);
        const stats: ShardStats = {
          group,
          shard: paths.shardRel(group, n),
          sha256: written.sha256,
          bytes: written.bytes,
          samples: shardHits.length,
          articles: new Set(shardHits.map((h) => h.articleId)).size,
          imageBytes: shardHits.reduce((a, h) => a + h.imageBytes, 0),
          firstKey: shardHits[0]!.key,
          lastKey: shardHits.at(-1)!.key,
          byPanelType: countBy(shardHits.map((h) => h.panelType)),
        };
        await writeMarker(shardStep(subset), { id: stats.shard, key: written.inputSha256 }, { result: stats, outputs: { [stats.shard]: { bytes: stats.bytes, sha256: stats.sha256 } } });
        for (const [i, h] of shardHits.entries()) {
          const line = { key: h.key, shard: stats.shard, offset: written.offsets[i]! };
          if (!mapping.write(JSON.stringify(line) + '\n')) await once(mapping, 'drain');
        }
        shards.push({ shard: stats.shard, samples: stats.samples, bytes: stats.bytes, sha256: stats.sha256 });
        shardHits = [];
        shardBytes = 0;
      };
      const chosen = leads.get(group)!.chooser.choose();
      const skip = new Set(chosen.map((c) => c.index));
      async function* inOrder(): AsyncGenerator<Hit> {
        for (const c of chosen) yield c.item;
        let i = 0;
        for await (const hit of readJsonl<Hit>(hitsFile)) {
          if (hit.group === group && !skip.has(i++)) yield hit;
        }
      }
      for await (const hit of inOrder()) {
        if (input.ctx.signal.aborted) throw new InterruptedError('INTERRUPTED', 'query stopped', { hint: 'rerun it: the subset is written again from the start' });
        if (shardHits.length > 0 && (shardHits.length >= input.shardMaxSamples || shardBytes + hit.sampleBytes + END_OF_ARCHIVE > input.shardMaxBytes)) {
          await flush();
        }
        shardHits.push(hit);
        shardBytes += hit.sampleBytes;
        articles.add(hit.articleId);
        if (labelled) {
          const name = hit.panelType || '(unlabelled)';
          byPanelType[name] = (byPanelType[name] ?? 0) + 1;
        }
      }
      await flush();
      if (shards.length === 0) continue;
      groups.push({
        group,
        samples: shards.reduce((a, s) => a + s.samples, 0),
        articles: articles.size,
        bytes: shards.reduce((a, s) => a + s.bytes, 0),
        shards,
        index: { file: paths.indexRel(group), sha256: '', rows: 0 },
        articlesTable: { file: paths.articlesRel(group), sha256: '', rows: 0 },
      });
    }
    mapping.end();
    await once(mapping, 'finish');
  } finally {
    await reader.close();
    hits.destroy();
    mapping.destroy();
  }

  // Pass 2: the subset's index (source rows with their new shard and offset) and article rows.
  await ensureDir(join(subset, 'index'));
  await ensureDir(join(subset, 'articles'));
  const mappingSql = `read_json(${sqlString(join(paths.work, 'mapping.jsonl'))}, format = 'newline_delimited', columns = {'key': 'VARCHAR', 'shard': 'VARCHAR', 'offset': 'BIGINT'})`;
  await conn.run(`CREATE TEMP TABLE mapping AS SELECT * FROM ${mappingSql}`);
  for (const g of groups) {
    const columns = INDEX_COLUMNS.map((c) => (c === 'shard' || c === 'offset' ? `m.${sqlIdent(c)}` : `i.${sqlIdent(c)}`)).join(', ');
    g.index = await copyParquet(
      conn,
      `SELECT ${columns} FROM idx i JOIN mapping m USING (key) WHERE i.article_license_group = ${sqlString(g.group)} ORDER BY m.shard, m."offset"`,
      join(subset, g.index.file),
      g.index.file,
    );
    g.articlesTable = await copyParquet(
      conn,
      `SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn FROM read_parquet(${sqlString(join(input.source, `articles/${g.group}.parquet`))})) ` +
        `WHERE article_id IN (SELECT DISTINCT i.article_id FROM idx i JOIN mapping m USING (key) WHERE i.article_license_group = ${sqlString(g.group)}) ORDER BY rn`,
      join(subset, g.articlesTable.file),
      g.articlesTable.file,
    );
  }

  const totals = {
    samples: groups.reduce((a, g) => a + g.samples, 0),
    articles: groups.reduce((a, g) => a + g.articles, 0),
    shards: groups.reduce((a, g) => a + g.shards.length, 0),
    bytes: groups.reduce((a, g) => a + g.bytes, 0),
  };
  const summary: DatasetSummary = {
    scope: input.scope,
    layout: src.layout,
    snapshotDate: src.snapshotDate,
    ...totals,
    groups: LICENSE_GROUPS.map((group) => {
      const g = groups.find((x) => x.group === group);
      return { group, samples: g?.samples ?? 0, articles: g?.articles ?? 0, shards: g?.shards.length ?? 0, bytes: g?.bytes ?? 0 };
    }),
    labelled,
    unlabelled: 0,
    byPanelType,
    leftOut: { tombstonedArticles: 0, articlesWithoutSamples: 0, figuresFiltered: 0, figuresFailed: 0, subArticleFigures: 0, samplesFailed: 0 },
    filteredByReason: {},
    failures: { extract: {}, load: {} },
  };
  const manifest: LoadManifest = {
    schema: LOAD_SCHEMA,
    version: LOAD_VERSION,
    layout: src.layout,
    snapshotDate: src.snapshotDate,
    options: { shardMaxBytes: input.shardMaxBytes, shardMaxSamples: input.shardMaxSamples, includeSubArticles: src.options.includeSubArticles },
    upstream: { kind: 'dataset', manifestSha256: input.sourceManifestSha256, transformSha256: src.upstream.transformSha256 },
    groups,
    totals,
  };
  await writeFile(paths.failures, '');
  await writeJsonAtomic(paths.summary, summary);
  await writeFileAtomic(paths.card, renderCard(manifest, summary));
  await rm(paths.work, { recursive: true, force: true });
  await writeJsonAtomic(paths.manifest, manifest);
  input.ctx.log.info({ subset, samples: count, shards: totals.shards }, 'subset written');
  return totals.shards;
}

async function writeRawShard(
  path: string,
  hits: Hit[],
  reader: SourceReader,
): Promise<{ bytes: number; sha256: string; inputSha256: string; offsets: number[] }> {
  await ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  const handle = await open(tmp, 'w');
  const hash = createHash('sha256');
  const input = createHash('sha256');
  const offsets: number[] = [];
  let bytes = 0;
  try {
    for (const hit of hits) {
      const raw = await reader.read(hit);
      offsets.push(bytes);
      hash.update(raw);
      input.update(`${hit.key} ${hit.shard} ${hit.offset}\n`);
      await handle.write(raw);
      bytes += raw.length;
    }
    const end = Buffer.alloc(END_OF_ARCHIVE);
    hash.update(end);
    await handle.write(end);
    bytes += end.length;
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(tmp, path);
  return { bytes, sha256: hash.digest('hex'), inputSha256: input.digest('hex'), offsets };
}

async function copyParquet(conn: DuckDBConnection, select: string, path: string, rel: string): Promise<{ file: string; sha256: string; rows: number }> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  const res = await conn.run(`COPY (${select}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
  await rename(tmp, path);
  return { file: rel, sha256: await sha256File(path), rows: Number(res.rowsChanged) };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
