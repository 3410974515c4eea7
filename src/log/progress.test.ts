/**
 * Ctrl-C while a bar is drawn: the bar clears its line, shows the cursor again and draws nothing
 * after, so the interrupt message and the shell prompt that follow are not overwritten.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { silentLogger } from './logger.js';
import { createProgress } from './progress.js';

/** A terminal as cli-progress sees one: a TTY stream with a width, keeping what was written. */
function fakeTerminal(): { stream: NodeJS.WriteStream; written: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 100, rows: 40 });
  return { stream, written: () => out };
}

test('on abort the bar clears its line, restores the cursor and stays silent', async () => {
  const terminal = fakeTerminal();
  const controller = new AbortController();
  const progress = createProgress(silentLogger(), { stream: terminal.stream, signal: controller.signal });
  progress.start(10, 'extract');
  progress.tick(3, { ok: 3, failed: 0 });
  await sleep(150);
  assert.match(terminal.written(), /extract \[.*\] 3\/10 30%/);

  controller.abort(new Error('SIGINT'));
  const atAbort = terminal.written();
  const tail = atAbort.slice(atAbort.lastIndexOf('3/10'));
  assert.ok(tail.includes('\x1b[2K'), 'the bar line is cleared');
  assert.ok(tail.includes('\x1b[?25h'), 'the cursor is shown again');

  // What a stage still does while it winds down: none of it may reach the terminal.
  progress.tick(5, { ok: 8, failed: 0 });
  progress.start(4, 'load');
  progress.tick(1);
  await sleep(250);
  progress.stop();
  assert.equal(terminal.written(), atAbort, 'nothing is drawn after the abort');
});

test('without an abort the bar draws until stopped, then clears its line', async () => {
  const terminal = fakeTerminal();
  const progress = createProgress(silentLogger(), { stream: terminal.stream, signal: new AbortController().signal });
  progress.start(2, 'load');
  progress.tick(2);
  progress.stop();
  const out = terminal.written();
  assert.match(out, /load \[.*\] 2\/2 100%/);
  assert.ok(out.slice(out.lastIndexOf('2/2')).includes('\x1b[2K'), 'the finished bar is cleared before the summary');
});
