/**
 * Bench: `biomedica status` on a run folder the size of a full PMC-OA extract.
 *
 *   npx tsx scripts/bench/status.ts [--units 30000] [--runs 3] [--dir <scratch>]
 *
 * Generates (once, reused by later runs) an extract folder of `--units` units of 200 articles
 * (30,000: 6 M articles): plan.json, a marker for every other unit, and a failures.jsonl with two
 * transient and one content failure for every tenth. Then times readStatus (src/status/) against
 * its floor, measured turn about in the same process: reading and JSON-parsing the same marker
 * files with nothing else (no schema checks, no failure files, no report). Reports medians, the
 * ratio, and the process's peak RSS.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTRACT_STEP, EXTRACT_VERSION, emptyStats, extractPaths, unitId } from '../../src/manifest/extract-manifest.js';
import { MARKER_SCHEMA, MARKER_VERSION } from '../../src/pipeline/runner.js';
import { readStatus } from '../../src/status/read-status.js';
import { interleave, median, round } from './lib/measure.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const UNITS = Number(arg('units', '30000'));
const RUNS = Number(arg('runs', '3'));
const DIR = arg('dir', join(tmpdir(), `biomedica-bench-status-${UNITS}`));
const ARTICLES = 200;

async function generate(out: string): Promise<void> {
  const paths = extractPaths(out);
  try {
    await stat(paths.plan);
    return;
  } catch {
    // not generated yet
  }
  await mkdir(paths.planDir, { recursive: true });
  const units = [];
  for (let i = 0; i < UNITS; i++) {
    const id = unitId(i);
    units.push({ id, articles: ARTICLES, sha256: 'a'.repeat(64) });
    if (i % 2 !== 0) continue;
    await mkdir(paths.unitDir(id), { recursive: true });
    const withFailures = i % 10 === 0;
    const stats = { ...emptyStats(), articles: ARTICLES, figures: 4 * ARTICLES, figuresOk: 4 * ARTICLES, images: 4 * ARTICLES };
    if (withFailures) Object.assign(stats, { failures: 3, failuresByCode: { DOWNLOAD_FAILED: 2, PARSE_FAILED: 1 } });
    const marker = {
      schema: MARKER_SCHEMA,
      version: MARKER_VERSION,
      step: EXTRACT_STEP,
      stepVersion: EXTRACT_VERSION,
      unit: id,
      key: 'k'.repeat(64),
      result: { stats, files: { 'articles.jsonl': 'b'.repeat(64) } },
      outputs: { 'articles.jsonl': { bytes: 1, sha256: 'b'.repeat(64) } },
    };
    await writeFile(paths.unitMarker(id), JSON.stringify(marker));
    if (withFailures) {
      const line = (k: number) =>
        JSON.stringify({ unit: id, item: `PMC${i}${k}`, step: k < 2 ? 'download' : 'parse', code: k < 2 ? 'DOWNLOAD_FAILED' : 'PARSE_FAILED', message: 'x', transient: k < 2 });
      await writeFile(paths.unitFile(id, 'failures.jsonl'), [0, 1, 2].map(line).join('\n') + '\n');
    }
  }
  const plan = { schema: 'biomedica.extract.plan', version: 1, inputSha256: 'c', source: { kind: 'legacy', url: 'bench', snapshotDate: '2026-01-01' }, units, articles: UNITS * ARTICLES, skipped: {} };
  await writeFile(paths.plan, JSON.stringify(plan));
}

/** The floor: every marker status reads, read and parsed, 64 at a time, nothing more. */
async function readMarkersOnly(out: string): Promise<number> {
  const paths = extractPaths(out);
  let done = 0;
  for (let i = 0; i < UNITS; i += 64) {
    const batch = Array.from({ length: Math.min(64, UNITS - i) }, (_, k) => unitId(i + k));
    await Promise.all(
      batch.map(async (id) => {
        try {
          JSON.parse(await readFile(paths.unitMarker(id), 'utf8'));
          done++;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }),
    );
  }
  return done;
}

await generate(DIR);
const seconds = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
let check: { done: number; transient: number } | undefined;
const times = await interleave(
  {
    status: () =>
      seconds(async () => {
        const report = await readStatus({ outDir: DIR });
        const step = report.stages[0]!.steps[0]!;
        check = { done: step.units.done, transient: report.retryable };
      }),
    markersOnly: () => seconds(() => readMarkersOnly(DIR)),
  },
  RUNS,
);
if (check?.done !== Math.ceil(UNITS / 2) || check.transient !== 2 * Math.ceil(UNITS / 10)) throw new Error(`status counted ${JSON.stringify(check)}`);
const status = median(times.status);
const floor = median(times.markersOnly);
process.stdout.write(
  JSON.stringify({
    bench: 'status',
    units: UNITS,
    articles: UNITS * ARTICLES,
    runs: RUNS,
    statusSeconds: round(status),
    markersOnlySeconds: round(floor),
    ratio: round(status / floor),
    unitsPerSecond: round(UNITS / status),
    peakRssMB: round(process.resourceUsage().maxRSS / 1024),
  }) + '\n',
);
