// Parse throughput over the real corpus (../shared/corpus/nxml), files read into memory first so
// only parsing is timed. One process, one core. `npm run bench:compare` runs it beside a Python
// (lxml) parse of the same files.
// Usage: npx tsx scripts/bench/parse.ts [--runs 5] [--repeat 3]
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseArticles } from '../../src/jats/parse.js';
import { median } from './lib/measure.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, repeat: { type: 'string', default: '3' } } });
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared/corpus/nxml');
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : /\.(nxml|xml)$/i.test(e.name) ? [join(dir, e.name)] : [],
  );
}
const files = walk(root).sort().map((p) => readFileSync(p));
const bytes = files.reduce((s, b) => s + b.length, 0);

function oneRun() {
  let articles = 0;
  let figures = 0;
  let failed = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let r = 0; r < Number(values.repeat); r++) {
    for (const xml of files) {
      try {
        for (const a of parseArticles(xml)) {
          articles++;
          figures += a.figures.length;
        }
      } catch {
        failed++;
      }
    }
  }
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6, articles, figures, failed };
}

oneRun(); // warm-up: JIT and the parser's lazy setup
const runs = Array.from({ length: Number(values.runs) }, oneRun);
const seconds = median(runs.map((r) => r.seconds));
const { articles, figures, failed } = runs[0]!;
const result = {
  bench: 'parse',
  files: files.length,
  mb: +(bytes / 1e6).toFixed(1),
  articlesPerRun: articles,
  figuresPerRun: figures,
  failedFilesPerRun: failed,
  medianSeconds: +seconds.toFixed(3),
  // CPU seconds of the whole process (all threads): on a shared machine, steadier than wall time.
  medianCpuSeconds: +median(runs.map((r) => r.cpuSeconds)).toFixed(3),
  articlesPerSecond: Math.round(articles / seconds),
  mbPerSecond: +((bytes * Number(values.repeat)) / 1e6 / seconds).toFixed(1),
};
console.log(JSON.stringify(result));
