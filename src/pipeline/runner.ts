/**
 * The unit runner: the one piece of machinery under every stage (extract units, enrich units, load
 * shards, transform's per-unit steps). A stage describes a step (how to do one unit, where its
 * marker goes, what its result looks like) and a list of units (id + a hash of everything the
 * unit's output depends on); the runner does the rest the same way for all of them:
 *
 * - done markers: `<marker path>` holds {schema 'biomedica.unit', step, stepVersion, unit, key,
 *   result, outputs}. It is written atomically, after every output, and read back and compared
 *   before the unit counts as done. A unit is skipped only when its marker parses, names this step,
 *   step version, unit and key, its result matches the step's schema, and its outputs pass the
 *   check below. Anything else: the unit is redone whole (its marker is removed first).
 * - output check (`check`): 'fast' (default) stats each recorded output: a missing file or another
 *   size redoes the unit; a file modified after the marker was written is hashed, and redone if its
 *   sha256 differs (so a hand-edited or byte-flipped file is repaired by a plain rerun). 'full'
 *   hashes every output (finds silent bit rot too). 'marker' trusts the marker alone.
 * - bounded concurrency (`concurrency` units at once) and the worker split (`worker` i/n takes the
 *   units whose ordinal ≡ i mod n; all workers share the folder).
 * - interrupts: once `ctx.signal` aborts no unit starts. A unit in flight gets the signal in
 *   `io.signal`; a step that honours it throws, and that unit is discarded (no marker: it is redone
 *   whole by the next run); a step that returns has finished its unit, which gets its marker. The
 *   run then throws InterruptedError naming the units discarded and kept.
 * - storage faults (src/storage/faults.ts) and any other thrown error stop the run: units in
 *   flight see `io.signal` abort, nothing more is marked, the first error is rethrown (storage
 *   errors as StorageError). A failed item is not an error: a step records it in its outputs, or
 *   returns `{ failed }` to leave its unit without a marker and let the run go on (enrich).
 * - `beforeChange`: called once, before the first unit of this run is (re)done: a stage removes
 *   its manifest there, so no manifest ever describes files that are being rewritten.
 * - progress: `ctx.progress` gets the units' weights (articles, samples) and the per-status
 *   counters; the report has the counts for the summary.
 * - finalize: `finalizeOnce` runs a step exactly once per content: workers take a lock named
 *   after the hash of what is finalized (`report.digest`), so a second round after a change
 *   finalizes again, and a finished finalize is remembered in the lock (a late worker of the same
 *   round skips). A plain run (no worker) always finalizes: it holds the folder alone.
 *
 * A stage made of several steps runs them one after another, each with its own markers; a global
 * step in between (transform's fit) is `finalizeOnce` over the digest of the step before:
 *
 *   const embed: Step<ExtractUnit, EmbedResult> = {
 *     name: 'transform.embed', version: 1, result: EmbedResult,
 *     markerPath: (u) => join(out, 'transform/embed', `${u.id}.done.json`),
 *     outputRoot: () => join(out, 'transform'),
 *     async run(u, io) {
 *       const npy = await embedUnit(u, io.signal);          // writes embed/<unit>.npy + .keys.txt
 *       return { result: { rows: npy.rows }, outputs: npy.outputs };   // { 'embed/u000001.npy': { bytes, sha256 } }
 *     },
 *   };
 *   const units = extractManifest.units.map((u) => ({ id: u.id, key: unitKey(u.files, modelSha256), weight: u.stats.images }));
 *   const embedded = await runUnits(embed, units, { concurrency: 1, worker, check: 'fast' }, ctx);
 *   if (!embedded.complete) return pending(embedded);   // other workers still embed
 *   const fit = await finalizeOnce({ lockDir, name: 'transform.fit', key: embedded.digest, worker, log }, () => fitModel(...));
 *   const assigned = await runUnits(assign, unitsKeyedBy(modelSha256), { worker }, ctx);
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { link, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { BiomedicaError, InterruptedError, toFailure, type FailureInfo } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { outputFault, storageFault } from '../storage/faults.js';
import { ensureDir, jsonText, sha256, sha256File, stableStringify, writeFileAtomic } from '../storage/files.js';
import type { StageContext } from './context.js';
import { RunRecorder } from './run-record.js';

// ---------------------------------------------------------------------------------------------
// Worker split

export const WorkerShare = z
  .object({ index: z.number().int().min(0), count: z.number().int().min(1) })
  .refine((w) => w.index < w.count, 'worker index must be below the worker count');
export type WorkerShare = z.infer<typeof WorkerShare>;

/** Worker i of n takes the units whose ordinal ≡ i (mod n); no worker: every unit. */
export function isMine(ordinal: number, worker: WorkerShare | undefined): boolean {
  return worker === undefined || ordinal % worker.count === worker.index;
}

