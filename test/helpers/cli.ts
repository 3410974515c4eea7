/** Spawn the real CLI (TypeScript through tsx, no build) and collect its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import { repoRoot } from './servers.js';

export { corpusDir, repoRoot } from './servers.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `as` runs the CLI as another user (uid/gid): permission tests as root need one that permissions bind. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, as?: { uid: number; gid: number }): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, BIOMEDICA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return collect(spawnCli(args, env));
}

/**
 * The environment of a user's shell: no npm_* variables and none of the PATH entries npm adds
 * (a test run under `npm test` inherits both), plus `extraPath` in front.
 */
export function shellEnv(extraPath: string[] = []): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD'));
  const path = (process.env['PATH'] ?? '').split(delimiter).filter((d) => !/node_modules[\\/]\.bin|[\\/]_npx[\\/]|node-gyp-bin/.test(d));
  return { ...env, BIOMEDICA_LOG_LEVEL: 'warn', PATH: [...extraPath, ...path].join(delimiter) };
}

/** Run the installed entry point (bin/biomedica.js) from any folder, as a user's shell would. */
export function runBin(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return collect(spawn(process.execPath, [join(repoRoot, 'bin/biomedica.js'), ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Run a line through sh, as pasted into a terminal. */
export function runShell(line: string, opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return collect(spawn('sh', ['-c', line], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Generate a synthetic legacy mirror with the project's own sample script. */
export async function makeSample(out: string, articles: number, extra: string[] = []): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'scripts/make-sample.ts'), '--out', out, '--articles', String(articles), '--seed', '7', ...extra],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const result = await collect(child);
  if (result.code !== 0) throw new Error(`make-sample failed: ${result.stderr}`);
}

/** sha256 of every file under dir, by relative path: a whole-tree fingerprint to compare runs. */
export async function treeHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(d: string) {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else out.set(relative(dir, p), createHash('sha256').update(await readFile(p)).digest('hex'));
    }
  }
  await walk(dir);
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A plain extract, then a plain load into `out`: the trees (extract/ and dataset/) other runs on
 * the same inputs must reproduce byte for byte.
 */
export async function referenceRun(out: string, extractArgs: string[], loadArgs: string[]): Promise<{ extract: Map<string, string>; dataset: Map<string, string> }> {
  for (const args of [['extract', '--out', out, ...extractArgs], ['load', '--out', out, ...loadArgs]]) {
    const r = await runCli(args);
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  }
  return { extract: await treeHashes(join(out, 'extract')), dataset: await treeHashes(join(out, 'dataset')) };
}

export async function treeMtimes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [path] of await treeHashes(dir)) out.set(path, (await stat(join(dir, path))).mtimeMs);
  return out;
}
