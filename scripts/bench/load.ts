// Load throughput: samples/s and MB/s writing shards (plus index, article table and card) from an
// extract folder built by the test fixture builder, median of N runs, each in its own child process
// so its peak RSS is its own. A plain copy of the same image bytes (read each unit's image store,
// append to one file) runs beside it as the disk baseline: load should come close to it.
// Usage: npx tsx scripts/bench/load.ts [--articles 1500] [--figures 2] [--width 512] [--height 384] [--runs 3] [--dir bench-out]
//          [--shard-max-bytes 1e9] [--shard-concurrency 2] [--extract RUN_DIR] [--baseline REF]
// --extract loads an existing run folder (one holding extract/) instead of building the fixture.
// --baseline REF (e.g. main) measures this tree's load beside REF's (a `git archive` of it, sharing
// node_modules), each on its own layout of the same fixture, and `tar cf` of each extract's units,
// interleaved; it reports samples/s and the files the extract layout holds per 1,000 images.
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
    baseline: { type: 'string' },
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
    const manifest = JSON.parse(await readFile(join(outDir, 'extract/manifest.json'), 'utf8')) as { totals: { images: number } };
    const units = join(outDir, 'extract/units');
    for (const unit of (await readdir(units)).sort()) {
      const data = await readFile(join(units, unit, 'images.tar'));
      await out.write(data);
      bytes += data.length;
    }
    samples = manifest.totals.images;
    await out.sync();
    await out.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(JSON.stringify({ seconds, cpuSeconds, shardSeconds: shardSeconds || seconds, bytes, samples, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
} else if (values.baseline) {
  await compareWithBaseline(values.baseline);
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

/** Files under `dir`, recursively (what the extract layout asks the file system to create and keep). */
async function fileCount(dir: string): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(dir, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).length;
}

/**
 * This tree's load beside REF's, interleaved, each on the fixture its own builder writes (the same
 * articles and image sizes; REF's layout may keep one file per image), and `tar cf` of each
 * extract's units beside them: the load row of the comparison, before and after.
 */
async function compareWithBaseline(ref: string): Promise<void> {
  const { execFileSync, execSync } = await import('node:child_process');
  const { mkdirSync, readFileSync, symlinkSync } = await import('node:fs');
  const { interleave, round, runBenchScript, runCommand, runJson } = await import('./lib/measure.js');
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const rev = execFileSync('git', ['rev-parse', '--short', ref], { cwd: repo, encoding: 'utf8' }).trim();
  const dir = resolve(values.dir);
  const baseSrc = join(dir, `load-baseline-src-${rev}`);
  if (!existsSync(join(baseSrc, 'package.json'))) {
    rmSync(baseSrc, { recursive: true, force: true });
    mkdirSync(baseSrc, { recursive: true });
    execSync(`git archive ${rev} | tar x -C ${JSON.stringify(baseSrc)}`, { cwd: repo, stdio: 'inherit' });
    symlinkSync(join(repo, 'node_modules'), join(baseSrc, 'node_modules'));
  }
  const baseDir = join(dir, `load-baseline-${rev}`);
  const shardArgs = ['--shard-max-bytes', values['shard-max-bytes'], '--shard-concurrency', values['shard-concurrency']];
  const fixtureArgs = ['--articles', values.articles, '--figures', values.figures, '--width', values.width, '--height', values.height];
  const baseScript = join(baseSrc, 'scripts/bench/load.ts');
  const env = { BIOMEDICA_LOG_LEVEL: 'silent' };
  // Each side builds its fixture with its own builder (one run of its own bench, not counted).
  console.error(`building the fixtures (this tree and ${ref} ${rev})`);
  await runBenchScript('load.ts', ['--runs', '1', '--dir', dir, ...fixtureArgs, ...shardArgs]);
  await runJson(process.execPath, ['--import', 'tsx', baseScript, '--runs', '1', '--dir', baseDir, ...fixtureArgs, ...shardArgs], { cwd: baseSrc, env });
  const oursExtract = join(dir, 'load-extract');
  const baseExtract = join(baseDir, 'load-extract');
  const scratch = join(dir, 'load-tar-scratch');
  mkdirSync(scratch, { recursive: true });
  type Child = { seconds: number; shardSeconds: number; samples: number; bytes: number };
  const tarOf = (extract: string, name: string) => async () => {
    rmSync(join(scratch, name), { force: true });
    const r = await runCommand('tar', ['cf', join(scratch, name), '-C', join(extract, 'extract'), 'units']);
    return { seconds: r.seconds };
  };
  const runs = await interleave(
    {
      load: () => runBenchScript<Child>('load.ts', ['--child', 'load', '--dir', dir, ...shardArgs]),
      [`load@${rev}`]: () => runJson<Child>(process.execPath, ['--import', 'tsx', baseScript, '--child', 'load', '--dir', baseDir, ...shardArgs], { cwd: baseSrc, env }),
      tar: tarOf(oursExtract, 'ours.tar'),
      [`tar@${rev}`]: tarOf(baseExtract, 'base.tar'),
    },
    Number(values.runs),
    (name, i, r) => console.error(`${name} #${i + 1}: ${(r as { seconds: number }).seconds.toFixed(2)} s`),
  );
  rmSync(scratch, { recursive: true, force: true });
  const images = (extract: string) => (JSON.parse(readFileSync(join(extract, 'extract/manifest.json'), 'utf8')) as { totals: { images: number } }).totals.images;
  const rows = [];
  for (const [label, extract, load, tar] of [
    [`this tree (images.tar per unit)`, oursExtract, runs.load, runs.tar],
    [`${ref} ${rev}`, baseExtract, runs[`load@${rev}`], runs[`tar@${rev}`]],
  ] as const) {
    const n = images(extract);
    const samples = (load as Child[])[0]!.samples;
    const loadSeconds = median((load as Child[]).map((r) => r.seconds));
    const tarSeconds = median((tar as { seconds: number }[]).map((r) => r.seconds));
    const files = await fileCount(join(extract, 'extract/units'));
    rows.push({
      layout: label,
      images: n,
      samples,
      loadSamplesPerSecond: round(samples / loadSeconds),
      // The shard step alone (plan, Parquet and card excluded): where the image reads are.
      shardSamplesPerSecond: round(samples / median((load as Child[]).map((r) => r.shardSeconds))),
      tarCfImagesPerSecond: round(n / tarSeconds),
      loadVsTar: round(tarSeconds / loadSeconds, 2),
      unitFilesPer1000Images: round((files / n) * 1000),
      loadRunsSeconds: (load as Child[]).map((r) => +r.seconds.toFixed(2)),
      tarRunsSeconds: (tar as { seconds: number }[]).map((r) => +r.seconds.toFixed(2)),
    });
  }
  const summary = { fixture: `${values.articles}x${values.figures}@${values.width}x${values.height}`, runs: Number(values.runs), rows, loadSpeedupOverBaseline: round(rows[0]!.loadSamplesPerSecond / rows[1]!.loadSamplesPerSecond, 2), shardSpeedupOverBaseline: round(rows[0]!.shardSamplesPerSecond / rows[1]!.shardSamplesPerSecond, 2) };
  console.table(rows.map(({ loadRunsSeconds: _l, tarRunsSeconds: _t, ...r }) => r));
  console.log(JSON.stringify(summary));
}
