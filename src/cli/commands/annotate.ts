import { resolve } from 'node:path';
import { Command } from 'commander';
import type { z } from 'zod';
import { resolveConfig } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import type { ProgramDeps } from '../program.js';
import { addCommonFlags, createStageContext, printSummary, type CommonFlags } from '../shared.js';

interface TaxonomyFlags extends CommonFlags {
  taxonomy?: string;
  clusters?: string;
}

/** --taxonomy is relative to the current folder; the config setting to the package root. */
async function taxonomyPath(flags: TaxonomyFlags): Promise<string> {
  const config = resolveConfig({ configFile: flags.config, overrides: { annotations: { taxonomy: flags.taxonomy && resolve(flags.taxonomy) } } });
  const { resolveTaxonomyPath } = await import('../../annotations/taxonomy.js');
  return resolveTaxonomyPath(config.annotations.taxonomy);
}

function parseFlags<S extends z.ZodType>(schema: S, values: unknown, flagNames: Record<string, string>): z.infer<S> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    throw new UsageError('FLAG_INVALID', `${flagNames[field] ?? field}: ${issue.message}`, { hint: 'biomedica annotate --help' });
  }
  return parsed.data;
}

const withTaxonomy = (cmd: Command) =>
  cmd
    .option('--taxonomy <file>', 'taxonomy the labels use (default: annotations.taxonomy, BIOMEDICA\'s released one)')
    .option('--clusters <k>', "the fit's number of clusters (default: the fitted model's, else one past the largest id seen)");

export function annotateCommand(deps: ProgramDeps): Command {
  const cmd = new Command('annotate').description('expert labels per cluster: review sheets to label, import of the labels, transfer from a prior release');

  interface ExportFlags extends TaxonomyFlags {
    out: string;
    to: string;
    perCluster?: string;
    seed?: string;
    labels?: string;
    tile?: string;
  }
  const exportCmd = new Command('export')
    .description('contact sheets and a static HTML site per cluster, and a cluster_labels.json to fill in')
    .option('--out <dir>', 'run folder holding extract/ and transform/labels/', 'out')
    .requiredOption('--to <dir>', 'folder for the site, the sheets and the labels file')
    .option('--per-cluster <n>', 'sample images per contact sheet (default 16)')
    .option('--seed <s>', 'seed of the sample (default 0)')
    .option('--labels <file>', 'start the labels file from these labels (e.g. annotate transfer\'s output)')
    .option('--tile <px>', 'side of one tile in the contact sheet (default 192)');
  addCommonFlags(withTaxonomy(exportCmd)).action(async (flags: ExportFlags) => {
    const ctx = createStageContext(flags, deps.signal);
    const { ExportOptions, runExport, formatExportSummary } = await import('../../annotations/export.js');
    const options = parseFlags(
      ExportOptions,
      {
        outDir: flags.out,
        toDir: flags.to,
        perCluster: flags.perCluster,
        seed: flags.seed,
        clusters: flags.clusters,
        labelsFile: flags.labels,
        taxonomyFile: await taxonomyPath(flags),
        tile: flags.tile,
      },
      { perCluster: '--per-cluster', seed: '--seed', clusters: '--clusters', tile: '--tile' },
    );
    const summary = await runExport(options, ctx);
    printSummary(flags, summary, formatExportSummary(summary));
  });

  interface ImportFlags extends TaxonomyFlags {
    labels: string;
    to: string;
  }
  const importCmd = new Command('import')
    .description('validate cluster labels against the taxonomy and put them where the transform label step reads them')
    .requiredOption('--labels <file>', "cluster labels in BIOMEDICA's format")
    .requiredOption('--to <out>', 'run folder: the labels go to <out>/transform/cluster_labels.json');
  addCommonFlags(withTaxonomy(importCmd)).action(async (flags: ImportFlags) => {
    const ctx = createStageContext(flags, deps.signal);
    const { ImportOptions, runImport } = await import('../../annotations/import.js');
    const { formatLabelsReport } = await import('../../annotations/cluster-labels.js');
    const options = parseFlags(
      ImportOptions,
      { labelsFile: flags.labels, outDir: flags.to, clusters: flags.clusters, taxonomyFile: await taxonomyPath(flags) },
      { clusters: '--clusters' },
    );
    const result = await runImport(options, ctx);
    const written = result.written.labels ? `\n  written to ${result.written.labels}` : '\n  nothing written';
    printSummary(flags, result, formatLabelsReport(result.report, result.labelsFile) + written);
    if (result.error) throw result.error;
  });

  interface TransferFlags extends CommonFlags {
    prior: string[];
    out: string;
    to: string;
    report?: string;
    clusters?: string;
  }
  const transferCmd = new Command('transfer')
    .description("first labels for a new fit: majority vote of the images a prior labelled release shares with this run")
    .requiredOption('--prior <files...>', 'prior release index: Parquet or JSONL with pmcid (or article_accession_id), image_file_name and the image_* label columns')
    .option('--out <dir>', 'run folder holding extract/ and transform/labels/', 'out')
    .requiredOption('--to <labels.json>', "labels file to write, BIOMEDICA's format")
    .option('--report <file>', 'vote report, weakest clusters first (default: <labels>.votes.json)')
    .option('--clusters <k>', "the fit's number of clusters (default: the fitted model's, else one past the largest id seen)");
  addCommonFlags(transferCmd).action(async (flags: TransferFlags) => {
    const ctx = createStageContext(flags, deps.signal);
    const { TransferOptions, runTransfer, formatTransferReport, defaultReportPath } = await import('../../annotations/transfer.js');
    const options = parseFlags(
      TransferOptions,
      { priorFiles: flags.prior, outDir: flags.out, toFile: flags.to, reportFile: flags.report, clusters: flags.clusters },
      { clusters: '--clusters' },
    );
    const report = await runTransfer(options, ctx);
    const reportFile = resolve(options.reportFile ?? defaultReportPath(resolve(options.toFile)));
    // The full vote list is in the report file; stdout gets the summary without it.
    const { votes, ...summary } = report;
    printSummary(flags, { ...summary, toFile: resolve(options.toFile), reportFile, weakest: votes.slice(0, 20) }, formatTransferReport(report, resolve(options.toFile), reportFile));
  });

  return cmd.addCommand(exportCmd).addCommand(importCmd).addCommand(transferCmd);
}
