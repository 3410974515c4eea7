import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceSession } from 'onnxruntime-node';
import { UsageError } from '../errors.js';
import { clsRows, resolveContract, sameVectors } from './contract.js';

type Meta = InferenceSession.ValueMetadata;
const tensor = (name: string, type: 'float32' | 'float16' | 'int64', shape: (number | string)[]): Meta => ({ name, isTensor: true, type, shape });
const pixels = tensor('pixel_values', 'float32', ['batch_size', 3, 'height', 'width']);
const hidden = tensor('last_hidden_state', 'float32', ['batch_size', 'sequence_length', 1024]);
const pooler = tensor('pooler_output', 'float32', ['batch_size', 1024]);

function refused(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof UsageError && e.code === 'MODEL_CONTRACT' && pattern.test(e.message) && /README/.test(e.hint ?? ''));
}

describe('resolveContract', () => {
  test('the Hugging Face export: pixel_values, last_hidden_state and pooler_output', () => {
    assert.deepEqual(resolveContract([pixels], [hidden, pooler], 224), {
      inputName: 'pixel_values',
      inputType: 'float32',
      fixedBatch: undefined,
      tokensName: 'last_hidden_state',
      pooledName: 'pooler_output',
      outputType: 'float32',
    });
  });

  test('names and types come from the model: a float16 export with other names, no pooler, fixed batch', () => {
    const c = resolveContract([tensor('input', 'float16', [1, 3, 224, 224])], [tensor('tokens', 'float16', [1, 261, 384])], 224);
    assert.deepEqual(c, { inputName: 'input', inputType: 'float16', fixedBatch: 1, tokensName: 'tokens', pooledName: undefined, outputType: 'float16' });
  });

  test('refuses what it cannot read a CLS embedding from', () => {
    refused(() => resolveContract([pixels, tensor('mask', 'int64', ['b', 256])], [hidden], 224), /one float image input/);
    refused(() => resolveContract([tensor('pixel_values', 'int64', ['b', 3, 224, 224])], [hidden], 224), /one float image input/);
    refused(() => resolveContract([tensor('pixel_values', 'float32', ['b', 1, 224, 224])], [hidden], 224), /1 channels/);
    refused(() => resolveContract([tensor('pixel_values', 'float32', ['b', 3, 518, 518])], [hidden], 224), /518×518/);
    refused(() => resolveContract([pixels], [pooler], 224), /no last_hidden_state/);
    refused(() => resolveContract([pixels], [tensor('a', 'float32', ['b', 5, 8]), tensor('c', 'float32', ['b', 5, 8])], 224), /no last_hidden_state/);
  });
});

describe('clsRows and sameVectors', () => {
  test('token 0 of every image', () => {
    // 2 images × 3 tokens × 2 dims: values name their place.
    const data = Float32Array.from([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
    assert.deepEqual(Array.from(clsRows(data, 2, 3, 2)), [0, 1, 100, 101]);
    const half = Uint16Array.from(data);
    assert.ok(clsRows(half, 2, 3, 2) instanceof Uint16Array);
  });

  test('exact comparison', () => {
    assert.ok(sameVectors(Float32Array.from([1, 2]), Float32Array.from([1, 2])));
    assert.ok(!sameVectors(Float32Array.from([1, 2]), Float32Array.from([1, 2.0000002])));
    assert.ok(!sameVectors(Float32Array.from([1, 2]), Float32Array.from([1])));
  });
});
