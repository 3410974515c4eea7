/**
 * `biomedica status OUT`: what a run folder holds, stage by stage, read from disk only. It never
 * writes, takes no lock and hashes nothing, so it runs beside a run that holds the folder, on a
 * copy, and on a read-only mount; its cost is one small read per unit and step (markers), plus the
 * failure files of units that recorded failures, streamed.
 *
 *   extract    plan/plan.json → units; units/<unit>/done.json; units/<unit>/failures.jsonl
 *   enrich     (when present) units/<unit>/pubmed.done.json; pubmed.failures.jsonl of failed units
 *   transform  markers/<step>/<unit>.json for embed, assign, label; model/model.json for the fit;
 *              embed/<unit>.failures.jsonl
 *   load       <dataset>/manifest.json when finished; otherwise the shared plan in <dataset>/.work/
 *              and its shards' markers stats/<group>/NNNNNN.json; failures.jsonl (or its staging file)
 *   rates      <out>/.runs/ (src/pipeline/run-record.ts); the lock folder for whether a run is live
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ManifestError, UsageError } from '../errors.js';
import { ExtractManifest, EXTRACT_STEP, EXTRACT_VERSION, ExtractUnitResult, Plan, extractPaths, extractUnitKey } from '../manifest/extract-manifest.js';
import { LICENSE_GROUPS, LOAD_SHARD_STEP, LOAD_VERSION, LoadManifest, LoadPlanFile, ShardStats, loadPaths } from '../manifest/load-manifest.js';
import { TRANSFORM_STEPS, TRANSFORM_STEP_VERSION, TransformManifest, transformPaths } from '../manifest/transform-records.js';
import { PUBMED_VERSION, PubmedUnitResult, pubmedPaths, pubmedUnit } from '../enrich/records.js';
import { readRunLocks, type LockSeen } from '../pipeline/lock.js';
import { readRunRecords, runsDirOf, type RunRecord } from '../pipeline/run-record.js';
import { parseMarker } from '../pipeline/runner.js';
import { storageFault } from '../storage/faults.js';
import { pathExists as exists, readJsonl } from '../storage/files.js';
import { STATUS_SCHEMA, STATUS_VERSION, type FailureCount, type StageStatus, type StatusReport, type StepStatus } from './report.js';

export interface StatusOptions {
  outDir: string;
  /** The dataset folder load wrote (default <out>/dataset, as load's). */
  datasetDir?: string | undefined;
  /** A lock whose heartbeat is older than this (or whose pid is gone on this host) is stale (default: the lock's own). */
  staleMs?: number;
  now?: () => Date;
  /** List every unit that is not done, per step (`status --units`). */
  listUnits?: boolean;
}

/** Markers read at once: enough to hide latency on a network file system, few enough to bound memory. */
const MARKERS_IN_FLIGHT = 64;

export async function readStatus(options: StatusOptions): Promise<StatusReport> {
  const outDir = resolve(options.outDir);
  const datasetDir = resolve(options.datasetDir ?? join(outDir, 'dataset'));
  await checkRunFolder(outDir, datasetDir);
  const locks = await readRunLocks(outDir, options.staleMs);
  const records = await readRunRecords(runsDirOf(outDir));
  const ctx: Ctx = { outDir, datasetDir, locks, records, now: (options.now ?? (() => new Date()))(), listUnits: options.listUnits ?? false };

  // Read once: on a full extract it is the largest file status reads.
  const extractManifest = await readValid(extractPaths(outDir).manifest, ExtractManifest);
  const stages: StageStatus[] = [await extractStatus(ctx, extractManifest)];
  const enrich = extractManifest ? await enrichStatus(ctx, extractManifest) : undefined;
  if (enrich) stages.push(enrich);
  stages.push(await transformStatus(ctx, extractManifest), await loadStatus(ctx, extractManifest !== undefined));

  const retryable = stages.reduce((a, s) => a + s.failures.reduce((b, f) => b + f.transient, 0), 0);
  const hints: string[] = [];
  if (retryable > 0) hints.push(`${retryable} item failure(s) are transient: retry them with biomedica retry-failed ${shellArg(options.outDir)}`);
  return {
    schema: STATUS_SCHEMA,
    version: STATUS_VERSION,
    outDir,
    datasetDir,
    readAt: ctx.now.toISOString(),
    run: {
      state: locks.some((l) => l.live) ? 'running' : locks.length > 0 ? 'stale' : 'none',
      locks: locks.flatMap((l) =>
        l.info
          ? [{ name: l.name, command: l.info.command, worker: l.info.worker ?? null, pid: l.info.pid, host: l.info.host, startedAt: l.info.startedAt, heartbeatAt: l.info.heartbeatAt, live: l.live }]
          : [],
      ),
    },
    stages,
    retryable,
    hints,
  };
}

