/**
 * Streaming reader of the legacy PMC file lists (SOURCES.md §2):
 *
 * - `oa_file_list.csv`: `File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License`
 *   plus `Retracted` in newer lists. Citations may be quoted and hold commas, so csv-parse reads it.
 *   Excerpts circulate without the header row (the real 10,000-row one in the corpus): a first row
 *   that names no column is data, read in the standard column order.
 * - `oa_file_list.txt`: a timestamp line, then `path\tcitation\tPMCID\tPMID:n\tlicense`; it has no
 *   per-article date, so lastUpdated is '' and date filters skip its rows (reported).
 *
 * Lists opened in a spreadsheet and saved again carry dates like `06-04-20 14:56`. Those are read
 * day first (the known sample only fits DD-MM-YY: `18-06-20`, `15-01-21`), month first only when
 * the day-first reading is impossible, two-digit years as 20yy. A date that still cannot be read
 * becomes lastUpdated '' while `revision` keeps the raw text, so change detection still works.
 *
 * Rows come out in file order; memory holds one record at a time.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { UsageError } from '../../errors.js';
import { articleIdOf, licenseGroupOf, type ArticleRef, type SourceFilter } from '../types.js';

export type FileListFormat = 'csv' | 'txt';

export interface FileListRow {
  /** 1-based line of the row in the file (for messages). */
  line: number;
  path: string;
  citation: string;
  pmcid: string;
  pmid: string;
  license: string;
  /** The date as written in the list. */
  lastUpdatedRaw: string;
  /** 'YYYY-MM-DD HH:MM:SS', or '' when absent or unreadable. */
  lastUpdated: string;
  retracted: boolean;
}

export interface FileListOptions {
  format: FileListFormat;
  /** The txt list's first line (its snapshot time). */
  onTimestamp?: (timestamp: string) => void;
  /** Rows that are not article rows (no PMCID, no path, too few columns). They are skipped. */
  onBadRow?: (line: number, reason: string) => void;
}

/** Picks the format from a file name: '.txt' → txt, anything else csv. */
export function fileListFormatOf(name: string): FileListFormat {
  return /\.txt$/i.test(name) ? 'txt' : 'csv';
}

type Column = 'path' | 'citation' | 'pmcid' | 'lastUpdated' | 'pmid' | 'license' | 'retracted';

const HEADER_PATTERNS: Array<[Column, RegExp]> = [
  ['path', /^(file|key)$/i],
  ['citation', /citation/i],
  ['pmcid', /^accession ?id$/i],
  ['lastUpdated', /^last updated/i],
  ['pmid', /^pmid$/i],
  ['license', /^licen[cs]e$/i],
  ['retracted', /^retracted$/i],
];

const STANDARD_ORDER: Column[] = ['path', 'citation', 'pmcid', 'lastUpdated', 'pmid', 'license', 'retracted'];

function headerColumns(record: string[]): Map<Column, number> | undefined {
  const columns = new Map<Column, number>();
  record.forEach((field, index) => {
    const name = field.trim();
    for (const [column, pattern] of HEADER_PATTERNS) if (!columns.has(column) && pattern.test(name)) columns.set(column, index);
  });
  // A data row never has a field that reads as a column name; two matches make it a header.
  return columns.size >= 2 ? columns : undefined;
}

const PMCID = /^PMC\d+$/;

