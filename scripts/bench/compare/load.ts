/**
 * Load (scripts/bench/load.ts --child load: runLoad in its own process, timed inside it) beside
 * `tar cf` of the same extract units (records and image stores: everything load reads), on the run
 * folder extract made from the real-corpus mirror. Both rates count the same samples and the same
 * input bytes. tar's time includes its process start; load's excludes node's.
 */
import { spawnSync } from 'node:child_process';
import { readdir, rm, stat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { interleave, round, runBenchScript, runCommand } from '../lib/measure.js';
import { PUBLISHED } from './published.js';
import { extractedRun } from './real-run.js';
import { measuredRow, referenceRow, type RowSource } from './row.js';

interface LoadChild {
  seconds: number;
  cpuSeconds: number;
  shardSeconds: number;
  bytes: number;
  samples: number;
  maxRssMB: number;
}

async function treeSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

export const loadRows: RowSource = {
  name: 'load',
  async rows(ctx) {
    const run = await extractedRun(ctx);
    const units = join(run, 'extract');
    const input = await treeSize(join(units, 'units'));
    const scratch = join(ctx.dir, 'load-scratch');
    await mkdir(scratch, { recursive: true });
    const tarFile = join(scratch, 'units.tar');
    const tarVersion = spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'tar';
    const runs = await interleave(
      {
        ours: () => runBenchScript<LoadChild>('load.ts', ['--child', 'load', '--dir', scratch, '--extract', run]),
        tar: async () => {
          await rm(tarFile, { force: true });
          const r = await runCommand('tar', ['cf', tarFile, '-C', units, 'units']);
          return { seconds: r.seconds, cpuSeconds: r.cpuSeconds };
        },
      },
      ctx.runs,
      (name, round, r) => ctx.log(`load ${name} #${round + 1}: ${r.seconds.toFixed(2)} s`),
    );
    await rm(scratch, { recursive: true, force: true });
    const samples = runs.ours[0]!.samples;
    const base = { stage: 'load', peer: `${tarVersion}: tar cf of the extract units` };
    const shardNote = `load's shard step alone: ${round(samples / Math.min(...runs.ours.map((r) => r.shardSeconds)))} samples/s at best; peak RSS ${Math.max(...runs.ours.map((r) => r.maxRssMB))} MB`;
    const bySamples = measuredRow(
      { ...base, measure: `samples/s: ${samples} samples of the real-corpus extract (${input.files} files)`, unit: 'samples/s', note: `${shardNote}; tar: ${round(input.files / Math.min(...runs.tar.map((r) => r.seconds)))} files/s at best; the extract layout holds ${round((input.files / samples) * 1000)} files per 1,000 samples` },
      { ours: samples, peer: samples },
      runs.ours,
      runs.tar,
    );
    const mb = input.bytes / 1e6;
    const byBytes = measuredRow(
      { ...base, measure: `MB/s of extract units read (${round(mb)} MB)`, unit: 'MB/s' },
      { ours: mb, peer: mb },
      runs.ours,
      runs.tar,
    );
    const b = PUBLISHED.biomedicaSerialization;
    const published = referenceRow({ stage: 'load', measure: 'samples/s serialized to WebDataset + Parquet', unit: b.unit, peer: b.peer, kind: 'published', note: `${b.basis}. Source: ${b.source}` }, bySamples.ours, b.value);
    return [bySamples, byBytes, published];
  },
};
