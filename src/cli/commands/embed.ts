import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import type { ProgramDeps } from '../program.js';
import { createStageContext, type CommonFlags } from '../shared.js';

interface EmbedFlags extends CommonFlags {
  model: string;
  recipe: string;
  device: string;
  batchSize?: string;
  threads?: string;
}

export function embedCommand(deps: ProgramDeps): Command {
  const cmd = new Command('embed')
    .description('print one JSON line per image with its DINOv2 CLS embedding (what transform sees)')
    .argument('<images...>', 'image files (jpeg, png, gif, tiff, webp)')
    .requiredOption('--model <file>', 'DINOv2 ONNX export (README "Embeddings")')
    .addOption(new Option('--recipe <name>', "preprocessing: 'biomedica' (the paper's: 224×224 stretched, [0,1]) or 'dinov2' (resize 256, crop 224, ImageNet mean/std)").choices(['biomedica', 'dinov2']).default('biomedica'))
    .addOption(new Option('--device <device>', 'execution provider; auto tries cuda, then webgpu, then cpu').choices(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'))
    .option('--batch-size <n>', 'images per model run (default 32)')
    .option('--threads <n>', 'CPU threads for the model (default: all cores)')
    // stdout is the JSON lines; the common --json summary would only mix into them.
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']));
  cmd.action(async (images: string[], flags: EmbedFlags) => {
    const { EmbedderOptions } = await import('../../embedding/embedder.js');
    const parsed = EmbedderOptions.safeParse({ model: flags.model, recipe: flags.recipe, device: flags.device, batchSize: flags.batchSize, threads: flags.threads });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const flag = String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      throw new UsageError('FLAG_INVALID', `--${flag}: ${issue.message}`);
    }
    const ctx = createStageContext(flags, deps.signal);
    const { embedFiles } = await import('../../embedding/embed-files.js');
    await embedFiles(images, parsed.data, ctx, (line) => process.stdout.write(line + '\n'));
  });
  return cmd;
}
