/**
 * The image pool. Rendering an SVG figure costs tens of milliseconds, so a run renders a bounded
 * pool of distinct figures once (lazily, on first use) and articles pick from it: a 5,000-article
 * benchmark mirror stays quick to make and the demo sample still shows every kind of figure.
 * Every pooled image has its full-size raster (jpg, sometimes png or tif) and a small gif
 * thumbnail, the pair that Elsevier-style legacy packages carry for each figure.
 */
import sharp from 'sharp';
import { drawFigure, FIGURE_KINDS, type FigureDrawing, type FigureKind } from './figures.js';
import { hashSeed, Rng } from './prng.js';

export type RasterFormat = 'jpg' | 'png' | 'tif';

export interface PooledImage {
  index: number;
  kind: FigureKind;
  labels: FigureDrawing['labels'];
  format: RasterFormat;
  width: number;
  height: number;
  full: Buffer;
  thumb: Buffer;
}

// sharp's own thread pool would otherwise take every core for one small image at a time.
sharp.concurrency(1);
sharp.cache(false);

/** Flat-coloured plots stay png/tif candidates; photographs with grain are always jpg, as in PMC. */
const PLOT_KINDS: ReadonlySet<FigureKind> = new Set(['line', 'bar', 'scatter', 'boxplot', 'survival', 'heatmap', 'flowchart', 'panels']);

/** Gaussian grain from our own Rng: libvips noise is seeded per call and would break determinism. */
function grainLayer(rng: Rng, width: number, height: number, sigma: number): Buffer {
  const buf = Buffer.alloc(width * height);
  for (let i = 0; i < buf.length; i++) {
    buf[i] = Math.max(0, Math.min(255, Math.round(128 + rng.gauss(0, sigma))));
  }
  return buf;
}

export async function renderImage(seed: number, index: number): Promise<PooledImage> {
  const rng = new Rng(hashSeed(seed, 'image', index));
  // Cycle through kinds so even a small pool shows each of them.
  const kind = FIGURE_KINDS[index % FIGURE_KINDS.length] as FigureKind;
  const drawing = drawFigure(rng, kind);
  let pipeline = sharp(Buffer.from(drawing.svg)).removeAlpha();
  if (drawing.grain > 0) {
    const noise = grainLayer(rng, drawing.width, drawing.height, drawing.grain);
    const base = await pipeline.png({ compressionLevel: 1 }).toBuffer();
    pipeline = sharp(base).composite([{ input: noise, raw: { width: drawing.width, height: drawing.height, channels: 1 }, blend: 'soft-light' }]).removeAlpha();
  }
  const flat = await pipeline.png({ compressionLevel: 1 }).toBuffer();
  const format: RasterFormat = PLOT_KINDS.has(kind) ? rng.weighted<RasterFormat>([['jpg', 0.7], ['png', 0.2], ['tif', 0.1]]) : 'jpg';
  let full: Buffer;
  if (format === 'png') full = await sharp(flat).png({ palette: true, colours: 64, compressionLevel: 9, effort: 1 }).toBuffer();
  else if (format === 'tif') full = await sharp(flat).tiff({ compression: 'lzw', predictor: 'horizontal' }).toBuffer();
  else full = await sharp(flat).jpeg({ quality: rng.int(68, 82), mozjpeg: true }).toBuffer();
  const thumb = await sharp(flat).resize({ width: 200, height: 164, fit: 'inside' }).gif({ colours: 32, effort: 3 }).toBuffer();
  return { index, kind, labels: drawing.labels, format, width: drawing.width, height: drawing.height, full, thumb };
}

export class ImagePool {
  private readonly cache = new Map<number, Promise<PooledImage>>();

  constructor(
    readonly seed: number,
    readonly size: number,
  ) {
    if (size < 1) throw new Error('image pool needs at least one image');
  }

  get(index: number): Promise<PooledImage> {
    const i = ((index % this.size) + this.size) % this.size;
    let hit = this.cache.get(i);
    if (!hit) {
      hit = renderImage(this.seed, i);
      this.cache.set(i, hit);
    }
    return hit;
  }

  get rendered(): number {
    return this.cache.size;
  }
}

/** A deliberately unusable figure for --bad: real, decodable, but under the 20×20 keep rule. */
export async function tinyImage(): Promise<{ full: Buffer; thumb: Buffer }> {
  const full = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg({ quality: 90 }).toBuffer();
  const thumb = await sharp(full).gif().toBuffer();
  return { full, thumb };
}
