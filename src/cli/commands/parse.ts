import { Command } from 'commander';

export function parseCommand(): Command {
  return new Command('parse')
    .description('print one JSON line per article found in the given JATS/nXML files (what extract sees)')
    .argument('<files...>', 'article XML files')
    .action(async (files: string[]) => {
      const { parseFiles } = await import('../../jats/parse.js');
      await parseFiles(files, (line) => process.stdout.write(line + '\n'));
    });
}