// ---------------------------------------------------------------------------------------------
// Markers

export type CheckMode = 'marker' | 'fast' | 'full';
export const CHECK_MODES = ['marker', 'fast', 'full'] as const satisfies readonly CheckMode[];

export const OutputFile = z.object({ bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export type OutputFile = z.infer<typeof OutputFile>;
/** Output files of a unit, by path relative to the step's output root ('/'-separated). */
export type Outputs = Record<string, OutputFile>;

export const MARKER_SCHEMA = 'biomedica.unit';
export const MARKER_VERSION = 1;

const MarkerEnvelope = z.object({
  schema: z.literal(MARKER_SCHEMA),
  version: z.literal(MARKER_VERSION),
  step: z.string(),
  stepVersion: z.number().int(),
  unit: z.string(),
  /** The unit's key: sha256 of its inputs and the options that shape its output. */
  key: z.string(),
  result: z.unknown(),
  outputs: z.record(z.string(), OutputFile),
});

/** Any step's marker, result unparsed: for readers that check the result themselves (verify). */
export const UnitMarkerSchema = MarkerEnvelope;

export interface UnitMarker<R> {
  schema: typeof MARKER_SCHEMA;
  version: typeof MARKER_VERSION;
  step: string;
  stepVersion: number;
  unit: string;
  key: string;
  result: R;
  outputs: Outputs;
}

export interface WorkUnit {
  id: string;
  /** sha256 (or any stable string) of everything the unit's output depends on. */
  key: string;
  /** Progress ticks the unit is worth (articles, samples); default 1. */
  weight?: number;
}

export interface UnitIO {
  /** Aborted on interrupt or when another unit failed: throw to discard this unit. */
  signal: AbortSignal;
  log: Logger;
  /** Progress within the unit, in the unit's weight; the runner tops it up when the unit ends. */
  tick(n?: number): void;
}

export interface UnitDone<R> {
  result: R;
  /** What the unit wrote, for the output check of later runs. */
  outputs?: Outputs;
}

export interface UnitFailed {
  /** The unit could not be done this time (a server kept failing): no marker, the run goes on. */
  failed: FailureInfo;
}

export interface Step<U extends WorkUnit, R> {
  /** 'extract', 'enrich.pubmed', 'load.shard', 'transform.embed'… recorded in every marker. */
  name: string;
  /** Bump when the step's outputs change shape: every marker of an older version is redone. */
  version: number;
  result: z.ZodType<R>;
  markerPath(unit: U): string;
  /** Folder the marker's output paths are relative to. */
  outputRoot(unit: U): string;
  /** Do the unit: write its outputs (never its marker) and say what they are. */
  run(unit: U, io: UnitIO): Promise<UnitDone<R> | UnitFailed>;
}

/** What a reader of a step's markers needs (another stage checking them, a test fixture writing them). */
export type StepIdentity<U extends WorkUnit, R> = Omit<Step<U, R>, 'run'>;

export type MarkerState<R> =
  | { state: 'done'; marker: UnitMarker<R> }
  | { state: 'absent' }
  /** A marker for other inputs, options or versions, or one that does not parse. */
  | { state: 'stale'; why: string }
  /** The marker is current but an output is missing or no longer matches it. */
  | { state: 'changed'; why: string };

const OUTPUT_CHECKS_IN_FLIGHT = 16;

function safeRelative(rel: string): boolean {
  if (rel === '' || isAbsolute(rel) || rel.includes('\\')) return false;
  return !normalize(rel).split(sep).includes('..');
}

/**
 * A marker's own checks, from its text: schema, step and version, unit, key (any key when the
 * reader cannot know it: `key` undefined), result schema, output paths. Outputs are not looked at.
 */
export function parseMarker<R>(
  step: Pick<StepIdentity<WorkUnit, R>, 'name' | 'version' | 'result'>,
  unit: { id: string; key?: string | undefined },
  text: string,
): { state: 'done'; marker: UnitMarker<R> } | { state: 'stale'; why: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { state: 'stale', why: 'marker is not JSON' };
  }
  const envelope = MarkerEnvelope.safeParse(raw);
  if (!envelope.success) return { state: 'stale', why: 'marker does not match the marker schema' };
  const m = envelope.data;
  if (m.step !== step.name || m.stepVersion !== step.version) return { state: 'stale', why: `marker of ${m.step} v${m.stepVersion}` };
  if (m.unit !== unit.id) return { state: 'stale', why: `marker names unit ${m.unit}` };
  if (unit.key !== undefined && m.key !== unit.key) return { state: 'stale', why: 'inputs or options changed' };
  const result = step.result.safeParse(m.result);
  if (!result.success) return { state: 'stale', why: 'marker result does not match its schema' };
  if (!Object.keys(m.outputs).every(safeRelative)) return { state: 'stale', why: 'marker names an output outside its folder' };
  return { state: 'done', marker: { ...m, schema: MARKER_SCHEMA, version: MARKER_VERSION, result: result.data } };
}

/** Reads a unit's marker and checks it against the unit and (per `check`) its outputs. */
export async function readMarker<U extends WorkUnit, R>(step: StepIdentity<U, R>, unit: U, check: CheckMode = 'fast'): Promise<MarkerState<R>> {
  const path = step.markerPath(unit);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw storageFault(error) ?? error;
  }
  const parsed = parseMarker(step, unit, text);
  if (parsed.state !== 'done' || check === 'marker') return parsed;
  const { marker } = parsed;

  const root = step.outputRoot(unit);
  const markerMtime = (await stat(path)).mtimeMs;
  const limit = pLimit(OUTPUT_CHECKS_IN_FLIGHT);
  const problems = await Promise.all(
    Object.entries(marker.outputs).map(([rel, expected]) =>
      limit(async (): Promise<string | undefined> => {
        const file = join(root, rel);
        let s;
        try {
          s = await stat(file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `${rel} is missing`;
          throw storageFault(error) ?? error;
        }
        if (s.size !== expected.bytes) return `${rel} has ${s.size} bytes, its marker says ${expected.bytes}`;
        // Outputs are written before their marker: one modified since was touched by someone else.
        if (check === 'full' || s.mtimeMs > markerMtime) {
          if ((await sha256File(file)) !== expected.sha256) return `${rel} does not match its recorded sha256`;
        }
        return undefined;
      }),
    ),
  );
  const problem = problems.find((p) => p !== undefined);
  return problem ? { state: 'changed', why: problem } : { state: 'done', marker };
}

/** Writes the marker atomically and reads it back: a unit is done only once its marker is on disk as written. */
export async function writeMarker<U extends WorkUnit, R>(
  step: Pick<Step<U, R>, 'name' | 'version' | 'markerPath'>,
  unit: U,
  done: UnitDone<R>,
): Promise<UnitMarker<R>> {
  const marker: UnitMarker<R> = {
    schema: MARKER_SCHEMA,
    version: MARKER_VERSION,
    step: step.name,
    stepVersion: step.version,
    unit: unit.id,
    key: unit.key,
    result: done.result,
    outputs: done.outputs ?? {},
  };
  const path = step.markerPath(unit);
  const text = jsonText(marker);
  await writeFileAtomic(path, text);
  let back: string;
  try {
    back = await readFile(path, 'utf8');
  } catch (error) {
    throw storageFault(error) ?? error;
  }
  if (back !== text) {
    throw new BiomedicaError('MARKER_READBACK', `the marker of unit ${unit.id} reads back other bytes than were written`, {
      path,
      hint: 'another process writes this folder, or the storage loses writes: check it, then rerun the same command',
    });
  }
  return marker;
}

// ---------------------------------------------------------------------------------------------
// Running a step over units

export interface RunUnitsOptions<U extends WorkUnit = WorkUnit, R = unknown> {
  /** Units done at once (default 1). */
  concurrency?: number;
  worker?: WorkerShare | undefined;
  /** How finished units are checked before they are skipped (default 'fast'). */
  check?: CheckMode;
  /** Progress bar label (default: the step name). */
  label?: string;
  /** Called once, before the first unit of this run is (re)done. */
  beforeChange?: () => Promise<void>;
  /** Extra counters for the progress bar, from the results so far. */
  counters?: (tally: UnitCounts) => Record<string, number>;
  /** Called for each unit of this process found done or done now, in completion order (running totals). */
  onDone?: (unit: U, result: R, how: 'written' | 'skipped') => void;
  /**
   * Folder for this run's record (src/pipeline/run-record.ts: counts, start, last update), which
   * `biomedica status` reads for the rate and ETA: the run folder's `runsDirOf(outDir)`. None: no record.
   */
  recordDir?: string;
  /** How often the record is rewritten while units end (default 5 s). */
  recordEveryMs?: number;
}

export interface UnitCounts {
  /** Units done by this run. */
  written: number;
  /** Units found done (marker and outputs current). */
  skipped: number;
  /** Of `written`: units that had a current marker whose outputs no longer matched it. */
  repaired: number;
  /** Units left without a marker by a step's `{ failed }`. */
  failed: number;
  /** Units not done yet and not this process's (other workers'). */
  pending: number;
}

export interface UnitsReport<U extends WorkUnit, R> {
  step: string;
  units: number;
  counts: UnitCounts;
  /** Every unit that is done, whoever did it, in unit order. */
  done: { unit: U; marker: UnitMarker<R> }[];
  failures: { unit: string; code: string; message: string }[];
  /** Every unit has a current marker (others' units: and their outputs, at the size recorded). */
  complete: boolean;
  /** sha256 over every unit's id, key and result: what a finalize of this step is keyed by. */
  digest: string;
}

export async function runUnits<U extends WorkUnit, R>(
  step: Step<U, R>,
  units: readonly U[],
  options: RunUnitsOptions<U, R>,
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>,
): Promise<UnitsReport<U, R>> {
  const check = options.check ?? 'fast';
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const mine = units.filter((_, i) => isMine(i, options.worker));
  const markers = new Map<string, UnitMarker<R>>();
  const failures: UnitsReport<U, R>['failures'] = [];
  const counts: UnitCounts = { written: 0, skipped: 0, repaired: 0, failed: 0, pending: 0 };

  // Aborted by the caller's signal (interrupt) or by a failing unit (stop the others).
  const stop = new AbortController();
  const onAbort = () => stop.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  let firstError: unknown;
  const discarded: string[] = [];
  let changing: Promise<void> | undefined;
  const beforeChange = () => (changing ??= options.beforeChange?.() ?? Promise.resolve());

  const tickCounters = () => ctx.progress.tick(0, { ...counts, ...options.counters?.(counts) });
  const mineWeight = mine.reduce((a, u) => a + (u.weight ?? 1), 0);
  ctx.progress.start(mineWeight, options.label ?? step.name);
  const recorder = options.recordDir
    ? new RunRecorder(options.recordDir, step.name, options.worker, { units: mine.length, weight: mineWeight }, ctx.log, options.recordEveryMs)
    : undefined;
  let next = 0;
  const lane = async () => {
    while (next < mine.length && !stop.signal.aborted) {
      const unit = mine[next++]!;
      const weight = unit.weight ?? 1;
      let ticked = 0;
      const io: UnitIO = {
        signal: stop.signal,
        log: ctx.log,
        tick: (n = 1) => {
          const t = Math.min(n, weight - ticked);
          if (t <= 0) return;
          ticked += t;
          ctx.progress.tick(t);
          recorder?.worked(t);
        },
      };
      let found: MarkerState<R> | undefined;
      let outcome: UnitDone<R> | UnitFailed;
      try {
        found = await readMarker(step, unit, check);
        if (found.state === 'done') {
          markers.set(unit.id, found.marker);
          counts.skipped++;
          options.onDone?.(unit, found.marker.result, 'skipped');
          // Not io.tick: a skipped unit is progress, but no work for the run's rate.
          ctx.progress.tick(weight);
          recorder?.skipped(weight);
          tickCounters();
          continue;
        }
        if (found.state === 'changed') ctx.log.warn({ step: step.name, unit: unit.id, why: found.why }, 'unit no longer matches its marker: redoing it');
        else if (found.state === 'stale') ctx.log.info({ step: step.name, unit: unit.id, why: found.why }, 'unit marker is stale: redoing it');
        await beforeChange();
        // A unit being redone must not look done if this run dies before it ends.
        if (found.state !== 'absent') await rm(step.markerPath(unit), { force: true });
        outcome = await step.run(unit, io);
        if (!('failed' in outcome)) markers.set(unit.id, await writeMarker(step, unit, outcome));
      } catch (error) {
        // Whatever failed (the check, the unit, its marker), the other lanes stop and nothing more is marked.
        if (found?.state !== 'done') discarded.push(unit.id);
        if (firstError === undefined && !(stop.signal.aborted && isInterrupt(error, ctx.signal))) {
          firstError = storageFault(error) ?? error;
          stop.abort(firstError);
        }
        break;
      }
      io.tick(weight);
      if ('failed' in outcome) {
        counts.failed++;
        failures.push({ unit: unit.id, ...outcome.failed });
        recorder?.unitFailed(unit.id, outcome.failed.code);
        ctx.log.warn({ step: step.name, unit: unit.id, code: outcome.failed.code }, 'unit failed; it stays without a marker');
      } else {
        counts.written++;
        if (found.state === 'changed') counts.repaired++;
        options.onDone?.(unit, outcome.result, 'written');
        recorder?.written();
      }
      tickCounters();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(mine.length, 1)) }, lane));
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    ctx.progress.stop();
    await recorder?.finish(firstError !== undefined || ctx.signal.aborted ? 'stopped' : 'finished');
  }
  if (firstError !== undefined) {
    ctx.log.error({ step: step.name, discarded, err: toFailure(firstError) }, 'run stopped: the units in flight got no marker');
    throw firstError;
  }
  if (ctx.signal.aborted) {
    const kept = counts.written;
    throw new InterruptedError(
      'INTERRUPTED',
      `stopped before every unit was done: ${discarded.length} unit(s) in flight discarded (${discarded.join(', ') || 'none'}), ${kept} finished in this run and kept`,
      { step: step.name, discarded, hint: 'rerun the same command: finished units are kept and the discarded ones are redone whole' },
    );
  }

  // Marker readback: the report covers every unit, whoever did it. Another worker's unit counts
  // as done only with its outputs there as its marker records them: a current marker whose file is
  // gone is one its owner is redoing right now (it removes the marker only after it has looked),
  // and taking it for done lets this worker think the round finished: it would finalize over the
  // missing file, or find the finished lock of the last round (the same digest) and remove the
  // shared plan the owner is still reading. Stat only, not 'full': every worker would hash them all.
  const othersCheck: CheckMode = check === 'marker' ? 'marker' : 'fast';
  const done: UnitsReport<U, R>['done'] = [];
  const ours = new Set(mine.map((u) => u.id));
  for (const unit of units) {
    let marker = markers.get(unit.id);
    if (!marker && !ours.has(unit.id)) {
      const found = await readMarker(step, unit, othersCheck);
      if (found.state === 'done') marker = found.marker;
      else counts.pending++;
    }
    if (marker) done.push({ unit, marker });
  }
  const complete = done.length === units.length;
  const digest = sha256(stableStringify({ step: step.name, version: step.version, units: done.map((d) => [d.unit.id, d.unit.key, d.marker.result]) }));
  return { step: step.name, units: units.length, counts, done, failures, complete, digest };
}

