/**
 * Progress for long runs: a bar on a TTY (cli-progress, on stderr), and otherwise a heartbeat log
 * line every few seconds, so cron and CI logs still show the run is alive and how far it got.
 */
import cliProgress from 'cli-progress';
import type { Logger } from './logger.js';

export interface Progress {
  start(total: number, label: string): void;
  /** Add to the done count, with per-status counters to show beside it. */
  tick(n?: number, counters?: Record<string, number>): void;
  stop(): void;
}

export function noProgress(): Progress {
  return { start() {}, tick() {}, stop() {} };
}

export interface ProgressOptions {
  tty?: boolean;
  heartbeatMs?: number;
  /**
   * On abort (Ctrl-C) the bar is cleared and stays silent: main.ts aborts first and writes its
   * message after, so no redraw lands on the message or on the shell prompt that follows.
   */
  signal?: AbortSignal;
  /** Where the bar is drawn (tests hand in a fake terminal). */
  stream?: NodeJS.WriteStream;
}

export function createProgress(log: Logger, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const progress = tty ? barProgress(stream) : heartbeatProgress(log, opts.heartbeatMs ?? 10_000);
  return opts.signal ? silencedOnAbort(progress, opts.signal) : progress;
}

function silencedOnAbort(progress: Progress, signal: AbortSignal): Progress {
  const stop = () => progress.stop();
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  return {
    start: (total, label) => (signal.aborted ? undefined : progress.start(total, label)),
    tick: (n, counters) => (signal.aborted ? undefined : progress.tick(n, counters)),
    stop,
  };
}

function barProgress(stream: NodeJS.WriteStream): Progress {
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  // Counters arrive once per unit; ticks in between keep showing the last ones.
  let shown = '';
  return {
    start(total, label) {
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted} {counters}`,
          hideCursor: true,
          // The line is cleared at the end: the summary that follows has every count.
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      done = 0;
      shown = '';
      bar.start(total, 0, { counters: '' });
    },
    tick(n = 1, counters) {
      done += n;
      if (counters) shown = formatCounters(counters);
      bar?.update(done, { counters: shown });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

function heartbeatProgress(log: Logger, everyMs: number): Progress {
  let total = 0;
  let done = 0;
  let label = '';
  let last: Record<string, number> = {};
  let timer: NodeJS.Timeout | undefined;
  const beat = () => log.info({ stage: label, done, total, ...last }, 'progress');
  return {
    start(t, l) {
      total = t;
      label = l;
      done = 0;
      timer = setInterval(beat, everyMs);
      timer.unref();
    },
    tick(n = 1, counters) {
      done += n;
      if (counters) last = counters;
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function formatCounters(counters: Record<string, number>): string {
  return Object.entries(counters)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
