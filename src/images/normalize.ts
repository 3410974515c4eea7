/**
 * One stored format for every figure: whatever the package holds (CMYK or 16-bit TIFF, palette PNG
 * with transparency, animated GIF, WebP), the extract stage stores a baseline sRGB JPEG with no
 * alpha and no metadata, its longest side bounded. Hostile or broken inputs become ItemErrors with
 * a stable code, never a crash and never a silently grey image.
 *
 * Most figures in PMC already are such a JPEG (about two thirds of the real corpus JPEGs). Those
 * are stored as they are, byte for byte: decoding and re-encoding them costs several times
 * a check and only loses quality. A JPEG passes through when its header (read in JavaScript, no
 * libvips call) shows baseline 8-bit YCbCr/RGB, 3 components, no EXIF, XMP, IPTC or other
 * application data, no ICC profile or an sRGB one, a complete file (ends with EOI), and sizes
 * within maxSide and maxPixels; and a shrink-on-load decode (libjpeg's 1/8 DCT scaling: every
 * coefficient is entropy-decoded, few are transformed) finishes without even a warning, which is
 * what `verify` asks of stored images. Greyscale JPEGs are normalised: the dataset promises three
 * channels, and readers that keep the file's channel count (torchvision's decode_jpeg, tf.io's
 * decode_jpeg with channels=0) would otherwise hand a training loop mixed shapes. Such a file keeps
 * the publisher's quality and chroma subsampling, and an sRGB profile or a comment if it had one.
 */
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { ItemError } from '../errors.js';
import { isSrgbProfile, readJpegHeader, type JpegHeader } from './jpeg.js';
import type { ImageOptions, NormalizedImage } from './types.js';

/**
 * maxSide 2048: BIOMEDICA stored originals, which made the dataset huge and its images unbounded;
 * 2048 px keeps the small print of multi-panel figures legible (far above the 224 px the embedding
 * model sees) while capping a stored image near 1 MB. Only 15 of the ~250 real figures in the corpus
 * exceed it. quality 90: below it JPEG ringing shows around the thin lines and text of plots.
 * maxPixels 100 M: about 400 MB of RGBA while decoding, the most two concurrent decodes should hold
 * on a small machine; real figures stay under 40 M. maxInputBytes 64 MiB: larger files in PMC are
 * whole-slide scans and uncompressed TIFF stacks, not figures.
 */
export const DEFAULT_IMAGE_OPTIONS: Readonly<ImageOptions> = Object.freeze({
  quality: 90,
  maxSide: 2048,
  maxPixels: 100_000_000,
  maxInputBytes: 64 * 1024 * 1024,
});

/**
 * Formats we decode. Decided from the file's first bytes, not from sharp's guess: the prebuilt
 * sharp also renders SVG (a text format that can reference other files) and reads HEIF, neither of
 * which is a figure format in PMC, so both are refused along with PDF, BMP, EPS and HTML.
 */
export const DECODED_FORMATS = ['jpeg', 'png', 'gif', 'tiff', 'webp'] as const;
export type DecodedFormat = (typeof DECODED_FORMATS)[number];

function startsWith(input: Buffer, signature: string, at = 0): boolean {
  return input.length >= at + signature.length && input.toString('latin1', at, at + signature.length) === signature;
}

/** The decodable format the bytes announce, or null for anything else. */
export function sniffFormat(input: Buffer): DecodedFormat | null {
  if (startsWith(input, '\xff\xd8\xff')) return 'jpeg';
  if (startsWith(input, '\x89PNG\r\n\x1a\n')) return 'png';
  if (startsWith(input, 'GIF87a') || startsWith(input, 'GIF89a')) return 'gif';
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (startsWith(input, 'II*\0') || startsWith(input, 'MM\0*')) return 'tiff';
  if (startsWith(input, 'II+\0') || startsWith(input, 'MM\0+')) return 'tiff';
  if (startsWith(input, 'RIFF') && startsWith(input, 'WEBP', 8)) return 'webp';
  return null;
}

export interface SharpSettings {
  /** libvips threads per image. */
  concurrency: number;
  /** Keep libvips' operation cache. */
  cache: boolean;
}

let configured = false;

/**
 * Process-wide sharp settings for a small machine. The operation cache is off: every figure is
 * decoded once, so cached operations never hit and only hold memory (up to 50 MB by default).
 * One libvips thread per image: the extract stage already decodes `imageConcurrency` images at
 * once (bounded again by libuv's pool of 4), so per-image threads would only oversubscribe two
 * cores; it also matches what sharp picks on glibc without jemalloc, where more threads fragment
 * the heap. Called lazily by normalizeImage with these defaults unless the caller called it first.
 */
