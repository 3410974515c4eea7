/**
 * The shape of a load shard on top of the deterministic tar writer (src/storage/tar.ts): a
 * sample is three members (jpg, json, txt) and every member's mtime is the snapshot day.
 */
import { memberBytes } from '../../storage/tar.js';

/** The suffixes of a sample's members, in the order they are written (sorted, as tar tools list them). */
export const SAMPLE_EXTS = ['jpg', 'json', 'txt'] as const;

export function sampleBytes(jpg: number, json: number, txt: number): number {
  return memberBytes(jpg) + memberBytes(json) + memberBytes(txt);
}

/** A snapshot date 'YYYY-MM-DD…' becomes the members' mtime; anything else gives the epoch. */
export function mtimeFor(snapshotDate: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(snapshotDate);
  if (!m) return new Date(0);
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(t) || t < 0 ? new Date(0) : new Date(t);
}

