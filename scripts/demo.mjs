#!/usr/bin/env node
// The README's first command: extract → load on the bundled sample (sample/, a synthetic legacy
// PMC mirror made by scripts/make-sample.ts), then verify the dataset. No network, no GPU.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = (args) =>
  spawnSync(process.execPath, [`${root}bin/biomedica.js`, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { BIOMEDICA_LOG_LEVEL: 'warn', ...process.env },
  }).status;

let status = cli(['run', '--source', 'sample', '--out', 'demo-out', ...process.argv.slice(2)]);
if (status === 0) status = cli(['verify', 'demo-out/dataset']);
process.exit(status ?? 1);
