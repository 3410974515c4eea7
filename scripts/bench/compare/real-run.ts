/**
 * The real-corpus mirror and extract runs the extract and load rows share: the mirror is made once
 * per size, and load takes the run folder extract left behind (or makes one when only load runs).
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTRACT_VERSION } from '../../../src/manifest/extract-manifest.js';
import { runCommand } from '../lib/measure.js';
import { buildRealMirror, type RealMirror } from '../lib/real-mirror.js';
import type { CompareContext } from './row.js';

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const cliMain = join(repo, 'src/cli/main.ts');
export const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** Mirror size: enough work that process starts do not dominate, and more for more cores. */
export function mirrorArticles(ctx: CompareContext): number {
  return ctx.quick ? 8 : Math.max(40, 10 * availableParallelism());
}

const mirrors = new Map<number, Promise<RealMirror>>();
export function realMirror(ctx: CompareContext, articles = mirrorArticles(ctx)): Promise<RealMirror> {
  let mirror = mirrors.get(articles);
  if (!mirror) mirrors.set(articles, (mirror = buildRealMirror(join(ctx.dir, `mirror-real-${articles}`), articles)));
  return mirror;
}

export interface ExtractTotals {
  articles: number;
  figures: number;
  figuresOk: number;
  images: number;
  imageBytes: number;
}

export interface ExtractRun {
  out: string;
  /** Wall seconds of the `--plan-only` process. */
  planSeconds: number;
  /** Wall seconds from the first worker's start to the last one's exit. */
  seconds: number;
  /** CPU seconds of all workers together (process starts included), when GNU time is there. */
  cpuSeconds?: number;
  totals: ExtractTotals;
}

/**
 * `biomedica extract` the way a user splits it: one `--plan-only`, then `workers` processes
 * `--worker i/n` at once, all confined to the first `cores` CPUs when taskset is there.
 */
export async function runExtract(ctx: CompareContext, out: string, workers: number, cores: number | null, articles?: number): Promise<ExtractRun> {
  const m = await realMirror(ctx, articles);
  await rm(out, { recursive: true, force: true });
  // One unit size for every worker count (the units decide the output bytes): four units per core.
  const unitSize = String(Math.max(1, Math.ceil(m.articles / (4 * availableParallelism()))));
  const args = ['extract', '--source', m.root, '--out', out, '--unit-size', unitSize, '--no-progress', '--json'];
  const pin = cores !== null && hasTaskset ? ['taskset', '-c', cores === 1 ? '0' : `0-${cores - 1}`] : [];
  const cli = (extra: string[]) => {
    const argv = [...pin, process.execPath, '--import', 'tsx', cliMain, ...args, ...extra];
    return runCommand(argv[0]!, argv.slice(1), { cwd: repo, env: { BIOMEDICA_LOG_LEVEL: 'warn' } });
  };
  const plan = await cli(['--plan-only']);
  const started = performance.now();
  const done = await Promise.all(Array.from({ length: workers }, (_, i) => cli(['--worker', `${i}/${workers}`])));
  const seconds = (performance.now() - started) / 1000;
  const cpu = done.map((r) => r.cpuSeconds);
  const cpuSeconds = cpu.every((c) => c !== undefined) ? cpu.reduce((a, b) => a + b, 0) : undefined;
  const manifest = JSON.parse(await readFile(join(out, 'extract', 'manifest.json'), 'utf8')) as { totals: ExtractTotals };
  return { out, planSeconds: plan.seconds, seconds, cpuSeconds, totals: manifest.totals };
}

let finished: string | undefined;
/** Says which run folder the extract rows left complete (a --quick load takes it). */
export function rememberExtract(out: string): void {
  finished = out;
}

/**
 * Load's input: a complete extract run folder of a real-corpus mirror. Load has fixed costs
 * (planning, DuckDB, Parquet, the card) that a few hundred samples would not amortise, so a full
 * run extracts a larger mirror once, untimed, and keeps it for later runs; it is made again when
 * the extract format version changes. --quick takes whatever extract left.
 */
export async function extractedRun(ctx: CompareContext): Promise<string> {
  if (ctx.quick && finished) return finished;
  const articles = ctx.quick ? mirrorArticles(ctx) : LOAD_ARTICLES;
  const out = join(ctx.dir, `extract-for-load-${articles}-v${EXTRACT_VERSION}`);
  if (!(await isComplete(out))) {
    ctx.log(`load: extracting a ${articles}-article real-corpus mirror once for load's input (not timed)`);
    await runExtract(ctx, out, availableParallelism(), null, articles);
  }
  return out;
}

/** About 1,000 samples. */
const LOAD_ARTICLES = 150;

async function isComplete(out: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await readFile(join(out, 'extract', 'manifest.json'), 'utf8')) as { version?: number; units?: unknown[] };
    return manifest.version === EXTRACT_VERSION && Array.isArray(manifest.units);
  } catch {
    return false;
  }
}
