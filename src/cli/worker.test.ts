/**
 * i/n from the variables each scheduler really sets (Kubernetes Indexed Jobs, Slurm arrays, AWS
 * Batch arrays), an explicit flag over them, and refusals where a guess would skip or repeat units.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveWorker } from './worker.js';

/** What `sbatch --array=LO-HI[:STEP]` sets in task ID. */
function slurm(id: number, lo: number, hi: number, step = 1): NodeJS.ProcessEnv {
  const count = Math.floor((hi - lo) / step) + 1;
  return {
    SLURM_ARRAY_JOB_ID: '4242',
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_MIN: String(lo),
    SLURM_ARRAY_TASK_MAX: String(lo + (count - 1) * step),
    SLURM_ARRAY_TASK_COUNT: String(count),
    SLURM_ARRAY_TASK_STEP: String(step),
  };
}

test('no flag and no scheduler: a plain run', () => {
  assert.equal(resolveWorker(undefined, {}), undefined);
  assert.equal(resolveWorker(undefined, { BIOMEDICA_WORKER_COUNT: '8' }), undefined, 'a count alone (a finishing job sharing the env) is no worker');
});

test('Kubernetes Indexed Job: JOB_COMPLETION_INDEX with BIOMEDICA_WORKER_COUNT', () => {
  assert.deepEqual(resolveWorker(undefined, { JOB_COMPLETION_INDEX: '2', BIOMEDICA_WORKER_COUNT: '3' }), {
    index: 2,
    count: 3,
    from: 'Kubernetes Indexed Job (JOB_COMPLETION_INDEX=2, BIOMEDICA_WORKER_COUNT=3)',
  });
  assert.throws(() => resolveWorker(undefined, { JOB_COMPLETION_INDEX: '2' }), { code: 'WORKER_COUNT_MISSING', exitCode: 2, message: /BIOMEDICA_WORKER_COUNT is not/ });
  assert.throws(() => resolveWorker(undefined, { JOB_COMPLETION_INDEX: '3', BIOMEDICA_WORKER_COUNT: '3' }), { code: 'WORKER_ENV_INVALID', message: /worker 3 of 3 is out of range/ });
  assert.throws(() => resolveWorker(undefined, { JOB_COMPLETION_INDEX: 'two', BIOMEDICA_WORKER_COUNT: '3' }), { code: 'WORKER_ENV_INVALID', message: /JOB_COMPLETION_INDEX must be a whole number/ });
});

test('Slurm arrays: the task id relative to the array minimum and step', () => {
  assert.deepEqual(resolveWorker(undefined, slurm(0, 0, 7)), { index: 0, count: 8, from: 'Slurm job array (SLURM_ARRAY_TASK_ID=0, SLURM_ARRAY_TASK_MIN=0, SLURM_ARRAY_TASK_COUNT=8)' });
  assert.equal(resolveWorker(undefined, slurm(6, 4, 6))?.index, 2, '--array=4-6: task 6 is worker 2/3');
  assert.deepEqual(
    (({ index, count }) => ({ index, count }))(resolveWorker(undefined, slurm(8, 0, 9, 2))!),
    { index: 4, count: 5 },
    '--array=0-9:2: tasks 0,2,4,6,8',
  );
  // --array=1,4,9: COUNT=3 but MIN..MAX spans 9 ids.
  assert.throws(() => resolveWorker(undefined, { ...slurm(4, 1, 3), SLURM_ARRAY_TASK_MAX: '9' }), { code: 'WORKER_ENV_INVALID', message: /not a plain range/ });
  const { SLURM_ARRAY_TASK_COUNT: _, ...noCount } = slurm(1, 0, 3);
  assert.throws(() => resolveWorker(undefined, noCount), { code: 'WORKER_ENV_INVALID', message: /SLURM_ARRAY_TASK_COUNT must be a whole number/ });
  assert.throws(() => resolveWorker(undefined, { ...slurm(1, 0, 3), BIOMEDICA_WORKER_COUNT: '8' }), { code: 'WORKER_ENV_CONFLICT' });
  assert.equal(resolveWorker(undefined, { ...slurm(1, 0, 3), BIOMEDICA_WORKER_COUNT: '4' })?.count, 4, 'an agreeing count is fine');
});

test('AWS Batch array job: AWS_BATCH_JOB_ARRAY_INDEX with the size passed in', () => {
  assert.deepEqual(resolveWorker(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: '5', BIOMEDICA_WORKER_COUNT: '10' }), {
    index: 5,
    count: 10,
    from: 'AWS Batch array job (AWS_BATCH_JOB_ARRAY_INDEX=5, BIOMEDICA_WORKER_COUNT=10)',
  });
  assert.throws(() => resolveWorker(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: '5' }), { code: 'WORKER_COUNT_MISSING', message: /AWS Batch/ });
});

test('two schedulers that disagree are a usage error; an explicit --worker wins and the log can say what it overrode', () => {
  assert.throws(() => resolveWorker(undefined, { ...slurm(1, 0, 3), JOB_COMPLETION_INDEX: '2', BIOMEDICA_WORKER_COUNT: '4' }), {
    code: 'WORKER_ENV_CONFLICT',
    exitCode: 2,
  });
  assert.deepEqual(resolveWorker('1/4', { JOB_COMPLETION_INDEX: '2' }), { index: 1, count: 4, from: '--worker', overrode: 'JOB_COMPLETION_INDEX=2' });
  assert.deepEqual(resolveWorker('1/4', {}), { index: 1, count: 4, from: '--worker' });
  assert.throws(() => resolveWorker('4/4', {}), { code: 'FLAG_INVALID' });
});
