/**
 * What `biomedica status OUT` reports: the JSON shape (`--json`, schema 'biomedica.status', bumped
 * when a field changes meaning or goes) and the table printed otherwise.
 *
 * Counts come from what is on disk: a unit is done when its marker names the current step, step
 * version, unit and (where status can compute it) key; outputs are not hashed (`verify` and
 * `--check` do that). Rates come from the run records the unit runner leaves in <out>/.runs/
 * (src/pipeline/run-record.ts).
 */
import { z } from 'zod';

export const STATUS_SCHEMA = 'biomedica.status';
export const STATUS_VERSION = 1;

const int = z.number().int().min(0);

export const StepStatus = z.object({
  /** The runner step ('extract', 'enrich.pubmed', 'transform.embed', 'transform.fit', 'load.shard'). */
  step: z.string(),
  units: z.object({
    total: int,
    /** A current marker. */
    done: int,
    /** Not done, and the last run gave up on it (a step's unit failure, e.g. enrich after its retries). */
    failed: int,
    /** Not done and not failed: not started, in flight, or stale. */
    pending: int,
    /** Of pending: a marker is there but for another step version, unit or key (the next run redoes it). */
    stale: int,
  }),
  /** The units' weight: what the rate and the ETA are in. */
  items: z.object({ name: z.string(), total: int, done: int, pending: int }),
  /** Whether unit keys were compared with the plan (status can compute them only where the inputs are on disk). */
  keysChecked: z.boolean(),
  /** The last run that did work on this step (its workers together), from <out>/.runs/; null: none recorded. */
  lastRun: z
    .object({
      /** running: its lock is live now; interrupted: it recorded no end and holds no live lock (killed). */
      state: z.enum(['running', 'finished', 'stopped', 'interrupted']),
      workers: int,
      startedAt: z.string(),
      updatedAt: z.string(),
      unitsDone: int,
      itemsDone: int,
      unitsPerSecond: z.number().min(0),
      itemsPerSecond: z.number().min(0),
    })
    .nullable(),
  /** Seconds to do the pending and failed items at the last run's rate; null: unknown (no rate). */
  etaSeconds: z.number().min(0).nullable(),
  /** With `--units` only: every unit not done, in unit order ('u000003', 'commercial/000002.tar'). */
  notDone: z.array(z.object({ unit: z.string(), state: z.enum(['pending', 'stale', 'failed']) })).optional(),
});
export type StepStatus = z.infer<typeof StepStatus>;

export const FailureCount = z.object({
  code: z.string(),
  /** Another attempt may succeed (FailureRecord.transient): what `biomedica retry-failed` re-attempts. */
  transient: int,
  /** The input itself is bad (malformed XML, an image too small): another attempt fails the same way. */
  content: int,
});
export type FailureCount = z.infer<typeof FailureCount>;

export const StageStatus = z.object({
  stage: z.enum(['extract', 'enrich', 'transform', 'load']),
  /** complete: its manifest is written; in-progress: something of it is on disk; waiting: the stage before it is not complete. */
  state: z.enum(['not-started', 'waiting', 'in-progress', 'complete']),
  steps: z.array(StepStatus),
  /** Item failures recorded by its done units (failures.jsonl and kin), by code. */
  failures: z.array(FailureCount),
  /** Why a count is missing or partial ('' when nothing to say). */
  note: z.string(),
});
export type StageStatus = z.infer<typeof StageStatus>;

