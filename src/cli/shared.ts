/**
 * Flags shared by several commands, and the bridge from parsed flags to the config layers and the
 * stage context.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { z } from 'zod';
import { machineDefaults } from '../config/cores.js';
import { isCalendarDay, resolveConfig, type Config, type FlagSetting, type SettingPath } from '../config/schema.js';
import { resolveTaxonomyPath } from '../annotations/taxonomy.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createProgress } from '../log/progress.js';
import { runnableCommands } from './invocation.js';
import { JOBS_HELP, PROGRESS_MS_ENV, runJobs, stagePhase } from './jobs.js';
import { resolveWorker, type WorkerAssignment } from './worker.js';
import type { StageContext } from '../pipeline/context.js';
import type { SourceFilter } from '../sources/types.js';

export interface CommonFlags {
  config?: string;
  logLevel?: string;
  json?: boolean;
  progress?: boolean;
  check?: boolean;
}

/** `--check` (extract, load, transform): hash every output of every finished unit before trusting it. */
export function checkMode(flags: CommonFlags): 'full' | 'fast' {
  return flags.check ? 'full' : 'fast';
}

const CHECK_HELP =
  'before skipping a finished unit or shard, hash all its files (default: compare sizes and hash only files modified since their marker)';

/** --check for commands that do not get it from the extract flags (load, transform). */
export function addCheckFlag(cmd: Command): Command {
  return cmd.option('--check', CHECK_HELP);
}

export function addCommonFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'JSON config file (same shape as config/defaults.json)')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .option('--json', 'print a machine-readable summary on stdout')
    .option('--no-progress', 'no progress bar, even on a TTY');
}

/** Extract flags read directly; the others set config settings (SETTING_FLAGS). */
export interface ExtractFlags extends CommonFlags {
  out: string;
  sync?: boolean;
  planOnly?: boolean;
  worker?: string;
  jobs?: string;
}

export function addExtractFlags(cmd: Command): Command {
  const machine = machineDefaults();
  return cmd
    .option('--source <url>', "'cloud' (default), a legacy mirror directory, or ftp:// / http(s):// legacy mirror root")
    .option('--out <dir>', 'output folder', 'out')
    .option('--license <groups>', 'comma-separated license groups: commercial,noncommercial,other')
    .option('--pmcids <file>', 'only the PMCIDs listed in this file, one per line')
    .option('--limit <n>', 'stop after this many articles')
    .option('--updated-from <YYYY-MM-DD>', 'only articles last updated on or after this day')
    .option('--updated-to <YYYY-MM-DD>', 'only articles last updated on or before this day')
    .option('--include-retracted', 'keep articles the source marks as retracted')
    .option('--unit-size <n>', 'articles per unit of work and resume')
    .option('--concurrency <n>', `articles processed at once (default: 2 per core, 4 to 64: ${machine.articles} here)`)
    .option('--image-concurrency <n>', `images decoded at once (default: one per core: ${machine.images} here, cores from ${machine.from})`)
    .option('--connections <n>', 'connections per host')
    .option('--rps <n>', 'requests per second cap (cloud: the rate each host starts at)')
    .option('--max-rps <n>', 'cloud: ceiling the request rate per host climbs to while the bucket answers (default 400)')
    .option('--plan-only', 'list the source and write the plan, then stop (first step of a run split over workers)')
    .option('--check', CHECK_HELP)
    .option('--worker <i/n>', 'be worker i of n (0-based): do units i, i+n, i+2n…; all workers share --out (default: from a Kubernetes Indexed Job, Slurm or AWS Batch array, see scripts/cluster/)')
    .option('--sync', "incremental (cloud): diff the newest daily inventory against this folder's last run; extract only what changed, tombstone the rest");
}

type FromText = (text: string, flag: string) => unknown;

export const numberFlag: FromText = (text, flag) => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError('FLAG_INVALID', `${flag} expects a number, got "${text}"`);
  return n;
};
const listFlag: FromText = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