/** Reads a legacy date; returns 'YYYY-MM-DD HH:MM:SS' or '' (see the file comment for the rules). */
export function normalizeLastUpdated(raw: string): string {
  const text = raw.trim();
  let y: number, mo: number, d: number, h = 0, mi = 0, s = 0;
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:\.\d+)?Z?$/.exec(text);
  const sheet = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})(?:,? (\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    [h, mi, s] = [Number(iso[4] ?? 0), Number(iso[5] ?? 0), Number(iso[6] ?? 0)];
  } else if (sheet) {
    const a = Number(sheet[1]);
    const b = Number(sheet[2]);
    y = sheet[3]!.length === 2 ? 2000 + Number(sheet[3]) : Number(sheet[3]);
    [d, mo] = b <= 12 ? [a, b] : [b, a];
    [h, mi, s] = [Number(sheet[4] ?? 0), Number(sheet[5] ?? 0), Number(sheet[6] ?? 0)];
  } else {
    return '';
  }
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return '';
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

function retractedValue(value: string | undefined): boolean {
  return /^(yes|y|true|1)$/i.test((value ?? '').trim());
}

function makeRow(line: number, fields: Partial<Record<Column, string>>): FileListRow | string {
  const path = (fields.path ?? '').trim();
  const pmcid = (fields.pmcid ?? '').trim();
  if (!PMCID.test(pmcid)) return `no PMCID (${JSON.stringify(pmcid.slice(0, 40))})`;
  if (path === '') return 'no package path';
  const lastUpdatedRaw = (fields.lastUpdated ?? '').trim();
  return {
    line,
    path,
    citation: (fields.citation ?? '').trim(),
    pmcid,
    pmid: (fields.pmid ?? '').trim().replace(/^PMID:/i, ''),
    license: (fields.license ?? '').trim(),
    lastUpdatedRaw,
    lastUpdated: lastUpdatedRaw === '' ? '' : normalizeLastUpdated(lastUpdatedRaw),
    retracted: retractedValue(fields.retracted),
  };
}

async function* readCsv(input: Readable, options: FileListOptions): AsyncGenerator<FileListRow> {
  const parser = input.pipe(
    parse({ bom: true, relax_quotes: true, relax_column_count: true, skip_empty_lines: true, info: true }),
  );
  // Errors on the source (a cut download) must reach the consumer, not vanish behind pipe().
  input.once('error', (error) => parser.destroy(error));
  let columns: Map<Column, number> | undefined;
  let first = true;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (first) {
        first = false;
        columns = headerColumns(record);
        if (columns) {
          if (!columns.has('path') || !columns.has('pmcid')) {
            throw new UsageError('FILELIST_FORMAT', `file list header has no File or Accession ID column: ${record.join(',')}`, {
              hint: 'point the source at a PMC oa_file_list.csv',
            });
          }
          continue;
        }
      }
      const fields: Partial<Record<Column, string>> = {};
      if (columns) for (const [column, index] of columns) fields[column] = record[index];
      else STANDARD_ORDER.forEach((column, index) => (fields[column] = record[index]));
      const row = makeRow(info.lines, fields);
      if (typeof row === 'string') options.onBadRow?.(info.lines, row);
      else yield row;
    }
  } finally {
    // A consumer that stops early (limit, PMCID set complete) must not leave the file open.
    input.destroy();
  }
}

async function* readTxt(input: Readable, options: FileListOptions): AsyncGenerator<FileListRow> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      const parts = text.split('\t');
      if (line === 1 && parts.length === 1) {
        options.onTimestamp?.(text.trim());
        continue;
      }
      const [path, citation, pmcid, pmid, license] = parts;
      const row = makeRow(line, { path, citation, pmcid, pmid, license });
      if (typeof row === 'string') options.onBadRow?.(line, row);
      else yield row;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Every article row of a file list, in file order. */
export function readFileListRows(input: Readable, options: FileListOptions): AsyncGenerator<FileListRow> {
  return options.format === 'txt' ? readTxt(input, options) : readCsv(input, options);
}

export function refOfRow(row: FileListRow): ArticleRef {
  return {
    id: articleIdOf(row.pmcid, null),
    pmcid: row.pmcid,
    version: null,
    pmid: row.pmid,
    citation: row.citation,
    licenseCode: row.license,
    licenseGroup: licenseGroupOf(row.license),
    lastUpdated: row.lastUpdated,
    retracted: row.retracted,
    location: row.path,
    revision: row.lastUpdatedRaw,
  };
}

/** Why `filter` leaves a ref out; reported reasons are what onSkip hears. */
export type SkipReason = 'retracted' | 'date-unknown';

/**
 * Applies a SourceFilter. Rows outside the requested PMCIDs, license groups or dates are simply
 * not listed; rows the user asked for but that are withheld (retracted, or a date filter on a row
 * with no readable date) are reported through onSkip so a run can say what it left out.
 */
export async function* filterRefs(
  refs: AsyncIterable<ArticleRef>,
  filter: SourceFilter,
  onSkip?: (ref: ArticleRef, reason: SkipReason) => void,
): AsyncGenerator<ArticleRef> {
  const limit = filter.limit !== undefined && filter.limit > 0 ? filter.limit : Infinity;
  const groups = filter.licenseGroups && filter.licenseGroups.length > 0 ? new Set(filter.licenseGroups) : undefined;
  const wanted = filter.pmcids && filter.pmcids.size > 0 ? filter.pmcids : undefined;
  const from = filter.updatedFrom || undefined;
  const to = filter.updatedTo || undefined;
  const found = new Set<string>();
  let yielded = 0;
  for await (const ref of refs) {
    if (wanted && !wanted.has(ref.pmcid)) continue;
    if (groups && !groups.has(ref.licenseGroup)) continue;
    if (from || to) {
      const day = ref.lastUpdated.slice(0, 10);
      if (day === '') {
        onSkip?.(ref, 'date-unknown');
        continue;
      }
      if ((from && day < from) || (to && day > to)) continue;
    }
    if (wanted) found.add(ref.pmcid);
    if (ref.retracted && !filter.includeRetracted) {
      onSkip?.(ref, 'retracted');
    } else {
      yield ref;
      if (++yielded >= limit) return;
    }
    // Every requested PMCID seen: the other millions of rows cannot add anything.
    if (wanted && found.size >= wanted.size) return;
  }
}
