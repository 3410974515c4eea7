/**
 * The one exit point. Commands throw; this file turns errors into a message on stderr and an exit
 * code (README "Exit codes"), and turns SIGINT/SIGTERM into an abort that stages honour.
 */
import { Command, CommanderError } from 'commander';
import { BiomedicaError, ExitCode } from '../errors.js';
import { commandPrefix, runnableCommands } from './invocation.js';
import { parentLockFromEnv, watchParent } from './jobs.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    // A second signal means "now": finished units are on disk already.
    if (signals > 1) process.exit(ExitCode.interrupted);
    // Abort first: the progress bar listens and clears itself, so it cannot draw over this message.
    // What stages do on abort: the unit or shard in flight is dropped, never marked done, and redone
    // by the next run (src/stages/*); finished ones stay.
    controller.abort(new Error(signal));
    process.stderr.write(
      `biomedica: ${signal} received: stopping. The unit or shard in progress is discarded and redone by the next run; ` +
        `finished ones are kept: rerun the same command to resume. ${signal === 'SIGINT' ? 'Press Ctrl-C' : 'Send it'} again to quit at once.\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A worker started by `--jobs` stops as on SIGTERM if its parent disappears (src/cli/jobs.ts).
  if (parentLockFromEnv() !== undefined) watchParent(() => onSignal('SIGTERM'));

  // --help shows the command as the user can type it here (npx biomedica, biomedica, node …).
  const program: Command = buildProgram({ signal: controller.signal }).name(commandPrefix());
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    return report(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version arrive here as "errors" with exit code 0.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof BiomedicaError) {
    process.stderr.write(`biomedica: error ${error.code}: ${runnableCommands(error.message)}\n`);
    if (error.hint) process.stderr.write(`  hint: ${runnableCommands(error.hint)}\n`);
    return error.exitCode;
  }
  process.stderr.write(`biomedica: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.internal;
}

const exitCode = await main(process.argv);
// Leave through the event loop so pino's async stderr flushes; a handle left open by a library
// (a keep-alive socket, an FTP control connection) must not keep a finished run alive.
process.exitCode = exitCode;
setTimeout(() => process.exit(exitCode), 2000).unref();
