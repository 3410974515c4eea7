/**
 * A contact sheet: N images as a grid of square tiles in one JPEG, so an expert sees a cluster at a
 * glance. Each image is shrunk on load (sharp) and letterboxed on white, keeping its aspect ratio;
 * an image that cannot be read (or whose record is refused) becomes a grey tile and a recorded
 * failure, never a crash. The
 * same files and options give the same bytes (sharp is deterministic for a given libvips).
 */
import sharp from 'sharp';
import { toFailure, type FailureInfo } from '../errors.js';

export interface SheetOptions {
  /** Side of one square tile, in pixels. */
  tile: number;
  /** Space between tiles (the grid lines). */
  gap: number;
  quality: number;
  /** Decompression-bomb guard, as extract's images.maxPixels. */
  maxPixels: number;
}

export const DEFAULT_SHEET: SheetOptions = { tile: 192, gap: 4, quality: 82, maxPixels: 100_000_000 };

export interface SheetLayout {
  columns: number;
  rows: number;
  width: number;
  height: number;
}

/** Square-ish: as many columns as the square root, rounded up. */
export function sheetLayout(count: number, options: Pick<SheetOptions, 'tile' | 'gap'>): SheetLayout {
  const columns = Math.max(1, Math.ceil(Math.sqrt(count)));
  const rows = Math.max(1, Math.ceil(count / columns));
  const step = options.tile + options.gap;
  return { columns, rows, width: columns * step + options.gap, height: rows * step + options.gap };
}

export interface SheetResult {
  jpeg: Buffer;
  layout: SheetLayout;
  /** Tiles whose image could not be drawn, by position in `files`. */
  failed: (FailureInfo & { index: number })[];
}

const GRID = { r: 136, g: 136, b: 136 };
const WHITE = { r: 255, g: 255, b: 255 };
const MISSING = { r: 208, g: 208, b: 208 };

/** An image to draw: a file path, or a function that reads its bytes (a byte range of a unit's image store). */
export type SheetImage = string | (() => Promise<Buffer>);

/** `images[i]` is drawn at row ⌊i / columns⌋, column i mod columns. */
export async function renderContactSheet(images: readonly SheetImage[], options: SheetOptions = DEFAULT_SHEET): Promise<SheetResult> {
  const layout = sheetLayout(images.length, options);
  const failed: SheetResult['failed'] = [];
  const tiles = await Promise.all(
    images.map(async (image, index) => {
      try {
        const input = typeof image === 'string' ? image : await image();
        return await sharp(input, { limitInputPixels: options.maxPixels })
          .resize(options.tile, options.tile, { fit: 'contain', background: WHITE })
          .flatten({ background: WHITE })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer();
      } catch (error) {
        const info = toFailure(error, 'IMAGE_UNREADABLE');
        failed.push({ index, code: codeOf(error, info.code), message: info.message });
        return sharp({ create: { width: options.tile, height: options.tile, channels: 3, background: MISSING } }).raw().toBuffer();
      }
    }),
  );
  const step = options.tile + options.gap;
  const jpeg = await sharp({ create: { width: layout.width, height: layout.height, channels: 3, background: GRID } })
    .composite(
      tiles.map((input, i) => ({
        input,
        raw: { width: options.tile, height: options.tile, channels: 3 as const },
        left: options.gap + (i % layout.columns) * step,
        top: options.gap + Math.floor(i / layout.columns) * step,
      })),
    )
    .jpeg({ quality: options.quality })
    .toBuffer();
  failed.sort((a, b) => a.index - b.index);
  return { jpeg, layout, failed };
}

/** A missing file is worth telling apart from a corrupt one: the hint differs. */
function codeOf(error: unknown, fallback: string): string {
  const message = (error as Error)?.message ?? '';
  if ((error as NodeJS.ErrnoException)?.code === 'ENOENT' || /Input file is missing/i.test(message)) return 'IMAGE_MISSING';
  if (/pixel limit/i.test(message)) return 'IMAGE_TOO_LARGE';
  return fallback;
}
