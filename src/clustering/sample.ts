/**
 * Rows to fit on. A fit reads its sample more than once (PCA statistics, then projection), so a
 * sample is a RowSource that can be walked again: the rows stay on disk and each walk streams them
 * in blocks. From .npy files, the sample is a seeded uniform choice of row indices over all files
 * in the order given: the same files, size and seed always give the same rows.
 */
import { ItemError } from '../errors.js';
import { NpyReader, withNpy } from './npy.js';
import { Random, sampleIndices } from './random.js';

export interface RowBlock {
  rows: number;
  /** rows × dim float32 values, row-major. Valid until the next block is asked for. */
  data: Float32Array;
}

export interface RowSource {
  readonly dim: number;
  readonly rows: number;
  /** Every row of the source, in order, in blocks of at most `rowsPerBlock` rows. */
  blocks(rowsPerBlock: number): AsyncIterable<RowBlock>;
}

/** A source over rows already in memory (tests, small inputs). */
export function memorySource(data: Float32Array, dim: number): RowSource {
  if (data.length % dim !== 0) throw new RangeError(`memorySource: ${data.length} values is not a whole number of ${dim}-value rows`);
  const rows = data.length / dim;
  return {
    dim,
    rows,
    async *blocks(rowsPerBlock: number) {
      const step = Math.max(1, Math.floor(rowsPerBlock));
      for (let start = 0; start < rows; start += step) {
        const n = Math.min(step, rows - start);
        yield { rows: n, data: data.subarray(start * dim, (start + n) * dim) };
      }
    },
  };
}

/** Read a whole source into one array (for the small-input paths). */
export async function collectRows(source: RowSource): Promise<Float32Array> {
  const out = new Float32Array(source.rows * source.dim);
  let at = 0;
  for await (const block of source.blocks(1 << 16)) {
    out.set(block.data, at);
    at += block.data.length;
  }
  return out;
}

export const EMBEDDING_DTYPES = ['float32', 'float16', 'float64'] as const;

export interface EmbeddingFile {
  path: string;
  rows: number;
}

export interface EmbeddingSample extends RowSource {
  files: EmbeddingFile[];
  /** Rows in all files together; `rows` is how many of them the sample holds. */
  totalRows: number;
}

/**
 * A deterministic sample of at most `size` rows from N×D embedding files (all with the same D).
 * Headers are checked up front, so a bad file fails the fit before any work is done.
 */
export async function sampleEmbeddings(paths: readonly string[], size: number, seed: number): Promise<EmbeddingSample> {
  if (paths.length === 0) throw new RangeError('sampleEmbeddings: no files');
  const files: EmbeddingFile[] = [];
  let dim: number | undefined;
  let dimFrom = '';
  for (const path of paths) {
    const { rows, cols } = await withNpy(path, { ndim: 2, dtypes: EMBEDDING_DTYPES }, async (r) => ({ rows: r.rows, cols: r.cols }));
    if (dim !== undefined && cols !== dim) {
      throw new ItemError('EMBEDDINGS_DIM_MISMATCH', `${path} has ${cols}-value rows, ${dimFrom} has ${dim}`, {
        path,
        hint: 'fit on embeddings from one embedding model: pass only files written with the same model',
      });
    }
    dim = cols;
    dimFrom = path;
    files.push({ path, rows });
  }
  const totalRows = files.reduce((n, f) => n + f.rows, 0);
  const indices = sampleIndices(totalRows, size, new Random(seed, 0));
  const d = dim!;
  return {
    dim: d,
    rows: indices.length,
    files,
    totalRows,
    blocks: (rowsPerBlock) => sampledBlocks(files, indices, d, Math.max(1, Math.floor(rowsPerBlock))),
  };
}

/**
 * Walk the chosen rows file by file. Consecutive chosen rows are read with one positioned read, so
 * a full sample streams like a plain file and a sparse one costs one read per chosen run of rows.
 */
async function* sampledBlocks(files: EmbeddingFile[], indices: Float64Array, dim: number, rowsPerBlock: number): AsyncGenerator<RowBlock> {
  const block = new Float32Array(rowsPerBlock * dim);
  let filled = 0;
  let next = 0;
  let fileStart = 0;
  for (const file of files) {
    const fileEnd = fileStart + file.rows;
    if (next < indices.length && indices[next]! < fileEnd) {
      const reader = await NpyReader.open(file.path, { ndim: 2, dtypes: EMBEDDING_DTYPES });
      try {
        while (next < indices.length && indices[next]! < fileEnd) {
          let run = 1;
          const first = indices[next]!;
          while (run < rowsPerBlock - filled && next + run < indices.length && indices[next + run] === first + run && first + run < fileEnd) run++;
          await reader.readFloat32(first - fileStart, run, block.subarray(filled * dim, (filled + run) * dim));
          filled += run;
          next += run;
          if (filled === rowsPerBlock) {
            yield { rows: filled, data: block };
            filled = 0;
          }
        }
      } finally {
        await reader.close();
      }
    }
    fileStart = fileEnd;
  }
  if (filled > 0) yield { rows: filled, data: block.subarray(0, filled * dim) };
}