function isInterrupt(error: unknown, signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  if (error instanceof InterruptedError) return true;
  if (error === signal.reason) return true;
  return (error as Error)?.name === 'AbortError';
}

// ---------------------------------------------------------------------------------------------
// Finalize: exactly once per content

export interface FinalizeOptions {
  /** Folder for the lock files: the run folder's lock folder (src/pipeline/lock.ts lockDir). */
  lockDir: string;
  /** 'extract', 'load', 'transform.fit'. */
  name: string;
  /** What is finalized: `report.digest` plus anything else the result depends on. */
  key: string;
  worker?: WorkerShare | undefined;
  log: WarnLog;
  /** A finalize lock whose owner is gone (dead pid on this host, or silent this long) is taken over. */
  staleMs?: number;
}

/** The slice of a logger the lock code needs (a pino Logger is one). */
export interface WarnLog {
  warn(obj: object, msg: string): void;
}

export type FinalizeResult<T> = { ran: true; value: T } | { ran: false; by: FinalizeLock };

const FinalizeLock = z.object({
  name: z.string(),
  key: z.string(),
  pid: z.number().int(),
  host: z.string(),
  token: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
});
export type FinalizeLock = z.infer<typeof FinalizeLock>;

const DEFAULT_FINALIZE_STALE_MS = 6 * 60 * 60 * 1000;

