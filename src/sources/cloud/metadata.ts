/**
 * The per-version metadata JSON of the PMC Cloud Service (`metadata/PMCn.v.json`, SOURCES.md §1).
 *
 * Parsed leniently because real records differ: key order varies, a file that does not exist is a
 * missing key (author manuscripts have no pdf_url or media_urls) but some clients write `[]` or
 * `null`, pmid and doi can be null, version may arrive as a number or a string. What the extract
 * needs and cannot do without (pmcid, version, xml_url) is checked; anything else defaults.
 */
import { createHash } from 'node:crypto';
import { ItemError } from '../../errors.js';
import { isImageName } from '../../images/resolve.js';
import { articleIdOf, licenseGroupOf, type ArticleRef } from '../types.js';

/** One object the metadata points at: its key in the bucket and the md5 the URL carries. */
export interface BucketObject {
  key: string;
  /** Lower-case hex md5 from `?md5=`, or undefined when the URL carries none. */
  md5: string | undefined;
  /** File name (last key segment): what the XML's graphics are matched against. */
  name: string;
}

export interface VersionMetadata {
  pmcid: string;
  version: number;
  pmid: string;
  doi: string;
  mid: string;
  title: string;
  citation: string;
  isOpenAccess: boolean;
  isManuscript: boolean;
  isHistoricalOcr: boolean;
  /** The flag or the title: `is_retracted` is known to be false on some "RETRACTED ARTICLE" titles. */
  isRetracted: boolean;
  licenseCode: string;
  xml: BucketObject | undefined;
  pdf: BucketObject | undefined;
  text: BucketObject | undefined;
  media: BucketObject[];
}

/** 'PMC4599423' + '1' from a version key 'PMC4599423.1'. */
export function splitVersionKey(key: string): { pmcid: string; pmcNum: number; version: number } | undefined {
  const match = /^PMC(\d+)\.(\d+)$/.exec(key);
  if (!match) return undefined;
  return { pmcid: `PMC${match[1]}`, pmcNum: Number(match[1]), version: Number(match[2]) };
}

/**
 * `s3://pmc-oa-opendata/PMC1.1/gr1.jpg?md5=…` → key and md5. An https URL to the bucket host is
 * accepted as well, so a mirror that rewrote its URLs still works.
 */
export function parseBucketUrl(url: string): BucketObject | undefined {
  const match = /^(?:s3:\/\/[^/]+|https?:\/\/[^/]+)\/([^?#]+)(?:\?([^#]*))?/.exec(url.trim());
  if (!match) return undefined;
  const key = match[1]!;
  let md5: string | undefined;
  for (const part of (match[2] ?? '').split('&')) {
    const [name, value] = part.split('=');
    if (name === 'md5' && value && /^[0-9a-fA-F]{32}$/.test(value)) md5 = value.toLowerCase();
  }
  const segments = key.split('/');
  return { key, md5, name: segments[segments.length - 1]! };
}

/** HTTP URL of a key under the configured base; every key segment is percent-encoded. */
export function objectUrl(baseUrl: string, key: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

const text = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
};

const flag = (value: unknown): boolean => value === true || value === 'true' || value === 1 || value === 'yes';

function urlField(raw: Record<string, unknown>, name: string): BucketObject | undefined {
  const value = raw[name];
  if (typeof value !== 'string' || value === '') return undefined;
  return parseBucketUrl(value);
}

export function isRetractedTitle(title: string): boolean {
  return /^\s*RETRACTED\b/i.test(title);
}

/**
 * Parse one metadata JSON. `expectKey` ('PMC1.1'), when given, wins over the body's own pmcid and
 * version: the key is what the inventory and the bucket layout agree on.
 */
export function parseVersionMetadata(bytes: Buffer | string, expectKey?: string): VersionMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (error) {
    throw new ItemError('METADATA_INVALID', `metadata${expectKey ? ` of ${expectKey}` : ''} is not JSON`, { cause: error, key: expectKey });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ItemError('METADATA_INVALID', `metadata${expectKey ? ` of ${expectKey}` : ''} is not a JSON object`, { key: expectKey });
  }
  const r = raw as Record<string, unknown>;
  const fromKey = expectKey ? splitVersionKey(expectKey) : undefined;
  let pmcid = text(r['pmcid']).trim().toUpperCase();
  if (/^\d+$/.test(pmcid)) pmcid = `PMC${pmcid}`;
  const version = fromKey?.version ?? Number(text(r['version']));
  if (fromKey) pmcid = fromKey.pmcid;
  if (!/^PMC\d+$/.test(pmcid) || !Number.isInteger(version) || version < 0) {
    throw new ItemError('METADATA_INVALID', `metadata${expectKey ? ` of ${expectKey}` : ''} has no usable pmcid/version`, { key: expectKey });
  }
  const mediaRaw = r['media_urls'];
  const media: BucketObject[] = [];
  if (Array.isArray(mediaRaw)) {
    for (const item of mediaRaw) {
      const parsed = typeof item === 'string' ? parseBucketUrl(item) : undefined;
      if (parsed) media.push(parsed);
    }
  }
  const title = text(r['title']);
  return {
    pmcid,
    version,
    pmid: text(r['pmid']),
    doi: text(r['doi']),
    mid: text(r['mid']),
    title,
    citation: text(r['citation']),
    isOpenAccess: flag(r['is_pmc_openaccess']),
    isManuscript: flag(r['is_manuscript']),
    isHistoricalOcr: flag(r['is_historical_ocr']),
    isRetracted: flag(r['is_retracted']) || isRetractedTitle(title),
    licenseCode: text(r['license_code']),
    xml: urlField(r, 'xml_url'),
    pdf: urlField(r, 'pdf_url'),
    text: urlField(r, 'text_url'),
    media,
  };
}

/** The media the extract may ask for: images only, so PDFs and supplements are never fetched. */
export function imageMedia(meta: VersionMetadata): Map<string, BucketObject> {
  const out = new Map<string, BucketObject>();
  for (const m of meta.media) if (isImageName(m.name) && !out.has(m.name)) out.set(m.name, m);
  return out;
}

export function md5Hex(bytes: Buffer | string): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** The version prefix, the `location` of a cloud ArticleRef. */
export function versionPrefix(pmcid: string, version: number): string {
  return `${pmcid}.${version}/`;
}

export function refFromMetadata(meta: VersionMetadata, row: { lastModified: string; revision: string }): ArticleRef {
  return {
    id: articleIdOf(meta.pmcid, meta.version),
    pmcid: meta.pmcid,
    version: meta.version,
    pmid: meta.pmid,
    citation: meta.citation,
    licenseCode: meta.licenseCode,
    licenseGroup: licenseGroupOf(meta.licenseCode),
    lastUpdated: row.lastModified,
    retracted: meta.isRetracted,
    location: versionPrefix(meta.pmcid, meta.version),
    revision: row.revision,
  };
}

/** A ref for a version whose metadata was not read (reported as skipped, never opened). */
export function refFromKey(key: string, row: { lastModified: string; revision: string }): ArticleRef {
  const parts = splitVersionKey(key)!;
  return {
    id: articleIdOf(parts.pmcid, parts.version),
    pmcid: parts.pmcid,
    version: parts.version,
    pmid: '',
    citation: '',
    licenseCode: '',
    licenseGroup: 'other',
    lastUpdated: row.lastModified,
    retracted: false,
    location: versionPrefix(parts.pmcid, parts.version),
    revision: row.revision,
  };
}
