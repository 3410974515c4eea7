/**
 * Parquet through embedded DuckDB. Rows are staged as JSONL and DuckDB streams them into a zstd
 * Parquet file with explicit column types, so memory stays bounded and the types never depend on
 * what the first rows happen to hold. For the same input rows and DuckDB version the output bytes
 * are identical (tested), which keeps reloads byte-for-byte reproducible.
 */
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlIdent, sqlString } from '../../storage/duckdb.js';
import type { z } from 'zod';
import { fieldKinds, type FieldKind } from '../../manifest/load-manifest.js';
import { sha256File } from '../../storage/files.js';
import { cleanupAfter, outputFault } from '../../storage/faults.js';

const DUCK_TYPE: Record<FieldKind, string> = {
  string: 'VARCHAR',
  int: 'BIGINT',
  'string[]': 'VARCHAR[]',
  'int[]': 'BIGINT[]',
};

export { sqlIdent, sqlString, withDuckDb } from '../../storage/duckdb.js';

/** A `read_json(...)` table expression over JSONL files whose rows follow `schema`. */
export function readJsonSql(files: string[], schema: z.ZodObject): string {
  const columns = Object.entries(fieldKinds(schema))
    .map(([name, kind]) => `${sqlString(name)}: '${DUCK_TYPE[kind]}'`)
    .join(', ');
  const list = `[${files.map(sqlString).join(', ')}]`;
  // Article text can be long: raise the per-line cap above DuckDB's 16 MB default.
  return `read_json(${list}, format = 'newline_delimited', columns = {${columns}}, maximum_object_size = 268435456)`;
}

/**
 * Writes the Parquet file for the staged rows. The file is replaced only when its bytes change
 * (`beforeChange` runs first then), so a rerun that changes nothing touches nothing.
 */
export async function jsonlToParquet(
  conn: DuckDBConnection,
  jsonl: string,
  parquet: string,
  schema: z.ZodObject,
  beforeChange?: () => Promise<void>,
): Promise<{ sha256: string; rows: number }> {
  const tmp = join(dirname(parquet), `.${basename(parquet)}.tmp`);
  await rm(tmp, { force: true });
  const columns = Object.keys(schema.shape).map(sqlIdent).join(', ');
  try {
    const result = await conn.run(
      `COPY (SELECT ${columns} FROM ${readJsonSql([jsonl], schema)}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const rows = Number(result.rowsChanged);
    const sha256 = await sha256File(tmp);
    const current = await sha256File(parquet).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    if (current === sha256) {
      await rm(tmp, { force: true });
    } else {
      await beforeChange?.();
      await rename(tmp, parquet);
    }
    return { sha256, rows };
  } catch (error) {
    await cleanupAfter(() => rm(tmp, { force: true }));
    // DuckDB reports a full disk in its own words; the file system's error code is not on it.
    throw outputFault(error, parquet) ?? duckDbStorageFault(error, parquet) ?? error;
  }
}

/** DuckDB's I/O errors carry the OS message, not an errno: map the ones that are the disk's. */
function duckDbStorageFault(error: unknown, path: string): ReturnType<typeof outputFault> {
  const message = (error as Error)?.message ?? '';
  const code = /No space left on device/i.test(message)
    ? 'ENOSPC'
    : /Read-only file system/i.test(message)
      ? 'EROFS'
      : /Disk quota exceeded/i.test(message)
        ? 'EDQUOT'
        : /Permission denied/i.test(message)
          ? 'EACCES'
          : undefined;
  return code ? outputFault(Object.assign(new Error(message), { code, path }), path) : undefined;
}

/** Keys that occur more than once across the staged index files (at most `limit` of them). */
export async function duplicateKeys(conn: DuckDBConnection, files: string[], schema: z.ZodObject, limit = 10): Promise<string[]> {
  if (files.length === 0) return [];
  const reader = await conn.runAndReadAll(
    `SELECT key FROM ${readJsonSql(files, schema)} GROUP BY key HAVING count(*) > 1 ORDER BY key LIMIT ${limit}`,
  );
  return reader.getRowsJS().map((row) => String(row[0]));
}
