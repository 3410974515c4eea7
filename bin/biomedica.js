#!/usr/bin/env node
// Entry point. Runs the built CLI (dist/) when present; in a source checkout without a build it
// loads the TypeScript sources through tsx, so `npm ci` then `npx biomedica` works either way.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  process.stderr.write(`biomedica needs Node.js 20.18 or newer (this is ${process.versions.node})\n`);
  process.exit(2);
}
const { existsSync } = await import('node:fs');
const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
