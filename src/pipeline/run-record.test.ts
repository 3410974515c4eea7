import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { pathExists as exists, sha256 } from '../storage/files.js';
import { testContext } from './context.js';
import { readRunRecords, runRecordPath, RunRecord } from './run-record.js';
import { runUnits, type Step, type WorkUnit } from './runner.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'run-record-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

/** Units worth 10 items each; u1 fails as a unit when `failU1`; `throwAt` throws in that unit; `onRun` runs first in each. */
function step(root: string, opts: { failU1?: boolean; throwAt?: string; onRun?: (unit: string) => Promise<void> } = {}): Step<WorkUnit, { n: number }> {
  return {
    name: 'test.rec',
    version: 1,
    result: z.object({ n: z.number() }),
    markerPath: (u) => join(root, `${u.id}.done.json`),
    outputRoot: () => root,
    async run(u, io) {
      await opts.onRun?.(u.id);
      if (u.id === opts.throwAt) throw new Error('boom');
      if (opts.failU1 && u.id === 'u1') return { failed: { code: 'EFETCH_FAILED', message: 'kept failing' } };
      io.tick(4);
      return { result: { n: 1 } };
    },
  };
}
const units = (n: number): WorkUnit[] => Array.from({ length: n }, (_, i) => ({ id: `u${i}`, key: sha256(String(i)), weight: 10 }));
const read = async (path: string) => RunRecord.parse(JSON.parse(await readFile(path, 'utf8')));

describe('run records', () => {
  test('a run leaves one record: counts, weights done (not skipped), unit failures, finished; a rerun records its skips', async () => {
    const root = join(dir, 'plain');
    const records = join(dir, 'plain-runs');
    await runUnits(step(root, { failU1: true }), units(4), { recordDir: records }, testContext());
    const r = await read(runRecordPath(records, 'test.rec', undefined));
    assert.equal(r.state, 'finished');
    assert.equal(r.worker, null);
    assert.equal(r.pid, process.pid);
    assert.deepEqual(r.units, { mine: 4, written: 3, skipped: 0, failed: 1 });
    assert.deepEqual(r.weight, { mine: 40, done: 40, skipped: 0 });
    assert.deepEqual(r.unitFailures, [{ unit: 'u1', code: 'EFETCH_FAILED' }]);
    assert.ok(r.updatedAt >= r.startedAt);

    await runUnits(step(root), units(4), { recordDir: records }, testContext());
    const again = await read(runRecordPath(records, 'test.rec', undefined));
    assert.deepEqual(again.units, { mine: 4, written: 1, skipped: 3, failed: 0 });
    assert.deepEqual(again.weight, { mine: 40, done: 10, skipped: 30 });
  });

  test('workers write their own files; no recordDir, no record', async () => {
    const root = join(dir, 'workers');
    const records = join(dir, 'workers-runs');
    for (const index of [0, 1]) await runUnits(step(root), units(5), { recordDir: records, worker: { index, count: 2 } }, testContext());
    assert.deepEqual((await readdir(records)).sort(), ['test.rec.worker-0-of-2.json', 'test.rec.worker-1-of-2.json']);
    const [w0, w1] = await readRunRecords(records);
    assert.deepEqual([w0!.worker, w0!.units.written, w1!.worker, w1!.units.written], [{ index: 0, count: 2 }, 3, { index: 1, count: 2 }, 2]);

    const before = (await readdir(dir)).sort();
    await runUnits(step(join(dir, 'none')), units(2), {}, testContext());
    assert.deepEqual((await readdir(dir)).sort(), [...before, 'none'].sort());
    assert.deepEqual((await readdir(join(dir, 'none'))).sort(), ['u0.done.json', 'u1.done.json']);
  });

  test('mid-run the record on disk says running and catches up with the units done; a run that throws ends stopped', async () => {
    const root = join(dir, 'mid');
    const records = join(dir, 'mid-runs');
    const path = runRecordPath(records, 'test.rec', undefined);
    let during: RunRecord | undefined;
    // Writes go out in the background: while u3 runs, the record on disk must come to show u0..u2 (everyMs 0: every change is due).
    const onRun = async (unit: string) => {
      if (unit !== 'u3') return;
      const deadline = Date.now() + 5_000;
      for (let r = await read(path); Date.now() < deadline; r = await read(path)) {
        if (r.units.written === 3) {
          during = r;
          return;
        }
        await sleep(5);
      }
    };
    await assert.rejects(runUnits(step(root, { onRun, throwAt: 'u3' }), units(4), { recordDir: records, recordEveryMs: 0 }, testContext()), /boom/);
    assert.equal(during?.state, 'running');
    assert.deepEqual(during?.weight, { mine: 40, done: 30, skipped: 0 });
    const end = await read(path);
    assert.equal(end.state, 'stopped');
    assert.equal(end.units.written, 3);
  });

  test('throttled: units ending within everyMs do not rewrite it; the end always does', async () => {
    const root = join(dir, 'throttled');
    const records = join(dir, 'throttled-runs');
    const path = runRecordPath(records, 'test.rec', undefined);
    const seen = new Set<string>();
    // The first work (u0's tick) writes it; while u1…u4 run nothing more is due.
    const onRun = async (unit: string) => {
      if (unit === 'u0') return;
      while (!(await exists(path))) await sleep(5);
      await sleep(20);
      seen.add(await readFile(path, 'utf8'));
    };
    await runUnits(step(root, { onRun }), units(5), { recordDir: records, recordEveryMs: 60_000 }, testContext());
    assert.equal(seen.size, 1);
    const first = RunRecord.parse(JSON.parse([...seen][0]!));
    assert.deepEqual([first.state, first.units.written, first.weight.done], ['running', 0, 4]);
    assert.equal((await read(path)).units.written, 5);
  });

  test('a run that only finds its units done writes nothing: the record of the run that did the work stays', async () => {
    const root = join(dir, 'noop');
    const records = join(dir, 'noop-runs');
    const path = runRecordPath(records, 'test.rec', undefined);
    await runUnits(step(root), units(3), { recordDir: records }, testContext());
    const worked = await readFile(path, 'utf8');
    await runUnits(step(root), units(3), { recordDir: records }, testContext());
    assert.equal(await readFile(path, 'utf8'), worked);
    assert.equal((await read(path)).units.written, 3);
  });

  test('a record that cannot be written is logged and the run goes on', async () => {
    const root = join(dir, 'blocked');
    const blocked = join(dir, 'blocked-runs');
    await writeFile(blocked, 'a file where the folder should be');
    const warnings: string[] = [];
    const log = { ...testContext().log, warn: (_: object, msg: string) => void warnings.push(msg) } as unknown as ReturnType<typeof testContext>['log'];
    const r = await runUnits(step(root), units(2), { recordDir: blocked }, testContext({ log }));
    assert.equal(r.complete, true);
    assert.deepEqual(warnings, ["run record not written (status will not know this run's rate)"]);
  });

  test('readRunRecords skips what is not a record of this version', async () => {
    const records = join(dir, 'mixed');
    await mkdir(records, { recursive: true });
    await writeFile(join(records, 'junk.json'), '{not json');
    await writeFile(join(records, 'old.json'), JSON.stringify({ schema: 'biomedica.run-record', version: 0 }));
    assert.deepEqual(await readRunRecords(records), []);
    assert.deepEqual(await readRunRecords(join(dir, 'absent')), []);
  });
});
