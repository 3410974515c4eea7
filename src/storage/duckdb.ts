/**
 * Embedded DuckDB, for the stages and tools that read or write tables (load's Parquet, verify,
 * query, annotate transfer): one in-memory instance per call, always closed, and the two quoting
 * rules every SQL string built here goes through.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

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