/**
 * Flags that set a config setting (config/README.md). One table, so that a flag overrides its
 * setting in every command that has it, and a bad value is reported under the flag's name.
 */
const SETTING_FLAGS: { flag: string; setting: SettingPath; fromText?: FromText }[] = [
  { flag: '--source', setting: 'source.url' },
  { flag: '--license', setting: 'filter.licenseGroups', fromText: listFlag },
  { flag: '--pmcids', setting: 'filter.pmcidsFile' },
  { flag: '--limit', setting: 'filter.limit', fromText: numberFlag },
  { flag: '--updated-from', setting: 'filter.updatedFrom' },
  { flag: '--updated-to', setting: 'filter.updatedTo' },
  { flag: '--include-retracted', setting: 'filter.includeRetracted' },
  { flag: '--unit-size', setting: 'extract.unitSize', fromText: numberFlag },
  { flag: '--concurrency', setting: 'extract.articleConcurrency', fromText: numberFlag },
  { flag: '--image-concurrency', setting: 'extract.imageConcurrency', fromText: numberFlag },
  { flag: '--connections', setting: 'network.connections', fromText: numberFlag },
  { flag: '--rps', setting: 'network.requestsPerSecond', fromText: numberFlag },
  { flag: '--max-rps', setting: 'network.maxRequestsPerSecond', fromText: numberFlag },
  { flag: '--shard-max-bytes', setting: 'load.shardMaxBytes', fromText: numberFlag },
  { flag: '--shard-max-samples', setting: 'load.shardMaxSamples', fromText: numberFlag },
  { flag: '--shard-concurrency', setting: 'load.shardConcurrency', fromText: numberFlag },
  { flag: '--denormalized', setting: 'load.denormalized' },
  { flag: '--no-sub-articles', setting: 'load.includeSubArticles' },
  { flag: '--model', setting: 'transform.model' },
  { flag: '--recipe', setting: 'transform.recipe' },
  { flag: '--device', setting: 'transform.device' },
  { flag: '--batch-size', setting: 'transform.batchSize', fromText: numberFlag },
  { flag: '--threads', setting: 'transform.threads', fromText: numberFlag },
  { flag: '--components', setting: 'transform.components', fromText: numberFlag },
  { flag: '--clusters', setting: 'transform.clusters', fromText: numberFlag },
  { flag: '--seed', setting: 'transform.seed', fromText: numberFlag },
  { flag: '--sample', setting: 'transform.sampleSize', fromText: numberFlag },
];

/**
 * The config layers with this command's setting flags on top. Only flags the user typed count
 * (commander fills in defaults, e.g. true for --no-sub-articles): a config file's value must not
 * lose to a default.
 */
export function configFromFlags(cmd: Command): Config {
  const flags = cmd.opts<CommonFlags & Record<string, unknown>>();
  const set: FlagSetting[] = [];
  for (const option of cmd.options) {
    const entry = SETTING_FLAGS.find((e) => e.flag === option.long);
    const name = option.attributeName();
    if (!entry || cmd.getOptionValueSource(name) !== 'cli') continue;
    const raw = flags[name];
    set.push({ setting: entry.setting, flag: entry.flag, value: typeof raw === 'string' && entry.fromText ? entry.fromText(raw, entry.flag) : raw });
  }
  return resolveConfig({ configFile: flags.config, flags: set });
}

export function filterFromConfig(config: Config): SourceFilter {
  const f = config.filter;
  let pmcids: Set<string> | undefined;
  if (f.pmcidsFile) {
    let text: string;
    try {
      text = readFileSync(f.pmcidsFile, 'utf8');
    } catch (error) {
      throw new UsageError('PMCIDS_FILE', `cannot read ${f.pmcidsFile}: ${(error as Error).message}`);
    }
    pmcids = new Set(
      text
        .split(/\s+/)
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean)
        .map((s) => (s.startsWith('PMC') ? s : `PMC${s}`)),
    );
  }
  return {
    licenseGroups: f.licenseGroups,
    pmcids,
    updatedFrom: f.updatedFrom || undefined,
    updatedTo: f.updatedTo || undefined,
    includeRetracted: f.includeRetracted,
    limit: f.limit > 0 ? f.limit : undefined,
  };
}

