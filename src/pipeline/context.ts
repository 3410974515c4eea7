/**
 * The explicit context every stage receives. Stages ask for the slice they use
 * (`Pick<StageContext, 'log' | 'signal'>`), so tests can hand them exactly that.
 */
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { Progress } from '../log/progress.js';
import { noProgress } from '../log/progress.js';

export interface StageContext {
  log: Logger;
  progress: Progress;
  /** Aborted on SIGINT/SIGTERM: stages stop taking new units and leave finished ones in place. */
  signal: AbortSignal;
}

export function testContext(overrides: Partial<StageContext> = {}): StageContext {
  return { log: silentLogger(), progress: noProgress(), signal: new AbortController().signal, ...overrides };
}
