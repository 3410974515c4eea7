/**
 * `--jobs N`: N local worker processes over the `--worker i/n` split, started and looked after by
 * this one, so a many-core machine needs no hand-launched workers.
 *
 * The parent holds the folder's run lock for the whole run and starts children of the same CLI
 * (same node, same entry point, the flags the user typed that the child's command declares, plus
 * `--worker i/N --json --no-progress`). Each child works under the parent's lock (its token in
 * BIOMEDICA_JOBS_LOCK, src/pipeline/lock.ts): the children never refuse each other, and any other
 * run on the folder is refused by the parent's lock (exit 5) as before. Per phase (a stage):
 *
 *   1. what must exist before workers start, in one plain child (extract: `--plan-only`);
 *   2. N children `--worker i/N`, each with its share of the cores in BIOMEDICA_CORES (the
 *      core-derived defaults then size each child's pools for its share; settings the user gave
 *      are passed on and win);
 *   3. the worker that finds every unit done finalizes (finalizeOnce), as with hand-started
 *      workers; if none did (every child finished but none saw the others' last units), one plain
 *      child skips every done unit and writes the manifest. Outputs are the bytes of a plain run.
 *
 * `run --jobs N` does this stage by stage: extract, (enrich: one process, it has no split),
 * (transform), load; a stage starts when the one before is complete.
 *
 * A child that fails stops the others (SIGTERM: they drop the unit in flight and keep finished
 * ones) and the parent fails with that child's exit code (storage fault 6, locked 5, …), naming
 * it. SIGINT/SIGTERM to the parent are passed to every child once; a second one makes them quit at
 * once, as it does for a single process. Children run in their own process group (a terminal's
 * Ctrl-C reaches the parent alone, which forwards it exactly once) and stop themselves if the
 * parent disappears (watchParent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { CORES_ENV, machineDefaults } from '../config/cores.js';
import { BiomedicaError, ExitCode, InterruptedError, UsageError } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { acquireRunLock } from '../pipeline/lock.js';
import { resolveWorker } from './worker.js';

/** The token of the run lock a child works under. */
export const JOBS_LOCK_ENV = 'BIOMEDICA_JOBS_LOCK';
/** Heartbeat period of a child's progress lines, when the parent draws one bar from them. */
export const PROGRESS_MS_ENV = 'BIOMEDICA_PROGRESS_MS';

export const JOBS_HELP =
  "run N local worker processes (the --worker i/N split) and wait for them; 'auto': one per core. Each gets its share of the cores for its default concurrency";

/**
 * `--jobs N|auto` → N (undefined: no flag, or 1, which is a plain run). Usage errors for what
 * cannot go with it: an explicit share (--worker, or a scheduler's array variables), --plan-only
 * (the parent plans), --sync (one process by design).
 */
export function jobsFromFlags(
  flags: { jobs?: string; worker?: string; planOnly?: boolean; sync?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  if (flags.jobs === undefined) return undefined;
  const text = flags.jobs.trim();
  const n = text === 'auto' ? machineDefaults().cores : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 1024)) {
    throw new UsageError('FLAG_INVALID', `--jobs expects a number of processes from 1 to 1024, or auto, got "${flags.jobs}"`, { hint: 'e.g. --jobs 4, or --jobs auto (one per core)' });
  }
  if (flags.worker !== undefined) {
    throw new UsageError('FLAG_CONFLICT', '--jobs starts the workers itself: it cannot be one (--worker)', {
      hint: 'drop --worker to run every share here with --jobs, or drop --jobs to be one worker of a split',
    });
  }
  if (env[JOBS_LOCK_ENV] === undefined && resolveWorker(undefined, env) !== undefined) {
    throw new UsageError('FLAG_CONFLICT', "--jobs runs local workers on one machine, but a scheduler's array variables make this process one worker of a split", {
      hint: 'drop --jobs and let the array start one process per task (scripts/cluster/), or unset the array variables',
    });
  }
  if (flags.planOnly) throw new UsageError('FLAG_CONFLICT', '--jobs writes the plan itself before starting the workers: drop --plan-only');
  if (flags.sync) throw new UsageError('FLAG_CONFLICT', '--sync runs in one process (a night is a small delta): drop --jobs');
  return n === 1 ? undefined : n;
}

