/**
 * What transform works on: the extract units, each with the images load will publish (figures
 * with status 'ok'), in record order. A transform unit's key starts from the sha256 of its extract
 * figures.jsonl, which records every image's own sha256: new or changed images make a new key.
 */
import { join } from 'node:path';
import { ManifestError } from '../../errors.js';
import { ExtractManifest, extractPaths } from '../../manifest/extract-manifest.js';
import type { FigureRecord } from '../../manifest/records.js';
import { readJsonl } from '../../storage/files.js';
import type { WorkUnit } from '../../pipeline/runner.js';

export interface TransformUnit extends WorkUnit {
  /** sha256 of the extract unit's figures.jsonl. */
  figuresSha256: string;
  /** Images to embed (figures with status 'ok'): the unit's weight. */
  images: number;
}

export interface UnitImage {
  key: string;
  /** Absolute path of the stored JPEG. */
  path: string;
}

/** The transform units of an extract, in unit order; `key` is left for each step to derive. */
export function transformUnits(manifest: ExtractManifest): Omit<TransformUnit, 'key'>[] {
  return manifest.units.map((u) => {
    const figuresSha256 = u.files['figures.jsonl'];
    if (!figuresSha256) {
      throw new ManifestError('MANIFEST_INVALID', `extract unit ${u.id} records no figures.jsonl`, {
        hint: 'rerun biomedica extract: it rewrites the manifest from the unit markers',
      });
    }
    // stats.images counts every stored image, 'ok' or not: an upper bound, fine for progress.
    return { id: u.id, figuresSha256, images: u.stats.images, weight: Math.max(1, u.stats.images) };
  });
}

/** The images of one extract unit that load will publish, streamed from its figures.jsonl. */
export async function* unitImages(outDir: string, unit: string): AsyncGenerator<UnitImage> {
  const paths = extractPaths(outDir);
  for await (const figure of readJsonl<FigureRecord>(paths.unitFile(unit, 'figures.jsonl'))) {
    if (figure.status !== 'ok') continue;
    for (const image of figure.images) yield { key: image.key, path: join(paths.root, image.file) };
  }
}