export function configureSharp(settings: Partial<SharpSettings> = {}): SharpSettings {
  const resolved: SharpSettings = { concurrency: 1, cache: false, ...settings };
  sharp.cache(resolved.cache);
  sharp.concurrency(resolved.concurrency);
  configured = true;
  return resolved;
}

/**
 * Names the encoder. The stored bytes, and so their sha256, are deterministic for one sharp and
 * libvips build but may change with another: record this beside hashes that must be compared.
 */
export function encoderVersion(): string {
  return `sharp ${sharp.versions.sharp ?? '?'} libvips ${sharp.versions.vips}`;
}

function fail(code: string, message: string, details: Record<string, unknown> = {}): never {
  throw new ItemError(code, message, details);
}

/**
 * libvips keeps its error text in a buffer shared across threads: with images decoded in parallel
 * the same corrupt file reports "premature end of JPEG image" on one run and "Unknown error" on
 * the next. The failures ledger must come out the same on every run, so recorded messages say
 * what went wrong in fixed words; the decoder's own text stays on the error for logs.
 */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** sharp reports its own pixel guard as an error message; it is the same failure as ours. */
function isPixelLimit(error: unknown): boolean {
  return /pixel limit/i.test(messageOf(error));
}

/** What the header checks learnt about an input that passed them. */
export interface InspectedImage {
  format: DecodedFormat;
  /** As displayed: a 90° EXIF rotation swaps them. */
  width: number;
  height: number;
  /** The JPEG's own header, read without libvips (jpeg only). */
  jpeg?: JpegHeader | undefined;
}

/** Size limit and format allowlist (by the bytes, not sharp's guess): the checks before any parsing. */
function sniffChecked(input: Buffer, limits: Pick<ImageOptions, 'maxInputBytes'>): DecodedFormat {
  if (!configured) configureSharp();
  if (input.length === 0) fail('IMAGE_EMPTY', 'image file is empty', { hint: 'the package holds a zero-byte file' });
  if (input.length > limits.maxInputBytes) {
    fail('IMAGE_TOO_LARGE', `image file is ${input.length} bytes, over the ${limits.maxInputBytes}-byte limit`, {
      bytes: input.length,
      hint: 'raise images.maxInputBytes to accept it',
    });
  }
  const sniffed = sniffFormat(input);
  if (sniffed === null) {
    fail('IMAGE_UNSUPPORTED', 'not an image in a supported format (jpeg, png, gif, tiff, webp)', {
      magic: input.subarray(0, 8).toString('hex'),
    });
  }
  return sniffed;
}

/**
 * The checks every decode of untrusted bytes starts with, before any pixel is allocated: size,
 * format allowlist, a readable header, the pixel bomb guard. Shared by extract (normalizeImage)
 * and the embedding recipes.
 */
export async function inspectImage(input: Buffer, limits: Pick<ImageOptions, 'maxInputBytes' | 'maxPixels'>): Promise<InspectedImage> {
  const sniffed = sniffChecked(input, limits);
  const jpeg = sniffed === 'jpeg' ? readJpegHeader(input) : undefined;
  return sizeChecked(input, sniffed, jpeg, limits);
}

async function sizeChecked(input: Buffer, sniffed: DecodedFormat, jpeg: JpegHeader | undefined, limits: Pick<ImageOptions, 'maxPixels'>): Promise<InspectedImage> {
  const { width, height } = await displayedSize(input, sniffed, jpeg);
  // For multi-page input the header's height is the first page's: the only page decoded.
  if (width * height > limits.maxPixels) {
    fail('IMAGE_TOO_LARGE', `image is ${width}×${height}, over the ${limits.maxPixels}-pixel limit`, {
      width,
      height,
      hint: 'raise images.maxPixels to accept it',
    });
  }
  return { format: sniffed, width, height, jpeg };
}

/** How an inspected image is decoded: first page only, as displayed, strict about damage. */
export function decodeOptions(options: Pick<ImageOptions, 'maxPixels' | 'failOn'>): SharpOptions {
  return {
    // 'error' also catches truncation (the lower level) yet tolerates libjpeg's warnings such as
    // extraneous bytes before a marker, which real publisher files carry and decode cleanly.
    failOn: options.failOn ?? 'error',
    limitInputPixels: options.maxPixels,
    pages: 1,
    page: 0,
    autoOrient: true,
    sequentialRead: true,
  };
}

/** Turns an error from decoding an inspected image into the ItemError it stands for. */
export function decodeFailure(error: unknown, image: Pick<InspectedImage, 'format' | 'width' | 'height'>): never {
  if (isPixelLimit(error)) fail('IMAGE_TOO_LARGE', `${image.width}×${image.height} is over the decoder's pixel limit`, { width: image.width, height: image.height, decoder: messageOf(error) });
  fail('IMAGE_CORRUPT', `cannot decode ${image.format} (corrupt or truncated data)`, { format: image.format, decoder: messageOf(error) });
}

