/**
 * The PMC Cloud Service source: the public `pmc-oa-opendata` bucket read over plain HTTPS
 * (SOURCES.md §1), or any mirror, proxy or test server at source.cloudBaseUrl.
 *
 * Listing: the newest daily S3 inventory (streamed, externally sorted by PMCID number then version)
 * or, for an explicit PMCID list, one ListObjectsV2 prefix listing per PMCID. Each version's
 * `metadata/PMCn.v.json` says whether it is open access, its licence and its files; select.ts
 * picks one version per article. Open: the XML, then only the images the extract asks for, each
 * checked against the md5 in its URL. PDFs and supplements are never requested.
 *
 * Metadata JSONs of listed versions are cached in packs under `<out>/cache/cloud/metadata-packs/`
 * (metadata-cache.ts), keyed by version and validated against the inventory ETag, so open() does
 * not fetch them again and a resumed or nightly run reuses them.
 */
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { ItemError, TransportError, toFailure } from '../../errors.js';
import { createHttpClient, type HttpClient } from '../../transport/http.js';
import { diffGroups, type ArticleGroup } from '../../sync/diff.js';
import { orderedMap } from '../../sync/ordered.js';
import type { VersionRow } from '../../sync/rows.js';
import type { KeyedStateRow } from '../../sync/state.js';
import type { ArticlePackage, ArticleRef, Source, SourceDescriptor, SourceFilter } from '../types.js';
import {
  fetchInventoryFiles,
  folderToIso,
  newestInventory,
  loadInventoryManifest,
  sortedInventoryRows,
  type InventoryReadStats,
  type InventorySnapshot,
} from './inventory.js';
import { imageMedia, md5Hex, objectUrl, parseVersionMetadata, splitVersionKey, type BucketObject, type VersionMetadata } from './metadata.js';
import { createAdaptiveRateLimiter, type RateStats } from '../../transport/rate.js';
import { migrateLegacyMetadataCache, openMetadataCache, type MetadataCache } from './metadata-cache.js';
import { listAll } from './s3.js';
import { resolveGroupStream, type GroupOutcome, type MetadataResult, type SelectFilter } from './select.js';

export interface CloudSourceOptions {
  outDir: string;
  log: Logger;
  /** Injected for tests and benches; built from config.network otherwise. */
  client?: HttpClient;
  /**
   * The listing an existing one-shot plan was made from (the extract stage reads its plan and
   * passes this): a resume days later must list the same inventory, not the newest.
   */
  pin?: SourceDescriptor | undefined;
}

export interface ResolveGroupsOptions {
  full: boolean;
  retry: ReadonlySet<string>;
  signal?: AbortSignal | undefined;
}

export interface CloudCounters {
  metadataReads: number;
  metadataCacheHits: number;
  listings: number;
}

export interface CloudSource extends Source {
  readonly descriptor: SourceDescriptor;
  readonly counters: CloudCounters;
  /** The inventory the source lists from: the newest usable one, or the one an existing plan pinned. */
  useInventory(which: 'newest' | 'pinned', signal?: AbortSignal): Promise<InventorySnapshot>;
  /** Sorted version rows of the selected inventory (parts downloaded to the out dir, externally sorted), in batches. */
  inventoryRows(filter: SourceFilter, signal?: AbortSignal, stats?: InventoryReadStats): AsyncGenerator<VersionRow[]>;
  /** One outcome per article group, in order, in batches, with bounded concurrency on metadata reads. */
  resolveGroups(groups: AsyncIterable<ArticleGroup[]>, filter: SourceFilter, options: ResolveGroupsOptions): AsyncGenerator<GroupOutcome[]>;
}

export async function createCloudSource(config: Config, options: CloudSourceOptions): Promise<CloudSource> {
  const source = new PmcCloudSource(config, options);
  await source.init();
  return source;
}

const EMPTY: AsyncIterable<KeyedStateRow[]> = { async *[Symbol.asyncIterator]() {} };

class PmcCloudSource implements CloudSource {
  readonly counters: CloudCounters = { metadataReads: 0, metadataCacheHits: 0, listings: 0 };
  private readonly base: string;
  private readonly client: HttpClient;
  private readonly ownsClient: boolean;
  private readonly log: Logger;
  private readonly outDir: string;
  private readonly metadataLimit;
  private readonly metadataCache: MetadataCache;
  private snapshot: InventorySnapshot | undefined;
  private snapshotError: unknown;
  private pinnedFolder: string | undefined;
  private readonly pin: SourceDescriptor | undefined;

