/**
 * The transform stage: extract manifest → embed → fit → assign → label → manifest.json.
 *
 *   embed   per extract unit: every published image through the ONNX embedding model
 *           (src/embedding/) → transform/embed/<unit>.npy + .keys.txt + .failures.jsonl
 *   fit     once: PCA + k-means on a seeded sample of all embeddings (src/clustering/), unless a
 *           model is already frozen in transform/model (or adopted with --model-from)
 *   assign  per unit: embeddings → cluster ids through the frozen model → transform/assign/<unit>.npy
 *   label   per unit: cluster ids + imported expert labels (src/annotations/) → transform/labels/<unit>.jsonl
 *
 * Every per-unit step runs on the shared unit runner (src/pipeline/runner.ts): markers written
 * last, a rerun redoes only what changed, `--worker i/n` splits the units. The fit is a global step
 * between two splits: the worker that finds every unit embedded fits (exactly one, by finalize
 * lock) and then assigns and labels every unit, which is cheap next to embedding; the others stop
 * after their share of the embedding. manifest.json is written last, by whoever labels last.
 */
import { readFile, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { ManifestError, ThresholdError, UsageError } from '../../errors.js';
import { ExtractManifest, extractPaths } from '../../manifest/extract-manifest.js';
import {
  TRANSFORM_SCHEMA,
  TRANSFORM_VERSION,
  transformPaths,
  type TransformManifest,
  type TransformTotals,
} from '../../manifest/transform-records.js';
import type { StageContext } from '../../pipeline/context.js';
import { runsDirOf } from '../../pipeline/run-record.js';
import { CHECK_MODES, WorkerShare, finalizeOnce, forgetFinalized, runUnits, type UnitCounts } from '../../pipeline/runner.js';
import { sha256, sha256File, writeJsonIfChanged } from '../../storage/files.js';
import { createAssigner, type Assigner } from '../../clustering/model.js';
import { readImportedLabels } from '../../annotations/imported.js';
import { openStageEmbedder } from './embedder.js';
import { fitModel, frozenModel, type ModelInUse } from './fit.js';
import { assignStep, embedStep, labelStep, unitKey, type Embedder, type EmbedResult } from './steps.js';
import { transformUnits, type TransformUnit } from './units.js';

export const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export const RECIPES = ['biomedica', 'dinov2'] as const;

export const TransformOptions = z.object({
  outDir: z.string().min(1),
  /** The ONNX embedding model file (any DINOv2 export, or one of scripts/make-models.ts's). */
  model: z.string().min(1),
  recipe: z.enum(RECIPES),
  device: z.enum(DEVICES),
  batchSize: z.number().int().min(1),
  /** CPU threads for onnxruntime (default: the cores available). */
  threads: z.number().int().min(1).optional(),
  components: z.number().int().min(1),
  clusters: z.number().int().min(1),
  seed: z.number().int().min(0),
  /** Rows the model is fitted on (a seeded uniform sample of all embeddings). */
  sampleSize: z.number().int().min(1),
  maxIterations: z.number().int().min(1).optional(),
  modelFrom: z.string().min(1).optional(),
  refit: z.boolean().default(false),
  check: z.enum(CHECK_MODES).default('fast'),
  worker: WorkerShare.optional(),
  /** The run fails (exit 4) when more than this share of images could not be embedded. */
  maxFailureRate: z.number().min(0).max(1),
  /** Folder for finalize locks, shared by every worker of the run. */
  lockDir: z.string().min(1),
});
export type TransformOptions = z.infer<typeof TransformOptions>;

export interface TransformSummary {
  outDir: string;
  /** '' until every unit is labelled. */
  manifest: string;
  complete: boolean;
  /** Why the run stopped short of the manifest (other workers, another worker fitting). */
  pending: string;
  units: number;
  steps: Record<'embed' | 'assign' | 'label', UnitCounts | null>;
  providers: string[];
  model: { origin: ModelInUse['origin']; clusters: number; components: number; inertia: number; sha256: string } | null;
  labels: { imported: boolean; clustersLabelled: number };
  totals: TransformTotals;
}

const emptyTotals = (): TransformTotals => ({ images: 0, embedded: 0, failed: 0, failuresByCode: {}, labelled: 0, unlabelled: 0 });

async function readExtractManifest(outDir: string): Promise<{ manifest: ExtractManifest; sha256: string }> {
  const path = extractPaths(outDir).manifest;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ManifestError('MANIFEST_MISSING', `no finished extract in ${outDir} (${path} is missing)`, {
      path,
      hint: `run biomedica extract --out ${outDir} first (transform reads its manifest)`,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError('MANIFEST_INVALID', `${path} is not JSON`, { path, cause, hint: `rerun biomedica extract --out ${outDir}` });
  }
  const parsed = ExtractManifest.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestError('MANIFEST_VERSION', `${path} is not an extract manifest of the version this tool reads`, {
      path,
      hint: `rerun biomedica extract --out ${outDir}: it redoes units of older versions`,
    });
  }
  return { manifest: parsed.data, sha256: sha256(text) };
}

async function modelFileSha256(path: string): Promise<string> {
  try {
    return await sha256File(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new UsageError('MODEL_MISSING', `no embedding model at ${path}`, {
      hint: 'pass --model FILE (a DINOv2 ONNX export; README "Embedding models"), or make the demo model: npm run models',
    });
  }
}

export async function runTransform(options: TransformOptions, ctx: StageContext): Promise<TransformSummary> {
  const { outDir } = options;
  const paths = transformPaths(outDir);
  const extract = await readExtractManifest(outDir);
  const base = transformUnits(extract.manifest);
  const modelSha256 = await modelFileSha256(options.model);
  const summary: TransformSummary = {
    outDir,
    manifest: '',
    complete: false,
    pending: '',
    units: base.length,
    steps: { embed: null, assign: null, label: null },
    providers: [],
    model: null,
    labels: { imported: false, clustersLabelled: 0 },
    totals: emptyTotals(),
  };
  // No manifest may describe files being rewritten: the first unit any step redoes removes it, and
  // forgets that this content was finalized, so whoever finishes next writes the manifest again.
  let removed: Promise<void> | undefined;
  const beforeChange = () =>
    (removed ??= (async () => {
      await forgetFinalized(options.lockDir, 'transform');
      await rm(paths.manifest, { force: true });
    })());
  const runOptions = { worker: options.worker, check: options.check, beforeChange, recordDir: runsDirOf(outDir) };

  // 1. embed
  let session: Promise<Embedder> | undefined;
  const embedder = () =>
    (session ??= openStageEmbedder(
      { model: options.model, modelSha256, recipe: options.recipe, device: options.device, batchSize: options.batchSize, threads: options.threads },
      ctx,
    ));
  const embedUnits: TransformUnit[] = base.map((u) => ({ ...u, key: unitKey({ figures: u.figuresSha256, model: modelSha256, recipe: options.recipe }) }));
  let embedded;
  try {
    embedded = await runUnits(embedStep(outDir, embedder), embedUnits, { ...runOptions, label: 'embed' }, ctx);
  } finally {
    if (session) await (await session).close();
  }
  summary.steps.embed = embedded.counts;
  for (const { marker } of embedded.done) addEmbed(summary.totals, marker.result);
  summary.providers = [...new Set(embedded.done.map((d) => d.marker.result.provider))].sort();
  if (!embedded.complete) return { ...summary, pending: `${embedded.counts.pending} unit(s) not embedded yet: other workers, or a later run` };
  const info = embedded.done[0]?.marker.result;
  if (!info || summary.totals.embedded === 0) {
    throw new ManifestError('NOTHING_TO_CLUSTER', 'the extract has no image that could be embedded', {
      hint: 'check the extract summary (biomedica extract) and transform/embed/*.failures.jsonl',
    });
  }
  const embedding = { modelSha256, recipe: options.recipe, dim: info.dim };

  // 2. fit (or the frozen model)
  let inUse = await frozenModel(outDir, embedding, options);
  let fittedHere = false;
  if (!inUse) {
    const fit = await finalizeOnce(
      { lockDir: options.lockDir, name: 'transform.fit', key: unitKey({ embedded: embedded.digest, components: options.components, clusters: options.clusters, seed: options.seed, sample: options.sampleSize }), worker: options.worker, log: ctx.log },
      async () => {
        await beforeChange();
        return fitModel(outDir, embedUnits.map((u) => u.id), embedding, options, ctx);
      },
    );
    if (!fit.ran) return { ...summary, pending: `worker ${fit.by.pid}@${fit.by.host} fits the clustering model; it assigns and labels every unit after` };
    inUse = fit.value;
    fittedHere = true;
  }
  const meta = inUse.model.meta;
  summary.model = { origin: inUse.origin, clusters: meta.clusters, components: meta.components, inertia: meta.kmeans.inertia, sha256: inUse.sha256 };

  // 3. assign: the worker that fitted assigns every unit (the others have stopped by now)
  const share = fittedHere ? undefined : options.worker;
  const embedDone = new Map(embedded.done.map((d) => [d.unit.id, d.marker]));
  const outputSha = (unit: string, rel: string) => embedDone.get(unit)!.outputs[rel]!.sha256;
  const assignUnits: TransformUnit[] = base.map((u) => ({
    ...u,
    key: unitKey({ embeddings: outputSha(u.id, paths.rel.embeddings(u.id)), model: inUse.sha256 }),
  }));
  let assigner: Promise<Assigner> | undefined;
  const getAssigner = () => (assigner ??= createAssigner(inUse.model, options.threads ? { threads: options.threads } : {}));
  let assigned;
  try {
    assigned = await runUnits(assignStep(outDir, getAssigner), assignUnits, { ...runOptions, worker: share, label: 'assign' }, ctx);
  } finally {
    if (assigner) await (await assigner).release();
  }
  summary.steps.assign = assigned.counts;
  if (!assigned.complete) return { ...summary, pending: `${assigned.counts.pending} unit(s) not assigned yet: other workers, or a later run` };

  // 4. label
  const imported = await readImportedLabels(outDir);
  const labels = imported?.labels ?? {};
  summary.labels = { imported: imported !== undefined, clustersLabelled: imported?.record.labelled ?? 0 };
  const assignDone = new Map(assigned.done.map((d) => [d.unit.id, d.marker]));
  const labelUnits: TransformUnit[] = base.map((u) => ({
    ...u,
    key: unitKey({
      ids: assignDone.get(u.id)!.outputs[paths.rel.ids(u.id)]!.sha256,
      keys: outputSha(u.id, paths.rel.keys(u.id)),
      labels: imported?.record.labelsSha256 ?? '',
    }),
  }));
  const labelled = await runUnits(labelStep(outDir, labels), labelUnits, { ...runOptions, worker: share, label: 'label' }, ctx);
  summary.steps.label = labelled.counts;
  if (!labelled.complete) return { ...summary, pending: `${labelled.counts.pending} unit(s) not labelled yet: other workers, or a later run` };
  for (const { marker } of labelled.done) {
    summary.totals.labelled += marker.result.labelled;
    summary.totals.unlabelled += marker.result.unlabelled;
  }

  // 5. manifest, once per content
  const labelDone = new Map(labelled.done.map((d) => [d.unit.id, d.marker]));
  const manifest: TransformManifest = {
    schema: TRANSFORM_SCHEMA,
    version: TRANSFORM_VERSION,
    upstream: { extractManifestSha256: extract.sha256 },
    embedding: {
      modelSha256,
      modelFile: basename(options.model),
      inputName: info.inputName,
      outputName: info.outputName,
      inputType: info.inputType,
      dim: info.dim,
      recipe: options.recipe,
      providers: summary.providers,
    },
    model: { sha256: inUse.sha256, clusters: meta.clusters, components: meta.components, seed: meta.seed, sampleSize: meta.sampleSize, inertia: meta.kmeans.inertia },
    labels: { sha256: imported?.record.labelsSha256 ?? '', clustersLabelled: summary.labels.clustersLabelled },
    units: base.map((u) => {
      const e = embedDone.get(u.id)!;
      const files: Record<string, string> = {};
      for (const marker of [e, assignDone.get(u.id)!, labelDone.get(u.id)!]) {
        for (const [rel, out] of Object.entries(marker.outputs)) files[rel] = out.sha256;
      }
      return { id: u.id, images: e.result.images, embedded: e.result.embedded, failed: e.result.failed, files };
    }),
    totals: summary.totals,
  };
  const done = await finalizeOnce({ lockDir: options.lockDir, name: 'transform', key: unitKey(manifest), worker: share, log: ctx.log }, () =>
    writeJsonIfChanged(paths.manifest, manifest),
  );
  if (!done.ran && !done.by.finishedAt) return { ...summary, pending: `worker ${done.by.pid}@${done.by.host} writes the manifest` };
  ctx.log.info({ units: base.length, ...summary.totals, failuresByCode: undefined, providers: summary.providers }, 'transform finished');
  const result = { ...summary, manifest: paths.manifest, complete: true };
  const { images, failed } = summary.totals;
  if (images > 0 && failed / images > options.maxFailureRate) {
    throw new ThresholdError('FAILURE_THRESHOLD', `${failed} of ${images} images could not be embedded`, {
      summary: result,
      hint: 'see transform/embed/*.failures.jsonl for reasons; raise transform.maxFailureRate to accept them',
    });
  }
  return result;
}

function addEmbed(totals: TransformTotals, r: EmbedResult): void {
  totals.images += r.images;
  totals.embedded += r.embedded;
  totals.failed += r.failed;
  for (const [code, n] of Object.entries(r.failuresByCode)) totals.failuresByCode[code] = (totals.failuresByCode[code] ?? 0) + n;
}

export function formatTransformSummary(s: TransformSummary): string {
  const t = s.totals;
  const counts = (c: UnitCounts | null) => (c ? `${c.written} done now, ${c.skipped} already done${c.pending ? `, ${c.pending} pending` : ''}` : 'not run');
  const lines = [
    `transform: ${s.outDir}`,
    `  units        ${s.units}`,
    `  embed        ${counts(s.steps.embed)}; provider ${s.providers.join(', ') || 'none used'}`,
    `  assign       ${counts(s.steps.assign)}`,
    `  label        ${counts(s.steps.label)}`,
    `  images       ${t.images}: ${t.embedded} embedded, ${t.failed} failed`,
  ];
  if (s.model) {
    lines.push(`  model        ${s.model.origin}: ${s.model.clusters} clusters on ${s.model.components} PCA components (inertia ${s.model.inertia.toPrecision(6)})`);
  }
  lines.push(
    s.labels.imported
      ? `  labels       ${t.labelled} images in labelled clusters (${s.labels.clustersLabelled} clusters), ${t.unlabelled} in unlabelled ones`
      : `  labels       none imported: every cluster is unlabelled (biomedica annotate export, then annotate import)`,
  );
  const failures = Object.entries(t.failuresByCode).sort((a, b) => b[1] - a[1]);
  for (const [code, n] of failures) lines.push(`    ${String(n).padStart(6)}  ${code}`);
  lines.push(`  manifest     ${s.complete ? s.manifest : `not written yet: ${s.pending}`}`);
  return lines.join('\n');
}
