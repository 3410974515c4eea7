/**
 * The cluster examples in scripts/cluster/, run the way their scheduler runs them: the Kubernetes
 * Jobs with each pod's JOB_COMPLETION_INDEX set, and the Slurm scripts through a stand-in `sbatch`
 * that records the submissions, then starts every array task with the SLURM_ARRAY_* variables Slurm
 * sets. Workers learn i/n from those variables alone. The extract and the dataset they build, three
 * workers at a time on the bundled sample, must be byte-identical to a single process's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { collect, repoRoot, shellEnv, treeHashes, type CliResult } from './helpers/cli.js';

const WORKERS = 3;
const cluster = join(repoRoot, 'scripts/cluster');
let work: string;
let env: NodeJS.ProcessEnv;
let reference: { extract: Map<string, string>; dataset: Map<string, string> };

/**
 * What every step of a test build shares: the bundled sample as the source (the examples default to
 * the cloud bucket) and units of 20 articles, so that the sample's 58 articles make three units.
 */
const SETTINGS = { BIOMEDICA_SOURCE_URL: join(repoRoot, 'sample'), BIOMEDICA_EXTRACT_UNIT_SIZE: '20', BIOMEDICA_LOG_LEVEL: 'info' };

function run(command: string, args: string[], extra: NodeJS.ProcessEnv): Promise<CliResult> {
  return collect(spawn(command, args, { cwd: work, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}\n${r.stderr}`);
  return r;
}

/** The "worker assignment" log lines: the log must say where i/n came from. */
function assignments(results: CliResult[]): string[] {
  return results.flatMap((r) =>
    r.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"worker assignment"'))
      .map((l) => {
        const { worker, from } = JSON.parse(l) as { worker: string; from: string };
        return `${worker} ${from}`;
      }),
  );
}

async function built(out: string) {
  return { extract: await treeHashes(join(out, 'extract')), dataset: await treeHashes(join(out, 'dataset')) };
}

describe('scripts/cluster examples run as their schedulers run them', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-cluster-'));
    // `biomedica` on PATH, as in the examples' images and on a cluster's login nodes.
    const bin = join(work, 'bin');
    await mkdir(bin);
    await symlink(join(repoRoot, 'bin/biomedica.js'), join(bin, 'biomedica'));
    env = shellEnv([bin]);
    const out = join(work, 'single');
    ok(await run('biomedica', ['run', '--out', out, '--no-progress'], SETTINGS), 'single-process run');
    reference = await built(out);
    assert.ok([...reference.extract.keys()].filter((k) => k.endsWith('/done.json')).length === WORKERS, 'three units, one per worker');
  });
  after(() => rm(work, { recursive: true, force: true }));

  test(`Kubernetes: the Jobs in file order, each Indexed Job as ${WORKERS} pods`, async () => {
    const dir = join(cluster, 'kubernetes');
    const docs = [];
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
      for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) docs.push(doc.toJS());
    }
    const settings = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'biomedica-settings').data as Record<string, string>;
    const jobs = docs.filter((d) => d.kind === 'Job');
    assert.deepEqual(
      jobs.map((j) => j.metadata.name),
      ['biomedica-plan', 'biomedica-extract', 'biomedica-extract-finish', 'biomedica-load', 'biomedica-load-finish'],
    );
    const data = join(work, 'k8s-volume');
    await mkdir(data);
    const results: CliResult[] = [];
    for (const job of jobs) {
      const pod = job.spec.template.spec;
      const container = pod.containers[0];
      assert.deepEqual(container.envFrom, [{ configMapRef: { name: 'biomedica-settings' } }], `${job.metadata.name} reads the shared settings`);
      const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'data').mountPath as string;
      // The shared volume is a local folder here.
      const [command, ...args] = (container.command as string[]).map((a) => (a.startsWith(`${mount}/`) ? join(data, a.slice(mount.length)) : a));
      const own = Object.fromEntries(((container.env ?? []) as { name: string; value: string }[]).map((e) => [e.name, e.value]));
      const podEnv = { ...settings, ...SETTINGS, ...own };
      if (job.spec.completionMode === 'Indexed') {
        assert.equal(own['BIOMEDICA_WORKER_COUNT'], String(job.spec.completions), `${job.metadata.name}: BIOMEDICA_WORKER_COUNT = completions`);
        // As a user scales the example down: completions and the count together.
        const pods = Array.from({ length: WORKERS }, (_, i) =>
          run(command!, args, { ...podEnv, BIOMEDICA_WORKER_COUNT: String(WORKERS), JOB_COMPLETION_INDEX: String(i) }),
        );
        for (const r of await Promise.all(pods)) results.push(ok(r, job.metadata.name));
      } else {
        results.push(ok(await run(command!, args, podEnv), job.metadata.name));
      }
    }
    const seen = assignments(results).sort();
    for (let i = 0; i < WORKERS; i++) {
      const line = `${i}/${WORKERS} Kubernetes Indexed Job (JOB_COMPLETION_INDEX=${i}, BIOMEDICA_WORKER_COUNT=${WORKERS})`;
      assert.equal(seen.filter((s) => s === line).length, 2, `extract and load logged: ${line}`);
    }
    assert.equal(seen.length, 2 * WORKERS, 'the plan and finish Jobs are plain runs');
    assert.deepEqual(await built(join(data, 'pmc')), reference);
  });

  test(`Slurm: submit.sh through a stand-in sbatch, each array as ${WORKERS} tasks`, async () => {
    // The stand-in records each submission and answers with a job id, as `sbatch --parsable` does.
    const fake = join(work, 'fake-slurm');
    await mkdir(fake);
    const log = join(fake, 'submissions.jsonl');
    await writeFile(
      join(fake, 'sbatch'),
      `#!${process.execPath}\nconst fs = require('fs');\nconst n = fs.existsSync(${JSON.stringify(log)}) ? fs.readFileSync(${JSON.stringify(log)}, 'utf8').split('\\n').filter(Boolean).length : 0;\n` +
        `fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ id: String(1000 + n), argv: process.argv.slice(2) }) + '\\n');\nconsole.log(1000 + n);\n`,
    );
    await chmod(join(fake, 'sbatch'), 0o755);
    const out = join(work, 'slurm-shared');
    const submitted = await run('bash', [join(cluster, 'slurm/submit.sh'), String(WORKERS)], { PATH: `${fake}:${env['PATH']}`, BIOMEDICA_OUT: out });
    ok(submitted, 'submit.sh');

    const jobs = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; argv: string[] });
    assert.equal(jobs.length, 5);
    const results: CliResult[] = [];
    const done = new Set<string>();
    for (const job of jobs) {
      // sbatch [options] script [script args]: the options end at the first word that is not one.
      const at = job.argv.findIndex((a) => !a.startsWith('--'));
      const options = job.argv.slice(0, at);
      const [script, ...scriptArgs] = job.argv.slice(at);
      const dependency = options.find((o) => o.startsWith('--dependency='))?.split(':')[1];
      if (dependency) assert.ok(done.has(dependency), `job ${job.id} depends on ${dependency}, which ran before it`);
      const range = /^--array=(\d+)-(\d+)$/.exec(options.find((o) => o.startsWith('--array=')) ?? '');
      // Slurm starts the batch script with the submitter's environment (--export=ALL).
      const base = { ...SETTINGS, BIOMEDICA_OUT: out };
      if (range) {
        const [lo, hi] = [Number(range[1]), Number(range[2])];
        const tasks = [];
        for (let id = lo; id <= hi; id++) {
          tasks.push(
            run('bash', [script!, ...scriptArgs], {
              ...base,
              SLURM_JOB_ID: String(Number(job.id) * 10 + id),
              SLURM_ARRAY_JOB_ID: job.id,
              SLURM_ARRAY_TASK_ID: String(id),
              SLURM_ARRAY_TASK_MIN: String(lo),
              SLURM_ARRAY_TASK_MAX: String(hi),
              SLURM_ARRAY_TASK_COUNT: String(hi - lo + 1),
              SLURM_ARRAY_TASK_STEP: '1',
            }),
          );
        }
        for (const r of await Promise.all(tasks)) results.push(ok(r, `${job.id} ${job.argv.join(' ')}`));
      } else {
        results.push(ok(await run('bash', [script!, ...scriptArgs], { ...base, SLURM_JOB_ID: job.id }), `${job.id} ${job.argv.join(' ')}`));
      }
      done.add(job.id);
    }
    const seen = assignments(results).sort();
    assert.equal(seen.length, 2 * WORKERS, seen.join('\n'));
    assert.ok(seen.every((s) => / Slurm job array \(SLURM_ARRAY_TASK_ID=\d, SLURM_ARRAY_TASK_MIN=0, SLURM_ARRAY_TASK_COUNT=3\)$/.test(s)), seen.join('\n'));
    assert.deepEqual(await built(out), reference);
  });
});
