/**
 * Downloads land in `<dest>.part` and are renamed into place when complete; what a `.part` already
 * holds is where a resumed transfer (HTTP Range, FTP REST) starts.
 */
import { stat } from 'node:fs/promises';
import { ItemError } from '../errors.js';

/** Bytes already in a partial file; 0 when there is none. */
export async function partialSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export function tooLarge(what: string, limit: number, seen: number): ItemError {
  return new ItemError('TOO_LARGE', `${what} exceeds ${limit} bytes (${seen} seen)`, { what, limit });
}
