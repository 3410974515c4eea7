/**
 * The command a user can actually type to run this copy of biomedica, and the one place that puts
 * it into what we print. Hints and summaries are written with the plain name ("rerun biomedica
 * extract"); the exit point and the summary printer pass them through runnableCommands().
 *
 * After `npm ci` in a checkout only `npx biomedica` works (a package's own bin is not put on PATH;
 * `biomedica` exits 127); installed globally or with `npm link`, `biomedica` does; elsewhere only
 * `node /path/to/bin/biomedica.js` is sure to. We look at what the user's shell would find, not at
 * how this process happened to start: under npx, npm puts this bin on PATH for the child only.
 */
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface InvocationProbe {
  /** PATH of the process; the entries npm prepends for npx and npm run are left out. */
  path: string | undefined;
  /** Where the user ran the command (npx keeps it; npm run moves to the package root, where npx works too). */
  cwd: string;
  /** This package's root, holding bin/biomedica.js. */
  packageRoot: string;
}

const COMMANDS = ['extract', 'enrich', 'transform', 'load', 'run', 'verify', 'status', 'retry-failed', 'query', 'parse'];

export function processProbe(): InvocationProbe {
  return {
    path: process.env['PATH'],
    cwd: process.cwd(),
    // src/cli/ and dist/cli/ both sit two levels below the package root.
    packageRoot: fileURLToPath(new URL('../../', import.meta.url)),
  };
}

/** 'biomedica', 'npx biomedica', or 'node <bin>': the first of these that runs this copy. */
export function commandPrefix(probe: InvocationProbe = processProbe()): string {
  const bin = join(probe.packageRoot, 'bin', 'biomedica.js');
  const ours = real(bin);
  if (ours !== undefined && real(onUserPath('biomedica', probe.path)) === ours) return 'biomedica';
  if (ours !== undefined && npxRunsUs(probe.cwd, probe.packageRoot, ours)) return 'npx biomedica';
  return `node ${shellQuote(bin)}`;
}

let cached: string | undefined;

/**
 * Every "biomedica <command>" in a hint or summary, made runnable as the user can run it. Paths that
 * merely contain the word (/data/biomedica/out) are left alone.
 */
export function runnableCommands(text: string, prefix: string = (cached ??= commandPrefix())): string {
  if (prefix === 'biomedica') return text;
  const pattern = new RegExp(`(?<![\\w/.@-])(?<!npx )biomedica(?= (?:${COMMANDS.join('|')})\\b)`, 'g');
  return text.replace(pattern, prefix);
}

/** The file the shell would run for `name`: the first executable on PATH, npm's own entries skipped. */
function onUserPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '' || addedByNpm(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: the shell looks on
    }
  }
  return undefined;
}

/** npx and npm run put node_modules/.bin folders, npx's cache and node-gyp-bin in front of PATH. */
function addedByNpm(dir: string): boolean {
  return /node_modules[\\/]\.bin[\\/]?$/.test(dir) || /[\\/]_npx[\\/]/.test(dir) || /node-gyp-bin[\\/]?$/.test(dir);
}

/**
 * npx looks in the nearest folder above cwd that holds package.json or node_modules: it runs us
 * when that folder is this package (a checkout) or links our bin (a project depending on us).
 */
function npxRunsUs(cwd: string, packageRoot: string, ours: string): boolean {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'node_modules'))) {
      return real(dir) === real(packageRoot) || real(join(dir, 'node_modules', '.bin', 'biomedica')) === ours;
    }
    const up = dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

function real(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
