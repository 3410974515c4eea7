import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { endStream, writeChunk } from './streams.js';

/** A sink that takes `ok` writes, then fails every write the way a full disk does. */
function failingSink(ok: number): Writable {
  let n = 0;
  const stream = new Writable({
    highWaterMark: 4,
    write(_chunk, _enc, callback) {
      setImmediate(() => callback(n++ < ok ? null : Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })));
    },
  });
  stream.on('error', () => {});
  return stream;
}

const hangs = async (p: Promise<unknown>) => (await Promise.race([p.then(() => 'settled', () => 'settled'), sleep(200).then(() => 'hangs')])) === 'hangs';

test('the old wait for drain hangs on a stream that failed first; writeChunk rejects with the stream error', async () => {
  const old = failingSink(0);
  old.write(Buffer.alloc(8));
  await sleep(10); // the write fails and the stream is destroyed before anyone waits
  assert.equal(old.write(Buffer.alloc(8)), false);
  assert.ok(await hangs(once(old, 'drain')), 'a destroyed stream never emits drain: this is the silent exit 13');

  const sink = failingSink(2);
  let error: unknown;
  try {
    for (let i = 0; i < 100; i++) await writeChunk(sink, Buffer.alloc(8));
  } catch (e) {
    error = e;
  }
  assert.equal((error as NodeJS.ErrnoException)?.code, 'ENOSPC');
  await assert.rejects(writeChunk(sink, Buffer.alloc(8)), { code: 'ENOSPC' });
  await assert.rejects(endStream(sink), { code: 'ENOSPC' });
});

test('endStream waits for every byte and resolves on a healthy stream', async () => {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _enc, callback) {
      setImmediate(() => (chunks.push(chunk), callback()));
    },
  });
  for (let i = 0; i < 10; i++) await writeChunk(sink, Buffer.from([i]));
  await endStream(sink);
  assert.deepEqual(Buffer.concat(chunks), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
});
