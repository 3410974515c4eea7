/**
 * Timing shared by the benches: medians, interleaved runs of rivals, and child processes that
 * report one JSON line. These machines are shared and noisy, so a figure is a median of several
 * runs and a ratio compares two things measured in the same command, turn about.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Rounds to `digits` significant digits: enough for a noisy machine, short enough to read. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * scale) / scale;
}

/**
 * Runs every contender `runs` times, turn about, the order reversed every other round (A B, B A,
 * A B…) so that a slow drift of the machine's load falls on both sides alike.
 */
export async function interleave<C extends Record<string, () => Promise<unknown>>>(
  contenders: C,
  runs: number,
  onRun?: (name: keyof C & string, round: number, result: Awaited<ReturnType<C[keyof C]>>) => void,
): Promise<{ [K in keyof C]: Awaited<ReturnType<C[K]>>[] }> {
  type Result = Awaited<ReturnType<C[keyof C]>>;
  const names = Object.keys(contenders) as (keyof C & string)[];
  const out: Record<string, Result[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < runs; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const result = (await contenders[name]!()) as Result;
      out[name]!.push(result);
      onRun?.(name, round, result);
    }
  }
  return out as { [K in keyof C]: Awaited<ReturnType<C[K]>>[] };
}

export interface ChildResult {
  stdout: string;
  stderr: string;
  seconds: number;
  /** User + system CPU seconds of the command and its children, when GNU time is there to tell. */
  cpuSeconds?: number;
}

/** GNU time reports a child's CPU seconds, which node cannot; without it rows go without. */
const gnuTime = spawnSync('/usr/bin/time', ['-f', '%U', 'true'], { stdio: 'ignore' }).status === 0 ? '/usr/bin/time' : null;

/** Runs a command to its end; wall seconds include the process start. Rejects on a non-zero exit. */
export function runCommand(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ChildResult> {
  const timeDir = gnuTime ? mkdtempSync(join(tmpdir(), 'bench-time-')) : null;
  const timeFile = timeDir ? join(timeDir, 'cpu') : null;
  const argv = timeFile ? [gnuTime!, '-f', '%U %S', '-o', timeFile, command, ...args] : [command, ...args];
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      let cpuSeconds: number | undefined;
      if (timeFile) {
        try {
          // The last line: before it GNU time may say "Command exited with non-zero status".
          const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
          if (Number.isFinite(user) && Number.isFinite(system)) cpuSeconds = user! + system!;
        } catch {
          // killed before time wrote: no CPU figure
        }
        rmSync(timeDir!, { recursive: true, force: true });
      }
      if (code === 0) resolve({ stdout, stderr, seconds, cpuSeconds });
      else reject(new Error(`${command} ${args.join(' ')} exited ${code ?? signal}\n${stderr.slice(-2000)}`));
    });
  });
}

/** The last line of a command's stdout, parsed: how every bench script reports. */
export async function runJson<T = Record<string, unknown>>(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<T> {
  const { stdout } = await runCommand(command, args, options);
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${command} ${args.join(' ')} printed no JSON line last:\n${stdout.slice(-1000)}`);
  }
}

/** A bench script of this folder run under tsx in its own process, its logs silenced. */
export function runBenchScript<T = Record<string, unknown>>(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const path = new URL(`../${script}`, import.meta.url).pathname;
  return runJson<T>(process.execPath, ['--import', 'tsx', path, ...args], { env: { BIOMEDICA_LOG_LEVEL: 'silent', ...env } });
}
