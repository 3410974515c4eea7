/**
 * Extract end to end on the real-corpus mirror (real XML, real figures, local directory source):
 * figures/s at 1 core, 2 cores and all cores, k `--worker i/k` processes confined to k CPUs, runs
 * of each core count taken turn about. A row's peer is linear scaling of the 1-core rate, so its
 * ratio is the scaling efficiency. The outputs of every core count must be the same bytes.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { treeHashes } from '../../../test/helpers/cli.js';
import { interleave, median, round } from '../lib/measure.js';
import { PUBLISHED } from './published.js';
import { hasTaskset, realMirror, rememberExtract, runExtract, type ExtractRun } from './real-run.js';
import { measuredRow, referenceRow, type CompareRow, type RowSource } from './row.js';

export const extractRows: RowSource = {
  name: 'extract',
  async rows(ctx) {
    const m = await realMirror(ctx);
    const all = availableParallelism();
    const levels = [...new Set([1, 2, all])].filter((k) => k <= all);
    const outOf = (k: number) => join(ctx.dir, `extract-${k}c`);
    const contenders = Object.fromEntries(levels.map((k) => [`${k}`, () => runExtract(ctx, outOf(k), k, k)])) as Record<string, () => Promise<ExtractRun>>;
    const runs = await interleave(contenders, ctx.runs, (k, round, r) => ctx.log(`extract ${k} core(s) #${round + 1}: ${r.seconds.toFixed(1)} s, ${r.totals.figuresOk} figures`));

    const base = runs['1']!;
    const totals = base[0]!.totals;
    const input = `real-corpus mirror: ${m.articles} articles, ${m.images} images, ${round(m.packageBytes / 1e6)} MB of packages`;
    const identical: Record<string, boolean> = {};
    const reference = await treeHashes(join(outOf(1), 'extract'));
    for (const k of levels.slice(1)) {
      const other = await treeHashes(join(outOf(k), 'extract'));
      identical[k] = other.size === reference.size && [...reference].every(([path, hash]) => other.get(path) === hash);
    }
    rememberExtract(outOf(1));

    const plan = `--plan-only ${round(median(base.map((r) => r.planSeconds)), 2)} s, not counted`;
    const pinned = hasTaskset ? 'taskset to k CPUs' : 'no taskset: not pinned';
    const rows: CompareRow[] = [
      {
        stage: 'extract',
        measure: `figures/s end to end, ${input}; 1 core, 1 worker`,
        unit: 'figures/s',
        ours: round(totals.figuresOk / median(base.map((r) => r.seconds))),
        peer: '(base of the scaling rows)',
        peerValue: null,
        ratio: null,
        runs: base.length,
        kind: 'measured',
        note: [
          `${totals.figuresOk} figures stored (${totals.images} images, ${round(totals.imageBytes / 1e6)} MB)`,
          base.every((r) => r.cpuSeconds) ? `${round(totals.figuresOk / median(base.map((r) => r.cpuSeconds!)))} figures per CPU-second` : '',
          plan,
          pinned,
        ]
          .filter(Boolean)
          .join('; '),
        detail: base,
      },
    ];
    for (const k of levels.slice(1)) {
      const mine = runs[`${k}`]!;
      const row = measuredRow(
        {
          stage: 'extract',
          measure: `figures/s end to end, same mirror; ${k} cores, ${k} workers${k === all ? ' (all cores)' : ''}`,
          unit: 'figures/s',
          peer: `linear scaling: ${k} × the 1-core rate`,
          note: `ratio = scaling efficiency; output bytes identical to 1 core: ${identical[k] ? 'yes' : 'NO'}`,
        },
        { ours: mine[0]!.totals.figuresOk, peer: totals.figuresOk },
        mine,
        // Linear scaling: k times faster for the same CPU seconds, so the CPU ratio is the share
        // of CPU that splitting did not waste.
        base.map((r) => ({ seconds: r.seconds / k, cpuSeconds: r.cpuSeconds })),
        { ours: mine, base },
      );
      rows.push({ ...row, note: `speed-up ×${round(row.ratio! * k)}; ${row.note}` });
    }
    const img = PUBLISHED.img2dataset;
    const best = rows.at(-1)!.ours;
    rows.push(referenceRow({ stage: 'extract', measure: `images/s on one machine (ours: figures/s at ${all} cores above)`, unit: img.unit, peer: img.peer, kind: 'published', note: `${img.basis}. Source: ${img.source}` }, best, img.value));
    return rows;
  },
};
