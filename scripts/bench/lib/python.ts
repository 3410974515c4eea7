/**
 * A Python venv for the peers the benches run beside ours (Pillow, lxml, scikit-learn…): made once
 * under node_modules/.cache and reused, the way test/load-hf.slow.test.ts keeps its own. pip takes
 * the wheels from the machine's configured index (a local one here, PyPI on a user's machine).
 * Python runs only in benches and interop tests, never in the pipeline.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export const hasPython = spawnSync('python3', ['--version']).status === 0;

function importsOk(python: string, modules: readonly string[]): boolean {
  return spawnSync(python, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' }).status === 0;
}

/**
 * The path of a venv's python that imports `modules`, after pip-installing `packages` into a fresh
 * venv when it does not. Built under a temporary name and renamed, so an interrupted install is
 * never taken for a finished one.
 */
export async function ensureVenv(name: string, packages: readonly string[], modules: readonly string[]): Promise<string> {
  const venv = join(repo, 'node_modules/.cache', name);
  const python = join(venv, 'bin/python');
  if (importsOk(python, modules)) return python;
  if (!hasPython) throw new Error('python3 is not on PATH: the Python peers cannot run');
  await mkdir(join(repo, 'node_modules/.cache'), { recursive: true });
  const tmp = `${venv}.tmp-${process.pid}`;
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15 * 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  };
  await rm(tmp, { recursive: true, force: true });
  run('python3', ['-m', 'venv', tmp]);
  // --retries 1: with no route to PyPI, pip would otherwise back off for minutes per package
  // before taking the same wheels from the configured local index.
  run(join(tmp, 'bin/python'), ['-m', 'pip', 'install', '--quiet', '--retries', '1', ...packages]);
  await rm(venv, { recursive: true, force: true });
  await rename(tmp, venv);
  if (!importsOk(python, modules)) throw new Error(`the venv ${venv} does not import ${modules.join(', ')}`);
  return python;
}

/** For running a peer: no __pycache__ left beside the scripts in the checkout. */
export const PEER_ENV = { PYTHONDONTWRITEBYTECODE: '1' };