  constructor(private readonly config: Config, options: CloudSourceOptions) {
    this.pin = options.pin;
    this.base = config.source.cloudBaseUrl.replace(/\/+$/, '');
    this.log = options.log;
    this.outDir = options.outDir;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      createHttpClient({
        concurrency: config.network.connections,
        // S3 takes thousands of GETs per second and says SlowDown past that: find the rate.
        rateLimiter: createAdaptiveRateLimiter({ initial: config.network.requestsPerSecond, ceiling: config.network.maxRequestsPerSecond }),
        retries: config.network.retries,
        retryBaseMs: config.network.retryBaseMs,
        retryMaxMs: config.network.retryMaxMs,
        headersTimeoutMs: config.network.timeoutMs,
        bodyTimeoutMs: config.network.timeoutMs,
        userAgent: config.network.userAgent,
        onRetry: (info) => this.log.debug({ url: info.url, attempt: info.attempt, delayMs: info.delayMs, code: info.error.code }, 'retrying request'),
      });
    this.metadataLimit = pLimit(config.cloud.metadataConcurrency);
    this.metadataCache = openMetadataCache(join(this.outDir, 'cache', 'cloud'));
  }

  get descriptor(): SourceDescriptor {
    return { kind: 'cloud', url: this.base, snapshotDate: this.snapshot?.date ?? (this.pinnedFolder ? folderToIso(this.pinnedFolder) : '') };
  }

  private get cacheDir(): string {
    return join(this.outDir, 'cache', 'cloud');
  }

