/**
 * One run per output folder (issue 7, defect 1). Two `extract` runs started on one --out used to
 * both run: they raced on temporary names, units were marked done holding spurious IMAGE_FAILED
 * records, and both could exit 0. Now the second is refused with exit 5, naming the holder, and the
 * first finishes clean; a lock left by a killed run is taken over with a warning.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, repoRoot, runCli, spawnCli, treeHashes } from './helpers/cli.js';
import { startHttpServer } from './helpers/servers.js';

const ARGS = ['--source', join(repoRoot, 'sample'), '--limit', '20', '--unit-size', '5', '--no-progress', '--json'];
let work: string;
let reference: Map<string, string>;

async function imageFailures(out: string): Promise<number> {
  let n = 0;
  const units = join(out, 'extract', 'units');
  for (const u of await readdir(units)) {
    const text = await readFile(join(units, u, 'failures.jsonl'), 'utf8').catch(() => '');
    n += text.split('\n').filter((l) => l.includes('"IMAGE_FAILED"')).length;
  }
  return n;
}

/** Resolves once a run holds the folder's lock. */
async function lockTaken(out: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(out, '.locks', 'run.lock')) && Date.now() < deadline) await sleep(10);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'run-lock-'));
  const ref = join(work, 'reference');
  const r = await runCli(['extract', '--out', ref, ...ARGS]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await imageFailures(ref), 0);
  reference = await treeHashes(join(ref, 'extract'));
});
after(async () => rm(work, { recursive: true, force: true }));

describe('one run per output folder', () => {
  test('a second extract on the same --out exits 5 naming the holder; the first finishes clean', async () => {
    // The sample over real HTTP, each package a little slow: the first run surely still runs when
    // the second (a process start away) asks for the folder.
    const server = await startHttpServer(join(repoRoot, 'sample'), {
      handler: async (req) => {
        if (req.url?.endsWith('.tar.gz')) await sleep(100);
        return false;
      },
    });
    try {
      const out = join(work, 'two');
      const args = ['extract', '--out', out, ...ARGS.slice(2), '--source', server.url];
      const first = spawnCli(args);
      const firstDone = collect(first);
      await lockTaken(out);
      const second = await runCli(args);
      assert.equal(second.code, 5, second.stderr);
      assert.match(second.stderr, new RegExp(`error LOCKED: .* is in use by \`extract\`: pid ${first.pid} on ${hostname()}`));
      assert.match(second.stderr, new RegExp(`hint: .*kill ${first.pid}`));
      const one = await firstDone;
      assert.equal(one.code, 0, one.stderr);
      assert.equal(JSON.parse(one.stdout).complete, true);
      assert.equal(await imageFailures(out), 0);
      assert.deepEqual(await readdir(join(out, '.locks')), [], 'the lock goes with its run');
    } finally {
      await server.close();
    }
  });

  test('the lock of a killed run is taken over, with a warning', async () => {
    const out = join(work, 'killed');
    const run = spawnCli(['extract', '--out', out, ...ARGS]);
    const done = collect(run);
    await lockTaken(out);
    run.kill('SIGKILL');
    await done;
    assert.ok(existsSync(join(out, '.locks', 'run.lock')), 'SIGKILL leaves the lock behind');
    const again = await runCli(['extract', '--out', out, ...ARGS]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /stale lock taken over: its process is gone/);
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);
  });

  test('a lock another host keeps alive refuses; one whose heartbeat stopped long ago is taken over', async () => {
    const out = join(work, 'remote');
    await mkdir(join(out, '.locks'), { recursive: true });
    const lock = (heartbeatAt: string) =>
      JSON.stringify({ schema: 'biomedica.lock', version: 1, kind: 'run', command: 'run', pid: 4242, host: 'node-7', token: 'x', startedAt: heartbeatAt, heartbeatAt });
    await writeFile(join(out, '.locks', 'run.lock'), lock(new Date().toISOString()));
    const refused = await runCli(['load', '--out', out, '--no-progress']);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /in use by `run`: pid 4242 on node-7/);
    await writeFile(join(out, '.locks', 'run.lock'), lock(new Date(Date.now() - 3_600_000).toISOString()));
    const taken = await runCli(['extract', '--out', out, ...ARGS]);
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stderr, /stale lock taken over/);
  });
});
