/** The shared real corpus (../shared/corpus), read in place: articles never enter the repo. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const corpusDir = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/corpus');
export const nxmlDir = join(corpusDir, 'nxml');
/** BIOMEDICA's released taxonomy files and per-cluster expert labels (MIT). */
export const annotationsDir = resolve(corpusDir, '../biomedica-annotations');

/** Every file below `dir` whose name matches, recursively, in sorted order. */
export function listFiles(dir: string, match: RegExp = /./): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), match) : match.test(e.name) ? [join(dir, e.name)] : []));
}
