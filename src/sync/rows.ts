/**
 * The two sorted streams the sync merges: version rows from a listing (the inventory) and state
 * rows from the last run. Both are ordered by PMCID number, then version number (`.10` after
 * `.2`), which is also the plan's order. Version rows travel through the external sort as
 * fixed-width text lines so that plain string order is that numeric order.
 */

/** One article version as a listing shows it. */
export interface VersionRow {
  pmcNum: number;
  version: number;
  /** Change detector: the inventory ETag of the metadata JSON, or its md5. */
  etag: string;
  /** ISO timestamp from the listing, '' when unknown. */
  lastModified: string;
}

export function versionKey(pmcNum: number, version: number): string {
  return `PMC${pmcNum}.${version}`;
}

export function compareVersions(a: { pmcNum: number; version: number }, b: { pmcNum: number; version: number }): number {
  return a.pmcNum - b.pmcNum || a.version - b.version;
}

const PMC_WIDTH = 12;
const VERSION_WIDTH = 6;

/** '000004599423.000001\t<etag>\t<lastModified>': sorts as (pmcNum, version) under `<`. */
export function encodeSortLine(row: VersionRow): string {
  return `${String(row.pmcNum).padStart(PMC_WIDTH, '0')}.${String(row.version).padStart(VERSION_WIDTH, '0')}\t${row.etag}\t${row.lastModified}`;
}

export function decodeSortLine(line: string): VersionRow {
  const tab1 = line.indexOf('\t');
  const tab2 = line.indexOf('\t', tab1 + 1);
  return {
    pmcNum: Number(line.slice(0, PMC_WIDTH)),
    version: Number(line.slice(PMC_WIDTH + 1, tab1)),
    etag: line.slice(tab1 + 1, tab2),
    lastModified: line.slice(tab2 + 1),
  };
}
