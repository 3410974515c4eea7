/**
 * Rows from another bench script of this folder, for stages whose code lands separately (the
 * transform's clustering and embedding). The source runs only when the paths it needs exist, and
 * says so in a skipped row otherwise. The script runs in its own process; its last stdout line is
 * JSON, turned into rows by `toRows`. The default takes `compareRows` (an array of CompareRow,
 * built with measuredRow from ./row.ts) from that line, so a bench that prints it plugs in with
 * one `benchPlug({...})` line in compare.ts; one that prints something else needs a `toRows`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBenchScript } from '../lib/measure.js';
import type { CompareContext, CompareRow, RowSource } from './row.js';

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface BenchPlug {
  name: string;
  stage: string;
  /** Repository paths that must exist for the bench to run (its code and the stage's). */
  requires: string[];
  /** A script in scripts/bench. */
  script: string;
  args?: (ctx: CompareContext) => string[];
  toRows?: (result: Record<string, unknown>, ctx: CompareContext) => CompareRow[];
}

function compareRowsOf(result: Record<string, unknown>): CompareRow[] {
  const rows = result.compareRows;
  if (!Array.isArray(rows)) {
    throw new Error(`its last line has no compareRows array (keys: ${Object.keys(result).join(', ')}): give its benchPlug a toRows in scripts/bench/compare.ts`);
  }
  return rows as CompareRow[];
}

export function benchPlug(plug: BenchPlug): RowSource {
  return {
    name: plug.name,
    async rows(ctx) {
      const missing = plug.requires.filter((p) => !existsSync(join(repo, p)));
      if (missing.length > 0) {
        return [
          {
            stage: plug.stage,
            measure: `${plug.name} (scripts/bench/${plug.script})`,
            unit: '',
            ours: null,
            peer: '',
            peerValue: null,
            ratio: null,
            runs: 0,
            kind: 'skipped',
            note: `not run: ${missing.join(', ')} not in this checkout`,
          },
        ];
      }
      const result = await runBenchScript<Record<string, unknown>>(plug.script, plug.args?.(ctx) ?? []);
      return (plug.toRows ?? compareRowsOf)(result, ctx);
    },
  };
}
