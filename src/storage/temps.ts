/**
 * Temporary files that atomic writes (files.ts, the .npy writer) leave behind when their process
 * is killed between create and rename: `.<name>.<hex>.tmp` beside the destination. A unit about to
 * be redone removes those of its outputs, so a kill leaves no trace once the unit is done again.
 */
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function removeStaleTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    const middle = name.slice(prefix.length, -'.tmp'.length);
    if (name.startsWith(prefix) && name.endsWith('.tmp') && /^[0-9a-f]+$/.test(middle)) await rm(join(dir, name), { force: true });
  }
}
