/**
 * One error family for the whole tool. A BiomedicaError carries a stable code (for logs, the
 * failures ledger and tests), the context that explains it, and a hint that tells the reader what to
 * do next. Only src/cli/main.ts turns an error into an exit code.
 */

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  badInput: 3,
  overFailureThreshold: 4,
  /** Another run holds the output folder's lock (src/pipeline/lock.ts). */
  locked: 5,
  /** The output side's storage failed: disk full, quota, read-only, permission, I/O error. */
  storage: 6,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorDetails {
  hint?: string;
  cause?: unknown;
  [key: string]: unknown;
}

export class BiomedicaError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;
  readonly exitCode: ExitCode = ExitCode.internal;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    const { hint, cause, ...rest } = details;
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
    this.details = rest;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, hint: this.hint, ...this.details };
  }
}

/** Bad flags, config values or environment: the user can fix it by changing how they call us. */
export class UsageError extends BiomedicaError {
  override readonly exitCode = ExitCode.usage;
}

/** A manifest that is missing, of another version, or does not match its upstream. */
export class ManifestError extends BiomedicaError {
  override readonly exitCode = ExitCode.badInput;
}

/**
 * A problem with one item of input (an article, a package, an image). The run records it in the
 * failures ledger and goes on; it only reaches the exit point when a caller chooses to rethrow.
 */
export class ItemError extends BiomedicaError {
  override readonly exitCode = ExitCode.badInput;
}

/** A network or server problem. `retryable` tells the retry loop whether another try can help. */
export class TransportError extends BiomedicaError {
  override readonly exitCode = ExitCode.badInput;
  get retryable(): boolean {
    return this.details['retryable'] === true;
  }
}

/** The run finished, but more items failed than the configured threshold allows. */
export class ThresholdError extends BiomedicaError {
  override readonly exitCode = ExitCode.overFailureThreshold;
}

/** Another run holds the output folder: the message names it (pid, host, start, last heartbeat). */
export class LockedError extends BiomedicaError {
  override readonly exitCode = ExitCode.locked;
}

/**
 * The storage the run writes to failed (ENOSPC, EDQUOT, EROFS, EACCES, EIO). It is the run's
 * problem, not an item's: the unit in flight gets no marker, the run stops, and a rerun after the
 * cause is fixed redoes that unit whole. Built by src/storage/faults.ts, which names the path.
 */
export class StorageError extends BiomedicaError {
  override readonly exitCode = ExitCode.storage;
}

/** The run was stopped by a signal; finished units are kept and a rerun resumes. */
export class InterruptedError extends BiomedicaError {
  override readonly exitCode = ExitCode.interrupted;
}

/** The shape every failed item takes in a ledger: data, not an exception. */
export interface FailureInfo {
  code: string;
  message: string;
  /**
   * The failure came from the network or a server (timeouts, 5xx, throttling, a cut transfer) and
   * another attempt later may succeed: `biomedica retry-failed` re-attempts exactly these. Content
   * failures (malformed XML, a too-small image, a 404) are false: they would fail again.
   */
  transient?: boolean;
}

export function toFailure(error: unknown, fallbackCode = 'INTERNAL'): Required<FailureInfo> {
  if (error instanceof TransportError) return { code: error.code, message: error.message, transient: error.retryable };
  if (error instanceof BiomedicaError) return { code: error.code, message: error.message, transient: false };
  const message = error instanceof Error ? error.message : String(error);
  return { code: fallbackCode, message, transient: false };
}
