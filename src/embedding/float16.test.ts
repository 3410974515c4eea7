import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { float16ToFloat32, float32ToFloat16, toHalf } from './float16.js';

describe('float16', () => {
  test('known values, as numpy.float16 gives them', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest half
      [65520, 0x7c00], // rounds up to Infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway to zero: ties to even (0)
      [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 subnormal steps: ties to even (2)
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd below: up
      [0.1, 0x2e66],
    ];
    for (const [value, bits] of cases) assert.equal(toHalf(value), bits, `${value}`);
    assert.equal(toHalf(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(toHalf(NaN) & 0x3ff, 0);
  });

  test('every half survives half → float32 → half', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToFloat16(float16ToFloat32(all));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) assert.ok(Number.isNaN(float16ToFloat32(new Uint16Array([h]))[0]!));
      else assert.equal(back[h], h, `0x${h.toString(16)}`);
    }
  });

  test('float32 → half is the nearest half', () => {
    const values = Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 9) - 4));
    const halves = float16ToFloat32(float32ToFloat16(values));
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const h = halves[i]!;
      // The neighbouring halves are at most one ulp away; none is nearer than the chosen one.
      const bits = toHalf(v);
      for (const n of [bits - 1, bits + 1]) {
        const neighbour = float16ToFloat32(new Uint16Array([n & 0xffff]))[0]!;
        if (Number.isFinite(neighbour) && Math.sign(neighbour) === Math.sign(h)) assert.ok(Math.abs(v - h) <= Math.abs(v - neighbour), `${v}: ${h} vs ${neighbour}`);
      }
    }
  });
});
