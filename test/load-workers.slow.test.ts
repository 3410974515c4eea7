/**
 * Load split over workers (processes or machines sharing the run and dataset folders): three
 * `load --worker i/3` at once must give the bytes of a single-process load, with exactly one
 * worker writing the tables, card and manifest; a plain load finishes what a lost worker left.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { collect, repoRoot, runCli, spawnCli, treeHashes } from './helpers/cli.js';

describe('load split over workers', () => {
  let work: string;
  let out: string;
  let expected: Map<string, string>;
  let shards: number;
  // Small shards, so that each of three workers gets several.
  const LOAD = ['--shard-max-samples', '10', '--no-progress', '--json'];
  const load = (dataset: string, ...extra: string[]) => ['load', '--out', out, '--dataset', dataset, ...LOAD, ...extra];
  const workers = (dataset: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => collect(spawnCli(load(dataset, '--worker', `${i}/${n}`)))));

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-load-workers-'));
    out = join(work, 'out');
    const extract = await runCli(['extract', '--source', join(repoRoot, 'sample'), '--out', out, '--no-progress', '--json']);
    assert.equal(extract.code, 0, extract.stderr);
    const single = await runCli(load(join(work, 'single')));
    assert.equal(single.code, 0, single.stderr);
    const summary = JSON.parse(single.stdout);
    assert.equal(summary.complete, true);
    shards = summary.shards;
    assert.ok(shards >= 9, `${shards} shards: too few for three workers to get several each`);
    expected = await treeHashes(join(work, 'single'));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  test('three workers at once: the bytes of one process, one finalizer, verify passes', async () => {
    const split = join(work, 'split');
    const runs = await workers(split, 3);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const summaries = runs.map((r) => JSON.parse(r.stdout));
    assert.equal(summaries.filter((s) => s.complete).length, 1, 'exactly one worker finalizes');
    for (const s of summaries.filter((x) => !x.complete)) assert.equal(s.manifest, '');
    // Each wrote its own share, none twice.
    assert.deepEqual(
      summaries.map((s) => s.run.shardsWritten),
      [0, 1, 2].map((i) => Math.ceil((shards - i) / 3)),
    );
    assert.deepEqual(await treeHashes(split), expected);
    const verify = await runCli(['verify', split, '--no-progress']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    // A second round after a shard was lost: its worker rewrites it and the round finalizes again.
    await rm(join(split, 'commercial', '000001.tar'));
    // A worker that does not own it (worker 1 does) must not take the round for finished on the
    // strength of its marker: that worker used to find the last round's finalize lock, report
    // nothing pending and remove the shared plan while the owner was rewriting from it.
    const early = await runCli(load(split, '--worker', '0/3'));
    assert.equal(early.code, 0, early.stderr);
    const e = JSON.parse(early.stdout);
    assert.equal(e.complete, false);
    assert.equal(e.shardsPending, 1);
    assert.equal(e.run.shardsWritten, 0);
    const again = (await workers(split, 3)).map((r) => {
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    });
    assert.equal(again.filter((s) => s.complete).length, 1, 'exactly one worker finalizes the second round');
    assert.equal(again.reduce((a, s) => a + s.run.shardsWritten, 0), 1);
    assert.deepEqual(await treeHashes(split), expected);
  });

  test('a worker alone leaves shards pending and no manifest; a plain load finishes them', async () => {
    const partial = join(work, 'partial');
    const one = await runCli(load(partial, '--worker', '1/3'));
    assert.equal(one.code, 0, one.stderr);
    const s = JSON.parse(one.stdout);
    assert.equal(s.complete, false);
    assert.equal(s.manifest, '');
    assert.equal(s.shardsPending, shards - s.run.shardsWritten);
    assert.ok(s.shardsPending > 0);
    const names = await readdir(partial);
    assert.ok(!names.includes('manifest.json'), 'no manifest while shards are pending');
    // The plan is shared: it stays for the other workers (one plan folder, written once).
    assert.deepEqual((await readdir(join(partial, '.work'))).map((n) => n.replace(/[0-9a-f]{16}$/, 'KEY')), ['plan-KEY']);

    const human = await runCli(load(partial, '--worker', '1/3').filter((a) => a !== '--json'));
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /Worker 1\/3: shards written 0, unchanged \d+/);
    assert.match(human.stdout, new RegExp(`${s.shardsPending} of ${shards} shards pending`));

    // What a worker killed mid-plan leaves behind (a plan of other inputs, and the per-worker folder
    // older versions staged in): the plain load clears it too.
    await mkdir(join(partial, '.work', 'plan-0123456789abcdef'), { recursive: true });
    await writeFile(join(partial, '.work', 'plan-0123456789abcdef', 'commercial.tar.jsonl'), '{}\n');
    await mkdir(join(partial, '.work-2-of-3'));
    await writeFile(join(partial, '.work-2-of-3', 'commercial.tar.jsonl'), '{}\n');
    const plain = await runCli(load(partial));
    assert.equal(plain.code, 0, plain.stderr);
    const finished = JSON.parse(plain.stdout);
    assert.equal(finished.complete, true);
    assert.equal(finished.shardsPending, 0);
    assert.equal(finished.run.shardsWritten, s.shardsPending);
    assert.equal(finished.run.shardsReused, s.run.shardsWritten);
    assert.deepEqual(await treeHashes(partial), expected);
  });

  test('SIGKILL during a no-op rerun of a finished load leaves its manifest and every shard (defect 6)', async () => {
    const single = join(work, 'single');
    const manifest = await readFile(join(single, 'manifest.json'));
    for (const afterMs of [1500, 3000]) {
      const child = spawnCli(load(single));
      const done = collect(child);
      await new Promise((r) => setTimeout(r, afterMs));
      child.kill('SIGKILL');
      await done;
      assert.deepEqual(await readFile(join(single, 'manifest.json')), manifest, `killed after ${afterMs} ms`);
    }
    // What the killed runs staged goes with the next run; then the folder is the finished dataset again.
    const rerun = await runCli(load(single));
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(await treeHashes(single), expected);
  });

  test('--worker outside 0 ≤ i < n is refused', async () => {
    const bad = await runCli(load(join(work, 'bad'), '--worker', '3/3'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FLAG_INVALID/);
  });
});
