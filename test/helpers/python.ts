/**
 * Python reference implementations for interop tests: a venv per purpose, made on first use and
 * kept in node_modules/.cache for later runs. pip uses the machine's configured index (a local
 * one on the project machines and CI; PyPI on a user's machine).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './servers.js';

export const hasPython = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * The python of venv `name` with `packages` installed; `imports` is the import line that proves
 * they are there (e.g. 'import datasets, PIL'). Creates it when that line fails.
 */
export async function pythonVenv(name: string, packages: string[], imports: string): Promise<string> {
  const venv = join(repoRoot, 'node_modules/.cache', name);
  const python = join(venv, 'bin/python');
  if (spawnSync(python, ['-c', imports], { stdio: 'ignore' }).status === 0) return python;
  await mkdir(join(repoRoot, 'node_modules/.cache'), { recursive: true });
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
  // The venv is used through its own bin/python, which finds its site-packages after the rename.
  await rename(tmp, venv);
  return python;
}