export function createStageContext(flags: CommonFlags, signal: AbortSignal): StageContext {
  const log = createLogger(flags.logLevel);
  // A `--jobs` parent drawing one bar for its workers asks them for frequent heartbeats (src/cli/jobs.ts).
  const heartbeatMs = Number(process.env[PROGRESS_MS_ENV]) || undefined;
  const progress = createProgress(log, { tty: flags.progress === false ? false : undefined, signal, heartbeatMs });
  return { log, progress, signal };
}

/** The summary goes to stdout: JSON with --json, readable text otherwise. */
export function printSummary(flags: CommonFlags, summary: unknown, human: string): void {
  process.stdout.write(flags.json ? JSON.stringify(summary, null, 2) + '\n' : runnableCommands(human) + '\n');
}

/** Load flags read directly; the shard and layout flags set config settings (SETTING_FLAGS). */
export interface LoadFlags extends CommonFlags {
  out: string;
  dataset?: string;
  snapshotDate?: string;
  subset?: string;
  dropClass?: string;
  maxPerConcept?: string;
  subsetSeed?: string;
}

export function addLoadFlags(cmd: Command): Command {
  return cmd
    .option('--dataset <dir>', 'dataset folder (default <out>/dataset)')
    .option('--shard-max-bytes <n>', 'cut shards before this size (default: load.shardMaxBytes, 1e9)')
    .option('--shard-max-samples <n>', 'cut shards at this many samples (default: load.shardMaxSamples, 10000)')
    .option('--shard-concurrency <n>', `shards written at once (default: load.shardConcurrency, one per core, 2 to 16: ${machineDefaults().shards} here)`)
    .option('--denormalized', "BIOMEDICA's layout: article text, reference list and figure set repeated in every sample")
    .option('--no-sub-articles', 'leave out figures of sub-articles (author responses, translations)')
    .option('--snapshot-date <YYYY-MM-DD>', 'snapshot date for the dataset card (default: the source listing date)')
    .addOption(new Option('--subset <kind>', "write one of the paper's training subsets (needs transform labels)").choices(['concept-filtered', 'concept-balanced']))
    .option('--drop-class <classes>', "concept-filtered: comma-separated global classes whose images are left out, e.g. 'Plots and Charts,Tables'")
    .option('--max-per-concept <n>', 'concept-balanced: at most this many images per global class')
    .option('--subset-seed <s>', 'concept-balanced: seed of the choice within a concept (default 0)');
}


/** --subset and its flags → the load option; a flag of the other kind is a usage error, not ignored. */
function subsetFromFlags(flags: LoadFlags, config: Config) {
  const stray = (names: [string, unknown][]) => names.filter(([, v]) => v !== undefined).map(([n]) => n);
  if (flags.subset === undefined) {
    const given = stray([['--drop-class', flags.dropClass], ['--max-per-concept', flags.maxPerConcept], ['--subset-seed', flags.subsetSeed]]);
    if (given.length > 0) throw new UsageError('FLAG_INVALID', `${given.join(', ')} needs --subset`, { hint: 'add --subset concept-filtered or --subset concept-balanced' });
    return undefined;
  }
  if (flags.subset === 'concept-filtered') {
    const given = stray([['--max-per-concept', flags.maxPerConcept], ['--subset-seed', flags.subsetSeed]]);
    if (given.length > 0) throw new UsageError('FLAG_INVALID', `${given.join(', ')} belongs to --subset concept-balanced`);
    const dropClasses = (flags.dropClass ?? '').split(',').map((c) => c.trim()).filter(Boolean);
    if (dropClasses.length === 0) throw new UsageError('FLAG_INVALID', '--subset concept-filtered needs --drop-class', { hint: "e.g. --drop-class 'Plots and Charts,Tables'" });
    return { kind: 'concept-filtered' as const, dropClasses, taxonomyFile: resolveTaxonomyPath(config.annotations.taxonomy) };
  }
  if (flags.dropClass !== undefined) throw new UsageError('FLAG_INVALID', '--drop-class belongs to --subset concept-filtered');
  if (flags.maxPerConcept === undefined) throw new UsageError('FLAG_INVALID', '--subset concept-balanced needs --max-per-concept', { hint: 'e.g. --max-per-concept 100000' });
  return { kind: 'concept-balanced' as const, maxPerConcept: numberFlag(flags.maxPerConcept, '--max-per-concept') as number, seed: flags.subsetSeed === undefined ? 0 : (numberFlag(flags.subsetSeed, '--subset-seed') as number) };
}

