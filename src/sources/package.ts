/**
 * Reads one PMC OA package (`PMCnnnn.tar.gz`) from a stream, in one pass, keeping only what the
 * pipeline uses: the article XML and the images, each held in memory under its base name. Nothing
 * from the archive is ever written to disk, so entry names cannot place files anywhere; they are
 * still checked, because an entry that tries to escape (`../x.jpg`, `/etc/x.jpg`, a PAX path
 * override doing the same) or that is a link or a device says the package is not what it claims.
 * Such entries are skipped and reported in `warnings`; the article goes on without them.
 *
 * Limits bound the work a hostile or broken package can cause: the inflated total (a gzip bomb is
 * stopped as soon as it passes the cap, not after), each kept entry, and the entry count.
 */
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ItemError } from '../errors.js';

export interface PackageLimits {
  /** Largest XML or image kept, bytes. A larger image is skipped (warning); a larger XML fails the package. */
  maxEntryBytes: number;
  /** Largest inflated tar stream, bytes, every entry counted (drained ones too). */
  maxTotalBytes: number;
  maxEntries: number;
}

export const defaultPackageLimits: PackageLimits = {
  maxEntryBytes: 256 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxEntries: 10_000,
};

export type PackageWarningCode = 'UNSAFE_PATH' | 'LINK_ENTRY' | 'SPECIAL_ENTRY' | 'DUPLICATE_NAME' | 'ENTRY_TOO_LARGE' | 'EXTRA_XML';

export interface PackageWarning {
  code: PackageWarningCode;
  /** The entry name as the archive gives it (JSON-escaped, at most 200 characters): data for logs, never a path. */
  entry: string;
  message: string;
}

export interface PackageContents {
  xml: Buffer;
  /** Base name of the XML entry ('main.nxml'). */
  xmlName: string;
  /** Images by base name, in archive order. */
  media: Map<string, Buffer>;
  warnings: PackageWarning[];
}

export interface ReadPackageOptions extends Partial<PackageLimits> {
  signal?: AbortSignal | undefined;
  /** Names the package in error messages ('PMC7112410'). */
  label?: string;
}

/** Raster formats a figure can come in. Vector and document formats (svg, eps, pdf) are not images here. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['jpg', 'jpeg', 'png', 'gif', 'tif', 'tiff', 'webp', 'bmp']);

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extensionOf(name));
}

/** Why an entry name is refused, or undefined when it is a plain relative path. */
function unsafeName(name: string): string | undefined {
  if (name === '') return 'empty name';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(name)) return 'control character or backslash in name';
  if (name.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'drive-letter path';
  if (name.split('/').includes('..')) return 'parent-directory segment';
  return undefined;
}

const quoteName = (name: string): string => JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);

/** Reads an entry whole, or drains it and returns undefined once it passes `cap`. */
async function readEntry(entry: AsyncIterable<unknown>, cap: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const data of entry) {
    const chunk = data as Buffer;
    size += chunk.length;
    if (size > cap) over = true;
    if (!over) chunks.push(chunk);
  }
  return over ? undefined : Buffer.concat(chunks, size);
}

/** Zlib, tar and stream-plumbing errors all mean the same to the caller: the bytes are not a package. */
function corrupt(error: unknown, label: string): ItemError {
  const message = error instanceof Error ? error.message : String(error);
  return new ItemError('PACKAGE_CORRUPT', `${label}: not a readable .tar.gz (${message})`, {
    cause: error,
    hint: 'the download may be truncated; it is fetched again on the next run',
  });
}

