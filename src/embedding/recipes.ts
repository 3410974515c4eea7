/**
 * Preprocessing recipes: image bytes → the 224×224 RGB the model sees → the model's input values.
 * Two named recipes (../shared/SOURCES.md §6):
 *
 *   biomedica  BIOMEDICA's own (dinov2_vitl14_reg): resize to 224×224 ignoring aspect ratio
 *              (bilinear, torchvision's Resize default), scale to [0,1], no mean/std normalisation.
 *   dinov2     DINOv2's evaluation transform: shortest edge to 256 (bicubic), centre crop 224,
 *              scale to [0,1], normalise with ImageNet mean and std.
 *
 * The default is `biomedica`: it is what the paper did, so a build of "BIOMEDICA" embeds as
 * BIOMEDICA did, and it keeps the whole figure. Most figures are multi-panel and wide; a centre
 * crop of a 2:1 figure drops the outer 56 % of its width, often whole panels. `dinov2` feeds the
 * model the distribution it was trained on (undistorted, normalised) and is there for users who
 * want that; the recipe is recorded with every embedding, and clustering refuses to mix them.
 *
 * Decoding goes through sharp with libvips' shrink-on-load: a 2048-px JPEG is decoded at a reduced
 * scale (1/2 to 1/8) straight from its DCT coefficients and never allocated whole. That, and libvips'
 * box-then-kernel reduction, make the pixels differ slightly from PIL's full decode + resize; the
 * recipe test measures how much against an independent Python implementation.
 */
import sharp, { type OutputInfo } from 'sharp';
import { decodeFailure, decodeOptions, inspectImage } from '../images/normalize.js';
import type { ImageOptions } from '../images/types.js';
import { toHalf } from './float16.js';

export const RECIPE_NAMES = ['biomedica', 'dinov2'] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];
export const DEFAULT_RECIPE: RecipeName = 'biomedica';

