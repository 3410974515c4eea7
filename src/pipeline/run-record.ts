/**
 * What the last run of a step did and how fast: the one thing `biomedica status` cannot work out
 * from markers alone (a marker says a unit is done, not when or at what pace). The unit runner
 * writes it when a stage passes `recordDir` (the run folder's `runsDirOf(outDir)`):
 *
 *   <out>/.runs/<step>.json                      a run that takes every unit
 *   <out>/.runs/<step>.worker-<i>-of-<n>.json    worker i of n (one file per worker: workers on a
 *                                                shared folder never write the same file)
 *
 * Written atomically once the run does work (its first unit redone, or one failing), then at most
 * every `everyMs` as it goes, and at the end (state finished or stopped). A run that only finds its
 * units done writes nothing: a plain rerun of a finished command would otherwise replace the
 * record of the run that did the work, and with it the only rate status knows. It lives beside `.locks/`, outside every stage's outputs, so it
 * changes none of the bytes reruns are compared on. Writing it is best effort: a record that
 * cannot be written (disk full) is logged and the run goes on; its own writes report the disk.
 */
import { hostname } from 'node:os';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { storageFault } from '../storage/faults.js';
import { jsonText, writeFileAtomic } from '../storage/files.js';
import type { WarnLog, WorkerShare } from './runner.js';

export const RUNS_DIR = '.runs';
export const RUN_RECORD_SCHEMA = 'biomedica.run-record';
export const RUN_RECORD_VERSION = 1;
export const DEFAULT_RECORD_EVERY_MS = 5_000;
/** Unit failures kept in the record (all are counted). */
export const MAX_RECORDED_UNIT_FAILURES = 100;

export function runsDirOf(outDir: string): string {
  return join(outDir, RUNS_DIR);
}

const int = z.number().int().min(0);

export const RunRecord = z.object({
  schema: z.literal(RUN_RECORD_SCHEMA),
  version: z.literal(RUN_RECORD_VERSION),
  /** The runner step ('extract', 'transform.embed', 'load.shard', 'enrich.pubmed'). */
  step: z.string(),
  worker: z.object({ index: int, count: z.number().int().min(1) }).nullable(),
  pid: z.number().int(),
  host: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** running: the last write was mid-run (or the process died: compare with the run lock); stopped: it threw. */
  state: z.enum(['running', 'finished', 'stopped']),
  units: z.object({
    /** Units this process takes (its worker share). */
    mine: int,
    /** Done by this run. */
    written: int,
    /** Found done at the start. */
    skipped: int,
    /** Left without a marker by a step's `{ failed }` (enrich: a server that kept failing). */
    failed: int,
  }),
  /** In the units' weight (articles, images, samples). */
  weight: z.object({
    mine: int,
    /** Worked this run (units written or failed, and progress within units in flight): the rate's numerator. */
    done: int,
    /** Of units found done. */
    skipped: int,
  }),
  /** The first unit failures (at most MAX_RECORDED_UNIT_FAILURES; `units.failed` counts them all). */
  unitFailures: z.array(z.object({ unit: z.string(), code: z.string() })),
});
export type RunRecord = z.infer<typeof RunRecord>;

export function runRecordPath(dir: string, step: string, worker: WorkerShare | undefined): string {
  return join(dir, worker ? `${step}.worker-${worker.index}-of-${worker.count}.json` : `${step}.json`);
}

/** Keeps one run's record and writes it now and then, as the runner reports units and progress. */
export class RunRecorder {
  readonly record: RunRecord;
  private readonly path: string;
  private lastWrite = 0;
  /** The run has done work: from now on it has a record. */
  private working = false;
  private writing: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(
    dir: string,
    step: string,
    worker: WorkerShare | undefined,
    mine: { units: number; weight: number },
    private readonly log: WarnLog,
    private readonly everyMs = DEFAULT_RECORD_EVERY_MS,
  ) {
    const now = new Date().toISOString();
    this.path = runRecordPath(dir, step, worker);
    this.record = {
      schema: RUN_RECORD_SCHEMA,
      version: RUN_RECORD_VERSION,
      step,
      worker: worker ? { index: worker.index, count: worker.count } : null,
      pid: process.pid,
      host: hostname(),
      startedAt: now,
      updatedAt: now,
      state: 'running',
      units: { mine: mine.units, written: 0, skipped: 0, failed: 0 },
      weight: { mine: mine.weight, done: 0, skipped: 0 },
      unitFailures: [],
    };
  }

  /** Progress within (or the rest of) a unit this run does. */
  worked(weight: number): void {
    this.record.weight.done += weight;
    this.working = true;
    this.changed();
  }

  /** A unit found done. */
  skipped(weight: number): void {
    this.record.units.skipped++;
    this.record.weight.skipped += weight;
    this.changed();
  }

  written(): void {
    this.record.units.written++;
    this.changed();
  }

  unitFailed(unit: string, code: string): void {
    this.record.units.failed++;
    if (this.record.unitFailures.length < MAX_RECORDED_UNIT_FAILURES) this.record.unitFailures.push({ unit, code });
    this.working = true;
    this.changed();
  }

  /** Something changed: written if the last write is older than `everyMs`. */
  private changed(): void {
    if (this.working && Date.now() - this.lastWrite >= this.everyMs) this.write();
  }

  /** The last write; waits for it (and any before it). */
  async finish(state: 'finished' | 'stopped'): Promise<void> {
    this.record.state = state;
    if (this.working) this.write();
    await this.writing;
  }

  private write(): void {
    this.lastWrite = Date.now();
    this.record.updatedAt = new Date(this.lastWrite).toISOString();
    const text = jsonText(this.record);
    this.writing = this.writing.then(() =>
      writeFileAtomic(this.path, text).catch((error: unknown) => {
        if (this.warned) return;
        this.warned = true;
        this.log.warn({ path: this.path, err: (error as Error).message }, 'run record not written (status will not know this run\'s rate)');
      }),
    );
  }
}

/**
 * Every readable run record in `dir` ([] when there is none). A file that does not parse (a
 * record of another version) is skipped: records only feed rates, never counts.
 */
export async function readRunRecords(dir: string): Promise<RunRecord[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw storageFault(error) ?? error;
  }
  const records: RunRecord[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw storageFault(error) ?? error;
    }
    try {
      const parsed = RunRecord.safeParse(JSON.parse(text));
      if (parsed.success) records.push(parsed.data);
    } catch {
      // Not JSON: not a record of ours.
    }
  }
  return records;
}
