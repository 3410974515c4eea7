/**
 * Parquet through embedded DuckDB. Rows are staged as JSONL and DuckDB streams them into a zstd
 * Parquet file with explicit column types, so memory stays bounded and the types never depend on
 * what the first rows happen to hold. For the same input rows and DuckDB version the output bytes
 * are identical (tested), which keeps reloads byte-for-byte reproducible.
 */
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { z } from 'zod';
import { fieldKinds, type FieldKind } from '../../manifest/load-manifest.js';
import { sha256File } from '../../storage/files.js';

const DUCK_TYPE: Record<FieldKind, string> = {
  string: 'VARCHAR',
  int: 'BIGINT',
  'string[]': 'VARCHAR[]',
  'int[]': 'BIGINT[]',
};

export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;
/** Column names are quoted: `offset` is an SQL keyword. */
export const sqlIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;

export async function withDuckDb<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** A `read_json(...)` table expression over JSONL files whose rows follow `schema`. */
export function readJsonSql(files: string[], schema: z.ZodObject): string {
  const columns = Object.entries(fieldKinds(schema))
    .map(([name, kind]) => `${sqlString(name)}: '${DUCK_TYPE[kind]}'`)
    .join(', ');
  const list = `[${files.map(sqlString).join(', ')}]`;
  // Article text can be long: raise the per-line cap above DuckDB's 16 MB default.
  return `read_json(${list}, format = 'newline_delimited', columns = {${columns}}, maximum_object_size = 268435456)`;
}

export async function jsonlToParquet(
  conn: DuckDBConnection,
  jsonl: string,
  parquet: string,
  schema: z.ZodObject,
): Promise<{ sha256: string; rows: number }> {
  const tmp = join(dirname(parquet), `.${basename(parquet)}.tmp`);
  await rm(tmp, { force: true });
  const columns = Object.keys(schema.shape).map(sqlIdent).join(', ');
  try {
    const result = await conn.run(
      `COPY (SELECT ${columns} FROM ${readJsonSql([jsonl], schema)}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const rows = Number(result.rowsChanged);
    await rename(tmp, parquet);
    return { sha256: await sha256File(parquet), rows };
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Keys that occur more than once across the staged index files (at most `limit` of them). */
export async function duplicateKeys(conn: DuckDBConnection, files: string[], schema: z.ZodObject, limit = 10): Promise<string[]> {
  if (files.length === 0) return [];
  const reader = await conn.runAndReadAll(
    `SELECT key FROM ${readJsonSql(files, schema)} GROUP BY key HAVING count(*) > 1 ORDER BY key LIMIT ${limit}`,
  );
  return reader.getRowsJS().map((row) => String(row[0]));
}
