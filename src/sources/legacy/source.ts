/**
 * The legacy PMC layout (SOURCES.md §2) read from a mirror root that holds `oa_file_list.csv` (or
 * `.txt`) and `oa_package/xx/yy/PMCn.tar.gz`: a local directory, an FTP server or an HTTP(S) server.
 *
 * list() streams the file list (remote lists are downloaded to the work directory first, resumably),
 * open() fetches one package (temp name + rename, resumable), reads it with readPackage and holds
 * the XML and images in memory; the downloaded package is deleted on the package's close() unless
 * keepDownloads. A package that cannot be had is an ItemError the extract stage records:
 * PACKAGE_NOT_FOUND, PACKAGE_CORRUPT, PACKAGE_TOO_LARGE, PACKAGE_NO_XML.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BiomedicaError, ItemError, TransportError, UsageError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log/logger.js';
import { pathExists } from '../../storage/files.js';
import { createFtpClient, type FtpClient } from '../../transport/ftp.js';
import { createHttpClient, type HttpClient } from '../../transport/http.js';
import { defaultPackageLimits, readPackage, type PackageLimits, type PackageWarning } from '../package.js';
import type { ArticlePackage, ArticleRef, Source, SourceDescriptor, SourceFilter } from '../types.js';
import { fileListFormatOf, filterRefs, readFileListRows, refOfRow, type FileListFormat } from './filelist.js';

/** Network settings shared by the HTTP and FTP transports (config section `network`). */
export interface NetworkOptions {
  connections?: number;
  requestsPerSecond?: number;
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  timeoutMs?: number;
  userAgent?: string;
}

export interface LegacySourceOptions {
  /** Mirror root: a directory path, file://…, ftp://host[:port]/pub/pmc or http(s)://host/pub/pmc. */
  url: string;
  /** Where remote file lists and packages are downloaded. Default: a fresh temp directory. */
  workDir?: string;
  /** Keep downloaded packages (and reuse them on the next open of the same article). */
  keepDownloads?: boolean;
  network?: NetworkOptions;
  /** Share an HTTP client (pool + rate limiter) with other components; it is not closed here. */
  httpClient?: HttpClient;
  package?: Partial<PackageLimits>;
  log?: Logger;
}

/** An opened legacy article; `warnings` lists the package entries that were skipped and why. */
export interface LegacyArticlePackage extends ArticlePackage {
  warnings: PackageWarning[];
}

const FILE_LISTS = ['oa_file_list.csv', 'oa_file_list.txt'] as const;

type Mirror =
  | { kind: 'legacy-local'; root: string }
  | { kind: 'legacy-http'; base: URL }
  | { kind: 'legacy-ftp'; base: URL };

