/**
 * Where articles come from. A source lists article references (cheap, streaming) and opens one
 * article at a time into its XML plus a way to get the media the XML points at. The extract stage
 * only talks to this interface, so the cloud bucket and the legacy mirrors are interchangeable.
 */
import type { RateStats } from '../transport/rate.js';

import type { LicenseGroup } from '../manifest/license.js';

export type { LicenseGroup } from '../manifest/license.js';
export { licenseGroupOf } from '../manifest/license.js';

export interface ArticleRef {
  /** Stable article id with no dots: 'PMC4599423_1' (cloud, with version) or 'PMC4599423' (legacy). */
  id: string;
  pmcid: string;
  /** Article version in the cloud bucket; null for the legacy layout, which has none. */
  version: number | null;
  pmid: string;
  citation: string;
  /** License as the source lists it ('CC BY', 'CC BY-NC', 'NO-CC CODE', 'TDM', ''). */
  licenseCode: string;
  licenseGroup: LicenseGroup;
  /** 'YYYY-MM-DD HH:MM:SS' or ISO timestamp as the source gives it; '' when unknown. */
  lastUpdated: string;
  retracted: boolean;
  /** Source-relative location: a package path (legacy) or a version prefix (cloud). */
  location: string;
  /** Change detector from the source (ETag, md5, or last-updated), used by incremental sync. */
  revision: string;
}

export interface MediaFile {
  name: string;
  bytes: Buffer;
}

/** One opened article. `media` names are file names relative to the article (no directories). */
export interface ArticlePackage {
  ref: ArticleRef;
  /** The article XML (nXML/JATS). */
  xml: Buffer;
  /** Names of the media files available for this article (images only; no PDFs or supplements). */
  mediaNames: string[];
  /** Fetch one media file by a name from mediaNames. Throws an ItemError when it cannot. */
  getMedia(name: string, signal?: AbortSignal): Promise<Buffer>;
  /** Entries of the package that were skipped (unsafe paths, links, oversized): recorded as failures. */
  warnings?: { code: string; entry: string; message: string }[];
  /** Release temporary files. Idempotent. */
  close(): Promise<void>;
}

export interface SourceFilter {
  licenseGroups?: LicenseGroup[];
  /** Only these PMCIDs ('PMC123'). */
  pmcids?: Set<string>;
  /** Inclusive bounds on lastUpdated, 'YYYY-MM-DD'. */
  updatedFrom?: string;
  updatedTo?: string;
  includeRetracted?: boolean;
  limit?: number;
}

/** Recorded in the extract manifest so downstream stages and reruns know what was read. */
export interface SourceDescriptor {
  kind: 'legacy-local' | 'legacy-ftp' | 'legacy-http' | 'cloud';
  url: string;
  /** Snapshot date of the listing (inventory date or file-list timestamp), '' when unknown. */
  snapshotDate: string;
}

export interface Source {
  readonly descriptor: SourceDescriptor;
  /** Articles matching the filter, in a deterministic order. Skipped rows are reported via onSkip. */
  list(filter: SourceFilter, onSkip?: (ref: ArticleRef, reason: string) => void): AsyncIterable<ArticleRef>;
  open(ref: ArticleRef, signal?: AbortSignal): Promise<ArticlePackage>;
  /** The request rate its HTTP client allows now and the throttles it met; undefined before any request or without one. */
  requestRate?(): RateStats | undefined;
  close(): Promise<void>;
}


/** 'PMC4599423' + 1 → 'PMC4599423_1'. Ids never contain dots (WebDataset keys split on the first dot). */
export function articleIdOf(pmcid: string, version: number | null): string {
  return version === null ? pmcid : `${pmcid}_${version}`;
}