export interface Recipe {
  name: RecipeName;
  /** Side of the square the model sees. */
  size: number;
  /** 'stretch': straight to size×size. 'shortest-edge': shortest edge to `shortestEdge`, then a centre crop. */
  resize: 'stretch' | 'shortest-edge';
  shortestEdge?: number;
  kernel: 'linear' | 'cubic';
  /** Per channel (R, G, B), applied to values in [0,1]: (v − mean) / std. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const RECIPES: Readonly<Record<RecipeName, Recipe>> = Object.freeze({
  biomedica: { name: 'biomedica', size: 224, resize: 'stretch', kernel: 'linear', mean: [0, 0, 0], std: [1, 1, 1] },
  dinov2: {
    name: 'dinov2',
    size: 224,
    resize: 'shortest-edge',
    shortestEdge: 256,
    kernel: 'cubic',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  },
});

/**
 * Decode guards for embedding inputs: the same as extract's defaults. Images extract stored are
 * far inside them; they matter for `biomedica embed` on arbitrary files.
 */
export const EMBED_IMAGE_LIMITS: Readonly<Pick<ImageOptions, 'maxInputBytes' | 'maxPixels'>> = Object.freeze({
  maxInputBytes: 64 * 1024 * 1024,
  maxPixels: 100_000_000,
});

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface Geometry {
  /** Size after the resize. */
  width: number;
  height: number;
  /** Top-left corner of the size×size crop taken from the resized image. */
  left: number;
  top: number;
}

/** Where the pixels go, computed exactly as torchvision's Resize(int) and CenterCrop compute it. */
export function recipeGeometry(recipe: Recipe, width: number, height: number): Geometry {
  if (recipe.resize === 'stretch') return { width: recipe.size, height: recipe.size, left: 0, top: 0 };
  const target = recipe.shortestEdge ?? recipe.size;
  const [short, long] = width <= height ? [width, height] : [height, width];
  // int(size * long / short), evaluated left to right in doubles as Python does.
  const newLong = Math.floor((target * long) / short);
  const [w, h] = width <= height ? [target, newLong] : [newLong, target];
  return { width: w, height: h, left: roundHalfEven((w - recipe.size) / 2), top: roundHalfEven((h - recipe.size) / 2) };
}

/**
 * Image bytes → size×size×3 RGB (uint8, row-major, interleaved), or an ItemError
 * (IMAGE_EMPTY, IMAGE_TOO_LARGE, IMAGE_UNSUPPORTED, IMAGE_CORRUPT). Transparent pixels are laid on
 * white, the page colour figures are drawn for; greyscale, palette, CMYK and 16-bit inputs come out
 * as 8-bit sRGB.
 */
export async function decodeForRecipe(input: Buffer, recipe: Recipe, limits = EMBED_IMAGE_LIMITS): Promise<Buffer> {
  const inspected = await inspectImage(input, limits);
  const geometry = recipeGeometry(recipe, inspected.width, inspected.height);
  try {
    return await resample(input, inspected.width, inspected.height, geometry, recipe, limits);
  } catch (error) {
    decodeFailure(error, inspected);
  }
}

/** Bands of edge pixels copied around an image before enlarging it: the bicubic kernel's reach. */
const EDGE = 2;

async function resample(input: Buffer, width: number, height: number, geometry: Geometry, recipe: Recipe, limits: typeof EMBED_IMAGE_LIMITS): Promise<Buffer> {
  const size = recipe.size;
  // Reductions first, on the axes that shrink only: libvips' reduce is antialiased as PIL's is,
  // and shrink-on-load happens here. fastShrinkOnLoad off: libvips then takes a milder DCT scale
  // and leaves itself a real reduction to do, which measured 2–3× closer to PIL's full decode on
  // the corpus's 2,000-px JPEGs, at the same speed (both ~6–10× faster than a full decode).
  const w = Math.min(width, geometry.width);
  const h = Math.min(height, geometry.height);
  let pipeline = sharp(input, decodeOptions({ maxPixels: limits.maxPixels }))
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb');
  if (w !== width || h !== height) pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: recipe.kernel, fastShrinkOnLoad: false });

  if (w === geometry.width && h === geometry.height) {
    if (w !== size || h !== size) pipeline = pipeline.extract({ left: geometry.left, top: geometry.top, width: size, height: size });
    return checked(await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }), size, size);
  }

  // Enlarging. libvips' own enlargement samples half an output pixel away from the pixel-centre
  // grid PIL and torch use (at scale 1 on the other axis that alone blurs every pixel pair), so it
  // is done here with an explicit affine transform: output pixel o samples input (o + ½)/s − ½,
  // the edge extended by copying as PIL's clamped kernels do.
  const padded = await pipeline
    .extend({ top: EDGE, bottom: EDGE, left: EDGE, right: EDGE, extendWith: 'copy' })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  checked(padded, w + 2 * EDGE, h + 2 * EDGE);
  const enlarged = await sharp(padded.data, { raw: { width: padded.info.width, height: padded.info.height, channels: 3 } })
    .affine(
      [
        [geometry.width / w, 0],
        [0, geometry.height / h],
      ],
      { interpolator: recipe.kernel === 'cubic' ? 'bicubic' : 'bilinear', idx: 0.5 - EDGE, idy: 0.5 - EDGE, odx: -0.5, ody: -0.5 },
    )
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  // The transform's output frame starts at output pixel 0 and runs past the wanted size.
  if (enlarged.info.width < geometry.width || enlarged.info.height < geometry.height || enlarged.info.channels !== 3) {
    throw new Error(`enlarged to ${enlarged.info.width}×${enlarged.info.height}×${enlarged.info.channels}, expected at least ${geometry.width}×${geometry.height}×3`);
  }
  return cropRgb(enlarged.data, enlarged.info.width, geometry.left, geometry.top, size);
}

function checked(out: { data: Buffer; info: OutputInfo }, width: number, height: number): Buffer {
  if (out.info.width !== width || out.info.height !== height || out.info.channels !== 3) {
    throw new Error(`decoded to ${out.info.width}×${out.info.height}×${out.info.channels}, expected ${width}×${height}×3`);
  }
  return out.data;
}

function cropRgb(data: Buffer, stride: number, left: number, top: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size * size * 3);
  for (let y = 0; y < size; y++) {
    const from = ((top + y) * stride + left) * 3;
    data.copy(out, y * size * 3, from, from + size * 3);
  }
  return out;
}

export type InputType = 'float32' | 'float16';
export type PixelTable = Float32Array | Uint16Array;

/**
 * The model input value of every (channel, byte) pair: 3 × 256 entries, float32 values or float16
 * bits. Filling a batch is then one lookup per value, with no arithmetic and no float16 rounding.
 */
export function pixelTable(recipe: Recipe, type: InputType): PixelTable {
  const table = type === 'float16' ? new Uint16Array(768) : new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) {
      // As torchvision computes it in float32: v/255, then (x - mean) / std.
      const x = Math.fround(Math.fround(Math.fround(v / 255) - Math.fround(recipe.mean[c]!)) / Math.fround(recipe.std[c]!));
      table[c * 256 + v] = type === 'float16' ? toHalf(x) : x;
    }
  }
  return table;
}

/** Writes one image's RGB (HWC) as planar CHW values at `offset` of a batch tensor. */
export function writePixels(rgb: Uint8Array, table: PixelTable, target: PixelTable, offset: number): void {
  const plane = rgb.length / 3;
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    target[offset + i] = table[rgb[j]!]!;
    target[g + i] = table[256 + rgb[j + 1]!]!;
    target[b + i] = table[512 + rgb[j + 2]!]!;
  }
}
