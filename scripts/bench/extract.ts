// Extract throughput and peak memory from a local legacy mirror made by the sample script, at two
// sizes (1× and 10×) so that flat memory shows: peak RSS must not grow with the mirror.
// Each size runs in its own child process so its peak RSS is its own.
// Usage: npx tsx scripts/bench/extract.ts [--base 300] [--factor 10] [--dir bench-out]
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: '300' },
    factor: { type: 'string', default: '10' },
    dir: { type: 'string', default: 'bench-out' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));

if (values.child) {
  // Child: one extract run, then its own numbers on stdout.
  const { runExtract } = await import('../../src/stages/extract/run-extract.js');
  const { createSource } = await import('../../src/sources/index.js');
  const { resolveConfig } = await import('../../src/config/schema.js');
  const { testContext } = await import('../../src/pipeline/context.js');
  const config = resolveConfig({});
  const source = await createSource(values.child, {});
  const started = performance.now();
  const summary = await runExtract(
    {
      outDir: values.out!,
      unitSize: config.extract.unitSize,
      articleConcurrency: config.extract.articleConcurrency,
      imageConcurrency: config.extract.imageConcurrency,
      maxFailureRate: 1,
      images: config.images,
      keep: config.keep,
    },
    source,
    {},
    testContext(),
  );
  await source.close();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      seconds,
      articles: summary.totals.articles,
      figures: summary.totals.figures,
      images: summary.totals.images,
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
} else {
  const sizes = [Number(values.base), Number(values.base) * Number(values.factor)];
  const results = [];
  for (const n of sizes) {
    const mirror = resolve(values.dir, `mirror-${n}`);
    if (!existsSync(join(mirror, 'sample.json'))) {
      const gen = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'scripts/make-sample.ts'), '--out', mirror, '--articles', String(n), '--seed', '3'], { stdio: 'inherit' });
      if (gen.status !== 0) throw new Error('sample generation failed');
    }
    const out = resolve(values.dir, `extract-${n}`);
    rmSync(out, { recursive: true, force: true });
    const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mirror, '--out', out], {
      encoding: 'utf8',
      env: { ...process.env, BIOMEDICA_LOG_LEVEL: 'silent' },
    });
    if (run.status !== 0) throw new Error(`extract failed: ${run.stderr}`);
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!);
    results.push({
      articles: n,
      seconds: +r.seconds.toFixed(2),
      figuresPerSecond: +(r.figures / r.seconds).toFixed(1),
      articlesPerSecond: +(r.articles / r.seconds).toFixed(1),
      maxRssMB: r.maxRssMB,
    });
    rmSync(out, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'extract', results, rssRatio: +(results[1]!.maxRssMB / results[0]!.maxRssMB).toFixed(2) }));
}
