// Throughput of normalizeImage on the real corpus images (every jpg and png under
// ../shared/corpus/images), read into memory first so only decoding and encoding are timed.
// Two modes, interleaved run by run: the baseline re-encodes every image (passThrough: false, the
// path every image took before), the default stores conforming JPEGs as they are. Reports the
// share passed through and the speed-up.
// Usage: npx tsx scripts/bench/images.ts [--repeat N] [--runs 5] [--concurrency 2] [--threads 1] [--jpeg-only]
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
    'jpeg-only': { type: 'boolean', default: false },
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
const inputs = walk(root)
  .filter((p) => !values['jpeg-only'] || /\.jpe?g$/i.test(p))
  .sort()
  .map((p) => readFileSync(p));
const inputBytes = inputs.reduce((sum, b) => sum + b.length, 0);

async function oneRun(passThrough: boolean): Promise<{ seconds: number; outputBytes: number; passed: number }> {
  const queue = Array.from({ length: repeat }, () => inputs).flat();
  let next = 0;
  let outputBytes = 0;
  let passed = 0;
  const options = { ...DEFAULT_IMAGE_OPTIONS, passThrough };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < queue.length) {
        const input = queue[next++];
        if (input === undefined) break;
        const stored = await normalizeImage(input, options);
        outputBytes += stored.bytes.length;
        if (stored.passThrough) passed++;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, outputBytes, passed };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

// Warm-up: loads codecs, faults in the libraries.
await oneRun(false);
await oneRun(true);
const baseline = [];
const current = [];
for (let i = 0; i < runs; i++) {
  baseline.push(await oneRun(false));
  current.push(await oneRun(true));
}
const images = inputs.length * repeat;
const jpegs = inputs.filter((b) => b[0] === 0xff && b[1] === 0xd8).length * repeat;
const summary = (results: { seconds: number; outputBytes: number }[]) => {
  const seconds = median(results.map((r) => r.seconds));
  return {
    outputMB: +((results[0]?.outputBytes ?? 0) / 1e6).toFixed(1),
    medianSeconds: +seconds.toFixed(3),
    imagesPerSecond: +(images / seconds).toFixed(1),
    inputMBPerSecond: +((inputBytes * repeat) / 1e6 / seconds).toFixed(1),
  };
};
const before = summary(baseline);
const after = summary(current);
const passed = current[0]?.passed ?? 0;
console.log(
  JSON.stringify({
    encoder: encoderVersion(),
    cpus: availableParallelism(),
    threadsPerImage: settings.concurrency,
    concurrency,
    runs,
    images,
    jpegs,
    passedThrough: passed,
    passedThroughShareOfJpegs: +(passed / jpegs).toFixed(3),
    passedThroughShareOfImages: +(passed / images).toFixed(3),
    inputMB: +((inputBytes * repeat) / 1e6).toFixed(1),
    reencodeAll: before,
    passThrough: after,
    speedup: +(before.medianSeconds / after.medianSeconds).toFixed(2),
  }),
);
