// Throughput of normalizeImage on the real corpus images (every jpg and png under
// ../shared/corpus/images), read into memory first so only decoding and encoding are timed.
// Usage: npx tsx scripts/bench/images.ts [--repeat N] [--runs 5] [--concurrency 2] [--threads 1]
// --concurrency is how many images are in flight (the extract stage's imageConcurrency);
// --threads is libvips threads per image (configureSharp). MB/s counts input bytes.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_IMAGE_OPTIONS, configureSharp, encoderVersion, normalizeImage } from '../../src/images/normalize.js';

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
  },
});
const repeat = Number(values.repeat);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const settings = configureSharp({ concurrency: Number(values.threads) });

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared/corpus/images');
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : /\.(jpe?g|png)$/i.test(e.name) ? [join(dir, e.name)] : [],
  );
}
const inputs = walk(root).sort().map((p) => readFileSync(p));
const inputBytes = inputs.reduce((sum, b) => sum + b.length, 0);

async function oneRun(): Promise<{ seconds: number; outputBytes: number }> {
  const queue = Array.from({ length: repeat }, () => inputs).flat();
  let next = 0;
  let outputBytes = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < queue.length) {
        const input = queue[next++];
        if (input === undefined) break;
        const stored = await normalizeImage(input, DEFAULT_IMAGE_OPTIONS);
        outputBytes += stored.bytes.length;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, outputBytes };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

await oneRun(); // warm-up: loads codecs, faults in the libraries
const results = [];
for (let i = 0; i < runs; i++) results.push(await oneRun());
const images = inputs.length * repeat;
const seconds = median(results.map((r) => r.seconds));
console.log(
  JSON.stringify({
    encoder: encoderVersion(),
    cpus: availableParallelism(),
    threadsPerImage: settings.concurrency,
    concurrency,
    images,
    inputMB: +((inputBytes * repeat) / 1e6).toFixed(1),
    outputMB: +((results[0]?.outputBytes ?? 0) / 1e6).toFixed(1),
    medianSeconds: +seconds.toFixed(3),
    imagesPerSecond: +(images / seconds).toFixed(1),
    inputMBPerSecond: +((inputBytes * repeat) / 1e6 / seconds).toFixed(1),
  }),
);