export function finalizeLockPath(lockDir: string, name: string, key: string): string {
  return join(lockDir, `finalize-${name}-${sha256(key).slice(0, 16)}.lock`);
}

/**
 * Runs `fn` unless another worker finalizes (or finalized) this same content. A plain run always
 * runs it. Locks of other contents for the same name are removed after a finalize, so the folder
 * does not collect them; a lock of this content stays, marked finished, so a worker of the same
 * round that gets here later does not finalize twice.
 */
export async function finalizeOnce<T>(options: FinalizeOptions, fn: () => Promise<T>): Promise<FinalizeResult<T>> {
  const path = finalizeLockPath(options.lockDir, options.name, options.key);
  const me: FinalizeLock = {
    name: options.name,
    key: options.key,
    pid: process.pid,
    host: hostname(),
    token: randomBytes(8).toString('hex'),
    startedAt: new Date().toISOString(),
  };
  if (options.worker) {
    const taken = await takeFinalizeLock(path, me, options.staleMs ?? DEFAULT_FINALIZE_STALE_MS, options.log);
    if (!taken.ok) return { ran: false, by: taken.holder };
  }
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    // Let the next worker (or rerun) finalize: this one did not finish.
    if (options.worker) await rm(path, { force: true }).catch(() => {});
    throw error;
  }
  if (options.worker) await writeFileAtomic(path, jsonText({ ...me, finishedAt: new Date().toISOString() }));
  await removeOtherFinalizeLocks(options.lockDir, options.name, path);
  return { ran: true, value };
}