/** The token a `--jobs` parent handed this process, if it is one of its workers. */
export function parentLockFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[JOBS_LOCK_ENV] || undefined;
}

/**
 * In a child of `--jobs`: calls `stop` once (main.ts: as on SIGTERM) when the parent is gone, so
 * that an orphan never goes on writing a folder whose lock nobody holds any more.
 */
export function watchParent(stop: () => void, everyMs = 1000): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, everyMs);
  timer.unref();
}

/** `cores` split over `n` workers: the first `cores mod n` get one more; everyone gets one at least. */
export function coreShares(cores: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.max(1, Math.floor(cores / n) + (i < cores % n ? 1 : 0)));
}

/** Flags every child gets from the parent, not from the user's command line. */
const OWN_FLAGS = new Set(['--jobs', '--worker', '--json', '--progress', '--no-progress', '--plan-only', '--out']);

/**
 * The flags the user typed on `from` that `to` declares too, as argv: under `run`, each stage's
 * child gets the flags that stage understands (the run command declares them all).
 */
export function forwardedFlags(from: Command, to: Command): string[] {
  const declared = new Set(to.options.map((o) => o.long));
  const out: string[] = [];
  for (const option of from.options) {
    const long = option.long;
    if (!long || OWN_FLAGS.has(long) || !declared.has(long)) continue;
    const name = option.attributeName();
    if (from.getOptionValueSource(name) !== 'cli') continue;
    const value: unknown = from.getOptionValue(name);
    if (typeof value === 'boolean') {
      // `--flag` is true when given; `--no-flag` is false when given.
      if (value === !option.negate) out.push(long);
    } else if (Array.isArray(value)) out.push(long, ...value.map(String));
    else if (value !== undefined) out.push(long, String(value));
  }
  return out;
}

export interface JobPhase<S = unknown> {
  /** The stage's name in the summaries ('extract'). */
  stage: string;
  /** The command each child runs. */
  command: Command;
  /** Flags of one plain child run before the workers ('--plan-only'); none: the workers start at once. */
  prepare?: string[];
  /** false: one plain child (a stage with no worker split). */
  split: boolean;
  /** The stage's summary as text (the finalizing child's). */
  format(summary: S): string;
  /** What one child did, for the per-worker line ('3 units written'). */
  did(summary: S): string;
}

/** The stages `--jobs` runs, with their text summaries (imported when used, as commands do). */
export async function stagePhase(stage: 'extract' | 'enrich' | 'transform' | 'load', command: Command): Promise<JobPhase> {
  switch (stage) {
    case 'extract': {
      const { formatExtractSummary } = await import('../stages/extract/from-config.js');
      return phase({ stage, command, prepare: ['--plan-only'], split: true, format: formatExtractSummary, did: (s) => `${s.unitsWritten} written, ${s.unitsSkipped} skipped` });
    }
    case 'enrich': {
      const { formatEnrichSummary } = await import('../enrich/pubmed.js');
      return phase({ stage, command, split: false, format: formatEnrichSummary, did: (s) => `${s.units} units` });
    }
    case 'transform': {
      const { formatTransformSummary } = await import('../stages/transform/run-transform.js');
      return phase({ stage, command, split: true, format: formatTransformSummary, did: (s) => `${s.steps.embed?.written ?? 0} units embedded` });
    }
    case 'load': {
      const { formatLoadSummary } = await import('../stages/load/summary.js');
      return phase({ stage, command, split: true, format: formatLoadSummary, did: (s) => `${s.run.shardsWritten} shards written, ${s.run.shardsReused} reused` });
    }
  }
}

/** Checks a phase's summary type once, where it is made (as stage() does for pipeline stages). */
function phase<S>(p: JobPhase<S>): JobPhase {
  return p as JobPhase;
}

