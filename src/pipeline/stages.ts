/**
 * A run is a list of stages, read top to bottom: `biomedica run` is [extract, (enrich),
 * (transform), load], and each single-stage command is a list of one. runStages holds the output
 * folder's lock (src/pipeline/lock.ts) for the whole list, runs the stages in order, and stops
 * after a stage that is not complete (a worker that left units to other workers: the one that
 * finalizes goes on). A storage fault from any stage leaves as a StorageError.
 *
 *   const result = await runStages([extractStage(...), loadStage(...)], { outDir, worker, command: 'run' }, ctx);
 *   printSummary(flags, result.summaries, result.text);
 */
import { outputFault } from '../storage/faults.js';
import type { StageContext } from './context.js';
import { withRunLock } from './lock.js';
import type { WorkerShare } from './runner.js';

export interface PipelineStage<S = unknown> {
  name: string;
  run(ctx: StageContext): Promise<S>;
  /** The summary as text for the terminal. */
  format(summary: S): string;
  /** Whether the stages after this one may run now. */
  complete(summary: S): boolean;
}

export interface PipelineOptions {
  /** The run folder every stage writes (or reads) and the lock guards. */
  outDir: string;
  worker?: WorkerShare | undefined;
  /** Named in the lock, so a refused run can say what holds the folder. */
  command: string;
  /** Work under this run lock token instead of taking a lock (a worker started by `--jobs`). */
  parentLock?: string | undefined;
}

export interface PipelineResult {
  /** Each stage's summary by stage name, for stages that ran. */
  summaries: Record<string, unknown>;
  /** The stages' texts, one paragraph each. */
  text: string;
  /** Every stage ran and was complete. */
  complete: boolean;
}

/** Builds a stage with its summary type checked once, where it is made. */
export function stage<S>(definition: PipelineStage<S>): PipelineStage<unknown> {
  return definition as PipelineStage<unknown>;
}

export async function runStages(stages: readonly PipelineStage<unknown>[], options: PipelineOptions, ctx: StageContext): Promise<PipelineResult> {
  try {
    return await withRunLock({ outDir: options.outDir, worker: options.worker, command: options.command, log: ctx.log, parent: options.parentLock }, async () => {
      const summaries: Record<string, unknown> = {};
      const texts: string[] = [];
      for (const s of stages) {
        const summary = await s.run(ctx);
        summaries[s.name] = summary;
        texts.push(s.format(summary));
        if (!s.complete(summary)) {
          if (s !== stages[stages.length - 1]) ctx.log.info({ stage: s.name, worker: options.worker }, 'stage not complete here: the stages after it are left to the worker that finishes it');
          return { summaries, text: texts.join('\n\n'), complete: false };
        }
      }
      return { summaries, text: texts.join('\n\n'), complete: true };
    });
  } catch (error) {
    // Whatever a stage wrote through a path of its own that did not name the fault, say it is the disk's.
    throw outputFault(error) ?? error;
  }
}
