// `npm run bench [-- name…]`: runs the benchmarks one after another (each prints one JSON line)
// and collects them in bench-out/results.jsonl. Each bench reports medians and, where it has one,
// a baseline measured in the same run, because these machines are noisy.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benches: Record<string, string[]> = {
  parse: ['parse.ts'],
  images: ['images.ts'],
  extract: ['extract.ts', '--base', '300', '--factor', '10'],
  load: ['load.ts'],
  inventory: ['inventory.ts'],
  'cloud-metadata': ['cloud-metadata.ts'],
  annotate: ['annotate.ts'],
  cluster: ['cluster.ts'],
  embed: ['embed.ts'],
  status: ['status.ts'],
  // Not in the default set (it runs the others' work again, beside the peers): `npm run bench -- compare`.
  compare: ['compare.ts'],
};
const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(benches).filter((name) => name !== 'compare');
mkdirSync('bench-out', { recursive: true });
let failed = 0;
for (const name of names) {
  const args = benches[name];
  if (!args) {
    process.stderr.write(`unknown bench ${name}; choose from ${Object.keys(benches).join(', ')}\n`);
    failed++;
    continue;
  }
  const script = fileURLToPath(new URL(args[0]!, import.meta.url));
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args.slice(1)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BIOMEDICA_LOG_LEVEL: 'silent' },
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) failed++;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  appendFileSync('bench-out/results.jsonl', JSON.stringify({ bench: name, at: new Date().toISOString(), result: last }) + '\n');
}
process.exitCode = failed > 0 ? 1 : 0;
