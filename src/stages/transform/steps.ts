/**
 * Transform's three per-unit steps on the shared unit runner (src/pipeline/runner.ts). Each writes
 * its outputs, then the runner writes its marker; each unit's key hashes everything its bytes
 * depend on, so a changed input or option redoes exactly the units it touches:
 *
 *   embed   key: extract figures.jsonl sha256 + embedding model sha256 + recipe
 *   assign  key: embed outputs + clustering model.json sha256
 *   label   key: assign outputs + keys + imported cluster labels sha256
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InterruptedError, ManifestError, type FailureInfo } from '../../errors.js';
import { extractPaths } from '../../manifest/extract-manifest.js';
import { StoredImages } from '../../manifest/image-store.js';
import type { FailureRecord } from '../../manifest/records.js';
import { TRANSFORM_STEP_VERSION, transformPaths, type TransformLabel, type TransformStepName } from '../../manifest/transform-records.js';
import type { Outputs, Step, UnitIO } from '../../pipeline/runner.js';
import { sha256, stableStringify, toJsonl, writeFileAtomic } from '../../storage/files.js';
import { removeStaleTemps } from '../../storage/temps.js';
import { assignFile, type Assigner } from '../../clustering/model.js';
import { NpyReader, NpyWriter } from '../../clustering/npy.js';
import { propagateLabel } from '../../annotations/propagate.js';
import type { ClusterLabels } from '../../annotations/cluster-labels.js';
import { unitImages, type TransformUnit, type UnitImage } from './units.js';

/** What the stage needs of an embedding session (src/embedding/ provides it). */
export interface EmbeddingInfo {
  modelSha256: string;
  modelFile: string;
  inputName: string;
  outputName: string;
  inputType: string;
  dim: number;
  recipe: string;
  provider: string;
}

export type Embedded = { key: string; embedding: Float32Array } | { key: string; failure: FailureInfo };

export interface Embedder {
  info: EmbeddingInfo;
  /** Embeddings (or failures) in input order; stops with InterruptedError on the session's signal. */
  embed(items: AsyncIterable<UnitImage>): AsyncIterable<Embedded>;
  close(): Promise<void>;
}

const Counts = z.record(z.string(), z.number().int());

export const EmbedResult = z.object({
  images: z.number().int(),
  embedded: z.number().int(),
  failed: z.number().int(),
  failuresByCode: Counts,
  dim: z.number().int(),
  provider: z.string(),
  inputName: z.string(),
  outputName: z.string(),
  inputType: z.string(),
});
export type EmbedResult = z.infer<typeof EmbedResult>;

export const AssignResult = z.object({ rows: z.number().int() });
export type AssignResult = z.infer<typeof AssignResult>;

export const LabelResult = z.object({ rows: z.number().int(), labelled: z.number().int(), unlabelled: z.number().int() });
export type LabelResult = z.infer<typeof LabelResult>;

/** The unit's key for a step: a hash of its inputs, stable whatever order the fields are given in. */
export function unitKey(parts: Record<string, unknown>): string {
  return sha256(stableStringify(parts));
}

async function outputOf(root: string, rel: string, text?: string): Promise<[string, { bytes: number; sha256: string }]> {
  if (text !== undefined) return [rel, { bytes: Buffer.byteLength(text), sha256: sha256(text) }];
  const data = await readFile(`${root}/${rel}`);
  return [rel, { bytes: data.length, sha256: sha256(data) }];
}

function interrupted(unit: string): InterruptedError {
  return new InterruptedError('INTERRUPTED', `stopped while embedding unit ${unit}`, {
    hint: 'rerun the same command: the unit is redone whole',
  });
}

/** The identity every transform step shares: markers in transform/markers/<step>/, outputs relative to transform/. */
function transformStep<R>(outDir: string, name: TransformStepName, result: z.ZodType<R>, run: Step<TransformUnit, R>['run']): Step<TransformUnit, R> {
  const paths = transformPaths(outDir);
  return { name: `transform.${name}`, version: TRANSFORM_STEP_VERSION, result, markerPath: (u) => paths.marker(name, u.id), outputRoot: () => paths.root, run };
}

