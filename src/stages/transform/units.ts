/**
 * What transform works on: the extract units, each with the images load will publish (figures
 * with status 'ok'), in record order. A transform unit's key starts from the sha256 of its extract
 * figures.jsonl, which records every image's own sha256: new or changed images make a new key.
 */
import { ManifestError } from '../../errors.js';
import { ExtractManifest, extractPaths } from '../../manifest/extract-manifest.js';
import type { StoredImages } from '../../manifest/image-store.js';
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
  /** Reads the JPEG from the unit's image store (ItemError RECORD_INVALID for a record that points elsewhere). */
  read: () => Promise<Buffer>;
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

/**
 * The images of one extract unit that load will publish, streamed from its figures.jsonl; each is
 * read by byte range from the unit's image store through `stored` when the embedder gets to it
 * (which may be after this generator ended: the caller closes `stored` once the embedder is done).
 */
export async function* unitImages(outDir: string, unit: string, stored: StoredImages): AsyncGenerator<UnitImage> {
  const paths = extractPaths(outDir);
  for await (const figure of readJsonl<FigureRecord>(paths.unitFile(unit, 'figures.jsonl'))) {
    if (figure.status !== 'ok') continue;
    for (const image of figure.images) yield { key: image.key, read: () => stored.read(image, unit) };
  }
}
