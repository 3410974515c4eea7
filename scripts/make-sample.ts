/**
 * Writes a synthetic legacy PMC mirror for demos, tests and benchmarks:
 *   <out>/oa_file_list.csv                  the file list, with the Retracted column of newer lists
 *   <out>/oa_package/xx/yy/PMCn.tar.gz      one package per article (nxml, PDF, jpg/png/tif + gif per figure)
 *   <out>/sample-truth.jsonl                what each article holds and how --bad broke it
 *   <out>/sample.json                       parameters and totals, written last
 *
 * The bundled demo sample in sample/ was made with
 *   npm run sample -- --out sample --articles 60 --bad --seed 1
 * and the same command, on a machine with the same sharp/libvips build and fonts, rewrites it
 * byte for byte. --bad adds one item of each failure the pipeline must record and survive: a row
 * whose package is missing, a truncated .tar.gz, a malformed nxml, a truncated jpg, an empty
 * caption, a 16×16 image (under the keep rule) and a graphic whose files are not in the package.
 *
 *   tsx scripts/make-sample.ts --out <dir> --articles N [--seed S] [--images-per-article-max M] [--bad] [--print-stats]
 */
import { parseArgs } from 'node:util';
import { BiomedicaError, UsageError } from '../src/errors.js';
import { generateSample, type SampleOptions } from './sample/generate.js';

const USAGE = 'usage: tsx scripts/make-sample.ts --out <dir> --articles N [--seed S] [--images-per-article-max M] [--bad] [--print-stats]';

function integer(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError('SAMPLE_FLAG', `${flag} must be a whole number, got '${value}'`, { hint: USAGE });
  return Number(value);
}

function parse(argv: string[]): SampleOptions & { printStats: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        articles: { type: 'string' },
        seed: { type: 'string' },
        'images-per-article-max': { type: 'string' },
        bad: { type: 'boolean', default: false },
        'print-stats': { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError('SAMPLE_FLAG', (err as Error).message, { hint: USAGE });
  }
  if (!values.out) throw new UsageError('SAMPLE_FLAG', '--out is required', { hint: USAGE });
  if (values.articles === undefined) throw new UsageError('SAMPLE_FLAG', '--articles is required', { hint: USAGE });
  return {
    out: values.out,
    articles: integer('--articles', values.articles, 0),
    seed: integer('--seed', values.seed, 1),
    imagesPerArticleMax: integer('--images-per-article-max', values['images-per-article-max'], 5),
    bad: values.bad ?? false,
    printStats: values['print-stats'] ?? false,
  };
}

async function main(): Promise<void> {
  const { printStats, ...options } = parse(process.argv.slice(2));
  const stats = await generateSample(options, (done) => {
    if (done % 500 === 0) process.stderr.write(`make-sample: ${done}/${options.articles} articles\n`);
  });
  if (printStats) {
    const mb = (stats.bytes / 1_048_576).toFixed(1);
    process.stdout.write(
      `articles ${stats.articles} (packages written ${stats.packages}, retracted ${stats.retracted})\n` +
        `figures ${stats.figures}, image files ${stats.imageFiles}, distinct rendered images ${stats.poolImages}\n` +
        `bytes ${stats.bytes} (${mb} MiB) in ${(stats.ms / 1000).toFixed(1)} s\n` +
        `licenses ${Object.entries(stats.licenses).map(([k, v]) => `${k}=${v}`).join(', ')}\n` +
        (stats.bad.length > 0 ? `bad ${stats.bad.map((b) => `${b.kind}:${b.pmcid}${b.figureId ? `/${b.figureId}` : ''}`).join(', ')}\n` : ''),
    );
  }
}

// A script, not the CLI: it reports and sets the exit code instead of calling process.exit.
main().catch((err: unknown) => {
  if (err instanceof BiomedicaError) {
    process.stderr.write(`make-sample: ${err.code}: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`make-sample: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
});