async function takeFinalizeLock(
  path: string,
  me: FinalizeLock,
  staleMs: number,
  log: FinalizeOptions['log'],
): Promise<{ ok: true } | { ok: false; holder: FinalizeLock }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const created = await createExclusive(path, jsonText(me));
    if (created) return { ok: true };
    const holder = await readFinalizeLock(path);
    if (holder === 'gone') continue;
    if (holder && (holder.finishedAt || !ownerGone(holder.pid, holder.host, Date.parse(holder.startedAt), staleMs))) return { ok: false, holder };
    log.warn({ path, holder }, 'finalize lock of a process that is gone: taking it over');
    await rm(path, { force: true });
  }
  const holder = await readFinalizeLock(path);
  return { ok: false, holder: holder && holder !== 'gone' ? holder : { ...me, pid: -1, host: 'unknown' } };
}

async function readFinalizeLock(path: string): Promise<FinalizeLock | undefined | 'gone'> {
  try {
    const parsed = FinalizeLock.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    // Locks are linked into place whole; an unreadable one was damaged: treat it as a lock of nobody.
    if (error instanceof SyntaxError) return undefined;
    throw storageFault(error) ?? error;
  }
}

/**
 * Forgets every finalize of `name`: call it before changing what a finalize produced (a stage's
 * beforeChange), so the next round finalizes again even if it comes back to the same content.
 */
