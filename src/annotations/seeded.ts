/**
 * Seeded choices that do not depend on the order images arrive in: each image key gets a priority
 * from a hash of (seed, key), and a selection keeps the smallest priorities (bottom-k sampling, a
 * reservoir sample whose outcome is the same whatever the unit order, worker split or rerun). The
 * contact sheets of `annotate export` and the concept-balanced subset both rest on it.
 *
 * The priority is reproducible outside this tool, e.g. in Python:
 *   int.from_bytes(hashlib.sha256(f"{seed}\0{key}".encode()).digest()[:8], "big") >> 11
 * Priorities are 53-bit integers (exact in a double); two keys with the same priority are ordered
 * by key, so every selection is a strict total order and exact.
 */
import { hash } from 'node:crypto';

export function priority(seed: number, key: string): number {
  const digest = hash('sha256', `${seed}\u0000${key}`, 'buffer');
  return digest.readUInt32BE(0) * 2 ** 21 + (digest.readUInt32BE(4) >>> 11);
}

export interface Rank {
  priority: number;
  key: string;
}

/** Order of (priority, key): negative when a comes first. */
export function compareRank(a: Rank, b: Rank): number {
  return a.priority - b.priority || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export interface Ranked<T> extends Rank {
  item: T;
}

/**
 * The k entries of smallest rank seen so far, in O(k) memory: a max-heap whose root is the entry a
 * better one would evict.
 */
export class BottomK<T> {
  private readonly heap: Ranked<T>[] = [];
  constructor(readonly k: number) {}

  get size(): number {
    return this.heap.length;
  }

  /** The largest rank kept once full; undefined while fewer than k entries were offered. */
  threshold(): Rank | undefined {
    return this.heap.length === this.k ? this.heap[0] : undefined;
  }

  offer(entry: Ranked<T>): void {
    if (this.k <= 0) return;
    const heap = this.heap;
    if (heap.length < this.k) {
      heap.push(entry);
      this.up(heap.length - 1);
    } else if (compareRank(entry, heap[0]!) < 0) {
      heap[0] = entry;
      this.down(0);
    }
  }

  /** The kept entries, smallest rank first. */
  sorted(): Ranked<T>[] {
    return [...this.heap].sort(compareRank);
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareRank(heap[i]!, heap[parent]!) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      if (left < heap.length && compareRank(heap[left]!, heap[largest]!) > 0) largest = left;
      if (right < heap.length && compareRank(heap[right]!, heap[largest]!) > 0) largest = right;
      if (largest === i) return;
      [heap[i], heap[largest]] = [heap[largest]!, heap[i]!];
      i = largest;
    }
  }
}
