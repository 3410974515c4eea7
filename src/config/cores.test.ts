import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { concurrencyDefaults, detectCores, machineDefaults } from './cores.js';
import { resolveConfig } from './schema.js';

describe('cores from a faked machine', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'biomedica-cores-'));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  /** A fake /sys/fs/cgroup and /proc/self/cgroup under a fresh folder. */
  async function machine(name: string, membership: string, files: Record<string, string>) {
    const dir = join(root, name);
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, 'cgroup', path)), { recursive: true });
      await writeFile(join(dir, 'cgroup', path), text);
    }
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'self-cgroup'), membership);
    return (parallelism: number) => detectCores({ parallelism: () => parallelism, cgroupRoot: join(dir, 'cgroup'), procSelfCgroup: join(dir, 'self-cgroup') });
  }

  test('cgroup v2: the quota at the root caps availableParallelism', async () => {
    const probe = await machine('v2-root', '0::/\n', { 'cpu.max': '200000 100000\n' });
    assert.deepEqual(probe(64), { cores: 2, from: 'cgroup v2 cpu.max (2.00 CPUs of 64)' });
    assert.deepEqual(probe(1), { cores: 1, from: 'os.availableParallelism()' }, 'a quota above the CPUs we have changes nothing');
  });

  test('cgroup v2: the tightest quota on the way up wins; fractions round down', async () => {
    const probe = await machine('v2-nested', '0::/kubepods/pod1/c1\n', {
      'kubepods/pod1/c1/cpu.max': 'max 100000\n',
      'kubepods/pod1/cpu.max': '150000 100000\n',
      'kubepods/cpu.max': '800000 100000\n',
    });
    assert.equal(probe(16).cores, 1);
    const hybrid = await machine('v2-unified', '0::/job\n', { 'unified/job/cpu.max': '350000 100000' });
    assert.equal(hybrid(16).cores, 3);
  });

  test('cgroup v1: cfs quota and period, under cpu,cpuacct', async () => {
    const probe = await machine('v1', '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n', {
      'cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '400000\n',
      'cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
    });
    assert.deepEqual(probe(32), { cores: 4, from: 'cgroup v1 cpu.cfs_quota_us (4.00 CPUs of 32)' });
  });

  test('no quota, no cgroup files, or unreadable ones: availableParallelism', async () => {
    const unlimited = await machine('none', '1:cpu:/\n0::/\n', { 'cpu/cpu.cfs_quota_us': '-1\n', 'cpu/cpu.cfs_period_us': '100000\n', 'cpu.max': 'max 100000\n' });
    assert.deepEqual(unlimited(8), { cores: 8, from: 'os.availableParallelism()' });
    assert.equal(detectCores({ parallelism: () => 6, cgroupRoot: join(root, 'absent'), procSelfCgroup: join(root, 'absent', 'x') }).cores, 6);
  });

  test('BIOMEDICA_CORES sets the count (a share given by hand or by --jobs); a bad value is ignored, and says so', async () => {
    const probe = await machine('env', '0::/\n', { 'cpu.max': '200000 100000\n' });
    assert.deepEqual(detectCores({ parallelism: () => 64, env: { BIOMEDICA_CORES: '5' } }), { cores: 5, from: 'BIOMEDICA_CORES' });
    assert.equal(probe(64).cores, 2);
    for (const bad of ['0', 'lots', '1.5', '']) {
      const r = detectCores({ parallelism: () => 3, cgroupRoot: join(root, 'absent'), procSelfCgroup: join(root, 'absent', 'x'), env: { BIOMEDICA_CORES: bad } });
      assert.deepEqual(r, { cores: 3, from: `os.availableParallelism(); BIOMEDICA_CORES=${JSON.stringify(bad)} ignored: not a whole number ≥ 1` });
    }
  });

  test('defaults per core count', () => {
    assert.deepEqual(concurrencyDefaults(1), { images: 1, articles: 4, shards: 2 });
    assert.deepEqual(concurrencyDefaults(2), { images: 2, articles: 4, shards: 2 });
    assert.deepEqual(concurrencyDefaults(16), { images: 16, articles: 32, shards: 16 });
    assert.deepEqual(concurrencyDefaults(128), { images: 64, articles: 64, shards: 16 });
  });
});

