/**
 * Reads one PMC OA package (`PMCnnnn.tar.gz`) from a stream, in one pass, keeping only what the
 * pipeline uses: the article XML and the images, each held in memory under its base name. Nothing
 * from the archive is ever written to disk, so entry names cannot place files anywhere; they are
 * still checked, because an entry that tries to escape (`../x.jpg`, `/etc/x.jpg`, a PAX path
 * override doing the same) or that is a link or a device says the package is not what it claims.
 * Such entries are skipped and reported in `warnings`; the article goes on without them.
 *
 * Limits bound the work and memory a hostile or broken package can cause, and keep what it holds
 * of value. Every tar header declares its entry's size before the data follows, so an entry over
 * the per-entry cap is skipped without a byte of it held (draining costs inflate time only), and
 * an entry whose declared end lies past the inflate budget is never inflated at all: reading stops
 * there. Skipped bytes count against the budget, so a bomb of many entries stops early too. When
 * reading stops (budget, entry count, kept-bytes cap) the complete entries read before are kept and
 * the stop is a warning the extract stage records; only a package whose XML was not reached fails.
 */
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ItemError } from '../errors.js';

export interface PackageLimits {
  /** Largest XML or image kept, bytes (as the tar header declares it). A larger image is skipped unread (warning); a larger XML fails the package. */
  maxEntryBytes: number;
  /** Inflate budget: bytes of tar stream read, every entry counted (skipped ones too). */
  maxTotalBytes: number;
  maxEntries: number;
  /**
   * Bytes of XML and images held in memory for one package. Each kept entry is under
   * maxEntryBytes, but many of them could still add up to the whole inflate budget per package
   * in flight; past this cap reading stops and what was read is kept.
   */
  maxKeptBytes: number;
}

/**
 * maxEntryBytes 64 MiB matches images.maxInputBytes: a larger image would fail normalisation
 * anyway, so holding it is pure cost; the largest PMC article XML is a few MB. maxTotalBytes
 * 1 GiB of inflate is about a second of CPU; real packages with videos or data supplements
 * can come near it, and then only the entries after the limit are lost. maxKeptBytes 256 MiB:
 * about four times the images of the most figure-heavy real articles.
 */
export const defaultPackageLimits: PackageLimits = {
  maxEntryBytes: 64 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxEntries: 10_000,
  maxKeptBytes: 256 * 1024 * 1024,
};

/**
 * The gunzip and tar stages read ahead of the entry being parsed by a few buffers: the inflated
 * byte counter is a backstop this far behind the declared-size checks, so that it never fires
 * while a last entry inside the budget is still being read.
 */
const READ_AHEAD_SLACK = 1024 * 1024;

export type PackageWarningCode =
  | 'UNSAFE_PATH'
  | 'LINK_ENTRY'
  | 'SPECIAL_ENTRY'
  | 'DUPLICATE_NAME'
  | 'ENTRY_TOO_LARGE'
  | 'EXTRA_XML'
  /** Reading stopped at a limit; entries before it are kept, the rest were not read. */
  | 'PACKAGE_LIMIT';

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

/** Reads an entry whose declared size was checked: tar-stream delivers exactly that many bytes. */
async function readEntry(entry: AsyncIterable<unknown>, declared: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(declared);
  let size = 0;
  for await (const data of entry) {
    const chunk = data as Buffer;
    // The parser ends an entry at its declared size; this only guards the copy below.
    if (size + chunk.length > declared) throw new Error(`entry longer than its declared ${declared} bytes`);
    chunk.copy(out, size);
    size += chunk.length;
  }
  if (size !== declared) throw new Error(`entry ended after ${size} of its declared ${declared} bytes`);
  return out;
}

/** Where the entry's data ends in the tar stream; tar-stream records the start on the header. */
function dataEnd(header: tar.Header, fallbackStart: number): number {
  const start = (header as { byteOffset?: unknown }).byteOffset;
  return (typeof start === 'number' ? start : fallbackStart) + (header.size ?? 0);
}

