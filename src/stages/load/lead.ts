/**
 * Lead samples. Hugging Face's webdataset builder infers the column types from the first five
 * samples of the first shard it reads; a list that is empty in all five becomes list<null>, and the
 * first later sample where it is not empty fails the whole load ("Couldn't cast array of type string
 * to null"). So each license group starts with up to five samples chosen so that every list field
 * that is non-empty anywhere in the group is non-empty in one of them, when five can cover them all;
 * all other samples follow in dataset order.
 *
 * The choice sees every sample of the group once but keeps only a few candidates: for each list
 * field the first sample where it is non-empty, plus the sample with the most non-empty list fields;
 * a greedy set cover over those picks the leads.
 */
import { fieldKinds, SampleJson } from '../../manifest/load-manifest.js';

export const LEAD_SAMPLES = 5;

export const LIST_FIELDS = Object.entries(fieldKinds(SampleJson))
  .filter(([, kind]) => kind.endsWith('[]'))
  .map(([name]) => name as keyof SampleJson);

interface Candidate<T> {
  index: number;
  item: T;
  fields: Set<string>;
}

export class LeadChooser<T> {
  private readonly firstFor = new Map<string, Candidate<T>>();
  private richest: Candidate<T> | undefined;

  /** Offer the sample at position `index` of the group, in dataset order. */
  offer(index: number, json: SampleJson, item: T): void {
    const fields = new Set(LIST_FIELDS.filter((f) => (json[f] as unknown[]).length > 0));
    if (fields.size === 0) return;
    let candidate: Candidate<T> | undefined;
    for (const f of fields) {
      if (!this.firstFor.has(f)) this.firstFor.set(f, (candidate ??= { index, item, fields }));
    }
    if (!this.richest || fields.size > this.richest.fields.size) this.richest = candidate ?? { index, item, fields };
  }

  /** The leads, in dataset order. */
  choose(): { index: number; item: T }[] {
    const pool = new Map<number, Candidate<T>>();
    for (const c of this.firstFor.values()) pool.set(c.index, c);
    if (this.richest) pool.set(this.richest.index, this.richest);
    const uncovered = new Set(this.firstFor.keys());
    const chosen: Candidate<T>[] = [];
    while (uncovered.size > 0 && chosen.length < LEAD_SAMPLES) {
      let best: Candidate<T> | undefined;
      let gain = 0;
      for (const c of [...pool.values()].sort((a, b) => a.index - b.index)) {
        const g = [...c.fields].filter((f) => uncovered.has(f)).length;
        if (g > gain) {
          best = c;
          gain = g;
        }
      }
      if (!best) break;
      chosen.push(best);
      pool.delete(best.index);
      for (const f of best.fields) uncovered.delete(f);
    }
    return chosen.sort((a, b) => a.index - b.index).map(({ index, item }) => ({ index, item }));
  }
}
