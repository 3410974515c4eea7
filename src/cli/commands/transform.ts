import { Command, Option } from 'commander';
import type { ProgramDeps } from '../program.js';
import { createStageContext, printSummary, type CommonFlags } from '../shared.js';

/**
 * `transform fit` and `transform assign`: the clustering steps on plain N×D .npy embeddings, also
 * for embeddings made elsewhere. The transform stage's own steps join them here.
 */
function outputFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .option('--json', 'print a machine-readable summary on stdout')
    .option('--threads <n>', 'CPU threads for the onnxruntime kernels (default: all cores)');
}

function provenanceFlags(cmd: Command, verb: string): Command {
  return cmd
    .option('--embedding-sha256 <hex>', `sha256 of the ONNX model that made the embeddings (${verb})`)
    .option('--recipe <name>', `preprocessing recipe of the embeddings (${verb})`);
}

export function transformFitCommand(deps: ProgramDeps): Command {
  const cmd = new Command('fit')
    .description('fit PCA + k-means on a seeded sample of N×D .npy embeddings and write the model folder')
    .requiredOption('--embeddings <files...>', 'N×D float32 (or float16/float64) .npy files, all with the same D')
    .option('--components <n>', 'PCA components (the paper: 25)', '25')
    .option('--clusters <n>', 'k-means clusters (the paper: 2000)', '2000')
    .option('--seed <n>', 'seed for the sample and k-means++', '0')
    .option('--sample <n>', 'rows to fit on, chosen uniformly over all files', '1000000')
    .option('--max-iter <n>', 'Lloyd iterations at most', '100')
    .option('--tol <x>', "relative tolerance on the centre shift (scikit-learn's tol)", '0.0001')
    .option('--seeding-sample <n>', 'k-means++ seeds on at most this many of the sampled rows', '200000')
    .requiredOption('--model-out <dir>', 'model folder to write (model.json, pca_mean.npy, pca_components.npy, centroids.npy)');
  provenanceFlags(outputFlags(cmd), 'recorded in the model');
  return cmd.action(async (flags: CommonFlags & Record<string, unknown>) => {
    const { FitOptions, parseFlags, runFit, formatFitSummary } = await import('../../clustering/run.js');
    const options = parseFlags(FitOptions, flags);
    const summary = await runFit(options, createStageContext(flags, deps.signal));
    printSummary(flags, summary, formatFitSummary(summary));
  });
}

export function transformAssignCommand(deps: ProgramDeps): Command {
  const cmd = new Command('assign')
    .description('assign every row of an N×D .npy file to its cluster with a fitted model: int32 ids, one per row')
    .requiredOption('--model <dir>', 'model folder written by transform fit')
    .requiredOption('--embeddings <file>', 'N×D .npy embeddings (same D as the model)')
    .requiredOption('--ids-out <file>', 'int32 .npy file to write, one cluster id per row');
  provenanceFlags(outputFlags(cmd), 'checked against the model');
  return cmd.action(async (flags: CommonFlags & Record<string, unknown>) => {
    const { AssignOptions, parseFlags, runAssign, formatAssignSummary } = await import('../../clustering/run.js');
    const options = parseFlags(AssignOptions, flags);
    const summary = await runAssign(options, createStageContext(flags, deps.signal));
    printSummary(flags, summary, formatAssignSummary(summary));
  });
}

export function transformCommand(deps: ProgramDeps): Command {
  return new Command('transform')
    .description('embeddings → PCA + k-means clusters → labels (steps: fit, assign)')
    .addCommand(transformFitCommand(deps))
    .addCommand(transformAssignCommand(deps));
}
