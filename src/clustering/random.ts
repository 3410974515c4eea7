/**
 * Seeded randomness for fitting. Everything random in a fit (which rows form the sample, k-means++
 * candidates) draws from one of these, so one seed gives byte-identical model files. xoshiro128**
 * with a splitmix32 seeder: 128-bit state, and doubles built from two draws carry 53 random bits,
 * which matters when k-means++ samples a point in proportion to its share of a cumulative sum over a
 * million rows (a 32-bit draw cannot reach most of them).
 */
export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    let x = (Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1; // never the all-zero state
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Choose `count` of the indices 0…total-1 uniformly without replacement, in increasing order
 * (Knuth's selection sampling, Algorithm S): one pass, memory for the result only, and the choice
 * depends on the seed and the two counts alone.
 */
export function sampleIndices(total: number, count: number, random: Random): Float64Array {
  if (count >= total) return Float64Array.from({ length: total }, (_, i) => i);
  const out = new Float64Array(count);
  let chosen = 0;
  for (let i = 0; i < total && chosen < count; i++) {
    if ((total - i) * random.next() < count - chosen) out[chosen++] = i;
  }
  return out;
}