export async function forgetFinalized(lockDir: string, name: string): Promise<void> {
  await removeOtherFinalizeLocks(lockDir, name, '');
}

async function removeOtherFinalizeLocks(lockDir: string, name: string, keep: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(lockDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const prefix = `finalize-${name}-`;
  for (const n of names) {
    const p = join(lockDir, n);
    if (n.startsWith(prefix) && /^[0-9a-f]{16}\.lock$/.test(n.slice(prefix.length)) && p !== keep) await rm(p, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Shared once: one process builds, the others wait for it

export interface SharedOnceOptions {
  lockDir: string;
  /** 'load.plan'. */
  name: string;
  /** What is built: a different key is another artefact, built on its own. */
  key: string;
  log: WarnLog;
  signal: AbortSignal;
  /** How often a waiting process looks again (default 500 ms). */
  pollMs?: number;
  /** A builder gone this long (or a dead pid on this host) is replaced (default 6 h). */
  staleMs?: number;
}

/**
 * Returns what `read` finds; when it finds nothing, exactly one of the processes calling this
 * with the same key runs `build` (which must leave something `read` finds, written last) and the
 * others wait for it. A builder that dies is replaced once it is stale. Load's workers share one
 * plan this way instead of each planning for itself.
 */
export async function sharedOnce<T>(options: SharedOnceOptions, read: () => Promise<T | undefined>, build: () => Promise<void>): Promise<T> {
  const path = join(options.lockDir, `build-${options.name}-${sha256(options.key).slice(0, 16)}.lock`);
  const staleMs = options.staleMs ?? DEFAULT_FINALIZE_STALE_MS;
  let waitingLogged = false;
  for (;;) {
    options.signal.throwIfAborted();
    const found = await read();
    if (found !== undefined) return found;
    const me: FinalizeLock = { name: options.name, key: options.key, pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), startedAt: new Date().toISOString() };
    if (await createExclusive(path, jsonText(me))) {
      try {
        await build();
      } finally {
        await rm(path, { force: true }).catch(() => {});
      }
      const built = await read();
      if (built === undefined) throw new BiomedicaError('BUILD_INCOMPLETE', `${options.name}: the build left nothing to read`);
      return built;
    }
    const holder = await readFinalizeLock(path);
    if (holder !== 'gone' && (!holder || ownerGone(holder.pid, holder.host, Date.parse(holder.startedAt), staleMs))) {
      options.log.warn({ path, holder }, 'builder of a shared artefact is gone: taking its place');
      await rm(path, { force: true });
      continue;
    }
    if (!waitingLogged && holder !== 'gone') {
      options.log.warn({ name: options.name, pid: holder?.pid, host: holder?.host }, 'another process builds this; waiting for it');
      waitingLogged = true;
    }
    await sleep(options.pollMs ?? 500, undefined, { signal: options.signal }).catch(() => {});
  }
}

/**
 * Creates `path` holding `text` if it does not exist; false if it does. The text is written to a
 * temporary file first and hard-linked into place, so nobody ever sees the lock empty or half
 * written (link fails with EEXIST atomically, on NFS too). Creates the folder.
 */
export async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await ensureDir(dirname(path));
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw outputFault(error, path) ?? error;
  } finally {
    await rm(tmp, { force: true }).catch(() => {});
  }
}

/**
 * Whether the process that wrote a lock is gone: a pid that no longer runs on this host, or (any
 * host) nothing heard from it for `staleMs`.
 */
export function ownerGone(pid: number, host: string, lastSeenMs: number, staleMs: number, now = Date.now()): boolean {
  if (host === hostname() && !processAlive(pid)) return true;
  return !(now - lastSeenMs < staleMs);
}

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
