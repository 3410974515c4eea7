import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ItemError } from '../errors.js';
import { NpyReader, NpyWriter, formatNpyHeader, readNpyFloat32, withNpy, writeNpy } from './npy.js';

/** A .npy file by hand: any header text, any version, any payload. */
function npyBytes(header: string, payload: Buffer, version = 1): Buffer {
  const lenBytes = version === 1 ? 2 : 4;
  let text = header;
  while ((8 + lenBytes + text.length + 1) % 64 !== 0) text += ' ';
  text += '\n';
  const body = Buffer.from(text, version === 3 ? 'utf8' : 'latin1');
  const head = Buffer.alloc(8 + lenBytes);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(body.length, 8);
  else head.writeUInt32LE(body.length, 8);
  return Buffer.concat([head, body, payload]);
}

const f32bytes = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

describe('npy', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'npy-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("the header is numpy.save's: dict, growth padding, 64-byte alignment", () => {
    const h = formatNpyHeader('float32', [3, 4]);
    assert.equal(h.length, 128);
    const text = h.subarray(10).toString('latin1');
    assert.equal(text, `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.padEnd(117, ' ') + '\n');
    assert.equal(h.readUInt16LE(8), 118);
    assert.match(formatNpyHeader('int32', [7]).toString('latin1'), /'descr': '<i4', 'fortran_order': False, 'shape': \(7,\), }/);
    // The row count can grow to 21 digits without the header changing length: what lets the
    // streaming writer patch it in place.
    assert.equal(formatNpyHeader('float32', [0, 1024]).length, formatNpyHeader('float32', [123456789012345, 1024]).length);
  });

  test('write then read: float32 matrix and int32 vector, whole and by row ranges', async () => {
    const path = join(dir, 'm.npy');
    const data = Float32Array.from({ length: 5 * 3 }, (_, i) => i * 0.5 - 3);
    await writeNpy(path, data, [5, 3]);
    await withNpy(path, { ndim: 2, dtypes: ['float32'] }, async (r) => {
      assert.deepEqual(r.header.shape, [5, 3]);
      assert.deepEqual(await r.readFloat32(0, 5), data);
      assert.deepEqual(await r.readFloat32(2, 2), data.subarray(6, 12));
      await assert.rejects(r.readFloat32(4, 2), RangeError);
    });
    const ids = join(dir, 'ids.npy');
    await writeNpy(ids, Int32Array.from([3, -1, 2_000_000_000]), [3]);
    await withNpy(ids, { ndim: 1, dtypes: ['int32'] }, async (r) => assert.deepEqual(await r.readInt32(0, 3), Int32Array.from([3, -1, 2_000_000_000])));
  });

  test('the streaming writer patches the row count; blocks() streams it back in order', async () => {
    const path = join(dir, 'stream.npy');
    const w = await NpyWriter.create(path, 'float32', 2);
    const all: number[] = [];
    for (let b = 0; b < 7; b++) {
      const chunk = Float32Array.from({ length: 2 * (b + 1) }, (_, i) => b * 100 + i);
      all.push(...chunk);
      await w.append(chunk);
    }
    await assert.rejects(w.append(new Float32Array(3)), RangeError, 'half a row');
    await w.finish();
    const bytes = await readFile(path);
    assert.deepEqual(bytes.subarray(0, 128), formatNpyHeader('float32', [28, 2]));
    const seen: number[] = [];
    await withNpy(path, { ndim: 2, dtypes: ['float32'] }, async (r) => {
      assert.equal(r.rows, 28);
      for await (const block of r.blocks(5)) {
        assert.ok(block.rows <= 5);
        seen.push(...block.data);
      }
    });
    assert.deepEqual(seen, all);
  });

  test('abort leaves neither the file nor a temporary', async () => {
    const sub = await mkdtemp(join(dir, 'abort-'));
    const w = await NpyWriter.create(join(sub, 'x.npy'), 'int32');
    await w.append(Int32Array.from([1, 2]));
    await w.abort();
    assert.deepEqual(await readdir(sub), []);
  });

  test('float16 and float64 are read as float32; format versions 2 and 3', async () => {
    const halves = Buffer.from(Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x0000]).buffer);
    const p16 = join(dir, 'h.npy');
    await writeFile(p16, npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", halves));
    const { data } = await readNpyFloat32(p16, 2);
    assert.deepEqual(Array.from(data), [1, -2, 0.333251953125, 2 ** -24, 65504, 0]);
    const p64 = join(dir, 'd.npy');
    await writeFile(p64, npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", Buffer.from(Float64Array.from([0.1, -7]).buffer), 2));
    assert.deepEqual(Array.from((await readNpyFloat32(p64, 1)).data), [Math.fround(0.1), -7]);
    const p3 = join(dir, 'v3.npy');
    await writeFile(p3, npyBytes("{'descr':'<f4','fortran_order':False,'shape':(1,2)}", f32bytes([5, 6]), 3));
    assert.deepEqual(Array.from((await readNpyFloat32(p3, 2)).data), [5, 6]);
  });

  const bad: [string, Buffer, string, RegExp?][] = [
    ['not npy', Buffer.from('PK\u0003\u0004 a zip file, not an array'), 'NPY_NOT_NPY'],
    ['garbage header', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2) ", f32bytes([1, 2, 3, 4])), 'NPY_HEADER'],
    ['python expression', npyBytes("{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1, 1), }", f32bytes([1])), 'NPY_HEADER'],
    ['Fortran order', npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f32bytes([1, 2, 3, 4])), 'NPY_FORTRAN_ORDER', /ascontiguousarray/],
    ['big-endian', npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1), }", f32bytes([1])), 'NPY_DTYPE', /np\.float32/],
    ['uint8', npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 4), }", Buffer.alloc(4)), 'NPY_DTYPE'],
    ['structured', npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1), }", f32bytes([1])), 'NPY_DTYPE'],
    ['one dimension', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f32bytes([1, 2, 3, 4])), 'NPY_SHAPE'],
    ['truncated data', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f32bytes([1, 2, 3])), 'NPY_TRUNCATED'],
    ['trailing bytes', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", f32bytes([1, 2, 3])), 'NPY_SIZE'],
    ['truncated header', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", Buffer.alloc(0)).subarray(0, 40), 'NPY_TRUNCATED'],
    ['version 9', Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 0, 0, 0, 0, 0]), 'NPY_VERSION'],
  ];
  for (const [name, bytes, code, hint] of bad) {
    test(`a malformed file is an ItemError: ${name} → ${code}`, async () => {
      const path = join(dir, `bad-${name.replace(/\W/g, '_')}.npy`);
      await writeFile(path, bytes);
      const error = await NpyReader.open(path, { ndim: 2, dtypes: ['float32', 'float16', 'float64'] }).then(
        () => assert.fail('opened'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ItemError, String(error));
      assert.equal(error.code, code);
      assert.match(error.message, new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      if (hint) assert.match(error.hint ?? '', hint);
    });
  }

  test('a missing file is NPY_MISSING; an int32 file where floats are wanted is NPY_DTYPE', async () => {
    await assert.rejects(NpyReader.open(join(dir, 'nope.npy'), { ndim: 2, dtypes: ['float32'] }), { code: 'NPY_MISSING' });
    const ids = join(dir, 'ids2.npy');
    await writeNpy(ids, Int32Array.from([1, 2, 3, 4]), [4]);
    await assert.rejects(NpyReader.open(ids, { ndim: 1, dtypes: ['float32'] }), { code: 'NPY_DTYPE' });
  });
});