interface Ctx {
  outDir: string;
  datasetDir: string;
  locks: LockSeen[];
  records: RunRecord[];
  now: Date;
  listUnits: boolean;
}

async function checkRunFolder(outDir: string, datasetDir: string): Promise<void> {
  const hint = 'give the folder passed as --out to biomedica extract or biomedica run (it holds extract/ once a run has started)';
  let s;
  try {
    s = await stat(outDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError('OUT_MISSING', `${outDir} does not exist`, { hint });
    throw storageFault(error) ?? error;
  }
  if (!s.isDirectory()) throw new UsageError('NOT_A_RUN_FOLDER', `${outDir} is not a folder`, { hint });
  const markers = [join(outDir, 'extract'), join(outDir, 'transform'), runsDirOf(outDir), loadPaths(datasetDir).manifest, loadPaths(datasetDir).work];
  for (const path of markers) if (await exists(path)) return;
  if ((await readValid(loadPaths(outDir).manifest, LoadManifest)) !== undefined) {
    throw new UsageError('NOT_A_RUN_FOLDER', `${outDir} is a dataset folder, not a run folder`, {
      hint: `give the run folder it was loaded from (load's --out) and name the dataset: biomedica status <run folder> --dataset ${shellArg(outDir)}`,
    });
  }
  throw new UsageError('NOT_A_RUN_FOLDER', `${outDir} is not a biomedica output folder: it has no extract/, transform/, .runs/ or dataset`, {
    hint: `${hint}; a dataset written elsewhere is named with --dataset`,
  });
}

// ---------------------------------------------------------------------------------------------
// Units and their markers

interface UnitRef {
  id: string;
  /** undefined: status cannot compute it from disk; any key is taken. */
  key: string | undefined;
  weight: number;
  markerPath: string;
}

interface StepIdentityLite<R> {
  name: string;
  version: number;
  result: z.ZodType<R>;
}

interface Tally {
  total: number;
  done: number;
  failed: number;
  stale: number;
  weightTotal: number;
  weightDone: number;
  /** Weight of units not done (pending and failed): what is left to do. */
  weightLeft: number;
  /** With `listUnits`: every unit not done, in unit order. */
  notDone?: NotDone[];
}

type NotDone = NonNullable<StepStatus['notDone']>[number];

type UnitState<R> = { state: 'done'; result: R } | { state: 'absent' } | { state: 'stale' };

async function readUnitMarker<R>(step: StepIdentityLite<R>, unit: UnitRef): Promise<UnitState<R>> {
  let text: string;
  try {
    text = await readFile(unit.markerPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw storageFault(error) ?? error;
  }
  const parsed = parseMarker(step, { id: unit.id, key: unit.key }, text);
  return parsed.state === 'done' ? { state: 'done', result: parsed.marker.result } : { state: 'stale' };
}

/**
 * Reads every unit's marker, MARKERS_IN_FLIGHT at a time. `onDone` sees each done unit's result;
 * `failed` says whether a unit that is not done was given up by its last run.
 */
async function tallyUnits<R>(
  step: StepIdentityLite<R>,
  units: readonly UnitRef[],
  onDone: (unit: UnitRef, result: R) => Promise<void> | void,
  failed: (unit: UnitRef) => Promise<boolean> | boolean,
  listUnits: boolean,
): Promise<Tally> {
  const t: Tally = { total: units.length, done: 0, failed: 0, stale: 0, weightTotal: 0, weightDone: 0, weightLeft: 0, ...(listUnits ? { notDone: [] } : {}) };
  for (let i = 0; i < units.length; i += MARKERS_IN_FLIGHT) {
    const batch = units.slice(i, i + MARKERS_IN_FLIGHT);
    const states = await Promise.all(
      batch.map(async (unit): Promise<NotDone['state'] | 'done'> => {
        const found = await readUnitMarker(step, unit);
        if (found.state === 'done') {
          await onDone(unit, found.result);
          return 'done';
        }
        if (await failed(unit)) return 'failed';
        return found.state === 'stale' ? 'stale' : 'pending';
      }),
    );
    for (const [k, state] of states.entries()) {
      const unit = batch[k]!;
      t.weightTotal += unit.weight;
      if (state === 'done') {
        t.done++;
        t.weightDone += unit.weight;
        continue;
      }
      t.weightLeft += unit.weight;
      if (state === 'failed') t.failed++;
      if (state === 'stale') t.stale++;
      t.notDone?.push({ unit: unit.id, state });
    }
  }
  return t;
}

/** Units the last run of `step` gave up on (the runner's `{ failed }`), from its records. */
function failedByLastRun(ctx: Ctx, step: string): Set<string> {
  return new Set(lastRunRecords(ctx.records, step).flatMap((r) => r.unitFailures.map((f) => f.unit)));
}

// ---------------------------------------------------------------------------------------------
// Item failures

class FailureTally {
  private readonly byCode = new Map<string, { transient: number; content: number }>();

  /** Streams a FailureRecord file (absent: nothing counted). */
  async add(path: string): Promise<void> {
    try {
      for await (const line of readJsonl<{ code?: unknown; transient?: unknown }>(path)) {
        const code = typeof line.code === 'string' ? line.code : 'UNKNOWN';
        const entry = this.byCode.get(code) ?? { transient: 0, content: 0 };
        if (line.transient === true) entry.transient++;
        else entry.content++;
        this.byCode.set(code, entry);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (error instanceof SyntaxError) {
        throw new ManifestError('FAILURES_INVALID', `${path} is not JSON lines`, { path, hint: 'rerun the stage that wrote it with --check: it redoes units whose files no longer match their markers' });
      }
      throw storageFault(error) ?? error;
    }
  }

  list(): FailureCount[] {
    return [...this.byCode.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([code, n]) => ({ code, ...n }));
  }
}

// ---------------------------------------------------------------------------------------------
// Rates

/**
 * The records of the last run that did work on `step`: the newest such record and every record of
 * the same step whose time overlaps it (the other workers of that round). Reruns that only skipped
 * finished units say nothing about the rate and are passed over.
 */
function lastRunRecords(records: readonly RunRecord[], step: string): RunRecord[] {
  const working = records.filter((r) => r.step === step && (r.weight.done > 0 || r.units.failed > 0 || r.state === 'running'));
  if (working.length === 0) return [];
  const newest = working.reduce((a, b) => (b.updatedAt > a.updatedAt ? b : a));
  return working.filter((r) => r.startedAt <= newest.updatedAt && r.updatedAt >= newest.startedAt);
}

function lastRunOf(ctx: Ctx, step: string): StepStatus['lastRun'] {
  const group = lastRunRecords(ctx.records, step);
  if (group.length === 0) return null;
  const liveOwner = (r: RunRecord) => ctx.locks.some((l) => l.live && l.info?.pid === r.pid && l.info.host === r.host);
  const states = group.map((r) => (r.state !== 'running' ? r.state : liveOwner(r) ? 'running' : 'interrupted'));
  const state = (['running', 'interrupted', 'stopped', 'finished'] as const).find((s) => states.includes(s))!;
  let unitsPerSecond = 0;
  let itemsPerSecond = 0;
  for (const r of group) {
    // Workers of one round run side by side: their rates add up.
    const seconds = Math.max(0.001, (Date.parse(r.updatedAt) - Date.parse(r.startedAt)) / 1000);
    unitsPerSecond += (r.units.written + r.units.failed) / seconds;
    itemsPerSecond += r.weight.done / seconds;
  }
  const iso = (values: string[], pick: (a: string, b: string) => boolean) => values.reduce((a, b) => (pick(b, a) ? b : a));
  return {
    state,
    workers: group.length,
    startedAt: iso(group.map((r) => r.startedAt), (b, a) => b < a),
    updatedAt: iso(group.map((r) => r.updatedAt), (b, a) => b > a),
    unitsDone: group.reduce((a, r) => a + r.units.written, 0),
    itemsDone: group.reduce((a, r) => a + r.weight.done, 0),
    unitsPerSecond,
    itemsPerSecond,
  };
}

function stepStatus(ctx: Ctx, step: string, itemName: string, t: Tally, keysChecked: boolean): StepStatus {
  const lastRun = lastRunOf(ctx, step);
  const left = t.weightLeft;
  const etaSeconds = left === 0 ? 0 : lastRun && lastRun.itemsPerSecond > 0 ? left / lastRun.itemsPerSecond : null;
  return {
    step,
    units: { total: t.total, done: t.done, failed: t.failed, pending: t.total - t.done - t.failed, stale: t.stale },
    items: { name: itemName, total: t.weightTotal, done: t.weightDone, pending: left },
    keysChecked,
    lastRun,
    etaSeconds,
    ...(t.notDone ? { notDone: t.notDone } : {}),
  };
}

function stageState(complete: boolean, steps: readonly StepStatus[]): StageStatus['state'] {
  if (complete) return 'complete';
  return steps.some((s) => s.units.done > 0 || s.lastRun !== null) ? 'in-progress' : 'not-started';
}

// ---------------------------------------------------------------------------------------------
// Stages

async function extractStatus(ctx: Ctx, manifest: ExtractManifest | undefined): Promise<StageStatus> {
  const paths = extractPaths(ctx.outDir);
  const plan = await readPlan(paths.plan);
  if (!plan && !manifest) {
    return { stage: 'extract', state: 'not-started', steps: [], failures: [], note: (await exists(paths.root)) ? 'no plan yet (listing the source)' : '' };
  }
  const failures = new FailureTally();
  const givenUp = failedByLastRun(ctx, EXTRACT_STEP);
  // The plan names every unit and its key's input; a folder that kept only the manifest (a copy
  // without plan/) is counted from the manifest's units, keys unchecked.
  const units: UnitRef[] = plan
    ? plan.units.map((u) => ({
        id: u.id,
        // The options' hash is on disk only once the manifest is: before that, a marker of any key counts.
        key: manifest ? extractUnitKey(u.sha256, manifest.optionsSha256) : undefined,
        weight: u.articles,
        markerPath: paths.unitMarker(u.id),
      }))
    : manifest!.units.map((u) => ({ id: u.id, key: undefined, weight: u.stats.articles + u.stats.articlesFailed, markerPath: paths.unitMarker(u.id) }));
  const t = await tallyUnits(
    { name: EXTRACT_STEP, version: EXTRACT_VERSION, result: ExtractUnitResult },
    units,
    async (unit, result) => {
      if (result.stats.failures > 0) await failures.add(paths.unitFile(unit.id, 'failures.jsonl'));
    },
    (unit) => givenUp.has(unit.id),
    ctx.listUnits,
  );
  const keysChecked = plan !== undefined && manifest !== undefined;
  const steps = [stepStatus(ctx, EXTRACT_STEP, 'articles', t, keysChecked)];
  return {
    stage: 'extract',
    state: stageState(manifest !== undefined && t.done === t.total, steps),
    steps,
    failures: failures.list(),
    note: keysChecked ? '' : plan ? 'unit keys are checked once the manifest is written (stale counts only other step versions until then)' : 'no plan on disk: units counted from the manifest',
  };
}

/** Enrichment is optional: reported only when something of it is on disk. */
async function enrichStatus(ctx: Ctx, manifest: ExtractManifest): Promise<StageStatus | undefined> {
  const paths = pubmedPaths(ctx.outDir);
  const extract = extractPaths(ctx.outDir);
  const failures = new FailureTally();
  const givenUp = failedByLastRun(ctx, 'enrich.pubmed');
  const units: UnitRef[] = manifest.units.map((u) => ({
    id: u.id,
    key: pubmedUnit(u.id, u.files['articles.jsonl'] ?? '').key,
    weight: u.stats.articles + u.stats.articlesFailed,
    markerPath: paths.unitMarker(u.id),
  }));
  let failedFiles = 0;
  const t = await tallyUnits(
    { name: 'enrich.pubmed', version: PUBMED_VERSION, result: PubmedUnitResult },
    units,
    () => {},
    async (unit) => {
      const file = extract.unitFile(unit.id, 'pubmed.failures.jsonl');
      if (!(await exists(file))) return givenUp.has(unit.id);
      failedFiles++;
      await failures.add(file);
      return true;
    },
    ctx.listUnits,
  );
  const complete = await exists(paths.manifest);
  if (!complete && t.done === 0 && t.stale === 0 && failedFiles === 0 && lastRunOf(ctx, 'enrich.pubmed') === null) return undefined;
  const steps = [stepStatus(ctx, 'enrich.pubmed', 'articles', t, true)];
  return { stage: 'enrich', state: stageState(complete && t.done === t.total, steps), steps, failures: failures.list(), note: '' };
}

const EmbedResultView = z.object({ failed: z.number().int() }).passthrough();

async function transformStatus(ctx: Ctx, extract: ExtractManifest | undefined): Promise<StageStatus> {
  const paths = transformPaths(ctx.outDir);
  const started = (await exists(paths.root)) || TRANSFORM_STEPS.some((s) => lastRunOf(ctx, `transform.${s}`) !== null);
  if (!extract) {
    return { stage: 'transform', state: started ? 'waiting' : 'not-started', steps: [], failures: [], note: started ? 'its units are known once extract is complete' : '' };
  }
  if (!started) return { stage: 'transform', state: 'not-started', steps: [], failures: [], note: '' };
  const failures = new FailureTally();
  const steps: StepStatus[] = [];
  for (const name of TRANSFORM_STEPS) {
    const step = `transform.${name}`;
    const givenUp = failedByLastRun(ctx, step);
    const units: UnitRef[] = extract.units.map((u) => ({ id: u.id, key: undefined, weight: Math.max(1, u.stats.images), markerPath: paths.marker(name, u.id) }));
    const t = await tallyUnits(
      // Results are checked for shape by transform itself; status needs embed's failure count only.
      { name: step, version: TRANSFORM_STEP_VERSION, result: name === 'embed' ? EmbedResultView : z.unknown() },
      units,
      async (unit, result) => {
        if (name === 'embed' && (result as z.infer<typeof EmbedResultView>).failed > 0) await failures.add(paths.failures(unit.id));
      },
      (unit) => givenUp.has(unit.id),
      ctx.listUnits,
    );
    steps.push(stepStatus(ctx, step, 'images', t, false));
    if (name === 'embed') {
      // The fit runs once, between embed and assign: done when its model is written.
      const fitted = await exists(join(paths.modelDir, 'model.json'));
      const fit: Tally = { total: 1, done: fitted ? 1 : 0, failed: 0, stale: 0, weightTotal: 1, weightDone: fitted ? 1 : 0, weightLeft: fitted ? 0 : 1 };
      steps.push({ ...stepStatus(ctx, 'transform.fit', 'models', fit, false), etaSeconds: fitted ? 0 : null });
    }
  }
  const complete = (await readValid(paths.manifest, TransformManifest)) !== undefined;
  return {
    stage: 'transform',
    state: stageState(complete, steps),
    steps,
    failures: failures.list(),
    note: 'unit keys depend on the model files: a marker for another model counts as done until transform runs',
  };
}

async function loadStatus(ctx: Ctx, extractComplete: boolean): Promise<StageStatus> {
  const paths = loadPaths(ctx.datasetDir);
  const failures = new FailureTally();
  const manifest = await readValid(paths.manifest, LoadManifest);
  if (manifest) {
    await failures.add(paths.failures);
    const shards = manifest.groups.reduce((a, g) => a + g.shards.length, 0);
    const t: Tally = { total: shards, done: shards, failed: 0, stale: 0, weightTotal: manifest.totals.samples, weightDone: manifest.totals.samples, weightLeft: 0 };
    return { stage: 'load', state: 'complete', steps: [stepStatus(ctx, LOAD_SHARD_STEP, 'samples', t, true)], failures: failures.list(), note: '' };
  }
  const shared = await newestLoadPlan(paths.work);
  if (!shared) {
    const started = (await exists(paths.root)) || lastRunOf(ctx, LOAD_SHARD_STEP) !== null;
    const state = started ? 'in-progress' : extractComplete ? 'not-started' : 'waiting';
    // A plain load that stopped removes its staging: the shards' total is known again once it plans.
    const markers = started ? await countShardMarkers(paths.root) : 0;
    const note = started ? `no shared plan on disk (planning, or removed by a load that stopped): ${markers} shard marker(s) on disk, the total is known once load plans again` : '';
    return { stage: 'load', state, steps: [], failures: [], note };
  }
  const givenUp = failedByLastRun(ctx, LOAD_SHARD_STEP);
  const units: UnitRef[] = shared.file.plan.groups.flatMap((g) =>
    g.shards.map((s) => ({ id: paths.shardRel(g.group, s.n), key: s.inputSha256, weight: s.samples, markerPath: paths.shardStats(g.group, s.n) })),
  );
  const t = await tallyUnits({ name: LOAD_SHARD_STEP, version: LOAD_VERSION, result: ShardStats }, units, () => {}, (u) => givenUp.has(u.id), ctx.listUnits);
  const staging = shared.file.plan.failuresStaging;
  if (!staging.includes('/') && !staging.includes('\\') && !staging.startsWith('.')) await failures.add(join(shared.dir, staging));
  const steps = [stepStatus(ctx, LOAD_SHARD_STEP, 'samples', t, true)];
  return { stage: 'load', state: 'in-progress', steps, failures: failures.list(), note: '' };
}

async function countShardMarkers(datasetDir: string): Promise<number> {
  let n = 0;
  for (const group of LICENSE_GROUPS) {
    try {
      n += (await readdir(loadPaths(datasetDir).statsDir(group))).filter((f) => /^\d{6}\.json$/.test(f)).length;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw storageFault(error) ?? error;
    }
  }
  return n;
}

/** The shared plan of the last load (several: the newest plan.json), or none. */
async function newestLoadPlan(work: string): Promise<{ dir: string; file: LoadPlanFile } | undefined> {
  let names: string[];
  try {
    names = await readdir(work);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storageFault(error) ?? error;
  }
  let best: { dir: string; mtime: number } | undefined;
  for (const name of names.filter((n) => n.startsWith('plan-'))) {
    const path = join(work, name, 'plan.json');
    try {
      const s = await stat(path);
      if (!best || s.mtimeMs > best.mtime) best = { dir: join(work, name), mtime: s.mtimeMs };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw storageFault(error) ?? error;
    }
  }
  if (!best) return undefined;
  const file = await readValid(join(best.dir, 'plan.json'), LoadPlanFile);
  return file ? { dir: best.dir, file } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Files

async function readPlan(path: string): Promise<Plan | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  let parsed;
  try {
    parsed = Plan.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) {
    throw new ManifestError('PLAN_INVALID', `unreadable plan at ${path}`, { path, hint: 'delete the extract/ folder or use another --out' });
  }
  return parsed.data;
}

/**
 * A manifest when it is there and of this version; otherwise undefined. Status reports an old or
 * damaged manifest as an unfinished stage (the stage's next run rewrites it), not as an error.
 */
async function readValid<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storageFault(error) ?? error;
  }
}

function shellArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
