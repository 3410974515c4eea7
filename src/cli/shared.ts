/**
 * Flags shared by several commands, and the bridge from parsed flags to the config layers and the
 * stage context.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { machineDefaults } from '../config/cores.js';
import { resolveConfig, type Config, type ConfigOverrides } from '../config/schema.js';
import { resolveTaxonomyPath } from '../annotations/taxonomy.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { createProgress } from '../log/progress.js';
import type { StageContext } from '../pipeline/context.js';
import type { LicenseGroup, SourceFilter } from '../sources/types.js';

export interface CommonFlags {
  config?: string;
  logLevel?: string;
  json?: boolean;
  progress?: boolean;
  check?: boolean;
}

/** `--check` (extract, load): hash every output of every finished unit before trusting it. */
export function checkMode(flags: CommonFlags): 'full' | 'fast' {
  return flags.check ? 'full' : 'fast';
}

const CHECK_HELP =
  'before skipping a finished unit or shard, hash all its files (default: compare sizes and hash only files modified since their marker)';

export function addCommonFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'JSON config file (same shape as config/defaults.json)')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .option('--json', 'print a machine-readable summary on stdout')
    .option('--no-progress', 'no progress bar, even on a TTY');
}

export interface ExtractFlags extends CommonFlags {
  source?: string;
  out: string;
  license?: string;
  pmcids?: string;
  limit?: string;
  updatedFrom?: string;
  updatedTo?: string;
  includeRetracted?: boolean;
  unitSize?: string;
  concurrency?: string;
  imageConcurrency?: string;
  connections?: string;
  rps?: string;
  maxRps?: string;
  sync?: boolean;
  planOnly?: boolean;
  worker?: string;
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
    .option('--worker <i/n>', 'be worker i of n (0-based): do units i, i+n, i+2n…; all workers share --out')
    .option('--sync', "incremental (cloud): diff the newest daily inventory against this folder's last run; extract only what changed, tombstone the rest");
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError('FLAG_INVALID', `${flag} expects a number, got "${value}"`);
  return n;
}

/** `extra`: overrides of later stages' flags (`run` passes transform's). */
export function configFromExtractFlags(flags: ExtractFlags, extra: ConfigOverrides = {}): Config {
  const overrides: ConfigOverrides = {
    source: { url: flags.source },
    filter: {
      licenseGroups: flags.license?.split(',').map((s) => s.trim()) as LicenseGroup[] | undefined,
      pmcidsFile: flags.pmcids,
      limit: int(flags.limit, '--limit'),
      updatedFrom: flags.updatedFrom,
      updatedTo: flags.updatedTo,
      includeRetracted: flags.includeRetracted,
    },
    extract: { unitSize: int(flags.unitSize, '--unit-size'), articleConcurrency: int(flags.concurrency, '--concurrency'), imageConcurrency: int(flags.imageConcurrency, '--image-concurrency') },
    network: { connections: int(flags.connections, '--connections'), requestsPerSecond: int(flags.rps, '--rps'), maxRequestsPerSecond: int(flags.maxRps, '--max-rps') },
    ...extra,
  };
  return resolveConfig({ configFile: flags.config, overrides });
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
  const progress = createProgress(log, { tty: flags.progress === false ? false : undefined });
  return { log, progress, signal };
}

/** The summary goes to stdout: JSON with --json, readable text otherwise. */
export function printSummary(flags: CommonFlags, summary: unknown, human: string): void {
  process.stdout.write(flags.json ? JSON.stringify(summary, null, 2) + '\n' : human + '\n');
}

export interface LoadFlags extends CommonFlags {
  out: string;
  dataset?: string;
  shardMaxBytes?: string;
  shardMaxSamples?: string;
  shardConcurrency?: string;
  denormalized?: boolean;
  subArticles: boolean;
  snapshotDate?: string;
  subset?: string;
  dropClass?: string;
  maxPerConcept?: string;
  subsetSeed?: string;
}

export function addLoadFlags(cmd: Command): Command {
  return cmd
    .option('--dataset <dir>', 'dataset folder (default <out>/dataset)')
    .option('--shard-max-bytes <n>', 'cut shards before this size (default 1e9)')
    .option('--shard-max-samples <n>', 'cut shards at this many samples (default 10000)')
    .option('--shard-concurrency <n>', `shards written at once (default: one per core, 2 to 16: ${machineDefaults().shards} here)`)
    .option('--denormalized', "BIOMEDICA's layout: article text, reference list and figure set repeated in every sample")
    .option('--no-sub-articles', 'leave out figures of sub-articles (author responses, translations)')
    .option('--snapshot-date <YYYY-MM-DD>', 'snapshot date for the dataset card (default: the source listing date)')
    .addOption(new Option('--subset <kind>', "write one of the paper's training subsets (needs transform labels)").choices(['concept-filtered', 'concept-balanced']))
    .option('--drop-class <classes>', "concept-filtered: comma-separated global classes whose images are left out, e.g. 'Plots and Charts,Tables'")
    .option('--max-per-concept <n>', 'concept-balanced: at most this many images per global class')
    .option('--subset-seed <s>', 'concept-balanced: seed of the choice within a concept (default 0)');
}

/** --subset and its flags → the load option; a flag of the other kind is a usage error, not ignored. */
function subsetFromFlags(flags: LoadFlags, config: string | undefined) {
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
    return { kind: 'concept-filtered' as const, dropClasses, taxonomyFile: resolveTaxonomyPath(resolveConfig({ configFile: config }).annotations.taxonomy) };
  }
  if (flags.dropClass !== undefined) throw new UsageError('FLAG_INVALID', '--drop-class belongs to --subset concept-filtered');
  if (flags.maxPerConcept === undefined) throw new UsageError('FLAG_INVALID', '--subset concept-balanced needs --max-per-concept', { hint: 'e.g. --max-per-concept 100000' });
  return { kind: 'concept-balanced' as const, maxPerConcept: int(flags.maxPerConcept, '--max-per-concept'), seed: int(flags.subsetSeed, '--subset-seed') ?? 0 };
}

/** --check for commands that do not get it from the extract flags (load). */
export function addCheckFlag(cmd: Command): Command {
  return cmd.option('--check', CHECK_HELP);
}

export async function loadOptionsFromFlags(flags: LoadFlags) {
  const { LoadOptions } = await import('../stages/load/run-load.js');
  const parsed = LoadOptions.safeParse({
    outDir: flags.out,
    datasetDir: flags.dataset,
    shardMaxBytes: flags.shardMaxBytes,
    shardMaxSamples: flags.shardMaxSamples,
    shardConcurrency: flags.shardConcurrency,
    denormalized: flags.denormalized ?? false,
    includeSubArticles: flags.subArticles,
    snapshotDate: flags.snapshotDate,
    subset: subsetFromFlags(flags, flags.config),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const subsetFlags: Record<string, string> = { maxPerConcept: '--max-per-concept', seed: '--subset-seed', dropClasses: '--drop-class' };
    const flag = issue.path[0] === 'subset' ? (subsetFlags[String(issue.path[1])] ?? '--subset') : `--${issue.path.join('.')}`;
    throw new UsageError('FLAG_INVALID', `${flag}: ${issue.message}`);
  }
  return parsed.data;
}

/** '--worker 1/4' → { index: 1, count: 4 }. */
export function parseWorker(value: string | undefined): { index: number; count: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    throw new UsageError('FLAG_INVALID', `--worker expects i/n with 0 ≤ i < n, got "${value}"`, { hint: 'e.g. --worker 0/4 … --worker 3/4' });
  }
  return { index, count };
}
