/**
 * The little of the S3 API the cloud source needs, over anonymous HTTPS: ListObjectsV2 with a
 * prefix and a delimiter (the inventory dates, an article's versions), following continuation
 * tokens, so a listing longer than one page (1,000 entries) is still complete.
 */
import { XMLParser } from 'fast-xml-parser';
import { TransportError } from '../../errors.js';
import type { HttpClient } from '../../transport/http.js';

export interface ListedObject {
  key: string;
  /** ETag without its quotes. */
  etag: string;
  size: number;
  lastModified: string;
}

export interface ListPage {
  prefixes: string[];
  objects: ListedObject[];
  nextToken: string | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'CommonPrefixes' || name === 'Contents',
});

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

export function parseListObjectsV2(xml: string, url = ''): ListPage {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (error) {
    throw new TransportError('LISTING_INVALID', `unreadable ListObjectsV2 answer from ${url}`, { url, retryable: false, cause: error });
  }
  const result = doc['ListBucketResult'] as Record<string, unknown> | undefined;
  if (!result || typeof result !== 'object') {
    throw new TransportError('LISTING_INVALID', `no ListBucketResult in the answer from ${url}`, {
      url,
      retryable: false,
      hint: 'source.cloudBaseUrl must point at an S3-compatible bucket endpoint',
    });
  }
  const prefixes = ((result['CommonPrefixes'] as Record<string, unknown>[] | undefined) ?? []).map((p) => str(p['Prefix']));
  const objects = ((result['Contents'] as Record<string, unknown>[] | undefined) ?? []).map((c) => ({
    key: str(c['Key']),
    etag: str(c['ETag']).replace(/^"+|"+$/g, '').replace(/^&quot;|&quot;$/g, ''),
    size: Number(str(c['Size']) || 0),
    lastModified: str(c['LastModified']),
  }));
  const truncated = str(result['IsTruncated']) === 'true';
  const token = str(result['NextContinuationToken']);
  return { prefixes: prefixes.filter(Boolean), objects, nextToken: truncated && token ? token : undefined };
}

export function listUrl(baseUrl: string, prefix: string, delimiter: string | undefined, token?: string): string {
  const params = new URLSearchParams({ 'list-type': '2', prefix });
  if (delimiter) params.set('delimiter', delimiter);
  if (token) params.set('continuation-token', token);
  return `${baseUrl.replace(/\/+$/, '')}/?${params.toString()}`;
}

/** Every page of one listing, merged. Listings here are small (dates, versions of one article). */
export async function listAll(
  client: HttpClient,
  baseUrl: string,
  prefix: string,
  delimiter: string | undefined,
  signal?: AbortSignal,
): Promise<{ prefixes: string[]; objects: ListedObject[] }> {
  const prefixes: string[] = [];
  const objects: ListedObject[] = [];
  let token: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const url = listUrl(baseUrl, prefix, delimiter, token);
    const body = await client.getBuffer(url, { signal, maxBytes: 64 * 1024 * 1024 });
    const parsed = parseListObjectsV2(body.toString('utf8'), url);
    prefixes.push(...parsed.prefixes);
    objects.push(...parsed.objects);
    token = parsed.nextToken;
    if (!token) break;
  }
  return { prefixes, objects };
}
