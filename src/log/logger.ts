/**
 * pino JSON logs on stderr: stdout is reserved for the `--json` summary and `parse` output, so
 * the two never mix in a pipe.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env['BIOMEDICA_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { app: 'biomedica' } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything: for tests and library callers that bring no logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
