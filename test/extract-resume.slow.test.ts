/**
 * Kill-and-resume: a run stopped midway (gracefully by SIGTERM, or hard by SIGKILL) and rerun ends
 * with exactly the bytes of an uninterrupted run; a rerun of a finished run changes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, makeSample, runCli, spawnCli, treeHashes, treeMtimes } from './helpers/cli.js';

let work: string;
let mirror: string;
let reference: Map<string, string>;
const ARGS = ['--unit-size', '4', '--concurrency', '2', '--no-progress'];

async function doneUnits(out: string): Promise<number> {
  const units = join(out, 'extract', 'units');
  if (!existsSync(units)) return 0;
  let n = 0;
  for (const u of await readdir(units)) if (existsSync(join(units, u, 'done.json'))) n++;
  return n;
}

async function interruptAfterFirstUnit(out: string, signal: NodeJS.Signals) {
  const child = spawnCli(['extract', '--source', mirror, '--out', out, ...ARGS]);
  const result = collect(child);
  const deadline = Date.now() + 60_000;
  while ((await doneUnits(out)) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill(signal);
  return result;
}

describe('extract: kill and resume', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-resume-'));
    mirror = join(work, 'mirror');
    await makeSample(mirror, 40, ['--bad']);
    const out = join(work, 'reference');
    const r = await runCli(['extract', '--source', mirror, '--out', out, ...ARGS]);
    assert.equal(r.code, 0, r.stderr);
    reference = await treeHashes(join(out, 'extract'));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  test('the reference run wrote every unit and a manifest', async () => {
    assert.ok(reference.has('manifest.json'));
    assert.equal(await doneUnits(join(work, 'reference')), 10);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`${signal} midway, then rerun: same bytes as an uninterrupted run`, async () => {
      const out = join(work, signal);
      const stopped = await interruptAfterFirstUnit(out, signal);
      if (signal === 'SIGTERM') assert.equal(stopped.code, 130, stopped.stderr);
      else assert.equal(stopped.signal, 'SIGKILL');
      assert.ok(!existsSync(join(out, 'extract', 'manifest.json')), 'an interrupted run must not write the manifest');
      const partial = await doneUnits(out);
      assert.ok(partial >= 1 && partial < 10, `expected a partial run, got ${partial} units`);

      const resumed = await runCli(['extract', '--source', mirror, '--out', out, ...ARGS, '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const summary = JSON.parse(resumed.stdout);
      assert.ok(summary.unitsSkipped >= partial, 'finished units are not redone');
      const tree = await treeHashes(join(out, 'extract'));
      // Temporary files of the killed run must not survive as outputs.
      assert.deepEqual([...tree.keys()].filter((k) => k.endsWith('.tmp')), []);
      assert.deepEqual(tree, reference);
    });
  }

  test('SIGKILL while a unit image store is half written, then rerun: same bytes, nothing of the killed unit counted done', async () => {
    const out = join(work, 'mid-unit');
    const child = spawnCli(['extract', '--source', mirror, '--out', out, ...ARGS]);
    const result = collect(child);
    const units = join(out, 'extract', 'units');
    // A unit's store exists under its temporary name from its first article to its last.
    let midUnit: string | undefined;
    const deadline = Date.now() + 60_000;
    while (midUnit === undefined && Date.now() < deadline) {
      for (const u of existsSync(units) ? await readdir(units) : []) {
        if (existsSync(join(units, u, '.images.tar.tmp')) && !existsSync(join(units, u, 'done.json'))) midUnit = u;
      }
      if (midUnit === undefined) await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(midUnit, 'no unit store was seen half written');
    child.kill('SIGKILL');
    assert.equal((await result).signal, 'SIGKILL');
    assert.ok(existsSync(join(units, midUnit, '.images.tar.tmp')), 'killed while the store was still being written');
    assert.ok(!existsSync(join(units, midUnit, 'done.json')), 'the unit killed mid-store has no marker');

    const resumed = await runCli(['extract', '--source', mirror, '--out', out, ...ARGS, '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(JSON.parse(resumed.stdout).unitsSkipped < 10, 'the killed unit is redone');
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);
  });

  test('a rerun of a finished run does nothing and changes no byte', async () => {
    const out = join(work, 'reference');
    const before = await treeMtimes(join(out, 'extract'));
    const r = await runCli(['extract', '--source', mirror, '--out', out, ...ARGS, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).unitsSkipped, 10);
    assert.deepEqual(await treeMtimes(join(out, 'extract')), before);
    assert.deepEqual(await treeHashes(join(out, 'extract')), reference);
  });
});
