import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { coreShares, forwardedFlags, jobsFromFlags, tagLine } from './jobs.js';

test('cores are split over the workers: the first ones get the remainder, everyone one at least', () => {
  assert.deepEqual(coreShares(16, 4), [4, 4, 4, 4]);
  assert.deepEqual(coreShares(3, 2), [2, 1]);
  assert.deepEqual(coreShares(10, 4), [3, 3, 2, 2]);
  assert.deepEqual(coreShares(2, 3), [1, 1, 1]);
});

test('--jobs: a count, or auto; 1 is a plain run; what cannot go with it is a usage error', () => {
  assert.equal(jobsFromFlags({}, {}), undefined);
  assert.equal(jobsFromFlags({ jobs: '4' }, {}), 4);
  assert.equal(jobsFromFlags({ jobs: '1' }, {}), undefined);
  assert.ok((jobsFromFlags({ jobs: 'auto' }, {}) ?? 1) >= 1);
  const usage = (flags: Parameters<typeof jobsFromFlags>[0], env: NodeJS.ProcessEnv, pattern: RegExp) =>
    assert.throws(() => jobsFromFlags(flags, env), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && pattern.test(e.message));
  usage({ jobs: '0' }, {}, /--jobs expects a number/);
  usage({ jobs: 'many' }, {}, /--jobs expects a number/);
  usage({ jobs: '2', worker: '0/2' }, {}, /cannot be one \(--worker\)/);
  usage({ jobs: '2' }, { JOB_COMPLETION_INDEX: '0', BIOMEDICA_WORKER_COUNT: '2' }, /scheduler's array variables/);
  usage({ jobs: '2', planOnly: true }, {}, /drop --plan-only/);
  usage({ jobs: '2', sync: true }, {}, /drop --jobs/);
});

test("the flags the user typed reach each stage's command that declares them, in argv form", () => {
  const make = (name: string) =>
    new Command(name)
      .exitOverride()
      .option('--out <dir>', '', 'out')
      .option('--limit <n>')
      .option('--check')
      .option('--no-progress')
      .option('--no-sub-articles')
      .option('--jobs <n>')
      .option('--license <groups>');
  const run = make('run').option('--model <file>').option('--enrich');
  run.parse(['--out', 'o', '--limit', '5', '--check', '--no-sub-articles', '--no-progress', '--jobs', '2', '--model', 'm.onnx', '--enrich'], { from: 'user' });
  const load = new Command('load').option('--out <dir>').option('--check').option('--no-sub-articles').option('--limit <n>').option('--no-progress');
  // --out, --jobs and --no-progress are the parent's to set; --model and --enrich are not load's flags.
  assert.deepEqual(forwardedFlags(run, load), ['--limit', '5', '--check', '--no-sub-articles']);
  const transform = new Command('transform').option('--model <file>').option('--license <groups>');
  assert.deepEqual(forwardedFlags(run, transform), ['--model', 'm.onnx'], 'a default is not forwarded, only what was typed');
});

test("a worker's stderr is tagged: JSON log lines get a worker field, anything else a prefix", () => {
  assert.deepEqual(JSON.parse(tagLine('{"level":30,"msg":"unit written","unit":"u000001"}', '1/2')), { level: 30, msg: 'unit written', unit: 'u000001', worker: '1/2' });
  // A worker field of the child's own is kept.
  assert.deepEqual(JSON.parse(tagLine('{"msg":"x","worker":{"index":1,"count":2}}', '1/2')), { msg: 'x', worker: { index: 1, count: 2 } });
  assert.equal(tagLine('biomedica: error STORAGE_FULL: no space', '0/2'), '[worker 0/2] biomedica: error STORAGE_FULL: no space');
  assert.equal(tagLine('{not json', 'plan'), '[worker plan] {not json');
});
