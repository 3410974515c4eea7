/**
 * `--worker i/n`, or the same taken from the scheduler that started the process, so that an array
 * job needs no per-task command line (scripts/cluster/ has ready-to-edit examples):
 *
 *   Kubernetes Indexed Job   JOB_COMPLETION_INDEX (0-based), count from BIOMEDICA_WORKER_COUNT (set it
 *                            to the Job's completions: Kubernetes does not pass that on)
 *   Slurm job array          SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT (and
 *                            SLURM_ARRAY_TASK_STEP / _MAX when set): i = (id - min) / step
 *   AWS Batch array job      AWS_BATCH_JOB_ARRAY_INDEX (0-based), count from BIOMEDICA_WORKER_COUNT
 *                            (the array size; Batch does not pass it on)
 *
 * An explicit --worker wins over the environment. Variables that contradict each other, or an
 * index without its count, are usage errors: a worker that guessed would skip or repeat units.
 */
import { UsageError } from '../errors.js';

export interface WorkerAssignment {
  index: number;
  count: number;
  /** Where i/n came from, for the log: '--worker', or the scheduler and its variables. */
  from: string;
  /** Scheduler variables an explicit --worker overrode. */
  overrode?: string;
}

const COUNT_VAR = 'BIOMEDICA_WORKER_COUNT';
const SCHEDULER_VARS = ['JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX', 'SLURM_ARRAY_TASK_ID', COUNT_VAR];

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

export function resolveWorker(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): WorkerAssignment | undefined {
  const explicit = parseWorker(flag);
  if (explicit) {
    // The flag wins, whatever state the scheduler's variables are in; the log names them.
    const set = SCHEDULER_VARS.filter((name) => env[name] !== undefined).map((name) => `${name}=${env[name]}`);
    return { ...explicit, from: '--worker', ...(set.length > 0 ? { overrode: set.join(', ') } : {}) };
  }
  const found = fromSchedulers(env);
  if (found.length === 0) return undefined;
  const [first, ...others] = found;
  for (const other of others) {
    if (other.index !== first!.index || other.count !== first!.count) {
      throw new UsageError('WORKER_ENV_CONFLICT', `${first!.from} says worker ${first!.index}/${first!.count}, but ${other.from} says ${other.index}/${other.count}`, {
        hint: 'unset the variables of the scheduler that did not start this process, or pass --worker i/n',
      });
    }
  }
  return first;
}

function fromSchedulers(env: NodeJS.ProcessEnv): WorkerAssignment[] {
  const out: WorkerAssignment[] = [];
  const k8s = env['JOB_COMPLETION_INDEX'];
  if (k8s !== undefined) out.push(withCount('Kubernetes Indexed Job', 'JOB_COMPLETION_INDEX', k8s, env, 'set it in the Job to the same number as spec.completions'));
  const batch = env['AWS_BATCH_JOB_ARRAY_INDEX'];
  if (batch !== undefined) out.push(withCount('AWS Batch array job', 'AWS_BATCH_JOB_ARRAY_INDEX', batch, env, 'set it in the job definition to the array size'));
  if (env['SLURM_ARRAY_TASK_ID'] !== undefined) out.push(fromSlurm(env));
  return out;
}

function whole(name: string, value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value.trim())) {
    throw new UsageError('WORKER_ENV_INVALID', `${name} must be a whole number, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`, {
      hint: 'check the job script, or pass --worker i/n',
    });
  }
  return Number(value);
}

function withCount(scheduler: string, indexVar: string, raw: string, env: NodeJS.ProcessEnv, how: string): WorkerAssignment {
  const index = whole(indexVar, raw);
  if (env[COUNT_VAR] === undefined) {
    throw new UsageError('WORKER_COUNT_MISSING', `${indexVar}=${raw} is set (${scheduler}) but ${COUNT_VAR} is not: the number of workers is unknown`, {
      hint: `${how} (see scripts/cluster/), or pass --worker ${index}/N`,
    });
  }
  const count = whole(COUNT_VAR, env[COUNT_VAR]);
  checkRange(index, count, `${indexVar}=${index}, ${COUNT_VAR}=${count}`);
  return { index, count, from: `${scheduler} (${indexVar}=${index}, ${COUNT_VAR}=${count})` };
}

function fromSlurm(env: NodeJS.ProcessEnv): WorkerAssignment {
  const id = whole('SLURM_ARRAY_TASK_ID', env['SLURM_ARRAY_TASK_ID']);
  const min = whole('SLURM_ARRAY_TASK_MIN', env['SLURM_ARRAY_TASK_MIN']);
  const count = whole('SLURM_ARRAY_TASK_COUNT', env['SLURM_ARRAY_TASK_COUNT']);
  const step = env['SLURM_ARRAY_TASK_STEP'] === undefined ? 1 : whole('SLURM_ARRAY_TASK_STEP', env['SLURM_ARRAY_TASK_STEP']);
  const vars = `SLURM_ARRAY_TASK_ID=${id}, SLURM_ARRAY_TASK_MIN=${min}, SLURM_ARRAY_TASK_COUNT=${count}${step !== 1 ? `, SLURM_ARRAY_TASK_STEP=${step}` : ''}`;
  // Task ids must be min, min+step, …: a list with gaps (--array=1,4,9) has no i/n that covers it.
  const max = env['SLURM_ARRAY_TASK_MAX'] === undefined ? undefined : whole('SLURM_ARRAY_TASK_MAX', env['SLURM_ARRAY_TASK_MAX']);
  if (step < 1 || (id - min) % step !== 0 || (max !== undefined && (max - min) / step + 1 !== count)) {
    throw new UsageError('WORKER_ENV_INVALID', `the Slurm array is not a plain range (${vars}${max !== undefined ? `, SLURM_ARRAY_TASK_MAX=${max}` : ''})`, {
      hint: 'submit a range such as --array=0-7 (a step is fine, a list with gaps is not), or pass --worker i/n',
    });
  }
  const index = (id - min) / step;
  checkRange(index, count, vars);
  const own = env[COUNT_VAR];
  if (own !== undefined && whole(COUNT_VAR, own) !== count) {
    throw new UsageError('WORKER_ENV_CONFLICT', `${COUNT_VAR}=${own} contradicts the Slurm array's SLURM_ARRAY_TASK_COUNT=${count}`, {
      hint: `unset ${COUNT_VAR} (Slurm gives the count), or pass --worker i/n`,
    });
  }
  return { index, count, from: `Slurm job array (${vars})` };
}

function checkRange(index: number, count: number, vars: string): void {
  if (count < 1 || index >= count) {
    throw new UsageError('WORKER_ENV_INVALID', `worker ${index} of ${count} is out of range (${vars})`, {
      hint: 'the index must be below the count: check the job spec, or pass --worker i/n',
    });
  }
}