export const LockStatus = z.object({
  /** 'run.lock' or 'worker-<i>-of-<n>.lock'. */
  name: z.string(),
  command: z.string(),
  worker: z.object({ index: int, count: int }).nullable(),
  pid: z.number().int(),
  host: z.string(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
  live: z.boolean(),
});

export const StatusReport = z.object({
  schema: z.literal(STATUS_SCHEMA),
  version: z.literal(STATUS_VERSION),
  outDir: z.string(),
  datasetDir: z.string(),
  /** When status read the folder. */
  readAt: z.string(),
  run: z.object({
    /** running: a lock with a live owner; stale: only locks whose owner is gone (the next run takes them over); none: no lock. */
    state: z.enum(['running', 'stale', 'none']),
    locks: z.array(LockStatus),
  }),
  stages: z.array(StageStatus),
  /** Transient item failures over every stage: what `biomedica retry-failed` would re-attempt. */
  retryable: int,
  /** Commands worth running next, ready to paste. */
  hints: z.array(z.string()),
});
export type StatusReport = z.infer<typeof StatusReport>;

/** Units listed per step in the table (`--units`); --json has them all. */
const UNITS_SHOWN = 50;

export function formatDuration(seconds: number): string {
  if (seconds < 1) return '0 s';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3_600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

function rate(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  // Counts line up on the right, words on the left.
  const numeric = (cell: string) => /^[\d.?-]+$/.test(cell);
  return rows.map((r) => r.map((cell, c) => (numeric(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

function ago(iso: string, now: number): string {
  return `${formatDuration(Math.max(0, (now - Date.parse(iso)) / 1000))} ago`;
}

export function formatStatus(report: StatusReport): string {
  const now = Date.parse(report.readAt);
  const lines: string[] = [`${report.outDir}`];
  const live = report.run.locks.filter((l) => l.live);
  if (report.run.state === 'running') {
    for (const l of live) {
      const who = l.worker ? `worker ${l.worker.index}/${l.worker.count} of ${l.command}` : l.command;
      lines.push(`run: running: ${who}, pid ${l.pid} on ${l.host}, started ${ago(l.startedAt, now)}, heartbeat ${ago(l.heartbeatAt, now)}`);
    }
  } else if (report.run.state === 'stale') {
    lines.push(`run: none running (stale lock of ${report.run.locks.map((l) => `${l.command} pid ${l.pid} on ${l.host}`).join(', ')}: the next run takes it over)`);
  } else {
    lines.push('run: none running');
  }
  lines.push('');

  const rows: string[][] = [['step', 'state', 'units', 'done', 'failed', 'pending', 'stale', 'items done', 'last run', 'rate', 'ETA']];
  for (const s of report.stages) {
    if (s.steps.length === 0) {
      rows.push([s.stage, s.state, '-', '-', '-', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    for (const step of s.steps) {
      const r = step.lastRun;
      rows.push([
        step.step,
        s.state,
        String(step.units.total),
        String(step.units.done),
        String(step.units.failed),
        String(step.units.pending),
        step.keysChecked ? String(step.units.stale) : `${step.units.stale}?`,
        `${step.items.done}/${step.items.total} ${step.items.name}`,
        r ? `${r.state} ${ago(r.updatedAt, now)}` : 'none recorded',
        r ? `${rate(r.itemsPerSecond)} ${step.items.name}/s` : 'unknown',
        step.etaSeconds === null ? (step.units.pending + step.units.failed === 0 ? 'done' : 'unknown') : step.etaSeconds === 0 ? 'done' : formatDuration(step.etaSeconds),
      ]);
    }
  }
  lines.push(table(rows));
  const listed = report.stages.flatMap((s) => s.steps).filter((step) => step.notDone && step.notDone.length > 0);
  for (const step of listed) {
    const shown = step.notDone!.slice(0, UNITS_SHOWN).map((u) => (u.state === 'pending' ? u.unit : `${u.unit} (${u.state})`));
    const more = step.notDone!.length - shown.length;
    lines.push('', `${step.step}: not done: ${shown.join(', ')}${more > 0 ? `, and ${more} more (--json lists them all)` : ''}`);
  }
  const notes = report.stages.filter((s) => s.note !== '').map((s) => `${s.stage}: ${s.note}`);
  if (notes.length > 0) lines.push('', ...notes);

  const failures = report.stages.flatMap((s) => s.failures.map((f) => [s.stage, f.code, String(f.transient), String(f.content)]));
  lines.push('');
  if (failures.length === 0) lines.push('failures: none recorded');
  else lines.push('failures by reason (items):', table([['stage', 'code', 'transient', 'content'], ...failures]));
  if (report.hints.length > 0) lines.push('', ...report.hints);
  return lines.join('\n');
}
