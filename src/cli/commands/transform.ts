import { Command, Option } from 'commander';
import type { ProgramDeps } from '../program.js';
import { jobsFromFlags, parentLockFromEnv } from '../jobs.js';
import { addCheckFlag, addCommonFlags, addJobsFlag, runStageJobs, checkMode, configFromFlags, createStageContext, logWorker, printSummary, workerFromFlags, type CommonFlags } from '../shared.js';

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

export interface TransformFlags extends CommonFlags {
  out: string;
  model?: string;
  recipe?: string;
  device?: string;
  batchSize?: string;
  threads?: string;
  components?: string;
  clusters?: string;
  seed?: string;
  sample?: string;
  modelFrom?: string;
  refit?: boolean;
  worker?: string;
  jobs?: string;
}

/** The stage's flags, shared with `run` (which runs transform between extract and load). */
export function addTransformFlags(cmd: Command): Command {
  return cmd
    .option('--model <file>', 'ONNX embedding model (a DINOv2 export; default: transform.model)')
    .addOption(new Option('--recipe <name>', 'preprocessing recipe (default: transform.recipe)').choices(['biomedica', 'dinov2']))
    .addOption(new Option('--device <device>', 'execution provider; auto tries cuda, webgpu, cpu').choices(['auto', 'cuda', 'webgpu', 'cpu']))
    .option('--batch-size <n>', 'images per inference call')
    .option('--threads <n>', 'CPU threads for onnxruntime (default: the cores available)')
    .option('--components <n>', 'PCA components when fitting (the paper: 25)')
    .option('--clusters <n>', 'k-means clusters when fitting (the paper: 2000)')
    .option('--seed <n>', 'seed of the fit sample and k-means++')
    .option('--sample <n>', 'embeddings the model is fitted on (a seeded uniform sample)')
    .option('--model-from <dir>', 'adopt a clustering model fitted elsewhere (transform/model of another run) instead of fitting')
    .option('--refit', 'fit the clustering model anew even though one is frozen in the run folder (cluster ids change)');
}

export function transformCommand(deps: ProgramDeps): Command {
  const cmd = new Command('transform')
    // The stage's own flags (--components, --clusters, --seed…) come before a subcommand; after
    // `fit` or `assign` the same names are that subcommand's, as their help shows.
    .enablePositionalOptions()
    .description('embed every image (DINOv2 on onnxruntime) → PCA + k-means → expert labels per image; runs whatever is not done')
    .option('--out <dir>', 'run folder (holds extract/; transform/ is written there)', 'out')
    .option('--worker <i/n>', 'be worker i of n (0-based) for the embedding; all workers share --out (default: from a Kubernetes Indexed Job, Slurm or AWS Batch array, see scripts/cluster/)');
  addJobsFlag(addCheckFlag(addCommonFlags(addTransformFlags(cmd))));
  cmd.action(async (flags: TransformFlags, self: Command) => {
    const config = configFromFlags(self);
    const jobs = jobsFromFlags(flags);
    if (jobs) return runStageJobs('transform', self, flags, jobs, deps.signal);
    const assignment = workerFromFlags(flags);
    const ctx = createStageContext(flags, deps.signal);
    const worker = logWorker(ctx.log, assignment);
    const { transformStage } = await import('../../stages/transform/from-config.js');
    const { runStages } = await import('../../pipeline/stages.js');
    const mode = { modelFrom: flags.modelFrom, refit: flags.refit, check: checkMode(flags), worker };
    const result = await runStages([transformStage(config, flags.out, mode)], { outDir: flags.out, worker, command: 'transform', parentLock: parentLockFromEnv() }, ctx);
    printSummary(flags, result.summaries['transform'], result.text);
  });
  return cmd.addCommand(transformFitCommand(deps)).addCommand(transformAssignCommand(deps));
}