  /**
   * A pinned listing (an existing plan's) fixes the inventory, so a resume days later does not see
   * another snapshot date and refuse the plan; otherwise the newest inventory is found now so the
   * descriptor, which the plan hashes, carries its date.
   */
  async init(): Promise<void> {
    await migrateLegacyMetadataCache(this.cacheDir, this.metadataCache, this.log);
    const date = this.pin?.snapshotDate;
    if (this.pin?.kind === 'cloud' && this.pin.url === this.base && date) {
      const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})/.exec(date);
      if (m) {
        this.pinnedFolder = `${m[1]}T${m[2]}-${m[3]}Z`;
        return;
      }
    }
    try {
      await this.useInventory('newest');
    } catch (error) {
      // Explicit PMCID lists work without an inventory; list() rethrows this for a full listing.
      this.snapshotError = error;
      this.log.warn({ err: toFailure(error) }, 'no inventory found; only explicit PMCID lists can be read');
    }
  }

  async useInventory(which: 'newest' | 'pinned', signal?: AbortSignal): Promise<InventorySnapshot> {
    const prefix = this.config.cloud.inventoryPrefix;
    if (which === 'pinned' && this.pinnedFolder) {
      if (this.snapshot?.folder !== this.pinnedFolder) {
        this.snapshot = await loadInventoryManifest(this.client, this.base, prefix, this.pinnedFolder, signal);
      }
      return this.snapshot;
    }
    // The newest one found when the source was made stands for the whole run.
    if (this.snapshot && !this.pinnedFolder) return this.snapshot;
    this.snapshot = await newestInventory(this.client, this.base, prefix, this.log, signal);
    this.snapshotError = undefined;
    this.log.info({ inventory: this.snapshot.folder, parts: this.snapshot.files.length }, 'inventory selected');
    return this.snapshot;
  }

  async *inventoryRows(filter: SourceFilter, signal?: AbortSignal, stats?: InventoryReadStats): AsyncGenerator<VersionRow[]> {
    if (!this.snapshot && this.snapshotError && !this.pinnedFolder) throw this.snapshotError;
    const snapshot = await this.useInventory('pinned', signal);
    const paths = await fetchInventoryFiles(this.client, this.base, snapshot, join(this.cacheDir, 'inventory'), this.log, signal);
    const tmpDir = join(this.cacheDir, `sort-${process.pid}-${Date.now().toString(36)}`);
    const started = Date.now();
    let rows = 0;
    const sortOptions = { tmpDir, chunkRows: this.config.cloud.sortChunkRows, pmcids: filter.pmcids, signal };
    for await (const batch of sortedInventoryRows(paths, snapshot.columns, sortOptions, stats)) {
      rows += batch.length;
      yield batch;
    }
    this.log.info({ rows, ms: Date.now() - started }, 'inventory read and sorted');
  }

  resolveGroups(groups: AsyncIterable<ArticleGroup[]>, filter: SourceFilter, options: ResolveGroupsOptions): AsyncGenerator<GroupOutcome[]> {
    const lookup = (row: VersionRow, key: string) => this.lookupMetadata(row, key, options.signal);
    // Batches of up to 1024 groups; two in flight keep reads going while the consumer works.
    const window = 2;
    return resolveGroupStream(groups, { lookup, filter: this.selectFilter(filter), full: options.full, retry: options.retry }, window, options.signal);
  }

  private selectFilter(filter: SourceFilter): SelectFilter {
    return {
      licenseGroups: filter.licenseGroups,
      includeRetracted: filter.includeRetracted,
      updatedFrom: filter.updatedFrom,
      updatedTo: filter.updatedTo,
      openAccessOnly: this.config.cloud.openAccessOnly,
    };
  }

  async *list(filter: SourceFilter, onSkip?: (ref: ArticleRef, reason: string) => void): AsyncIterable<ArticleRef> {
    const groups = filter.pmcids ? this.groupsFromListings(filter.pmcids, onSkip) : diffGroups(this.inventoryRows(filter), EMPTY, 64);
    let yielded = 0;
    const outcomes = this.resolveGroups(groups, filter, { full: false, retry: new Set() });
    try {
      for await (const batch of outcomes) {
        for (const outcome of batch) {
          for (const skip of outcome.skips) onSkip?.(skip.ref, skip.reason);
          if (outcome.deferred) {
            this.log.warn({ pmcid: outcome.pmcid, ...outcome.deferred }, 'metadata unreadable, article left out');
            onSkip?.(placeholderRef(outcome.pmcid), 'metadata-failed');
            continue;
          }
          if (!outcome.extract) continue;
          yield outcome.extract.ref;
          if (filter.limit !== undefined && ++yielded >= filter.limit) return;
        }
      }
    } finally {
      await outcomes.return(undefined);
    }
  }

  /** Versions of each listed PMCID by prefix listing, in PMCID-number order. */
  private groupsFromListings(pmcids: ReadonlySet<string>, onSkip?: (ref: ArticleRef, reason: string) => void): AsyncIterable<ArticleGroup[]> {
    const numbers = [...pmcids]
      .map((id) => /^PMC(\d+)$/i.exec(id.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const unique = numbers.filter((n, i) => i === 0 || numbers[i - 1] !== n);
    const self = this;
    async function* ids() {
      yield* unique;
    }
    const window = Math.max(4, this.config.cloud.metadataConcurrency);
    return (async function* () {
      for await (const group of orderedMap(ids(), window, (n) => self.listVersions(n))) {
        if (group.failed || group.current.length === 0) {
          onSkip?.(placeholderRef(`PMC${group.pmcNum}`), group.failed ? 'listing-failed' : 'not-in-bucket');
          continue;
        }
        yield [group];
      }
    })();
  }

  private async listVersions(pmcNum: number): Promise<ArticleGroup & { failed: boolean }> {
    try {
      this.counters.listings++;
      const { prefixes } = await this.metadataLimit(() => listAll(this.client, this.base, `PMC${pmcNum}.`, '/'));
      const current: VersionRow[] = [];
      for (const prefix of prefixes) {
        const parts = splitVersionKey(prefix.replace(/\/$/, ''));
        if (parts && parts.pmcNum === pmcNum) current.push({ pmcNum, version: parts.version, etag: '', lastModified: '' });
      }
      current.sort((a, b) => a.version - b.version);
      return { pmcNum, current, previous: [], failed: false };
    } catch (error) {
      this.log.warn({ pmcid: `PMC${pmcNum}`, err: toFailure(error) }, 'version listing failed');
      return { pmcNum, current: [], previous: [], failed: true };
    }
  }

  private async readCachedMetadata(key: string, revision: string): Promise<Buffer | undefined> {
    const bytes = await this.metadataCache.get(key);
    if (!bytes) return undefined;
    // A cached copy counts only while it is the object the listing names (an ETag of a
    // single-part object is its md5); multipart-style ETags cannot be checked and are trusted.
    if (/^[0-9a-f]{32}$/.test(revision) && md5Hex(bytes) !== revision) return undefined;
    return bytes;
  }

  private async writeCachedMetadata(key: string, bytes: Buffer): Promise<void> {
    await this.metadataCache.put(key, bytes);
  }

  private async fetchMetadataBytes(key: string, signal?: AbortSignal): Promise<Buffer> {
    this.counters.metadataReads++;
    return this.metadataLimit(() => this.client.getBuffer(objectUrl(this.base, `metadata/${key}.json`), { signal, maxBytes: 16 * 1024 * 1024 }));
  }

  private async lookupMetadata(row: VersionRow, key: string, signal?: AbortSignal): Promise<MetadataResult> {
    const cached = row.etag ? await this.readCachedMetadata(key, row.etag) : undefined;
    let bytes = cached;
    if (cached) this.counters.metadataCacheHits++;
    else {
      try {
        bytes = await this.fetchMetadataBytes(key, signal);
      } catch (error) {
        if (error instanceof TransportError && error.code === 'NOT_FOUND') return { kind: 'missing', reason: 'metadata-missing', fromNetwork: true };
        return { kind: 'failed', error };
      }
    }
    let meta: VersionMetadata;
    try {
      meta = parseVersionMetadata(bytes!, key);
    } catch (error) {
      this.log.warn({ key, err: toFailure(error) }, 'unreadable version metadata');
      return { kind: 'missing', reason: 'metadata-invalid', fromNetwork: !cached };
    }
    if (!cached && (meta.isOpenAccess || !this.config.cloud.openAccessOnly)) await this.writeCachedMetadata(key, bytes!);
    return { kind: 'ok', meta, revision: row.etag || md5Hex(bytes!), fromNetwork: !cached };
  }

  private async metadataFor(ref: ArticleRef, signal?: AbortSignal): Promise<VersionMetadata> {
    const key = `${ref.pmcid}.${ref.version}`;
    let bytes = await this.readCachedMetadata(key, ref.revision);
    if (bytes) this.counters.metadataCacheHits++;
    else {
      bytes = await this.fetchObjectBytes(objectUrl(this.base, `metadata/${key}.json`), undefined, signal, () => this.counters.metadataReads++);
      if (/^[0-9a-f]{32}$/.test(ref.revision) && md5Hex(bytes) !== ref.revision) {
        this.log.debug({ key }, 'metadata changed since it was listed; using the current one');
      }
      await this.writeCachedMetadata(key, bytes);
    }
    return parseVersionMetadata(bytes, key);
  }

  /** GET with the md5 check; 404 and a persistent md5 mismatch become ItemErrors (a failed item). */
  private async fetchObjectBytes(url: string, md5: string | undefined, signal?: AbortSignal, count?: () => void): Promise<Buffer> {
    count?.();
    try {
      return await this.client.getBuffer(url, { signal, expectMd5: md5, maxBytes: this.config.package.maxEntryBytes });
    } catch (error) {
      if (error instanceof TransportError && error.code === 'NOT_FOUND') {
        throw new ItemError('NOT_FOUND', `not in the bucket: ${url}`, { url, hint: 'the object was removed since the listing; the next sync drops it' });
      }
      if (error instanceof TransportError && error.code === 'CHECKSUM_MISMATCH') {
        throw new ItemError('CHECKSUM_MISMATCH', error.message, { url, hint: 'the object changed since it was listed; the next sync picks up the new version' });
      }
      throw error;
    }
  }

  async open(ref: ArticleRef, signal?: AbortSignal): Promise<ArticlePackage> {
    if (ref.version === null) throw new ItemError('NO_VERSION', `${ref.id} has no version; the cloud bucket stores versions`);
    const meta = await this.metadataFor(ref, signal);
    if (!meta.xml) throw new ItemError('NO_XML', `${meta.pmcid}.${meta.version} lists no xml_url`);
    const xml = await this.fetchObjectBytes(objectUrl(this.base, meta.xml.key), meta.xml.md5, signal);
    const media = imageMedia(meta);
    const fetchMedia = (object: BucketObject, s?: AbortSignal) => this.fetchObjectBytes(objectUrl(this.base, object.key), object.md5, s);
    return {
      ref,
      xml,
      mediaNames: [...media.keys()].sort(),
      async getMedia(name, s) {
        const object = media.get(name);
        if (!object) throw new ItemError('MEDIA_NOT_LISTED', `${name} is not among the images of ${ref.id}`);
        return fetchMedia(object, s ?? signal);
      },
      async close() {},
    };
  }

  requestRate(): RateStats {
    return this.client.limiter.stats();
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

function placeholderRef(pmcid: string): ArticleRef {
  return {
    id: pmcid,
    pmcid,
    version: null,
    pmid: '',
    citation: '',
    licenseCode: '',
    licenseGroup: 'other',
    lastUpdated: '',
    retracted: false,
    location: '',
    revision: '',
  };
}

export type { InventorySnapshot } from './inventory.js';
export type { GroupOutcome } from './select.js';