/** A sibling command of `cmd` by name: under `run`, the stage commands whose flags each child gets. */
export function commandNamed(cmd: Command, name: string): Command {
  const found = cmd.name() === name ? cmd : cmd.parent?.commands.find((c) => c.name() === name);
  if (!found) throw new BiomedicaError('NO_SUCH_COMMAND', `no ${name} command next to ${cmd.name()}`);
  return found;
}

export interface JobsOptions {
  jobs: number;
  outDir: string;
  /** The command the user ran ('extract', 'run'), named in the lock. */
  command: string;
  /** The user's command: its typed flags are passed to each phase's command that declares them. */
  from: Command;
  phases: JobPhase[];
  /** Draw one progress bar for all children (a TTY, and not --no-progress). */
  bar: boolean;
}

export interface WorkerRecord {
  /** 'i/N', or 'plan', 'final', or the stage name for a single process. */
  worker: string;
  pid: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** The child finalized its stage. */
  complete: boolean;
  /** What it did, as text ('3 written, 0 skipped'). */
  did?: string;
  /** Its own --json summary. */
  summary?: unknown;
}

export interface JobsResult {
  /** Per stage: the finalizing child's summary, with the workers' records under `jobs`. */
  summaries: Record<string, unknown>;
  text: string;
}

/** A child of `--jobs` failed: the run fails with its exit code, so a storage fault stays 6 and a lock stays 5. */
export class WorkerExitError extends BiomedicaError {
  override readonly exitCode: ExitCode;
  constructor(code: string, message: string, exitCode: ExitCode, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.exitCode = exitCode;
  }
}

const KNOWN_EXIT_CODES = new Set<number>(Object.values(ExitCode));

interface Child {
  label: string;
  args: string[];
  cores: number;
}

interface Finished {
  record: WorkerRecord;
  summary: unknown;
}

export async function runJobs(options: JobsOptions, ctx: StageContext): Promise<JobsResult> {
  const machine = machineDefaults();
  const shares = coreShares(machine.cores, options.jobs);
  const lock = await acquireRunLock({ outDir: options.outDir, command: `${options.command} --jobs ${options.jobs}`, log: ctx.log });
  try {
    ctx.log.info({ jobs: options.jobs, cores: machine.cores, coresFrom: machine.from, coresPerWorker: shares }, 'local workers');
    const summaries: Record<string, unknown> = {};
    const texts: string[] = [];
    const group = (phase: JobPhase, children: Child[]) => runGroup(phase.stage, children, { ...options, token: lock.info.token }, ctx);
    for (const phase of options.phases) {
      const base = [phase.command.name(), ...forwardedFlags(options.from, phase.command), '--out', options.outDir];
      const records: WorkerRecord[] = [];
      const keep = (finished: Finished[]) => {
        for (const f of finished) records.push({ ...f.record, did: f.summary === undefined ? '' : phase.did(f.summary), summary: f.summary });
        return finished;
      };
      if (phase.prepare) keep(await group(phase, [{ label: 'plan', args: [...base, ...phase.prepare], cores: machine.cores }]));
      const children: Child[] = phase.split
        ? shares.map((cores, i) => ({ label: `${i}/${options.jobs}`, args: [...base, '--worker', `${i}/${options.jobs}`], cores }))
        : [{ label: phase.stage, args: base, cores: machine.cores }];
      let final = keep(await group(phase, children)).find((f) => f.record.complete);
      if (!final) {
        // Every worker ended well but none saw all units done: one plain pass skips them all and finalizes.
        ctx.log.info({ stage: phase.stage }, 'no worker finalized: a plain pass writes the manifest');
        final = keep(await group(phase, [{ label: 'final', args: base, cores: machine.cores }]))[0]!;
      }
      summaries[phase.stage] = { ...(final.summary as object), jobs: { count: options.jobs, finalizedBy: final.record.worker, workers: records } };
      texts.push(`${phase.format(final.summary)}\n${workersLine(options.jobs, records, phase, final)}`);
      if (!isComplete(final.summary)) break;
    }
    return { summaries, text: texts.join('\n\n') };
  } finally {
    await lock.release();
  }
}

