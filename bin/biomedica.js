#!/usr/bin/env node
// Entry point. Runs the built CLI (dist/) when present; in a source checkout without a build it
// loads the TypeScript sources through tsx, so `npm ci` then `npx biomedica` works either way.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  process.stderr.write(`biomedica needs Node.js 20.18 or newer (this is ${process.versions.node})\n`);
  process.exit(2);
}
// libuv's pool (4 threads by default) runs sharp's decodes and the file system calls: sized for
// one decode per core plus room for I/O, so image concurrency can scale past 4. Set before
// anything queues work on it, since the pool is sized once.
const { availableParallelism } = await import('node:os');
process.env.UV_THREADPOOL_SIZE ??= String(Math.min(1024, Math.max(4, availableParallelism()) + 4));
const { existsSync } = await import('node:fs');
const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
