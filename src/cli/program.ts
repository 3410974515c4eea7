/** Composes the commands. Each command file only declares flags, parses them and calls a stage. */
import { Command } from 'commander';
import { extractCommand } from './commands/extract.js';
import { parseCommand } from './commands/parse.js';
import { enrichCommand } from './commands/enrich.js';
import { loadCommand } from './commands/load.js';
import { runCommand } from './commands/run.js';
import { verifyCommand } from './commands/verify.js';
import { queryCommand } from './commands/query.js';
import { transformCommand } from './commands/transform.js';
import { embedCommand } from './commands/embed.js';
import { annotateCommand } from './commands/annotate.js';

export interface ProgramDeps {
  signal: AbortSignal;
}

export function buildProgram(deps: ProgramDeps): Command {
  return new Command('biomedica')
    .description('Build the BIOMEDICA dataset from PubMed Central Open Access: extract → transform → load')
    .version('0.1.0')
    .showHelpAfterError()
    .addCommand(extractCommand(deps))
    .addCommand(enrichCommand(deps))
    .addCommand(transformCommand(deps))
    .addCommand(loadCommand(deps))
    .addCommand(runCommand(deps))
    .addCommand(verifyCommand(deps))
    .addCommand(queryCommand(deps))
    .addCommand(annotateCommand(deps))
    .addCommand(parseCommand())
    .addCommand(embedCommand(deps));
}
