/**
 * The transform stage's on-disk contract: what load reads (the label lines and the manifest) and
 * what a later transform run, `annotate` and numpy users read (embeddings, ids, the model).
 *
 *   <out>/transform/
 *     manifest.json                  TransformManifest: written last, when every unit is labelled
 *     embed/<unit>.npy               float32 N×D embeddings, rows in the order of embed/<unit>.keys.txt
 *     embed/<unit>.keys.txt          the N image keys (ImageRecord.key), one per line
 *     embed/<unit>.failures.jsonl    FailureRecord per image that could not be embedded
 *     assign/<unit>.npy              int32 (N,) cluster id per row of embed/<unit>.npy
 *     labels/<unit>.jsonl            TransformLabel per embedded image, in key order
 *     model/                         the frozen clustering model (src/clustering/model.ts)
 *     cluster_labels.json            expert labels, written by `annotate import` (src/annotations/imported.ts)
 *     markers/<step>/<unit>.json     the unit runner's done markers (src/pipeline/runner.ts)
 *
 * An image with no label line (it could not be embedded) keeps load's typed empty values (cluster
 * id -1, '' and []), so the dataset schema is the same with or without transform.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { readJsonl } from '../storage/files.js';

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

/** The per-unit steps in transform's markers ('transform.embed'…, markers/<step>/<unit>.json) and their version. */
export const TRANSFORM_STEPS = ['embed', 'assign', 'label'] as const;
export type TransformStepName = (typeof TRANSFORM_STEPS)[number];
export const TRANSFORM_STEP_VERSION = 1;

export const TRANSFORM_SCHEMA = 'biomedica.transform';
/** v1: embed → fit → assign → label, float32 embeddings, labels per embedded image. */
export const TRANSFORM_VERSION = 1;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const TransformTotals = z.object({
  images: z.number().int(),
  embedded: z.number().int(),
  failed: z.number().int(),
  failuresByCode: z.record(z.string(), z.number().int()),
  /** Embedded images whose cluster has expert labels, and those whose cluster has none yet. */
  labelled: z.number().int(),
  unlabelled: z.number().int(),
});
export type TransformTotals = z.infer<typeof TransformTotals>;

export const TransformManifest = z.object({
  schema: z.literal(TRANSFORM_SCHEMA),
  version: z.literal(TRANSFORM_VERSION),
  /** sha256 of the extract manifest.json this transform read. */
  upstream: z.object({ extractManifestSha256: Sha256 }),
  embedding: z.object({
    modelSha256: Sha256,
    /** The model file's name (not its path: a run folder moves between machines). */
    modelFile: z.string(),
    inputName: z.string(),
    /** Where the image vector is read: 'last_hidden_state[:, 0]' (the CLS token) or 'pooler_output' where it equals it. */
    outputName: z.string(),
    inputType: z.string(),
    dim: z.number().int().positive(),
    recipe: z.string(),
    /** Execution providers that computed the units' embeddings (one per machine kind used). */
    providers: z.array(z.string()),
  }),
  model: z.object({
    /** sha256 of model/model.json, which itself records the sha256 of each array. */
    sha256: Sha256,
    clusters: z.number().int().positive(),
    components: z.number().int().positive(),
    seed: z.number().int(),
    sampleSize: z.number().int().positive(),
    inertia: z.number(),
  }),
  labels: z.object({
    /** sha256 of the imported cluster_labels.json ('' when none were imported: every cluster unlabelled). */
    sha256: z.string(),
    clustersLabelled: z.number().int(),
  }),
  units: z.array(
    z.object({
      id: z.string(),
      images: z.number().int(),
      embedded: z.number().int(),
      failed: z.number().int(),
      /** sha256 of each output, by path relative to transform/. */
      files: z.record(z.string(), Sha256),
    }),
  ),
  totals: TransformTotals,
});
export type TransformManifest = z.infer<typeof TransformManifest>;

export const transformPaths = (outDir: string) => {
  const root = join(outDir, 'transform');
  return {
    root,
    manifest: join(root, 'manifest.json'),
    modelDir: join(root, 'model'),
    embeddings: (unit: string) => join(root, 'embed', `${unit}.npy`),
    keys: (unit: string) => join(root, 'embed', `${unit}.keys.txt`),
    failures: (unit: string) => join(root, 'embed', `${unit}.failures.jsonl`),
    ids: (unit: string) => join(root, 'assign', `${unit}.npy`),
    labels: (unit: string) => join(root, 'labels', `${unit}.jsonl`),
    marker: (step: string, unit: string) => join(root, 'markers', step, `${unit}.json`),
    /** Output paths as markers and the manifest record them: relative to transform/. */
    rel: {
      embeddings: (unit: string) => `embed/${unit}.npy`,
      keys: (unit: string) => `embed/${unit}.keys.txt`,
      failures: (unit: string) => `embed/${unit}.failures.jsonl`,
      ids: (unit: string) => `assign/${unit}.npy`,
      labels: (unit: string) => `labels/${unit}.jsonl`,
    },
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
