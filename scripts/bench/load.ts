// Load throughput: samples/s and MB/s writing shards (plus index, article table and card) from an
// extract folder built by the test fixture builder, median of N runs, each in its own child process
// so its peak RSS is its own. A plain copy of the same image files (read each, append to one file)
// runs beside it as the disk baseline: load should come close to it.
// Usage: npx tsx scripts/bench/load.ts [--articles 1500] [--figures 2] [--width 512] [--height 384] [--runs 3] [--dir bench-out]
//          [--shard-max-bytes 1e9] [--shard-concurrency 2] [--extract RUN_DIR]
// --extract loads an existing run folder (one holding extract/) instead of building the fixture.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    articles: { type: 'string', default: '1500' },
    figures: { type: 'string', default: '2' },
    width: { type: 'string', default: '512' },
    height: { type: 'string', default: '384' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: 'bench-out' },
    'shard-max-bytes': { type: 'string', default: '1000000000' },
    'shard-concurrency': { type: 'string', default: '2' },
    child: { type: 'string' },
    extract: { type: 'string' },
  },
});
const extractDir = values.extract ? resolve(values.extract) : undefined;

if (values.child === 'load' || values.child === 'copy') {
  const outDir = extractDir ?? resolve(values.dir, 'load-extract');
  const datasetDir = resolve(values.dir, 'load-dataset');
  rmSync(datasetDir, { recursive: true, force: true });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let bytes = 0;
  let samples = 0;
  let shardSeconds = 0;
  if (values.child === 'load') {
    const { runLoad, LoadOptions } = await import('../../src/stages/load/run-load.js');
    const { testContext } = await import('../../src/pipeline/context.js');
    const summary = await runLoad(
      LoadOptions.parse({ outDir, datasetDir, shardMaxBytes: values['shard-max-bytes'], shardConcurrency: values['shard-concurrency'] }),
      testContext(),
    );
    bytes = summary.bytes;
    samples = summary.samples;
    shardSeconds = summary.run.shardsMs / 1000;
  } else {
    const { open, readdir, readFile, mkdir } = await import('node:fs/promises');
    await mkdir(datasetDir, { recursive: true });
    const out = await open(join(datasetDir, 'copy.bin'), 'w');
    const units = join(outDir, 'extract/units');
    for (const unit of (await readdir(units)).sort()) {
      for (const name of (await readdir(join(units, unit, 'images'))).sort()) {
        const data = await readFile(join(units, unit, 'images', name));
        await out.write(data);
        bytes += data.length;
        samples++;
      }
    }
    await out.sync();
    await out.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(JSON.stringify({ seconds, cpuSeconds, shardSeconds: shardSeconds || seconds, bytes, samples, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
} else {
  const outDir = extractDir ?? resolve(values.dir, 'load-extract');
  const spec = extractDir ?? `${values.articles}x${values.figures}@${values.width}x${values.height}`;
  const marker = join(outDir, `fixture-${spec}`);
  if (!extractDir && !existsSync(marker)) {
    rmSync(outDir, { recursive: true, force: true });
    const { buildExtractFixture } = await import('../../test/helpers/extract-fixture.js');
    const { writeFile } = await import('node:fs/promises');
    const t = performance.now();
    await buildExtractFixture(outDir, {
      handWritten: false,
      generated: { articles: Number(values.articles), figuresPerArticle: Number(values.figures), width: Number(values.width), height: Number(values.height) },
    });
    await writeFile(marker, '');
    console.error(`fixture ${spec} built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const results: Record<string, unknown>[] = [];
  for (const kind of ['copy', 'load'] as const) {
    const runs: { seconds: number; shardSeconds: number; bytes: number; samples: number; maxRssMB: number }[] = [];
    for (let i = 0; i < Number(values.runs); i++) {
      const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, '--dir', values.dir, ...(extractDir ? ['--extract', extractDir] : [])];
      args.push('--shard-max-bytes', values['shard-max-bytes'], '--shard-concurrency', values['shard-concurrency']);
      const r = spawnSync(process.execPath, args, {
        encoding: 'utf8',
        env: { ...process.env, BIOMEDICA_LOG_LEVEL: 'silent' },
      });
      if (r.status !== 0) throw new Error(`${kind} failed: ${r.stderr}`);
      runs.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
    }
    const seconds = median(runs.map((r) => r.seconds));
    const { bytes, samples } = runs[0]!;
    results.push({
      kind,
      fixture: spec,
      ...(kind === 'load' ? { shardMaxBytes: Number(values['shard-max-bytes']), shardConcurrency: Number(values['shard-concurrency']) } : {}),
      samples,
      MB: +(bytes / 1e6).toFixed(1),
      medianSeconds: +seconds.toFixed(2),
      samplesPerSecond: Math.round(samples / seconds),
      MBPerSecond: +(bytes / 1e6 / seconds).toFixed(1),
      // Shards alone (load's plan and Parquet steps excluded): the part that scales with image bytes.
      shardMBPerSecond: +(bytes / 1e6 / median(runs.map((r) => r.shardSeconds))).toFixed(1),
      peakRssMB: Math.max(...runs.map((r) => r.maxRssMB)),
      runsSeconds: runs.map((r) => +r.seconds.toFixed(2)),
    });
  }
  rmSync(resolve(values.dir, 'load-dataset'), { recursive: true, force: true });
  console.table(results);
  console.log(JSON.stringify(results));
}