function mirrorOf(url: string): Mirror {
  if (/^https?:\/\//i.test(url)) {
    const base = new URL(url);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return { kind: 'legacy-http', base };
  }
  if (/^ftps?:\/\//i.test(url)) return { kind: 'legacy-ftp', base: new URL(url) };
  if (/^file:/i.test(url)) return { kind: 'legacy-local', root: fileURLToPath(url) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new UsageError('SOURCE_URL', `unsupported source URL scheme: ${url}`, {
      hint: 'use a directory, file://, ftp://, http:// or https:// mirror root',
    });
  }
  return { kind: 'legacy-local', root: resolve(url) };
}

/** The URL as recorded in manifests: no credentials. */
function publicUrl(mirror: Mirror): string {
  if (mirror.kind === 'legacy-local') return mirror.root;
  const url = new URL(mirror.base.href);
  url.password = '';
  url.username = '';
  return url.href.replace(/\/$/, '');
}

/** Package paths come from the file list: accept only plain relative paths inside the mirror. */
function checkedLocation(ref: ArticleRef): string {
  const location = ref.location;
  if (!/^[A-Za-z0-9._/-]+$/.test(location) || location.startsWith('/') || location.split('/').includes('..')) {
    throw new ItemError('PACKAGE_LOCATION', `${ref.id}: unusable package path ${JSON.stringify(location.slice(0, 200))}`, {
      id: ref.id,
    });
  }
  return location;
}


export async function createLegacySource(options: LegacySourceOptions): Promise<Source> {
  const mirror = mirrorOf(options.url);
  const log = options.log ?? silentLogger();
  const network = options.network ?? {};
  const limits: PackageLimits = { ...defaultPackageLimits, ...options.package };
  const keepDownloads = options.keepDownloads ?? false;
  const descriptor: SourceDescriptor = { kind: mirror.kind, url: publicUrl(mirror), snapshotDate: '' };

  if (mirror.kind === 'legacy-local') {
    const info = await stat(mirror.root).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new UsageError('SOURCE_NOT_FOUND', `no mirror directory at ${mirror.root}`, {
        hint: 'point the source at the folder holding oa_file_list.csv and oa_package/',
      });
    }
  }

  let http: HttpClient | undefined;
  let ftp: FtpClient | undefined;
  const ownHttp = options.httpClient === undefined;
  const httpClient = (): HttpClient =>
    (http ??=
      options.httpClient ??
      createHttpClient({
        concurrency: network.connections,
        requestsPerSecond: network.requestsPerSecond,
        retries: network.retries,
        retryBaseMs: network.retryBaseMs,
        retryMaxMs: network.retryMaxMs,
        headersTimeoutMs: network.timeoutMs,
        bodyTimeoutMs: network.timeoutMs,
        userAgent: network.userAgent,
        onRetry: ({ url, attempt, delayMs, error }) => log.warn({ url, attempt, delayMs, code: error.code }, 'http retry'),
      }));
  const ftpClient = (base: URL): FtpClient =>
    (ftp ??= createFtpClient({
      url: base.href,
      // Public FTP servers commonly allow only a few sessions per address.
      connections: Math.min(network.connections ?? 2, 4),
      retries: network.retries,
      retryBaseMs: network.retryBaseMs,
      retryMaxMs: network.retryMaxMs,
      timeoutMs: network.timeoutMs,
      onRetry: ({ path, attempt, delayMs, error }) => log.warn({ path, attempt, delayMs, code: error.code }, 'ftp retry'),
    }));

  const ownWorkDir = options.workDir === undefined;
  let workDir: Promise<string> | undefined = options.workDir === undefined ? undefined : Promise.resolve(options.workDir);
  const work = async (...parts: string[]): Promise<string> => {
    workDir ??= mkdtemp(join(tmpdir(), 'biomedica-legacy-'));
    const path = join(await workDir, ...parts);
    await mkdir(join(path, '..'), { recursive: true });
    return path;
  };

  /** Fetches `relPath` under the mirror root to `dest` (resumable); NOT_FOUND passes through. */
  async function fetchTo(relPath: string, dest: string, signal: AbortSignal | undefined, maxBytes?: number): Promise<void> {
    if (mirror.kind === 'legacy-http') {
      await httpClient().downloadToFile(new URL(relPath, mirror.base).href, dest, { signal, maxBytes });
    } else if (mirror.kind === 'legacy-ftp') {
      await ftpClient(mirror.base).downloadToFile(relPath, dest, { signal, maxBytes });
    }
  }

  let fileList: Promise<{ path: string; format: FileListFormat }> | undefined;
  let downloadedList: string | undefined;
  async function locateFileList(): Promise<{ path: string; format: FileListFormat }> {
    for (const name of FILE_LISTS) {
      if (mirror.kind === 'legacy-local') {
        const path = join(mirror.root, name);
        if (await pathExists(path)) return { path, format: fileListFormatOf(name) };
        continue;
      }
      const dest = await work(name);
      try {
        await fetchTo(name, dest, undefined);
        downloadedList = dest;
        log.info({ list: name, dest }, 'file list downloaded');
        return { path: dest, format: fileListFormatOf(name) };
      } catch (error) {
        if (error instanceof TransportError && error.code === 'NOT_FOUND') continue;
        throw error;
      }
    }
    throw new UsageError('FILELIST_NOT_FOUND', `no oa_file_list.csv or oa_file_list.txt under ${descriptor.url}`, {
      hint: 'point the source at the pub/pmc folder of a legacy mirror (NCBI moved it to pub/pmc/deprecated/ in 2026)',
    });
  }

  async function* list(filter: SourceFilter, onSkip?: (ref: ArticleRef, reason: string) => void): AsyncGenerator<ArticleRef> {
    fileList ??= locateFileList();
    // A failed download must not poison the next call.
    fileList.catch(() => (fileList = undefined));
    const { path, format } = await fileList;
    let badRows = 0;
    const rows = readFileListRows(createReadStream(path), {
      format,
      onBadRow: (line, reason) => {
        if (++badRows <= 20) log.warn({ line, reason }, 'file list row skipped');
      },
    });
    async function* refs(): AsyncGenerator<ArticleRef> {
      for await (const row of rows) yield refOfRow(row);
    }
    yield* filterRefs(refs(), filter, onSkip);
    if (badRows > 0) log.warn({ badRows }, 'file list rows skipped');
  }

  async function open(ref: ArticleRef, signal?: AbortSignal): Promise<LegacyArticlePackage> {
    const location = checkedLocation(ref);
    let file: string;
    let downloaded = false;
    if (mirror.kind === 'legacy-local') {
      file = join(mirror.root, location);
      if (!file.startsWith(mirror.root + sep) || !(await pathExists(file))) {
        throw new ItemError('PACKAGE_NOT_FOUND', `${ref.id}: no package at ${location}`, { id: ref.id, location });
      }
    } else {
      file = await work('packages', `${ref.id.replace(/[^A-Za-z0-9_]/g, '_')}.tar.gz`);
      if (!(keepDownloads && (await pathExists(file)))) {
        try {
          // Compressed size never exceeds the inflated cap that readPackage enforces.
          await fetchTo(location, file, signal, limits.maxTotalBytes);
        } catch (error) {
          throw packageFetchError(error, ref, location);
        }
      }
      downloaded = true;
    }
    let contents;
    try {
      contents = await readPackage(createReadStream(file), { ...limits, signal, label: ref.id });
    } catch (error) {
      // A corrupt download is fetched afresh next time, whatever keepDownloads says.
      if (downloaded) await rm(file, { force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ItemError('PACKAGE_NOT_FOUND', `${ref.id}: package vanished at ${location}`, { id: ref.id, location });
      }
      throw error;
    }
    if (contents.warnings.length > 0) log.warn({ id: ref.id, warnings: contents.warnings }, 'package entries skipped');
    const { xml, media, warnings } = contents;
    let closed = false;
    return {
      ref,
      xml,
      mediaNames: [...media.keys()],
      warnings,
      async getMedia(name: string) {
        const bytes = media.get(name);
        if (bytes === undefined) {
          throw new ItemError('MEDIA_NOT_FOUND', `${ref.id}: no image ${JSON.stringify(name)} in the package`, { id: ref.id, name });
        }
        return bytes;
      },
      async close() {
        if (closed) return;
        closed = true;
        media.clear();
        if (downloaded && !keepDownloads) await rm(file, { force: true });
      },
    };
  }

  return {
    descriptor,
    list,
    open,
    requestRate: () => http?.limiter.stats(),
    async close() {
      if (http && ownHttp) await http.close();
      if (ftp) await ftp.close();
      if (downloadedList !== undefined && !keepDownloads) await rm(downloadedList, { force: true });
      if (ownWorkDir && workDir !== undefined && !keepDownloads) await rm(await workDir, { recursive: true, force: true });
    },
  };
}

function packageFetchError(error: unknown, ref: ArticleRef, location: string): unknown {
  if (!(error instanceof BiomedicaError)) return error;
  if (error.code === 'NOT_FOUND') {
    return new ItemError('PACKAGE_NOT_FOUND', `${ref.id}: no package at ${location}`, { id: ref.id, location, cause: error });
  }
  if (error.code === 'TOO_LARGE') {
    return new ItemError('PACKAGE_TOO_LARGE', `${ref.id}: package is larger than the limit`, { id: ref.id, location, cause: error });
  }
  return error;
}