export async function normalizeImage(input: Buffer, options: ImageOptions): Promise<NormalizedImage> {
  const sniffed = sniffChecked(input, options);
  const jpeg = sniffed === 'jpeg' ? readJpegHeader(input) : undefined;
  if (jpeg !== undefined && options.passThrough !== false && conformsAsIs(jpeg, options) && (await decodesCleanly(input, jpeg, options))) {
    return {
      bytes: input,
      width: jpeg.width,
      height: jpeg.height,
      originalFormat: 'jpeg',
      originalWidth: jpeg.width,
      originalHeight: jpeg.height,
      originalBytes: input.length,
      sha256: createHash('sha256').update(input).digest('hex'),
      passThrough: true,
    };
  }
  const inspected = await sizeChecked(input, sniffed, jpeg, options);
  const { width: originalWidth, height: originalHeight } = inspected;

  let output: { data: Buffer; info: OutputInfo };
  try {
    output = await sharp(input, decodeOptions(options))
      .resize({ width: options.maxSide, height: options.maxSide, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      // No keepMetadata/withMetadata: sharp strips EXIF, XMP and ICC and converts through any
      // embedded profile (or its CMYK fallback) to sRGB. Baseline, not progressive: every reader
      // decodes it, and the bytes do not depend on scan scripts.
      .jpeg({ quality: options.quality, progressive: false, mozjpeg: false, optimiseCoding: true, chromaSubsampling: options.chromaSubsampling ?? '4:2:0' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    decodeFailure(error, inspected);
  }

  return {
    bytes: output.data,
    width: output.info.width,
    height: output.info.height,
    originalFormat: sniffed,
    originalWidth,
    originalHeight,
    originalBytes: input.length,
    sha256: createHash('sha256').update(output.data).digest('hex'),
    passThrough: false,
  };
}

/** What the header promises; the pixels are checked by decodesCleanly. */
function conformsAsIs(h: JpegHeader, options: ImageOptions): boolean {
  return (
    h.sof === 0xc0 &&
    h.precision === 8 &&
    h.components === 3 &&
    !h.app1 &&
    !h.app13 &&
    !h.otherApp &&
    (h.icc === undefined || isSrgbProfile(h.icc)) &&
    h.endsWithEoi &&
    h.width > 0 &&
    h.height > 0 &&
    Math.max(h.width, h.height) <= options.maxSide &&
    h.width * h.height <= options.maxPixels
  );
}

/**
 * A decode at 1/8 scale with failOn 'warning': a cut or damaged scan, a bad Huffman code, even
 * extraneous bytes, send the file to the normalising path, which re-encodes what can be decoded
 * (or reports it corrupt) instead of storing it as it is.
 */
async function decodesCleanly(input: Buffer, h: JpegHeader, options: ImageOptions): Promise<boolean> {
  try {
    await sharp(input, { failOn: 'warning', limitInputPixels: options.maxPixels, sequentialRead: true })
      .resize({ width: Math.max(1, Math.floor(h.width / 8)) })
      .raw()
      .toBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * The size as displayed (a 90° EXIF rotation swaps the sides, like the stored image), read before
 * any decode so the pixel limit runs first. A JPEG without APP1 has no orientation to apply and
 * its frame header already says it: no libvips call (each costs a thread-pool round trip).
 */
async function displayedSize(input: Buffer, sniffed: DecodedFormat, jpeg: JpegHeader | undefined): Promise<{ width: number; height: number }> {
  if (jpeg !== undefined && !jpeg.app1 && jpeg.width > 0 && jpeg.height > 0) return { width: jpeg.width, height: jpeg.height };
  // Header only: cheap, allocates no pixels, and lets the bomb check run before any decode.
  let metadata: Metadata;
  try {
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    fail('IMAGE_CORRUPT', `unreadable ${sniffed} header (corrupt or truncated file)`, { format: sniffed, decoder: messageOf(error) });
  }
  if (metadata.format !== sniffed) {
    fail('IMAGE_CORRUPT', `file starts like ${sniffed} but decodes as ${metadata.format}`, { format: sniffed });
  }
  const width = metadata.autoOrient?.width ?? metadata.width;
  const height = metadata.autoOrient?.height ?? metadata.height;
  if (!(width > 0 && height > 0)) {
    fail('IMAGE_CORRUPT', `image has no pixels (${width}×${height})`, { format: sniffed });
  }
  return { width, height };
}
