/**
 * Sync state: what the last run saw and decided for every article version, so the next night only
 * touches what changed. See README.md in this folder for the whole design.
 *
 *   <out>/extract/state/versions-<inventory folder>.jsonl.gz   one StateRow per inventory version,
 *                                                              sorted by (pmcid number, version)
 *   <out>/extract/state/state.json                             SyncState: the committed pointer
 *
 * The versions file of a night is written while planning, under a name of its own; state.json is
 * switched to it (atomically) only when every unit of the run is done, so a killed run leaves the
 * previous state in force and the plan's epoch resumes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import { createGzip } from 'node:zlib';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../storage/files.js';
import { lineBatches } from './lines.js';

export const StateStatus = z.enum([
  /** The version chosen for its article and planned for extraction (articleId and unit set). */
  'extracted',
  /** The chosen version, kept out by the filter (reason: retracted, license, updated-range). */
  'excluded',
  /** Not open access (passed over when choosing the article's version). */
  'not-open-access',
  /** A lower version than the chosen one; its metadata may never have been read (oa null). */
  'superseded',
  /** Listed in the inventory but its metadata JSON answered 404. */
  'missing',
]);
export type StateStatus = z.infer<typeof StateStatus>;

export const StateRow = z.object({
  key: z.string(),
  etag: z.string(),
  lastModified: z.string(),
  /** is_pmc_openaccess as last read; null when the metadata was not read. */
  oa: z.boolean().nullable(),
  status: StateStatus,
  reason: z.string(),
  articleId: z.string(),
  unit: z.string(),
});
export type StateRow = z.infer<typeof StateRow>;

/** A state row with its parsed sort key, as the diff uses it. */
export interface KeyedStateRow extends StateRow {
  pmcNum: number;
  version: number;
  /** The line it was read from: an unchanged row is written back as is, not re-serialized. */
  raw?: string;
}

export const SyncState = z.object({
  schema: z.literal('biomedica.sync.state'),
  version: z.literal(1),
  /** Source URL, filter and unit size the state was made under; another one is another dataset. */
  inputSha256: z.string(),
  /** ISO date of the inventory the state reflects. */
  snapshotDate: z.string(),
  /** Plan epoch whose run committed this state. */
  epoch: z.number().int(),
  versionsFile: z.string(),
  versionsSha256: z.string(),
  rows: z.number().int(),
  /** Articles that failed in the committed run: the next night treats them as changed. */
  retry: z.array(z.string()),
});
export type SyncState = z.infer<typeof SyncState>;

export const statePaths = (outDir: string) => {
  const dir = join(outDir, 'extract', 'state');
  return {
    dir,
    state: join(dir, 'state.json'),
    versions: (folder: string) => join(dir, `versions-${folder}.jsonl.gz`),
  };
};

export async function readSyncState(outDir: string): Promise<SyncState | undefined> {
  const path = statePaths(outDir).state;
  const raw = await readJsonIfExists(path);
  if (raw === undefined) return undefined;
  const parsed = SyncState.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestError('STATE_INVALID', `unreadable sync state at ${path}`, {
      path,
      hint: 'delete the extract/state folder to rebuild it from a full listing',
    });
  }
  return parsed.data;
}

export async function commitSyncState(outDir: string, state: SyncState): Promise<void> {
  const paths = statePaths(outDir);
  await writeJsonAtomic(paths.state, state);
}

/**
 * A state row read back. The fields every row is compared on (key, ETag, article id) are cut
 * from the line; the others are parsed on first use, which only the few changed articles of a
 * night need. JSON.parse of 8 million lines was the largest cost of a night's diff.
 */
class ReadStateRow implements KeyedStateRow {
  private parsed: StateRow | undefined;
  constructor(
    readonly raw: string,
    readonly key: string,
    readonly etag: string,
    readonly articleId: string,
    readonly pmcNum: number,
    readonly version: number,
  ) {}
  private get all(): StateRow {
    return (this.parsed ??= JSON.parse(this.raw) as StateRow);
  }
  get lastModified(): string {
    return this.all.lastModified;
  }
  get oa(): boolean | null {
    return this.all.oa;
  }
  get status(): StateStatus {
    return this.all.status;
  }
  get reason(): string {
    return this.all.reason;
  }
  get unit(): string {
    return this.all.unit;
  }
}