test('config: "auto" resolves from this machine, numbers and numeric env values are kept', () => {
  const auto = resolveConfig({ env: {} });
  assert.equal(auto.extract.imageConcurrency, machineDefaults().images);
  assert.equal(auto.extract.articleConcurrency, machineDefaults().articles);
  const given = resolveConfig({ env: { BIOMEDICA_EXTRACT_IMAGE_CONCURRENCY: '3' }, overrides: { extract: { articleConcurrency: 7 } } });
  assert.deepEqual([given.extract.imageConcurrency, given.extract.articleConcurrency], [3, 7]);
  assert.throws(() => resolveConfig({ env: { BIOMEDICA_EXTRACT_IMAGE_CONCURRENCY: 'many' } }), { code: 'CONFIG_INVALID' });
});

test('the CLI states the defaults for a faked core count (BIOMEDICA_CORES), in --help and in the log', () => {
  const bin = fileURLToPath(new URL('../../bin/biomedica.js', import.meta.url));
  const env = { ...process.env, BIOMEDICA_CORES: '6' };
  const help = execFileSync(process.execPath, [bin, 'extract', '--help'], { encoding: 'utf8', env }).replace(/\s+/g, ' ');
  assert.match(help, /images decoded at once \(default: one per core: 6 here, cores from BIOMEDICA_CORES\)/);
  assert.match(help, /articles processed at once \(default: 2 per core, 4 to 64: 12 here\)/);
  const load = execFileSync(process.execPath, [bin, 'load', '--help'], { encoding: 'utf8', env }).replace(/\s+/g, ' ');
  assert.match(load, /shards written at once \(default: load\.shardConcurrency, one per core, 2 to 16: 6 here\)/);
  const run = spawnSync(process.execPath, [bin, 'extract', '--source', join(tmpdir(), 'biomedica-no-such-mirror'), '--out', join(tmpdir(), 'biomedica-no-such-out'), '--log-level', 'info', '--no-progress'], { encoding: 'utf8', env });
  const line = run.stderr.split('\n').find((l) => l.includes('"msg":"concurrency"'));
  assert.ok(line, run.stderr);
  assert.deepEqual(
    (({ cores, coresFrom, imageConcurrency, articleConcurrency }) => ({ cores, coresFrom, imageConcurrency, articleConcurrency }))(JSON.parse(line) as Record<string, unknown>),
    { cores: 6, coresFrom: 'BIOMEDICA_CORES', imageConcurrency: 6, articleConcurrency: 12 },
  );
});

test('the CLI states the defaults for the cores it may use (one core pinned with taskset)', { skip: !existsSync('/usr/bin/taskset') && 'no taskset' }, () => {
  const bin = fileURLToPath(new URL('../../bin/biomedica.js', import.meta.url));
  const help = (cpus: string) => execFileSync('taskset', ['-c', cpus, process.execPath, bin, 'extract', '--help'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
  assert.match(help('0'), /images decoded at once \(default: one per core: 1 here, cores from os\.availableParallelism\(\)\)/);
  assert.match(help('0'), /articles processed at once \(default: 2 per core, 4 to 64: 4 here\)/);
  // The log says what a run used: a source that does not exist fails after the line is written.
  const run = spawnSync('taskset', ['-c', '0', process.execPath, bin, 'extract', '--source', join(tmpdir(), 'biomedica-no-such-mirror'), '--out', join(tmpdir(), 'biomedica-no-such-out'), '--log-level', 'info', '--no-progress'], { encoding: 'utf8' });
  const line = run.stderr.split('\n').find((l) => l.includes('"msg":"concurrency"'));
  assert.ok(line, run.stderr);
  assert.deepEqual(
    (({ cores, coresFrom, imageConcurrency, articleConcurrency }) => ({ cores, coresFrom, imageConcurrency, articleConcurrency }))(JSON.parse(line) as Record<string, unknown>),
    { cores: 1, coresFrom: 'os.availableParallelism()', imageConcurrency: 1, articleConcurrency: 4 },
  );
});
