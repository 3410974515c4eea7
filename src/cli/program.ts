/** Composes the commands. Each command file only declares flags, parses them and calls a stage. */
import { Command } from 'commander';
import { TOOL_VERSION } from '../version.js';
import { extractCommand } from './commands/extract.js';
import { parseCommand } from './commands/parse.js';
import { enrichCommand } from './commands/enrich.js';
import { loadCommand } from './commands/load.js';
import { runCommand } from './commands/run.js';
import { retryFailedCommand } from './commands/retry-failed.js';
import { verifyCommand } from './commands/verify.js';
import { queryCommand } from './commands/query.js';
import { transformCommand } from './commands/transform.js';
import { embedCommand } from './commands/embed.js';
import { annotateCommand } from './commands/annotate.js';
import { statusCommand } from './commands/status.js';

export interface ProgramDeps {
  signal: AbortSignal;
}

export function buildProgram(deps: ProgramDeps): Command {
  const program = new Command('biomedica')
    // Needed for `transform`'s subcommands to own the flags after their name (commander asks the
    // parent of a positional-options command to enable it too).
    .enablePositionalOptions()
    .description('Build the BIOMEDICA dataset from PubMed Central Open Access: extract → transform → load')
    .version(TOOL_VERSION)
    .addCommand(extractCommand(deps))
    .addCommand(enrichCommand(deps))
    .addCommand(transformCommand(deps))
    .addCommand(loadCommand(deps))
    .addCommand(runCommand(deps))
    .addCommand(retryFailedCommand(deps))
    .addCommand(verifyCommand(deps))
    .addCommand(statusCommand(deps))
    .addCommand(queryCommand(deps))
    .addCommand(annotateCommand(deps))
    .addCommand(parseCommand())
    .addCommand(embedCommand(deps));
  return throwOnUsageErrors(program);
}

/**
 * Commander does not pass exitOverride() on to commands added with addCommand(): without this, an
 * unknown option or a missing argument of a subcommand exits 1 from inside commander ("a bug")
 * instead of reaching main.ts, which maps it to 2 (usage).
 */
function throwOnUsageErrors(cmd: Command): Command {
  cmd.exitOverride().showHelpAfterError('(add --help for usage)');
  for (const sub of cmd.commands) throwOnUsageErrors(sub);
  return cmd;

}
