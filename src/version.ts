/** The tool's name and version, from package.json: --version and the dataset card name the build's tool. */
import { readFileSync } from 'node:fs';

// src/version.ts and dist/version.js both sit one level below the package root.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export const TOOL_NAME = pkg.name;
export const TOOL_VERSION = pkg.version;