/** Reading stopped at a limit: what was read is kept if the article XML is among it. */
class LimitReached extends Error {
  constructor(
    readonly entry: string,
    readonly reason: string,
    readonly limit: number,
  ) {
    super(reason);
  }
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
    maxKeptBytes: options.maxKeptBytes ?? defaultPackageLimits.maxKeptBytes,
  };
  const label = options.label ?? 'package';
  const signal = options.signal;
  signal?.throwIfAborted();

  let inputError: unknown;
  input.once('error', (error) => {
    inputError ??= error;
  });
  let inflated = 0;
  // A backstop for bytes no header declares (trailing garbage after the archive, long headers).
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inflated += chunk.length;
      if (inflated > limits.maxTotalBytes + READ_AHEAD_SLACK) {
        callback(new LimitReached('', `the package inflates past ${limits.maxTotalBytes} bytes`, limits.maxTotalBytes));
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
  let kept = 0;
  let loopError: unknown;

  try {
    for await (const entry of extract) {
      const header = entry.header;
      const name = header.name;
      const size = header.size ?? 0;
      if (++entries > limits.maxEntries) throw new LimitReached(name, `more than ${limits.maxEntries} entries`, limits.maxEntries);
      // Checked before a byte of the entry is inflated: past this point the budget would be spent.
      if (dataEnd(header, inflated) > limits.maxTotalBytes) {
        throw new LimitReached(name, `declares ${size} bytes, which would inflate the package past ${limits.maxTotalBytes} bytes`, limits.maxTotalBytes);
      }
      const type = header.type ?? 'file';
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
      if (size > limits.maxEntryBytes) {
        if (kind !== 'image') {
          throw new ItemError('PACKAGE_TOO_LARGE', `${label}: XML ${quoteName(base)} is over ${limits.maxEntryBytes} bytes`, {
            limit: limits.maxEntryBytes,
          });
        }
        warn('ENTRY_TOO_LARGE', name, `declares ${size} bytes, over the ${limits.maxEntryBytes}-byte limit; skipped unread`);
        entry.resume();
        continue;
      }
      if (kept + size > limits.maxKeptBytes) {
        throw new LimitReached(name, `would bring the XML and images held past ${limits.maxKeptBytes} bytes`, limits.maxKeptBytes);
      }
      const bytes = await readEntry(entry, size);
      kept += size;
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

  let stopped: LimitReached | undefined;
  if (pipeError !== undefined || loopError !== undefined) {
    if (signal?.aborted) throw signal.reason;
    // Either side can see the other's failure second-hand (as a premature close): the limit
    // errors are the real cause whichever side raised them.
    if (loopError instanceof ItemError) throw loopError;
    if (loopError instanceof LimitReached) stopped = loopError;
    else if (pipeError instanceof LimitReached) stopped = pipeError;
    else {
      if (pipeError instanceof ItemError) throw pipeError;
      // A source that cannot be read (missing file, network) is the caller's to classify.
      if (inputError !== undefined) throw inputError;
      throw corrupt(pipeError ?? loopError, label);
    }
  }
  const article = nxml ?? xml;
  if (stopped !== undefined) {
    const at = stopped.entry === '' ? '' : ` at ${quoteName(stopped.entry)}`;
    if (!article) {
      throw new ItemError('PACKAGE_TOO_LARGE', `${label}: reading stopped${at} before the article XML: ${stopped.message}`, {
        limit: stopped.limit,
        hint: 'the package is over the package.* limits; raise them only for a package you trust',
      });
    }
    warn('PACKAGE_LIMIT', stopped.entry, `${stopped.message}; reading stopped here, the ${media.size} images read before are kept`);
  }
  if (!article) {
    throw new ItemError('PACKAGE_NO_XML', `${label}: no .nxml or .xml file in the package`, {
      hint: 'the package holds no article XML; nothing to extract',
    });
  }
  return { xml: article.bytes, xmlName: article.name, media, warnings };
}
