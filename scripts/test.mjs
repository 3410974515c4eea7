#!/usr/bin/env node
// Runs every test file with Node's own test runner, TypeScript loaded through tsx (no build step).
// Unit tests sit beside the code (src/**/*.test.ts); end-to-end tests live in test/.
// Files named *.slow.test.ts (real servers, large archives, Python interop) are skipped by --fast.
// Extra arguments narrow the run to files whose path contains one of them. A test that hangs
// (a server left open, a stream never ended) fails after 5 minutes instead of stalling CI.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const fast = args.includes('--fast');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else if (entry.name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

let files = [...walk(join(root, 'src')), ...walk(join(root, 'test'))].sort();
if (fast) files = files.filter((f) => !f.endsWith('.slow.test.ts'));
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, BIOMEDICA_LOG_LEVEL: process.env.BIOMEDICA_LOG_LEVEL ?? 'silent' } },
);
process.exit(result.status ?? 1);
