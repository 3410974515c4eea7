import { Command } from 'commander';
import { z } from 'zod';
import type { ProgramDeps } from '../program.js';
import { parseOptions, printSummary } from '../shared.js';

const StatusFlags = z.object({
  dataset: z.string().min(1).optional(),
  json: z.boolean().optional(),
  units: z.boolean().optional(),
});

export function statusCommand(_deps: ProgramDeps): Command {
  return new Command('status')
    .description('what a run folder holds, per stage: units done, failed, pending; failures by reason; the last run\'s rate and an ETA (reads only; works mid-run and on a copy)')
    .argument('<out>', 'the run folder (--out of extract, run, transform, load)')
    .option('--dataset <dir>', 'the dataset folder load wrote, if not <out>/dataset')
    .option('--units', 'also list every unit or shard that is not done, per step')
    .option('--json', 'print the report as JSON (schema biomedica.status, src/status/report.ts)')
    .action(async (out: string, raw: unknown) => {
      const flags = parseOptions(StatusFlags, raw, { dataset: '--dataset' });
      const { readStatus } = await import('../../status/read-status.js');
      const { formatStatus } = await import('../../status/report.js');
      const report = await readStatus({ outDir: out, datasetDir: flags.dataset, listUnits: flags.units ?? false });
      printSummary(flags, report, formatStatus(report));
    });
}
