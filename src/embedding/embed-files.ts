/**
 * `biomedica embed`: one JSON line per image on stdout, in the order given, what the transform
 * stage sees for it: `{"path": …, "embedding": [floats]}` or `{"path": …, "error": {code, message}}`.
 * Scripts rely on this exact form.
 */
import { ItemError } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { openEmbedder, type EmbedderInfo, type EmbedderOptions } from './embedder.js';

export interface EmbedFilesSummary {
  images: number;
  embedded: number;
  failed: number;
  info: EmbedderInfo;
}

export async function embedFiles(
  paths: readonly string[],
  options: EmbedderOptions,
  ctx: Pick<StageContext, 'log' | 'signal'>,
  write: (line: string) => void,
): Promise<EmbedFilesSummary> {
  const embedder = await openEmbedder(options, ctx);
  const summary: EmbedFilesSummary = { images: 0, embedded: 0, failed: 0, info: embedder.info };
  try {
    // Keys are positions: the same path may be given twice and is answered twice.
    for await (const result of embedder.embed(paths.map((path, i) => ({ key: String(i), path })))) {
      const path = paths[Number(result.key)]!;
      summary.images++;
      if ('embedding' in result) {
        summary.embedded++;
        write(JSON.stringify({ path, embedding: Array.from(result.embedding) }));
      } else {
        summary.failed++;
        write(JSON.stringify({ path, error: { code: result.failure.code, message: result.failure.message } }));
      }
    }
  } finally {
    await embedder.close();
  }
  ctx.log.info({ images: summary.images, embedded: summary.embedded, failed: summary.failed, provider: embedder.info.provider }, 'embed finished');
  if (summary.failed > 0) {
    throw new ItemError('EMBED_FAILED', `${summary.failed} of ${summary.images} images could not be embedded`, {
      hint: 'the error lines on stdout name each file and why; fix or leave out those files',
    });
  }
  return summary;
}
