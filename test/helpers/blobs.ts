/**
 * Synthetic embeddings with known structure for clustering tests and benchmarks: Gaussian blobs
 * around random centres, seeded, so a test knows which blob every row came from.
 */
import { Random } from '../../src/clustering/random.js';

export interface Blobs {
  data: Float32Array;
  dim: number;
  rows: number;
  /** Blob of each row. */
  truth: Int32Array;
}

export interface BlobOptions {
  rows: number;
  dim: number;
  blobs: number;
  seed: number;
  /** Spread of the centres (per dimension) and of the points around them. */
  centreSpread?: number;
  pointSpread?: number;
  /** Common offset added to every value: embeddings rarely sit at the origin. */
  offset?: number;
  /** Blob sizes and spreads vary (a harder, more realistic landscape for k-means). */
  uneven?: boolean;
}

export function gaussian(random: Random): number {
  // Box–Muller; 1 − u keeps log away from 0.
  return Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
}

export function makeBlobs(o: BlobOptions): Blobs {
  const random = new Random(o.seed, 99);
  const centreSpread = o.centreSpread ?? 10;
  const pointSpread = o.pointSpread ?? 1;
  const centres = Float64Array.from({ length: o.blobs * o.dim }, () => gaussian(random) * centreSpread);
  const spreads = Float64Array.from({ length: o.blobs }, () => (o.uneven ? pointSpread * (0.3 + 1.4 * random.next()) : pointSpread));
  const weights = Float64Array.from({ length: o.blobs }, () => (o.uneven ? 0.2 + random.next() : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const data = new Float32Array(o.rows * o.dim);
  const truth = new Int32Array(o.rows);
  for (let i = 0; i < o.rows; i++) {
    // Rows in blob order when even (easy to read in a failure), drawn by weight when uneven.
    let b = Math.floor((i * o.blobs) / o.rows);
    if (o.uneven) {
      let x = random.next() * total;
      for (b = 0; b < o.blobs - 1 && (x -= weights[b]!) >= 0; b++);
    }
    truth[i] = b;
    for (let d = 0; d < o.dim; d++) data[i * o.dim + d] = (o.offset ?? 0) + centres[b * o.dim + d]! + gaussian(random) * spreads[b]!;
  }
  return { data, dim: o.dim, rows: o.rows, truth };
}
