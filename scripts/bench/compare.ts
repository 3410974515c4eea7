/**
 * `npm run bench:compare [-- --quick] [--runs N] [--only parse,images,…] [--dir bench-out/compare]`
 * (also `npm run bench -- compare`): one table of ours against a peer per stage, each measured in
 * this command on the same inputs, medians of interleaved runs, with the ratio; where a peer cannot
 * run here, its published figure, labelled so. Prints the table (Markdown) and, last, one JSON
 * line of all rows; the rows also go to bench-out/compare.jsonl, one per line after a machine line.
 *
 * The rows come from the sources listed below (scripts/bench/compare/*.ts): to add a stage, write
 * a RowSource (see compare/row.ts) or plug a bench script in with benchPlug, and list it here.
 * --quick: small inputs and one run of each, a smoke run of the whole table in a few minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { extractRows } from './compare/extract.js';
import { imageRows } from './compare/images.js';
import { loadRows } from './compare/load.js';
import { parseRows } from './compare/parse.js';
import { benchPlug } from './compare/plug.js';
import { clusterRows, embedRows } from './compare/transform.js';
import type { CompareContext, CompareRow, RowSource } from './compare/row.js';
import { ensureVenv } from './lib/python.js';

const sources: RowSource[] = [
  parseRows,
  imageRows,
  extractRows,
  loadRows,
  // Transform against scikit-learn (PCA + k-means fit) and a plain JS loop (assign).
  benchPlug({ name: 'transform-cluster', stage: 'transform', requires: ['src/clustering', 'scripts/bench/cluster.ts'], script: 'cluster.ts', toRows: clusterRows }),
  // Embedding throughput (CPU here) beside a bare ONNX Runtime session.
  benchPlug({ name: 'transform-embed', stage: 'transform', requires: ['src/embedding', 'scripts/bench/embed.ts'], script: 'embed.ts', toRows: embedRows }),
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    dir: { type: 'string', default: 'bench-out/compare' },
  },
});
const quick = values.quick ?? false;
const runs = Number(values.runs ?? (quick ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, got ${values.runs}`);
const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((name) => !sources.some((s) => s.name === name)) ?? [];
if (unknown.length > 0) throw new Error(`unknown row source ${unknown.join(', ')}; choose from ${sources.map((s) => s.name).join(', ')}`);

const dir = resolve(values.dir);
mkdirSync(dir, { recursive: true });
const started = performance.now();
const log = (message: string) => process.stderr.write(`[compare ${((performance.now() - started) / 1000).toFixed(0)} s] ${message}\n`);
let python: Promise<string> | undefined;
const ctx: CompareContext = {
  quick,
  runs,
  dir,
  log,
  python: () => (python ??= ensureVenv('biomedica-bench-venv', ['pillow', 'lxml'], ['PIL', 'lxml'])),
};

const machine = {
  at: new Date().toISOString(),
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? '?',
  memoryGB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  loadAvgStart: loadavg().map((x) => +x.toFixed(2)),
  quick,
  runs,
};

const rows: CompareRow[] = [];
for (const source of sources.filter((s) => !only || only.includes(s.name))) {
  log(`${source.name}…`);
  try {
    rows.push(...(await source.rows(ctx)));
  } catch (error) {
    // One stage failing leaves the rest of the table standing.
    const message = error instanceof Error ? error.message : String(error);
    log(`${source.name} failed: ${message}`);
    rows.push({ stage: source.name, measure: '', unit: '', ours: null, peer: '', peerValue: null, ratio: null, runs: 0, kind: 'failed', note: message.split('\n')[0]! });
  }
}
const summary = { ...machine, loadAvgEnd: loadavg().map((x) => +x.toFixed(2)), seconds: Math.round((performance.now() - started) / 1000) };

const num = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : String(x));
const cell = (s: string) => s.replace(/\|/g, '\\|');
const lines = [
  `Machine: ${summary.cpus} CPUs (${summary.cpuModel}), ${summary.memoryGB} GB, node ${summary.node}; load average ${summary.loadAvgStart.join(' ')} at start, ${summary.loadAvgEnd.join(' ')} at end. ` +
    `Medians of ${runs} interleaved run(s)${quick ? ' (--quick: small inputs)' : ''}; ${summary.seconds} s in all.`,
  '',
  '| stage | measure | unit | ours | peer | peer value | ours ÷ peer | runs | note |',
  '| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |',
  ...rows.map((r) => {
    const ratio = r.ratio === null ? '—' : `${r.kind === 'measured' ? '' : '~'}${r.ratio}×${r.cpuRatio ? ` (CPU ${r.cpuRatio}×)` : ''}`;
    return `| ${r.stage} | ${cell(r.measure)} | ${r.unit} | ${num(r.ours)} | ${cell(r.kind === 'measured' ? r.peer : `${r.peer}${r.peer ? ' ' : ''}[${r.kind}]`)} | ${num(r.peerValue)} | ${ratio} | ${r.runs} | ${cell(r.note ?? '')} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync('bench-out', { recursive: true });
writeFileSync('bench-out/compare.jsonl', [JSON.stringify({ machine: summary }), ...rows.map((r) => JSON.stringify(r))].join('\n') + '\n');
process.stdout.write(`${JSON.stringify({ bench: 'compare', machine: summary, rows: rows.map(({ detail: _detail, ...r }) => r) })}\n`);
process.exitCode = rows.some((r) => r.kind === 'failed') ? 1 : 0;