export async function readPackage(input: Readable, options: ReadPackageOptions = {}): Promise<PackageContents> {
  const limits: PackageLimits = {
    maxEntryBytes: options.maxEntryBytes ?? defaultPackageLimits.maxEntryBytes,
    maxTotalBytes: options.maxTotalBytes ?? defaultPackageLimits.maxTotalBytes,
    maxEntries: options.maxEntries ?? defaultPackageLimits.maxEntries,
  };
  const label = options.label ?? 'package';
  const signal = options.signal;
  signal?.throwIfAborted();

  let inputError: unknown;
  input.once('error', (error) => {
    inputError ??= error;
  });
  let inflated = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inflated += chunk.length;
      if (inflated > limits.maxTotalBytes) {
        callback(new ItemError('PACKAGE_TOO_LARGE', `${label}: inflates past ${limits.maxTotalBytes} bytes`, { limit: limits.maxTotalBytes }));
      } else callback(null, chunk);
    },
  });
  const extract = tar.extract();
  let pipeError: unknown;
  const piped = pipeline(input, createGunzip(), cap, extract).catch((error: unknown) => {
    pipeError = error;
  });
  const onAbort = (): void => {
    input.destroy(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const warnings: PackageWarning[] = [];
  const warn = (code: PackageWarningCode, name: string, message: string): void => {
    warnings.push({ code, entry: quoteName(name), message });
  };
  const media = new Map<string, Buffer>();
  let nxml: { name: string; bytes: Buffer } | undefined;
  let xml: { name: string; bytes: Buffer } | undefined;
  let entries = 0;
  let loopError: unknown;

  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (++entries > limits.maxEntries) {
        throw new ItemError('PACKAGE_TOO_LARGE', `${label}: more than ${limits.maxEntries} entries`, { limit: limits.maxEntries });
      }
      const type = header.type ?? 'file';
      const name = header.name;
      if (type === 'directory') {
        entry.resume();
        continue;
      }
      if (type === 'symlink' || type === 'link') {
        warn('LINK_ENTRY', name, `${type} to ${quoteName(header.linkname ?? '')} skipped`);
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        warn('SPECIAL_ENTRY', name, `${type} entry skipped`);
        entry.resume();
        continue;
      }
      const unsafe = unsafeName(name);
      if (unsafe !== undefined) {
        warn('UNSAFE_PATH', name, `${unsafe}; entry skipped`);
        entry.resume();
        continue;
      }
      const base = name.slice(name.lastIndexOf('/') + 1);
      const ext = extensionOf(base);
      // Dot files are resource forks and editor debris ('._gr1.jpg'), never a figure.
      const kind = base.startsWith('.') ? 'skip' : ext === 'nxml' ? 'nxml' : ext === 'xml' ? 'xml' : IMAGE_EXTENSIONS.has(ext) ? 'image' : 'skip';
      if (kind === 'skip' || (kind === 'xml' && (xml || nxml)) || (kind === 'image' && media.has(base))) {
        if (kind === 'image') warn('DUPLICATE_NAME', name, `another ${quoteName(base)} was kept`);
        if (kind === 'xml' && (xml || nxml)) warn('EXTRA_XML', name, 'a first XML was kept');
        entry.resume();
        continue;
      }
      if (kind === 'nxml' && nxml) {
        warn('EXTRA_XML', name, `${quoteName(nxml.name)} was kept`);
        entry.resume();
        continue;
      }
      const bytes = await readEntry(entry, limits.maxEntryBytes);
      if (bytes === undefined) {
        if (kind !== 'image') {
          throw new ItemError('PACKAGE_TOO_LARGE', `${label}: XML ${quoteName(base)} is over ${limits.maxEntryBytes} bytes`, {
            limit: limits.maxEntryBytes,
          });
        }
        warn('ENTRY_TOO_LARGE', name, `over ${limits.maxEntryBytes} bytes; skipped`);
        continue;
      }
      if (kind === 'nxml') nxml = { name: base, bytes };
      else if (kind === 'xml') xml = { name: base, bytes };
      else media.set(base, bytes);
    }
  } catch (error) {
    loopError = error;
    extract.destroy();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await piped;

  if (pipeError !== undefined || loopError !== undefined) {
    if (signal?.aborted) throw signal.reason;
    // Either side can see the other's failure second-hand (as a premature close): the limit
    // errors are the real cause whichever side raised them.
    if (loopError instanceof ItemError) throw loopError;
    if (pipeError instanceof ItemError) throw pipeError;
    // A source that cannot be read (missing file, network) is the caller's to classify.
    if (inputError !== undefined) throw inputError;
    throw corrupt(pipeError ?? loopError, label);
  }
  const article = nxml ?? xml;
  if (!article) {
    throw new ItemError('PACKAGE_NO_XML', `${label}: no .nxml or .xml file in the package`, {
      hint: 'the package holds no article XML; nothing to extract',
    });
  }
  return { xml: article.bytes, xmlName: article.name, media, warnings };
}