export async function loadOptions(config: Config, flags: LoadFlags) {
  const { LoadOptions } = await import('../stages/load/run-load.js');
  return parseOptions(
    LoadOptions,
    {
      outDir: flags.out,
      datasetDir: flags.dataset,
      ...config.load,
      snapshotDate: calendarDayFlag(flags.snapshotDate, '--snapshot-date'),
      subset: subsetFromFlags(flags, config),
      check: checkMode(flags),
    },
    { outDir: '--out', datasetDir: '--dataset', subset: '--subset' },
  );
}

/** A stage's options from flags: a bad value is a usage error that names the flag. */
export function parseOptions<T extends z.ZodType>(schema: T, input: unknown, flagOf: Record<string, string>): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  const flag = flagOf[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  throw new UsageError('FLAG_INVALID', `${flag}: ${issue.message}`);
}

export function calendarDayFlag(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !isCalendarDay(value)) {
    throw new UsageError('FLAG_INVALID', `${flag} ${value}: not a calendar date (YYYY-MM-DD)`, { hint: `e.g. ${flag} 2025-02-28` });
  }
  return value;
}

/**
 * This process's share of a split run: --worker, else the scheduler's variables (worker.ts). A
 * --plan-only step runs once before the workers, so it ignores the scheduler's variables.
 */
export function workerFromFlags(flags: { worker?: string; planOnly?: boolean }): WorkerAssignment | undefined {
  if (flags.planOnly && flags.worker === undefined) return undefined;
  return resolveWorker(flags.worker);
}

/** `--jobs N|auto` (src/cli/jobs.ts), on the commands that split over workers. */
export function addJobsFlag(cmd: Command): Command {
  return cmd.option('--jobs <n>', `${JOBS_HELP} (${machineDefaults().cores} here)`);
}

export interface JobsFlags {
  jobs?: string;
  worker?: string;
  planOnly?: boolean;
  sync?: boolean;
  progress?: boolean;
}

/** Whether the parent of `--jobs` draws one bar for its workers: a TTY, and not --no-progress. */
export function jobsBar(flags: JobsFlags): boolean {
  return flags.progress !== false && Boolean(process.stderr.isTTY);
}

/** `extract|transform|load --jobs N`: the command's stage over N local workers (src/cli/jobs.ts), its summary printed. */
export async function runStageJobs(
  stage: 'extract' | 'transform' | 'load',
  self: Command,
  flags: CommonFlags & JobsFlags & { out: string },
  jobs: number,
  signal: AbortSignal,
): Promise<void> {
  const ctx = createStageContext(flags, signal);
  const phases = [await stagePhase(stage, self)];
  const result = await runJobs({ jobs, outDir: flags.out, command: stage, from: self, phases, bar: jobsBar(flags) }, ctx);
  printSummary(flags, result.summaries[stage], result.text);
}

/** The log says where i/n came from: a wrong split is otherwise hard to see. */
export function logWorker(log: Logger, worker: WorkerAssignment | undefined): { index: number; count: number } | undefined {
  if (!worker) return undefined;
  log.info({ worker: `${worker.index}/${worker.count}`, from: worker.from, ...(worker.overrode ? { overrode: worker.overrode } : {}) }, 'worker assignment');
  return { index: worker.index, count: worker.count };
}
