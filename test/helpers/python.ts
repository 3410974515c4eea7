/**
 * Python reference implementations for interop tests and benchmarks (never at run time): a venv
 * made once per purpose under node_modules/.cache and reused by later runs. pip uses the machine's
 * configured index (a local one here; PyPI on a user's machine).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './servers.js';

export const hasPython = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;

export interface Venv {
  /** The venv's own interpreter: it finds its site-packages wherever the venv folder lies. */
  python: string;
}

/**
 * A venv named `name` in which `imports` (a Python import statement) succeeds, made with `packages`
 * when it is missing or incomplete. Built under a temporary name and renamed, so a run killed while
 * pip works leaves no half venv that a later run would trust.
 */
export async function ensureVenv(name: string, packages: string[], imports: string): Promise<Venv> {
  await mkdir(join(repoRoot, 'node_modules/.cache'), { recursive: true });
  const venv = join(repoRoot, 'node_modules/.cache', name);
  const python = join(venv, 'bin/python');
  if (spawnSync(python, ['-c', imports], { stdio: 'ignore' }).status === 0) return { python };
  const tmp = `${venv}.tmp-${process.pid}`;
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15 * 60_000 });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  };
  await rm(tmp, { recursive: true, force: true });
  run('python3', ['-m', 'venv', tmp]);
  // --retries 1: with no route to PyPI, pip would otherwise back off for minutes per package
  // before taking the same wheels from the configured local index.
  run(join(tmp, 'bin/python'), ['-m', 'pip', 'install', '--quiet', '--retries', '1', ...packages]);
  await rm(venv, { recursive: true, force: true });
  await rename(tmp, venv);
  return { python };
}

/** Run a Python script in the venv; its last stdout line is parsed as JSON. */
export function runPython<T>(venv: Venv, script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): T {
  const r = spawnSync(venv.python, ['-c', script, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}
