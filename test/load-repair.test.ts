/**
 * Hints that repair (issue 7, defects 5 and 6) on the load side, in process on the fixture extract:
 *
 * - a flipped byte in a shard (same size) makes verify report defects with the hint "rerun
 *   biomedica load --check …"; a plain rerun already rewrites a shard modified since its marker,
 *   and `--check` also finds one whose mtime was put back (bit rot). Before, load reused a shard
 *   whose size matched its stats and the hint did nothing.
 * - a no-op rerun of a finished load that is stopped midway leaves the manifest in place. Before,
 *   a plain load deleted manifest.json first thing, so stopping the rerun unfinished the dataset.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InterruptedError } from '../src/errors.js';
import { noProgress, type Progress } from '../src/log/progress.js';
import { testContext } from '../src/pipeline/context.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { runVerify } from '../src/stages/load/verify.js';
import { buildExtractFixture, type ExtractFixture } from './helpers/extract-fixture.js';
import { hashTree } from './helpers/dataset.js';

let dir: string;
let fx: ExtractFixture;
let reference: Record<string, string>;
const opts = (datasetDir: string, extra: Partial<LoadOptions> = {}) => LoadOptions.parse({ outDir: fx.outDir, datasetDir, shardMaxSamples: 3, ...extra });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-repair-'));
  fx = await buildExtractFixture(join(dir, 'out'));
  await runLoad(opts(join(dir, 'reference')), testContext());
  reference = await hashTree(join(dir, 'reference'));
});
after(async () => rm(dir, { recursive: true, force: true }));

async function flipByte(path: string, keepMtime: boolean): Promise<void> {
  const before = await stat(path);
  const bytes = await readFile(path);
  // Inside the first member's data: a tar reader still parses the shard, the bytes are wrong.
  bytes[600] = bytes[600]! ^ 0x01;
  await writeFile(path, bytes);
  if (keepMtime) await utimes(path, before.atime, before.mtime);
}

describe('load repairs what verify tells the user to do', () => {
  test('a flipped byte in a shard: verify fails with a hint, and following it rewrites the shard', async () => {
    const d = join(dir, 'flipped');
    await runLoad(opts(d), testContext());
    const shard = join(d, 'commercial', '000000.tar');
    await flipByte(shard, false);
    const report = await runVerify(d, testContext(), { decodeImages: false });
    assert.equal(report.ok, false);
    const rerun = await runLoad(opts(d), testContext());
    assert.equal(rerun.run.shardsWritten, 1);
    assert.deepEqual(await hashTree(d), reference);
    assert.equal((await runVerify(d, testContext(), { decodeImages: false })).ok, true);
  });

  test('bit rot (same size, old mtime) is found by --check, which the hint names', async () => {
    const d = join(dir, 'rot');
    await runLoad(opts(d), testContext());
    await flipByte(join(d, 'other', '000000.tar'), true);
    assert.equal((await runLoad(opts(d), testContext())).run.shardsWritten, 0, 'the cheap check trusts a shard not modified since its marker');
    assert.equal((await runVerify(d, testContext(), { decodeImages: false })).ok, false);
    const checked = await runLoad(opts(d, { check: 'full' }), testContext());
    assert.equal(checked.run.shardsWritten, 1);
    assert.deepEqual(await hashTree(d), reference);
  });

  test('stopping a no-op rerun of a finished load keeps its manifest', async () => {
    const d = join(dir, 'noop');
    await runLoad(opts(d), testContext());
    const before = await hashTree(d);
    for (const afterTicks of [0, 2, 7]) {
      const abort = new AbortController();
      let ticks = 0;
      const progress: Progress = { ...noProgress(), tick: (n = 1) => ((ticks += n) > afterTicks ? abort.abort(new Error('SIGINT')) : undefined) };
      await assert.rejects(runLoad(opts(d), testContext({ signal: abort.signal, progress })), InterruptedError);
      assert.deepEqual(await hashTree(d), before, `stopped after ${afterTicks} ticks`);
    }
  });
});
