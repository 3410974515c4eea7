import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { InterruptedError } from '../errors.js';
import { END_OF_ARCHIVE, memberBytes, writeTar, type TarMember } from './tar.js';

test('memberBytes: a 512-byte header plus the data padded to 512', () => {
  assert.deepEqual([0, 1, 511, 512, 513, 1024].map(memberBytes), [512, 1024, 1024, 1024, 1536, 1536]);
});

async function* members(list: TarMember[]): AsyncGenerator<TarMember> {
  yield* list;
}

test('writeTar: members land at the offsets memberBytes predicts; size and sha256 are reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tar-'));
  try {
    const list = [
      { name: 'a.jpg', data: Buffer.alloc(700, 1) },
      { name: 'a.json', data: Buffer.from('{"key":"a"}') },
      { name: 'a.txt', data: Buffer.alloc(0) },
      { name: 'b.jpg', data: Buffer.alloc(512, 2) },
    ];
    const path = join(dir, '000000.tar');
    const out = await writeTar(path, members(list), new Date(Date.UTC(2026, 0, 1)));
    const bytes = await readFile(path);
    assert.equal(out.bytes, bytes.length);
    assert.equal(out.bytes, list.reduce((a, m) => a + memberBytes(m.data.length), 0) + END_OF_ARCHIVE);
    assert.equal(out.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(await readdir(dir), ['000000.tar']);

    const extract = tar.extract();
    extract.end(bytes);
    let pos = 0;
    const seen: [string, number, number][] = [];
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      seen.push([entry.header.name, pos, Buffer.concat(chunks).length]);
      assert.equal(bytes.subarray(pos, pos + 5).toString('latin1'), entry.header.name.slice(0, 5));
      pos += memberBytes(entry.header.size ?? 0);
    }
    assert.deepEqual(seen.map((s) => s[0]), list.map((m) => m.name));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeTar: an aborted write leaves neither the shard nor its temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tar-'));
  try {
    const abort = new AbortController();
    async function* gen(): AsyncGenerator<TarMember> {
      yield { name: 'a.jpg', data: Buffer.alloc(100_000) };
      abort.abort();
      yield { name: 'a.json', data: Buffer.from('{}') };
    }
    await assert.rejects(writeTar(join(dir, '000000.tar'), gen(), new Date(0), abort.signal), InterruptedError);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
