import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { sha256 } from '../storage/files.js';
import { readManifest } from './read.js';

const Thing = z.object({ schema: z.literal('biomedica.thing'), version: z.literal(2), n: z.number() });

test('readManifest: value and sha256; missing, not JSON, other version, wrong shape each with its code and hint', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'read-manifest-'));
  try {
    const path = join(dir, 'manifest.json');
    const hints = { missing: 'run the thing stage', invalid: 'rerun the thing stage' };
    const refused = async (code: string, hint: string) =>
      assert.rejects(readManifest(path, Thing, hints), (e: unknown) => (e as { code: string }).code === code && (e as { hint: string }).hint === hint && (e as { exitCode: number }).exitCode === 3);
    await refused('MANIFEST_MISSING', hints.missing);
    await writeFile(path, '{');
    await refused('MANIFEST_INVALID', hints.invalid);
    await writeFile(path, '{"schema": "biomedica.thing", "version": 1, "n": 1}');
    await refused('MANIFEST_VERSION', hints.invalid);
    await writeFile(path, '{"schema": "biomedica.thing", "version": 2, "n": "one"}');
    await refused('MANIFEST_INVALID', hints.invalid);
    const text = '{"schema": "biomedica.thing", "version": 2, "n": 1}';
    await writeFile(path, text);
    assert.deepEqual(await readManifest(path, Thing, 'unused'), { value: { schema: 'biomedica.thing', version: 2, n: 1 }, sha256: sha256(text), text });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
