import { Command } from 'commander';
import { ItemError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { addCommonFlags, configFromFlags, type CommonFlags } from '../shared.js';

export function parseCommand(): Command {
  const cmd = new Command('parse')
    .description('print one JSON line per article found in the given JATS/nXML files (what extract sees)')
    .argument('<files...>', 'article XML files');
  // The output is JSON lines with or without --json; the counts go to the log on stderr.
  addCommonFlags(cmd).action(async (files: string[], flags: CommonFlags, self: Command) => {
    configFromFlags(self);
    const log = createLogger(flags.logLevel);
    const { parseFiles } = await import('../../jats/parse.js');
    const summary = await parseFiles(files, (line) => process.stdout.write(line + '\n'));
    log.info(summary, 'parse finished');
    if (summary.failedFiles === summary.files) {
      throw new ItemError('PARSE_FAILED', `none of the ${summary.files} files could be parsed`, {
        hint: 'each file has a JSON line on stdout with the reason (error.code, error.message)',
      });
    }
  });
  return cmd;
}
