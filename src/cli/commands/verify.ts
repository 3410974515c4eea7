import { Command } from 'commander';
import { ManifestError } from '../../errors.js';
import type { ProgramDeps } from '../program.js';
import { addCommonFlags, configFromFlags, createStageContext, numberFlag, printSummary, type CommonFlags } from '../shared.js';

interface VerifyFlags extends CommonFlags {
  decode: boolean;
  maxDefects?: string;
}

export function verifyCommand(deps: ProgramDeps): Command {
  const cmd = new Command('verify')
    .description('re-read every shard: tar integrity, keys, JSON schema, image decoding, index agreement')
    .argument('<dataset>', 'dataset folder written by load')
    .option('--no-decode', 'skip decoding every image (the slow part)')
    .option('--max-defects <n>', 'defects listed in the report (all are counted)');
  addCommonFlags(cmd).action(async (dataset: string, flags: VerifyFlags, self: Command) => {
    // verify has no settings of its own; a bad or missing --config is still an error, not ignored.
    configFromFlags(self);
    const maxDefects = flags.maxDefects === undefined ? undefined : (numberFlag(flags.maxDefects, '--max-defects') as number);
    const ctx = createStageContext(flags, deps.signal);
    const { runVerify, formatVerifyReport } = await import('../../stages/load/verify.js');
    const report = await runVerify(dataset, ctx, { decodeImages: flags.decode, maxDefects });
    printSummary(flags, report, formatVerifyReport(report));
    if (!report.ok) {
      throw new ManifestError('VERIFY_DEFECTS', `${report.defectCount} defects in ${dataset}`, {
        hint: 'rerun biomedica load --check with the same --out and --dataset: shards, markers, tables and card that no longer match are rewritten',
      });
    }
  });
  return cmd;
}
