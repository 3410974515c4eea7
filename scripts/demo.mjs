#!/usr/bin/env node
// The README's first command, on the bundled sample (sample/, a synthetic legacy PMC mirror made by
// scripts/make-sample.ts), on the CPU, with no network:
//
//   1. the demo embedding model: scripts/make-models.ts's feature model (colour, intensity and
//      gradient statistics as ONNX ops; it stands in for DINOv2, which is not bundled)
//   2. run: extract → transform (embed, fit 12 clusters, assign, label) → load
//   3. expert labels for the new clusters, bootstrapped by `annotate transfer` from a prior labelled
//      release (the sample's ground truth written as one: scripts/sample/prior-release.ts), then
//      checked against BIOMEDICA's taxonomy by `annotate import`
//   4. run again: only the label step and the shards change; then verify the dataset
//
// Extra arguments go to both runs (e.g. --json).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = 'demo-out';
const model = 'models/demo-features.onnx';
const env = { BIOMEDICA_LOG_LEVEL: 'warn', ...process.env };
const step = (title, args) => {
  process.stderr.write(`\n== ${title}\n`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
};
const cli = (title, args) => step(title, [`${root}bin/biomedica.js`, ...args]);
const tsx = (title, script, args) => step(title, ['--import', 'tsx', `${root}${script}`, ...args]);

if (!existsSync(`${root}${model}`)) tsx('making the demo embedding model', 'scripts/make-models.ts', ['--model', 'features', '--out', model]);
const run = ['run', '--source', 'sample', '--out', out, '--model', model, '--device', 'cpu', '--clusters', '12', '--components', '16', ...process.argv.slice(2)];
cli('extract → transform → load', run);
tsx('a prior labelled release (the sample ground truth)', 'scripts/sample/prior-release.ts', ['--out', `${out}/prior-release.jsonl`]);
cli('expert labels: bootstrapped from the prior release', ['annotate', 'transfer', '--prior', `${out}/prior-release.jsonl`, '--out', out, '--to', `${out}/cluster-labels.json`]);
cli('expert labels: checked against the taxonomy and imported', ['annotate', 'import', '--labels', `${out}/cluster-labels.json`, '--to', out]);
cli('run again: labels propagate to every image', run);
cli('verify', ['verify', `${out}/dataset`]);
