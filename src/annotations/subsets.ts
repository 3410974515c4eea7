/**
 * The paper's two training subsets, over the labels every image inherits from its cluster
 * (primaryLabel = BIOMEDICA's global classes). Streaming: neither holds a row per image.
 *
 * concept-filtered   drop every image one of whose global classes is in a chosen set (e.g. the
 *                    plots and tables); one pass, a predicate per image.
 *
 * concept-balanced   at most N images per concept, the same ones for the same seed whatever the
 *                    order images come in. Two passes over the same images:
 *                      1. `count(key, classes)` for each image,
 *                      2. `keep(key, classes)` for each image, after `finish()`.
 *                    An image's concept is its rarest global class (fewest images in pass 1, ties by
 *                    name), so an image of two concepts counts once, toward the one that needs it
 *                    most, and the caps are exact; images with no global class form the concept ''
 *                    (unlabelled), capped like the others. Within a concept the kept images are
 *                    those of smallest seeded priority (seeded.ts), so raising N only adds images.
 *                    Memory: per distinct set of global classes, its count and at most N priorities
 *                    (O(sets × N), not O(images)).
 */
import { ManifestError } from '../errors.js';
import { BottomK, compareRank, priority, type Rank } from './seeded.js';

/** True when the image stays in the concept-filtered subset. */
export function conceptFilter(drop: Iterable<string>): (classes: readonly string[]) => boolean {
  const dropped = new Set(drop);
  return (classes) => !classes.some((c) => dropped.has(c));
}

/** The distinct classes of an image, sorted: the key of its set of concepts. */
const comboKey = (classes: readonly string[]) => [...new Set(classes)].sort().join('\u0000');

export interface BalancedConcept {
  /** The global class ('' for images with none). */
  concept: string;
  /** Images whose rarest class this is. */
  images: number;
  kept: number;
}

export interface BalanceSummary {
  maxPerConcept: number;
  seed: number;
  images: number;
  kept: number;
  /** Sorted by concept name. */
  concepts: BalancedConcept[];
}

interface Combo {
  count: number;
  smallest: BottomK<undefined>;
  concept?: string;
}

export class ConceptBalancer {
  private readonly combos = new Map<string, Combo>();
  private thresholds: Map<string, Rank | undefined> | undefined;
  private summary: BalanceSummary | undefined;

  constructor(readonly options: { maxPerConcept: number; seed: number }) {
    if (!Number.isInteger(options.maxPerConcept) || options.maxPerConcept < 1) {
      throw new RangeError(`maxPerConcept must be a positive integer, got ${options.maxPerConcept}`);
    }
  }

  /** Pass 1: every image once. */
  count(key: string, classes: readonly string[]): void {
    if (this.thresholds) throw new Error('ConceptBalancer.count after finish');
    const id = comboKey(classes);
    let combo = this.combos.get(id);
    if (!combo) {
      combo = { count: 0, smallest: new BottomK(this.options.maxPerConcept) };
      this.combos.set(id, combo);
    }
    combo.count++;
    combo.smallest.offer({ priority: priority(this.options.seed, key), key, item: undefined });
  }

  /** Between the passes: assign concepts and fix each concept's cut-off. */
  finish(): BalanceSummary {
    if (this.summary) return this.summary;
    const perClass = new Map<string, number>();
    for (const [id, combo] of this.combos) {
      for (const c of id === '' ? [] : id.split('\u0000')) perClass.set(c, (perClass.get(c) ?? 0) + combo.count);
    }
    const merged = new Map<string, { images: number; smallest: BottomK<undefined> }>();
    for (const [id, combo] of this.combos) {
      const classes = id === '' ? [''] : id.split('\u0000');
      combo.concept = classes.reduce((best, c) => (perClass.get(c)! < perClass.get(best)! || (perClass.get(c) === perClass.get(best) && c < best) ? c : best));
      const concept = merged.get(combo.concept) ?? { images: 0, smallest: new BottomK<undefined>(this.options.maxPerConcept) };
      concept.images += combo.count;
      for (const entry of combo.smallest.sorted()) concept.smallest.offer(entry);
      merged.set(combo.concept, concept);
    }
    this.thresholds = new Map();
    const concepts: BalancedConcept[] = [];
    for (const [concept, { images, smallest }] of [...merged].sort(([a], [b]) => (a < b ? -1 : 1))) {
      // Under the cap, every image of the concept stays: no cut-off.
      this.thresholds.set(concept, images > this.options.maxPerConcept ? smallest.threshold() : undefined);
      concepts.push({ concept, images, kept: Math.min(images, this.options.maxPerConcept) });
    }
    this.summary = {
      maxPerConcept: this.options.maxPerConcept,
      seed: this.options.seed,
      images: concepts.reduce((n, c) => n + c.images, 0),
      kept: concepts.reduce((n, c) => n + c.kept, 0),
      concepts,
    };
    return this.summary;
  }

  /** Pass 2: true when the image is in the subset. The images must be those pass 1 counted. */
  keep(key: string, classes: readonly string[]): boolean {
    if (!this.thresholds) throw new Error('ConceptBalancer.keep before finish');
    const combo = this.combos.get(comboKey(classes));
    if (!combo) {
      throw new ManifestError('SUBSET_INCONSISTENT', `image ${key} has global classes [${classes.join(', ')}] that the counting pass never saw`, {
        key,
        hint: 'the labels changed between the two passes: rerun the command',
      });
    }
    const cutoff = this.thresholds.get(combo.concept!);
    return cutoff === undefined || compareRank({ priority: priority(this.options.seed, key), key }, cutoff) <= 0;
  }
}
