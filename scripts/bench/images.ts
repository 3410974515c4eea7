// Throughput of normalizeImage on the real corpus images (every jpg and png under
// ../shared/corpus/images, or under --dir), read into memory first so only decoding and encoding
// are timed. An output equal to its input byte for byte counts as passed through.
// Usage: npx tsx scripts/bench/images.ts [--repeat N] [--runs 5] [--concurrency 2] [--threads 1] [--dir DIR] [--warmup N]
// --warmup: images in the untimed first pass (default all of them).
// --baseline: also time, interleaved run by run, every image re-encoded (passThrough: false, the
// path every image took before conforming JPEGs were stored as they are) and report the speed-up.
// --concurrency is how many images are in flight (the extract stage's imageConcurrency);
// --threads is libvips threads per image (configureSharp). MB/s counts input bytes.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_IMAGE_OPTIONS, configureSharp, encoderVersion, normalizeImage } from '../../src/images/normalize.js';
import { median } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    dir: { type: 'string' },
    warmup: { type: 'string' },
    baseline: { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const settings = configureSharp({ concurrency: Number(values.threads) });

const root = values.dir ? resolve(values.dir) : resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared/corpus/images');
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : /\.(jpe?g|png)$/i.test(e.name) ? [join(dir, e.name)] : [],
  );
}
const inputs = walk(root).sort().map((p) => readFileSync(p));
const inputBytes = inputs.reduce((sum, b) => sum + b.length, 0);

async function oneRun(batch: Buffer[], passThrough = true): Promise<{ seconds: number; cpuSeconds: number; outputBytes: number; passedThrough: number }> {
  const options = { ...DEFAULT_IMAGE_OPTIONS, passThrough };
  const queue = Array.from({ length: repeat }, () => batch).flat();
  let next = 0;
  let outputBytes = 0;
  let passedThrough = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < queue.length) {
        const input = queue[next++];
        if (input === undefined) break;
        const stored = await normalizeImage(input, options);
        outputBytes += stored.bytes.length;
        if (stored.bytes.equals(input)) passedThrough++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6, outputBytes, passedThrough };
}

await oneRun(inputs.slice(0, values.warmup === undefined ? inputs.length : Number(values.warmup))); // warm-up: loads codecs, faults in the libraries
const results = [];
const baseline = [];
for (let i = 0; i < runs; i++) {
  if (values.baseline) baseline.push(await oneRun(inputs, false));
  results.push(await oneRun(inputs));
}
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
    passedThrough: results[0]?.passedThrough ?? 0,
    medianSeconds: +seconds.toFixed(3),
    // CPU seconds of the whole process, libvips threads included: steadier than wall time when shared.
    medianCpuSeconds: +median(results.map((r) => r.cpuSeconds)).toFixed(3),
    imagesPerSecond: +(images / seconds).toFixed(1),
    inputMBPerSecond: +((inputBytes * repeat) / 1e6 / seconds).toFixed(1),
    ...(values.baseline
      ? {
          reencodeAllImagesPerSecond: +(images / median(baseline.map((r) => r.seconds))).toFixed(1),
          speedup: +(median(baseline.map((r) => r.seconds)) / seconds).toFixed(2),
        }
      : {}),
  }),
);
