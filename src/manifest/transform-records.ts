/**
 * The slice of the transform stage's on-disk contract that load reads: one label line per stored
 * image, per extract unit. Transform writes exactly these records; load joins them by image key.
 *
 *   <out>/transform/
 *     manifest.json                  present only when transform finished (load records its sha256)
 *     labels/<unit>.jsonl            TransformLabel per line, one per image key of that extract unit
 *
 * An image with no line keeps load's typed empty values (cluster id -1, '' and []), so the dataset
 * schema is the same with or without transform.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { readJsonl } from './io.js';

export const TransformLabel = z.object({
  /** ImageRecord.key of the image this line labels. */
  key: z.string().regex(/^[A-Za-z0-9_-]+$/),
  /** k-means cluster of the image's DINOv2 embedding; -1 means not clustered. */
  clusterId: z.number().int(),
  /** The cluster's labels as experts gave them (SOURCES.md §6: panel_type, panel_subtype). */
  panelType: z.string(),
  panelSubtype: z.string(),
  /** BIOMEDICA's global_class[] and local_class[] of the cluster. */
  primaryLabel: z.array(z.string()),
  secondaryLabel: z.array(z.string()),
  /** Id of the label set the cluster belongs to in the taxonomy ('' when none). */
  labelId: z.string(),
});
export type TransformLabel = z.infer<typeof TransformLabel>;

export const transformPaths = (outDir: string) => {
  const root = join(outDir, 'transform');
  return {
    root,
    manifest: join(root, 'manifest.json'),
    labels: (unit: string) => join(root, 'labels', `${unit}.jsonl`),
  };
};

/**
 * A unit's label lines, each checked against the schema: a bad line stops the reader with
 * TRANSFORM_INVALID (transform must rewrite the unit). A missing file throws the fs error (ENOENT):
 * what it means depends on the caller.
 */
export async function* readTransformLabels(outDir: string, unit: string): AsyncGenerator<TransformLabel> {
  const path = transformPaths(outDir).labels(unit);
  let line = 0;
  for await (const raw of readJsonl(path)) {
    line++;
    const parsed = TransformLabel.safeParse(raw);
    if (!parsed.success) {
      throw new ManifestError('TRANSFORM_INVALID', `label line ${line} of unit ${unit} does not match the label schema`, {
        path,
        issues: parsed.error.issues,
        hint: `rerun biomedica transform --out ${outDir}`,
      });
    }
    yield parsed.data;
  }
}
