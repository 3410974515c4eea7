/**
 * The training subsets (subsets.ts) applied to a run folder, for load: a predicate per image over
 * its transform label line. The balanced subset's counting pass reads every unit's label lines once
 * (streaming) before load plans; the caps therefore count every labelled image of the run, and an
 * image load leaves out for another reason (a tombstoned article, an unreadable file) is not
 * replaced: a concept can end a little under its cap. An image with no label line has no concept:
 * it stays in a filtered subset and is not in a balanced one.
 */
import { z } from 'zod';
import { InterruptedError, ManifestError, UsageError } from '../errors.js';
import { readTransformLabels } from '../manifest/transform-records.js';
import type { ImageLabel } from './propagate.js';
import { ConceptBalancer, conceptFilter, type BalanceSummary } from './subsets.js';
import { nearestName, readTaxonomy } from './taxonomy.js';

export const SubsetSpec = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('concept-filtered'),
    /** Global classes whose images are dropped. */
    dropClasses: z.array(z.string().min(1)).min(1),
    /** Checked against this taxonomy, so that a misspelt class does not silently drop nothing. */
    taxonomyFile: z.string().min(1),
  }),
  z.object({
    kind: z.literal('concept-balanced'),
    maxPerConcept: z.number().int().min(1),
    seed: z.number().int().min(0).max(2 ** 32 - 1),
  }),
]);
export type SubsetSpec = z.infer<typeof SubsetSpec>;

export interface SubsetSelector {
  select(key: string, label: ImageLabel | undefined): boolean;
  /** For the balanced subset: images and kept images per concept, from the counting pass. */
  balance?: BalanceSummary;
}

export async function subsetSelector(spec: SubsetSpec, outDir: string, units: readonly string[], signal?: AbortSignal): Promise<SubsetSelector> {
  if (spec.kind === 'concept-filtered') {
    const taxonomy = await readTaxonomy(spec.taxonomyFile);
    const unknown = spec.dropClasses.filter((c) => !taxonomy.globals.includes(c));
    if (unknown.length > 0) {
      const named = unknown.map((c) => `"${c}"${nearestName(c, taxonomy.globals) ? ` (nearest: "${nearestName(c, taxonomy.globals)}")` : ''}`);
      throw new UsageError('SUBSET_UNKNOWN_CLASS', `--drop-class names global classes the taxonomy does not have: ${named.join(', ')}`, {
        taxonomy: taxonomy.path,
        hint: `use global class names from ${taxonomy.path}, e.g. "${taxonomy.globals[0]}"`,
      });
    }
    const keep = conceptFilter(spec.dropClasses);
    return { select: (_key, label) => keep(label?.primaryLabel ?? []) };
  }
  const balancer = new ConceptBalancer({ maxPerConcept: spec.maxPerConcept, seed: spec.seed });
  for (const unit of units) {
    if (signal?.aborted) throw new InterruptedError('INTERRUPTED', 'stopped while counting concepts', { hint: 'rerun the same command' });
    try {
      for await (const label of readTransformLabels(outDir, unit)) balancer.count(label.key, label.primaryLabel);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new ManifestError('MANIFEST_MISSING', `transform labels for unit ${unit} are missing`, {
        unit,
        hint: `rerun biomedica transform --out ${outDir}, or load without --subset`,
      });
    }
  }
  const balance = balancer.finish();
  return { select: (key, label) => label !== undefined && balancer.keep(key, label.primaryLabel), balance };
}

/** What the dataset manifest records: the choice, without machine-specific paths. */
export function describeSubset(spec: SubsetSpec): Record<string, unknown> {
  return spec.kind === 'concept-filtered'
    ? { kind: spec.kind, dropClasses: spec.dropClasses }
    : { kind: spec.kind, maxPerConcept: spec.maxPerConcept, seed: spec.seed };
}
