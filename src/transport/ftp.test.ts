import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ItemError, TransportError } from '../errors.js';
import { corpusPackages, startFtpServer, type TestFtpServer } from '../../test/helpers/servers.js';
import { createFtpClient, type FtpClient } from './ftp.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('ftp client over a real ftp-srv', () => {
  let dir: string;
  let out: string;
  let server: TestFtpServer;
  let client: FtpClient;
  const pkg = corpusPackages[0]!;
  let original: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'biomedica-ftp-'));
    out = join(dir, 'out');
    await mkdir(join(dir, 'srv', 'pub', 'pmc', 'oa_package', 'ac', '6a'), { recursive: true });
    await copyFile(pkg, join(dir, 'srv', 'pub', 'pmc', 'oa_package', 'ac', '6a', 'PMC7112410.tar.gz'));
    await writeFile(join(dir, 'srv', 'pub', 'pmc', 'small.txt'), 'hello ftp');
    original = await readFile(pkg);
    server = await startFtpServer(join(dir, 'srv'));
    client = createFtpClient({ url: `${server.url}/pub/pmc`, connections: 2, retries: 2, retryBaseMs: 1, retryMaxMs: 5, timeoutMs: 5_000 });
  });
  after(async () => {
    await client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('downloads a real package, path relative to the URL base, md5 checked', async () => {
    const dest = join(out, 'a.tar.gz');
    const result = await client.downloadToFile('oa_package/ac/6a/PMC7112410.tar.gz', dest, { expectMd5: md5(original) });
    assert.equal(result.bytes, original.length);
    assert.equal(result.resumedFrom, 0);
    assert.ok((await readFile(dest)).equals(original));
    await assert.rejects(stat(`${dest}.part`), { code: 'ENOENT' });
  });

  test('resumes a partial .part with REST', async () => {
    const dest = join(out, 'b.tar.gz');
    // Different bytes of the right length in the .part: if they survive, the transfer resumed.
    await writeFile(`${dest}.part`, Buffer.alloc(5000, 0x41));
    const result = await client.downloadToFile('/pub/pmc/oa_package/ac/6a/PMC7112410.tar.gz', dest);
    assert.equal(result.resumedFrom, 5000);
    const got = await readFile(dest);
    assert.equal(got.length, original.length);
    assert.ok(got.subarray(0, 5000).equals(Buffer.alloc(5000, 0x41)));
    assert.ok(got.subarray(5000).equals(original.subarray(5000)));
  });

  test('a .part longer than the remote file is discarded', async () => {
    const dest = join(out, 'small.txt');
    await writeFile(`${dest}.part`, 'this is longer than the remote file');
    const result = await client.downloadToFile('small.txt', dest);
    assert.equal(result.resumedFrom, 0);
    assert.equal(await readFile(dest, 'utf8'), 'hello ftp');
  });

  test('a missing file is NOT_FOUND at once', async () => {
    const before = server.connections();
    await assert.rejects(client.downloadToFile('oa_package/00/00/PMC1.tar.gz', join(out, 'missing')), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.equal(e.code, 'NOT_FOUND');
      assert.equal(e.retryable, false);
      return true;
    });
    // A 550 reply leaves the session usable: the next call works on the same connections.
    assert.equal((await client.getBuffer('small.txt')).toString(), 'hello ftp');
    assert.equal(server.connections(), before);
  });

  test('getBuffer and its size cap', async () => {
    assert.equal((await client.getBuffer('small.txt')).toString(), 'hello ftp');
    await assert.rejects(client.getBuffer('oa_package/ac/6a/PMC7112410.tar.gz', { maxBytes: 1000 }), (e: unknown) => e instanceof ItemError && e.code === 'TOO_LARGE');
    await assert.rejects(client.downloadToFile('oa_package/ac/6a/PMC7112410.tar.gz', join(out, 'big'), { maxBytes: 1000 }), { code: 'TOO_LARGE' });
    await assert.rejects(stat(join(out, 'big.part')), { code: 'ENOENT' });
  });

  test('connections dropped by the server are reopened by a retry', async () => {
    await client.getBuffer('small.txt');
    await server.dropConnections();
    assert.equal((await client.getBuffer('small.txt')).toString(), 'hello ftp');
  });

  test('parallel downloads stay within the connection cap', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => client.downloadToFile('oa_package/ac/6a/PMC7112410.tar.gz', join(out, `p${i}.tar.gz`))),
    );
    for (const r of results) assert.equal(r.bytes, original.length);
    assert.ok(server.peakConnections() <= 2, `peak ${server.peakConnections()}`);
  });
});