function isComplete(summary: unknown): boolean {
  return (summary as { complete?: unknown } | undefined)?.complete !== false;
}

function workersLine(jobs: number, records: WorkerRecord[], phase: JobPhase, final: Finished): string {
  const each = records.map((r) => `${r.worker}: exit ${r.exitCode}, ${r.seconds.toFixed(1)} s${r.did ? `, ${r.did}` : ''}`).join('; ');
  return `  workers      ${jobs} local (--jobs ${jobs}): ${each}; finalized by ${final.record.worker}${phase.split ? '' : ' (one process: this stage has no split)'}`;
}

/**
 * Starts the children together and waits for all of them. The first one to fail stops the
 * others; an interrupt of the parent is passed on. Throws when any failed or the run was stopped.
 */
async function runGroup(stage: string, children: Child[], options: JobsOptions & { token: string }, ctx: StageContext): Promise<Finished[]> {
  if (ctx.signal.aborted) throw interrupted(stage);
  const bar = options.bar ? progressBar(stage, children.length, ctx) : undefined;
  let failed: { child: Child; code: number | null; signal: NodeJS.Signals | null; pid: number | undefined } | undefined;
  const running = new Set<ChildProcess>();
  const stopOthers = (signal: NodeJS.Signals) => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  // Our interrupt, passed to every child once. A second one exits this process (main.ts): the
  // children get a second signal from the exit hook, which makes them quit at once too.
  const onAbort = () => stopOthers(signalName(ctx.signal.reason));
  const onExit = () => stopOthers('SIGTERM');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  process.on('exit', onExit);
  try {
    const finished = await Promise.all(
      children.map(async (child, index): Promise<Finished> => {
        const started = Date.now();
        // The bar is fed by the children's heartbeats, logged at info: a user who asked for less
        // gets it from the filter below, not by silencing the children.
        const quiet = bar !== undefined && ctx.log.levelVal > INFO ? ['--log-level', 'info'] : [];
        const proc = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...child.args, ...quiet, '--json', '--no-progress'], {
          env: {
            ...process.env,
            [JOBS_LOCK_ENV]: options.token,
            [CORES_ENV]: String(child.cores),
            ...(bar ? { [PROGRESS_MS_ENV]: '1000' } : {}),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        running.add(proc);
        ctx.log.info({ stage, worker: child.label, pid: proc.pid, cores: child.cores, args: child.args }, 'worker started');
        let stdout = '';
        proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        const lines = createInterface({ input: proc.stderr!, crlfDelay: Infinity });
        lines.on('line', (line) => {
          if (bar?.consume(index, line)) return;
          if (quiet.length > 0 && levelOf(line) < ctx.log.levelVal) return;
          process.stderr.write(tagLine(line, child.label) + '\n');
        });
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
          proc.once('error', reject);
          proc.once('close', (c, s) => resolve([c, s]));
        });
        running.delete(proc);
        if ((code !== 0 || signal !== null) && !failed && !ctx.signal.aborted) {
          failed = { child, code, signal, pid: proc.pid };
          ctx.log.error({ stage, worker: child.label, pid: proc.pid, exitCode: code, signal }, 'worker failed: stopping the others');
          stopOthers('SIGTERM');
        }
        let summary: unknown;
        try {
          summary = stdout.trim() ? JSON.parse(stdout) : undefined;
        } catch {
          summary = undefined;
        }
        const complete = code === 0 && (summary as { complete?: unknown } | undefined)?.complete !== false && summary !== undefined;
        return { record: { worker: child.label, pid: proc.pid, exitCode: code, signal, seconds: (Date.now() - started) / 1000, complete }, summary };
      }),
    );
    if (failed) throw workerFailed(stage, failed);
    if (ctx.signal.aborted) throw interrupted(stage);
    return finished;
  } finally {
    bar?.stop();
    ctx.signal.removeEventListener('abort', onAbort);
    process.off('exit', onExit);
  }
}

