/**
 * The one exit point. Commands throw; this file turns errors into a message on stderr and an exit
 * code (README "Exit codes"), and turns SIGINT/SIGTERM into an abort that stages honour.
 */
import { Command, CommanderError } from 'commander';
import { BiomedicaError, ExitCode } from '../errors.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    // A second signal means "now": finished units are on disk already.
    if (signals > 1) process.exit(ExitCode.interrupted);
    process.stderr.write(`\nbiomedica: ${signal} received, finishing the current unit (send again to stop now)\n`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const program: Command = buildProgram({ signal: controller.signal });
  // Commander copies exitOverride only to subcommands made with .command(), not to those added
  // with addCommand: without this, `embed --recipe nope` would exit 1 from inside commander.
  const overrideExit = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(overrideExit);
  };
  overrideExit(program);
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
    process.stderr.write(`biomedica: error ${error.code}: ${error.message}\n`);
    if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
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
