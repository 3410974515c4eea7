/**
 * What the annotation commands read from a run folder: the cluster id of every image from the
 * transform label step's files (`<out>/transform/labels/<unit>.jsonl`, TransformLabel per line,
 * written with empty labels before experts label), the image records of the extract units (file,
 * media name, caption), and K from the fitted model. One unit's records in memory at a time.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ManifestError, UsageError } from '../errors.js';
import { extractPaths } from '../manifest/extract-manifest.js';
import { readJsonIfExists, readJsonl } from '../storage/files.js';
import type { StoredImageRef } from '../manifest/image-store.js';
import { ArticleRecord, FigureRecord } from '../manifest/records.js';
import { transformPaths } from '../manifest/transform-records.js';

const UNIT_FILE = /^([A-Za-z0-9_-]+)\.jsonl$/;

/** The units the label step wrote, in unit order (unit ids sort in plan order). */
export async function labelUnits(outDir: string): Promise<string[]> {
  const dir = join(transformPaths(outDir).root, 'labels');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ManifestError('TRANSFORM_MISSING', `no transform labels in ${dir}`, {
      path: dir,
      hint: `run biomedica transform --out ${outDir} first: its label step writes every image's cluster id there`,
    });
  }
  return names.flatMap((n) => UNIT_FILE.exec(n)?.[1] ?? []).sort();
}

export interface ImageDetail {
  unit: string;
  key: string;
  /** Where the JPEG lies: read it with src/manifest/image-store.ts, which refuses a record that names another unit's store or a range outside it. */
  image: StoredImageRef;
  mediaName: string;
  sha256: string;
  articleId: string;
  figureLabel: string;
  caption: string;
}

/**
 * Stream a unit's figure records and yield the images `wanted` accepts (all when omitted). Lines
 * that do not parse are counted in `invalid`, not fatal: these commands only describe images.
 */
export async function* unitImages(
  outDir: string,
  unit: string,
  counters: { invalid: number },
  wanted?: (key: string) => boolean,
): AsyncGenerator<ImageDetail> {
  const path = extractPaths(outDir).unitFile(unit, 'figures.jsonl');
  try {
    for await (const raw of readJsonl(path)) {
      const parsed = FigureRecord.safeParse(raw);
      if (!parsed.success) {
        counters.invalid++;
        continue;
      }
      const f = parsed.data;
      for (const image of f.images) {
        if (wanted && !wanted(image.key)) continue;
        yield {
          unit,
          key: image.key,
          image: { file: image.file, offset: image.offset, bytes: image.bytes },
          mediaName: image.mediaName,
          sha256: image.sha256,
          articleId: f.articleId,
          figureLabel: f.label,
          caption: f.caption,
        };
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ManifestError('MANIFEST_MISSING', `unit ${unit} has labels but no extract records at ${path}`, {
      path,
      hint: 'the run folder lost its extract units: rerun biomedica extract with the same --out',
    });
  }
}

/** PMCID of every article of a unit (a unit is a few hundred articles). */
export async function unitPmcids(outDir: string, unit: string, counters: { invalid: number }): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const path = extractPaths(outDir).unitFile(unit, 'articles.jsonl');
  try {
    for await (const raw of readJsonl(path)) {
      const parsed = ArticleRecord.safeParse(raw);
      if (parsed.success) out.set(parsed.data.id, parsed.data.pmcid);
      else counters.invalid++;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ManifestError('MANIFEST_MISSING', `unit ${unit} has labels but no extract records at ${path}`, {
      path,
      hint: 'the run folder lost its extract units: rerun biomedica extract with the same --out',
    });
  }
  return out;
}

/** Only the field this module needs: the clustering helper owns model.json's full schema. */
const ModelClusters = z.looseObject({ clusters: z.number().int().min(1) });

export interface ClusterCount {
  count: number;
  from: 'flag' | 'model' | 'labels';
}

/**
 * K, the number of clusters: the flag when given, else the fitted model's (`<out>/transform/model/
 * model.json`), else undefined and the caller falls back to one past the largest id it saw.
 */
export async function clusterCount(outDir: string | undefined, flag: number | undefined): Promise<ClusterCount | undefined> {
  if (flag !== undefined) return { count: flag, from: 'flag' };
  if (outDir === undefined) return undefined;
  const path = join(transformPaths(outDir).root, 'model', 'model.json');
  const raw = await readJsonIfExists(path);
  if (raw === undefined) return undefined;
  const parsed = ModelClusters.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError('MODEL_INVALID', `${path} does not say how many clusters the model has`, {
      path,
      hint: 'pass --clusters K',
    });
  }
  return { count: parsed.data.clusters, from: 'model' };
}

/** K for the label lines just read (largest id `maxId`): they must all be clusters of the fit. */
export async function clustersOfRun(outDir: string, flag: number | undefined, maxId: number): Promise<ClusterCount> {
  const k = (await clusterCount(outDir, flag)) ?? { count: maxId + 1, from: 'labels' as const };
  if (maxId >= k.count) {
    throw new ManifestError('CLUSTER_OUT_OF_RANGE', `the transform labels hold cluster ${maxId}, but the fit has ${k.count} clusters (from ${k.from})`, {
      hint: k.from === 'flag' ? "pass the fit's cluster count to --clusters" : `rerun biomedica transform --out ${outDir}: the labels are older than the model`,
    });
  }
  return k;
}