function signalName(reason: unknown): NodeJS.Signals {
  const name = (reason as Error | undefined)?.message;
  return name === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}

function interrupted(stage: string): InterruptedError {
  return new InterruptedError('INTERRUPTED', `stopped during ${stage}: every worker was asked to stop; finished units are kept`, {
    stage,
    hint: 'rerun the same command: finished units are kept and the discarded ones are redone whole',
  });
}

function workerFailed(stage: string, f: { child: Child; code: number | null; signal: NodeJS.Signals | null; pid: number | undefined }): WorkerExitError {
  const how = f.signal ? `was killed by ${f.signal}${f.signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${f.code}`;
  const exit = f.code !== null && KNOWN_EXIT_CODES.has(f.code) && f.code !== 0 ? (f.code as ExitCode) : ExitCode.internal;
  const who = f.child.label.includes('/') ? `worker ${f.child.label}` : `the ${f.child.label} process`;
  const own = f.signal ? '' : ` (its own error is above, tagged [worker ${f.child.label}])`;
  return new WorkerExitError('WORKER_FAILED', `${stage}: ${who} (pid ${f.pid}) ${how}; the other workers were stopped${own}`, exit, {
    stage,
    worker: f.child.label,
    exitCode: f.code,
    signal: f.signal,
    hint: f.signal
      ? 'rerun the same command: finished units are kept and the discarded ones are redone whole'
      : 'fix what its error says, then rerun the same command: finished units are kept and the discarded ones are redone whole',
  });
}

const INFO = 30;

/** pino's numeric level of a JSON log line; anything else (an error message) passes every filter. */
function levelOf(line: string): number {
  const m = /^\{"level":(\d+),/.exec(line);
  return m ? Number(m[1]) : Infinity;
}

/** A child's stderr line, tagged: JSON log lines get a `worker` field, anything else a prefix. */
export function tagLine(line: string, worker: string): string {
  if (line.startsWith('{')) {
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record !== null && typeof record === 'object' && !Array.isArray(record)) return JSON.stringify(record.worker === undefined ? { ...record, worker } : record);
    } catch {
      // Not JSON after all: prefixed below.
    }
  }
  return `[worker ${worker}] ${line}`;
}

/**
 * One bar for every child of a group, fed by their heartbeat lines ({ msg: 'progress', stage,
 * done, total, ...counters }): done and total summed, counters summed by name.
 */
function progressBar(stage: string, children: number, ctx: StageContext) {
  const latest: ({ done: number; total: number; counters: Record<string, number> } | undefined)[] = new Array(children).fill(undefined);
  let shownTotal = -1;
  let shownDone = 0;
  return {
    consume(index: number, line: string): boolean {
      if (!line.includes('"msg":"progress"')) return false;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return false;
      }
      const { done, total, stage: _label, level: _l, time: _t, pid: _p, hostname: _h, msg: _m, worker: _w, ...rest } = record;
      if (typeof done !== 'number' || typeof total !== 'number') return false;
      const counters = Object.fromEntries(Object.entries(rest).filter((e): e is [string, number] => typeof e[1] === 'number'));
      latest[index] = { done, total, counters };
      const seen = latest.filter((l) => l !== undefined);
      const sumTotal = seen.reduce((a, l) => a + l.total, 0);
      const sumDone = seen.reduce((a, l) => a + l.done, 0);
      const sums: Record<string, number> = { workers: children };
      for (const l of seen) for (const [k, v] of Object.entries(l.counters)) sums[k] = (sums[k] ?? 0) + v;
      if (sumTotal !== shownTotal) {
        ctx.progress.start(sumTotal, `${stage} ×${children}`);
        shownTotal = sumTotal;
        shownDone = 0;
      }
      ctx.progress.tick(sumDone - shownDone, sums);
      shownDone = sumDone;
      return true;
    },
    stop: () => ctx.progress.stop(),
  };
}
