import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError, TransportError } from '../errors.js';
import { onOutput, outputFault, storageFault } from './faults.js';

const errno = (code: string, path = '/out/x') => Object.assign(new Error(`${code}: failed`), { code, path, syscall: 'write' });

test('disk faults become StorageError with a code per cause, the path and a hint; found through wrapping errors too', () => {
  for (const [code, ours] of [['ENOSPC', 'STORAGE_FULL'], ['EDQUOT', 'STORAGE_QUOTA'], ['EROFS', 'STORAGE_READ_ONLY'], ['EIO', 'STORAGE_IO']]) {
    const fault = storageFault(errno(code!));
    assert.ok(fault instanceof StorageError);
    assert.equal(fault.code, ours);
    assert.equal(fault.exitCode, 6);
    assert.match(fault.message, new RegExp(`writing /out/x: ${code} \\(write\\)`));
    assert.match(fault.hint ?? '', /rerun the same command/);
  }
  const wrapped = new TransportError('DOWNLOAD', 'download failed', { cause: errno('ENOSPC', '/out/downloads/p.part') });
  assert.equal(storageFault(wrapped)?.code, 'STORAGE_FULL');
  assert.equal(storageFault(new Error('plain')), undefined);
});

test('permission errors are storage faults only on the output side', async () => {
  assert.equal(storageFault(errno('EACCES')), undefined, 'an unreadable input is the item\'s problem');
  assert.equal(outputFault(errno('EACCES'))?.code, 'STORAGE_DENIED');
  await assert.rejects(onOutput('/out/images/a.jpg', async () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); }), (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.match(e.message, /permission denied writing \/out\/images\/a\.jpg/);
    return true;
  });
  await assert.rejects(onOutput('/out/a', async () => { throw new Error('not a disk problem'); }), /not a disk problem/);
});
