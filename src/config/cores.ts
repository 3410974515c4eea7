/**
 * How many cores this process may use, and the concurrency defaults that follow from it.
 *
 * os.availableParallelism() honours the CPU affinity mask but not a container's CPU quota: a pod
 * limited to 2 CPUs on a 64-core node reports 64, and 64 image decoders would then be throttled
 * by the kernel's CFS quota in bursts. So the quota of the process's cgroup (v2 `cpu.max`, v1
 * `cpu.cfs_quota_us` / `cpu.cfs_period_us`), and of every cgroup above it, caps the count.
 * A fractional quota is rounded down (at least 1), as Go's automaxprocs does: running more
 * threads than the quota allows trades steady progress for throttled stalls.
 *
 * BIOMEDICA_CORES=n, when set, is the count: a share of the machine given by hand, or by
 * `--jobs N`, which hands each of its N local workers its part of the cores (src/cli/jobs.ts) so
 * that N processes do not each size their pools for the whole machine.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';

export interface Cores {
  cores: number;
  /** Where the number came from, for the log and --help. */
  from: string;
}

export interface CoreProbe {
  /** Default os.availableParallelism. */
  parallelism?: () => number;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Default /proc/self/cgroup. */
  procSelfCgroup?: string;
  /** Default process.env: BIOMEDICA_CORES. */
  env?: NodeJS.ProcessEnv;
}

export const CORES_ENV = 'BIOMEDICA_CORES';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // No such controller or file: not limited by it. Anything else would show as a wrong count,
    // never as a failed run; the log says which source the count came from.
    return undefined;
  }
}

/** The cgroup path and its ancestors, innermost first: '/a/b' → ['/a/b', '/a', '/']. */
function upward(path: string): string[] {
  const out: string[] = [];
  for (let p = posix.normalize(`/${path}`); ; p = posix.dirname(p)) {
    out.push(p);
    if (p === '/') return out;
  }
}

/** Cores allowed by quota/period files found along `dirs` (innermost first); the tightest wins. */
function tightest(dirs: string[], quotaOf: (dir: string) => number | undefined): number | undefined {
  let best: number | undefined;
  for (const dir of dirs) {
    const quota = quotaOf(dir);
    if (quota !== undefined && (best === undefined || quota < best)) best = quota;
  }
  return best;
}

/** A quota in CPUs from v2 `cpu.max` ('max 100000' or '200000 100000'). */
function v2Quota(dir: string): number | undefined {
  const text = read(posix.join(dir, 'cpu.max'));
  const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(text ?? '');
  if (!match) return undefined;
  return Number(match[1]) / Number(match[2]);
}

/** A quota in CPUs from v1 `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`. */
function v1Quota(dir: string): number | undefined {
  const quota = Number(read(posix.join(dir, 'cpu.cfs_quota_us'))?.trim());
  const period = Number(read(posix.join(dir, 'cpu.cfs_period_us'))?.trim());
  if (!(quota > 0) || !(period > 0)) return undefined;
  return quota / period;
}

export function detectCores(probe: CoreProbe = {}): Cores {
  const given = (probe.env ?? process.env)[CORES_ENV];
  if (given !== undefined) {
    if (/^\s*\d+\s*$/.test(given) && Number(given) >= 1) return { cores: Number(given), from: CORES_ENV };
    // Not thrown: --help is built from this count, before any error could be reported. The log
    // line and --help say the value was ignored, and why.
    const detected = detectCores({ ...probe, env: {} });
    return { cores: detected.cores, from: `${detected.from}; ${CORES_ENV}=${JSON.stringify(given)} ignored: not a whole number ≥ 1` };
  }
  const parallelism = Math.max(1, (probe.parallelism ?? availableParallelism)());
  const root = probe.cgroupRoot ?? '/sys/fs/cgroup';
  const membership = read(probe.procSelfCgroup ?? '/proc/self/cgroup') ?? '';
  let quota: number | undefined;
  let from = '';
  for (const line of membership.split('\n')) {
    // 'hierarchy-id:controllers:path'; the path itself may hold colons.
    const [id = '', controllers = '', ...rest] = line.split(':');
    const path = rest.join(':');
    if (rest.length === 0) continue;
    let found: number | undefined;
    let kind = '';
    if (id === '0' && controllers === '') {
      // v2: one hierarchy; mounted at the root, or under 'unified' on hybrid hosts.
      const dirs = [...upward(path).map((p) => posix.join(root, p)), ...upward(path).map((p) => posix.join(root, 'unified', p))];
      found = tightest(dirs, v2Quota);
      kind = 'cgroup v2 cpu.max';
    } else if (controllers.split(',').includes('cpu')) {
      // v1: the cpu controller, mounted as 'cpu', 'cpu,cpuacct' or 'cpuacct,cpu'.
      const mounts = ['cpu', 'cpu,cpuacct', 'cpuacct,cpu', controllers];
      const dirs = [...new Set(mounts)].flatMap((m) => upward(path).map((p) => posix.join(root, m, p)));
      found = tightest(dirs, v1Quota);
      kind = 'cgroup v1 cpu.cfs_quota_us';
    }
    if (found !== undefined && (quota === undefined || found < quota)) {
      quota = found;
      from = kind;
    }
  }
  if (quota !== undefined) {
    const allowed = Math.max(1, Math.floor(quota));
    if (allowed < parallelism) return { cores: allowed, from: `${from} (${quota.toFixed(2)} CPUs of ${parallelism})` };
  }
  return { cores: parallelism, from: 'os.availableParallelism()' };
}

export interface ConcurrencyDefaults {
  /** extract.imageConcurrency: one decode per core (libvips runs one thread per image). */
  images: number;
  /** extract.articleConcurrency: articles mostly wait on the network, and each holds only its package. */
  articles: number;
  /** load --shard-concurrency: shards written at once. */
  shards: number;
}

/**
 * images = cores (the schema's cap, 64, above); articles = 2 × cores, 4 at least (the old
 * default on 2 cores) and 64 at most (each holds its package in memory); shards = cores, 2 to 16.
 */
export function concurrencyDefaults(cores: number): ConcurrencyDefaults {
  return {
    images: Math.min(64, Math.max(1, cores)),
    articles: Math.min(64, Math.max(4, 2 * cores)),
    shards: Math.min(16, Math.max(2, cores)),
  };
}

let cached: (Cores & ConcurrencyDefaults) | undefined;

/** This machine's cores and defaults, probed once per process. */
export function machineDefaults(): Cores & ConcurrencyDefaults {
  if (cached === undefined) {
    const cores = detectCores();
    cached = { ...cores, ...concurrencyDefaults(cores.cores) };
  }
  return cached;
}