const AID = '{"articleId":"';
const ETAG = '","etag":"';
const KEY = '","key":"';

function readStateLine(line: string, path: string): KeyedStateRow {
  let articleId: string | undefined;
  let etag: string | undefined;
  let key: string | undefined;
  // Our writer's layout, and no escapes in the line: cut the three fields without a parse.
  if (line.startsWith(AID) && line.indexOf('\\') < 0) {
    const a = line.indexOf('"', AID.length);
    if (a > 0 && line.startsWith(ETAG, a)) {
      const e = line.indexOf('"', a + ETAG.length);
      if (e > 0 && line.startsWith(KEY, e)) {
        const k = line.indexOf('"', e + KEY.length);
        if (k > 0) {
          articleId = line.slice(AID.length, a);
          etag = line.slice(a + ETAG.length, e);
          key = line.slice(e + KEY.length, k);
        }
      }
    }
  }
  if (key === undefined || etag === undefined || articleId === undefined) {
    const row = JSON.parse(line) as StateRow;
    ({ key, etag, articleId } = row);
  }
  const dot = key.indexOf('.');
  const pmcNum = Number(key.slice(3, dot));
  const version = Number(key.slice(dot + 1));
  if (!key.startsWith('PMC') || dot < 0 || !Number.isInteger(pmcNum) || !Number.isInteger(version)) {
    throw new ManifestError('STATE_INVALID', `bad version key "${key}" in ${path}`, { path, hint: 'delete the extract/state folder to rebuild it from a full listing' });
  }
  return new ReadStateRow(line, key, etag, articleId, pmcNum, version);
}

/** The rows of a versions file, in file order (which is sort order), in batches. */
export async function* readStateRows(path: string): AsyncGenerator<KeyedStateRow[]> {
  for await (const lines of lineBatches(path)) {
    const rows: KeyedStateRow[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) rows[i] = readStateLine(lines[i]!, path);
    yield rows;
  }
}

/** Rows go to a gzip temp file, hashed as written; finish() renames it into place. */
export class StateWriter {
  private readonly hash = createHash('sha256');
  private readonly tmp: string;
  private readonly gzip = createGzip({ level: 1, chunkSize: 1 << 18 });
  private readonly out;
  private pendingText = '';
  rows = 0;

  constructor(readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.tmp`);
    this.out = createWriteStream(this.tmp);
    // The hash is of the file's bytes (compressed: a fifth of the text to hash).
    this.gzip.on('data', (chunk: Buffer) => this.hash.update(chunk));
    this.gzip.pipe(this.out);
  }

  static async create(path: string): Promise<StateWriter> {
    await mkdir(dirname(path), { recursive: true });
    return new StateWriter(path);
  }

  /** Buffer one row; call flush() now and then (per batch) to hand the buffer to gzip. */
  add(row: StateRow | KeyedStateRow): void {
    this.rows++;
    if ('raw' in row && row.raw !== undefined) {
      // Rows are never mutated after reading, so the line read is the line to write.
      this.pendingText += row.raw + '\n';
      return;
    }
    // Fixed key order (alphabetical, as stableStringify would give) without the generic sorter:
    // this runs for every changed row of a night.
    this.pendingText +=
      `{"articleId":${JSON.stringify(row.articleId)},"etag":${JSON.stringify(row.etag)},"key":${JSON.stringify(row.key)},` +
      `"lastModified":${JSON.stringify(row.lastModified)},"oa":${row.oa === null ? 'null' : row.oa},` +
      `"reason":${JSON.stringify(row.reason)},"status":"${row.status}","unit":${JSON.stringify(row.unit)}}\n`;
  }

  async flush(): Promise<void> {
    if (this.pendingText.length === 0) return;
    const text = this.pendingText;
    this.pendingText = '';
    if (!this.gzip.write(text)) await once(this.gzip, 'drain');
  }

  async finish(): Promise<{ path: string; rows: number; sha256: string }> {
    await this.flush();
    this.gzip.end();
    await once(this.out, 'finish');
    await rename(this.tmp, this.path);
    return { path: this.path, rows: this.rows, sha256: this.hash.digest('hex') };
  }

  async abort(): Promise<void> {
    this.gzip.destroy();
    this.out.destroy();
    await rm(this.tmp, { force: true });
  }
}