export function embedStep(outDir: string, embedder: () => Promise<Embedder>): Step<TransformUnit, EmbedResult> {
  const paths = transformPaths(outDir);
  return transformStep(outDir, 'embed', EmbedResult, async (unit: TransformUnit, io: UnitIO) => {
    for (const path of [paths.embeddings(unit.id), paths.keys(unit.id), paths.failures(unit.id)]) await removeStaleTemps(path);
    const session = await embedder();
    const { dim, provider, inputName, outputName, inputType } = session.info;
    const writer = await NpyWriter.create(paths.embeddings(unit.id), 'float32', dim);
    const keys: string[] = [];
    const failures: FailureRecord[] = [];
    const failuresByCode: Record<string, number> = {};
    const stored = new StoredImages(extractPaths(outDir).root, 1);
    try {
      for await (const item of session.embed(unitImages(outDir, unit.id, stored))) {
        if ('failure' in item) {
          failures.push({ unit: unit.id, item: item.key, step: 'embed', code: item.failure.code, message: item.failure.message, transient: false });
          failuresByCode[item.failure.code] = (failuresByCode[item.failure.code] ?? 0) + 1;
        } else {
          await writer.append(item.embedding);
          keys.push(item.key);
        }
        io.tick(1);
      }
      if (io.signal.aborted) throw interrupted(unit.id);
      await writer.finish();
    } catch (error) {
      await writer.abort();
      throw error;
    } finally {
      await stored.close();
    }
    const keysText = keys.map((k) => `${k}\n`).join('');
    const failuresText = toJsonl(failures);
    await writeFileAtomic(paths.keys(unit.id), keysText);
    await writeFileAtomic(paths.failures(unit.id), failuresText);
    const outputs: Outputs = Object.fromEntries([
      await outputOf(paths.root, paths.rel.embeddings(unit.id)),
      await outputOf(paths.root, paths.rel.keys(unit.id), keysText),
      await outputOf(paths.root, paths.rel.failures(unit.id), failuresText),
    ]);
    const result: EmbedResult = {
      images: keys.length + failures.length,
      embedded: keys.length,
      failed: failures.length,
      failuresByCode,
      dim,
      provider,
      inputName,
      outputName,
      inputType,
    };
    return { result, outputs };
  });
}

export function assignStep(outDir: string, assigner: () => Promise<Assigner>): Step<TransformUnit, AssignResult> {
  const paths = transformPaths(outDir);
  return transformStep(outDir, 'assign', AssignResult, async (unit: TransformUnit, io: UnitIO) => {
    await removeStaleTemps(paths.ids(unit.id));
    const { rows } = await assignFile(await assigner(), paths.embeddings(unit.id), paths.ids(unit.id), { signal: io.signal });
    const outputs: Outputs = Object.fromEntries([await outputOf(paths.root, paths.rel.ids(unit.id))]);
    return { result: { rows }, outputs };
  });
}

export function labelStep(outDir: string, labels: ClusterLabels): Step<TransformUnit, LabelResult> {
  const paths = transformPaths(outDir);
  return transformStep(outDir, 'label', LabelResult, async (unit: TransformUnit) => {
    const keys = (await readFile(paths.keys(unit.id), 'utf8')).split('\n').filter((k) => k.length > 0);
    const ids = await readIds(paths.ids(unit.id));
    if (ids.length !== keys.length) {
      throw new ManifestError('TRANSFORM_MISMATCH', `unit ${unit.id}: ${keys.length} keys but ${ids.length} cluster ids`, {
        hint: 'rerun the same command: the runner redoes units whose files no longer match their markers',
      });
    }
    const lines: TransformLabel[] = [];
    let labelled = 0;
    for (const [i, key] of keys.entries()) {
      const line = propagateLabel(key, ids[i]!, labels);
      if (line.labelId !== '') labelled++;
      lines.push(line);
    }
    const text = toJsonl(lines);
    await removeStaleTemps(paths.labels(unit.id));
    await writeFileAtomic(paths.labels(unit.id), text);
    const outputs: Outputs = Object.fromEntries([await outputOf(paths.root, paths.rel.labels(unit.id), text)]);
    return { result: { rows: lines.length, labelled, unlabelled: lines.length - labelled }, outputs };
  });
}

async function readIds(path: string): Promise<Int32Array> {
  const reader = await NpyReader.open(path, { ndim: 1, dtypes: ['int32'] });
  try {
    return await reader.readInt32(0, reader.rows);
  } finally {
    await reader.close();
  }
}

