import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadDefaults, resolveConfig } from './schema.js';

test('the defaults file alone is a valid config', () => {
  const config = resolveConfig({ env: {} });
  assert.equal(config.source.url, 'cloud');
  assert.deepEqual(config.keep, { minCaptionChars: 1, minSide: 21 });
  assert.deepEqual(Object.keys(config).sort(), Object.keys(loadDefaults()).sort());
});

test('layers: file < env < flags, each overriding only what it names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'biomedica-config-'));
  try {
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ network: { connections: 3, retries: 9 }, filter: { limit: 5 } }));
    const config = resolveConfig({
      configFile: file,
      env: { BIOMEDICA_NETWORK_CONNECTIONS: '4', BIOMEDICA_FILTER_LICENSE_GROUPS: 'commercial, other', BIOMEDICA_SOURCE_KEEP_DOWNLOADS: 'true' },
      overrides: { network: { connections: 6, retries: undefined } },
    });
    assert.equal(config.network.connections, 6, 'flag wins over env and file');
    assert.equal(config.network.retries, 9, 'an unset flag leaves the file value');
    assert.equal(config.filter.limit, 5);
    assert.deepEqual(config.filter.licenseGroups, ['commercial', 'other']);
    assert.equal(config.source.keepDownloads, true);
    assert.equal(config.network.timeoutMs, 60000, 'untouched settings keep their defaults');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad value stops with a usage error naming the setting and its env variable', () => {
  assert.throws(
    () => resolveConfig({ env: { BIOMEDICA_EXTRACT_UNIT_SIZE: 'lots' } }),
    (e: unknown) => {
      const err = e as { code: string; message: string; hint: string; exitCode: number };
      return err.code === 'CONFIG_INVALID' && /extract\.unitSize/.test(err.message) && /BIOMEDICA_EXTRACT_UNIT_SIZE/.test(err.hint) && err.exitCode === 2;
    },
  );
  assert.throws(() => resolveConfig({ env: {}, overrides: { filter: { updatedFrom: '2026/01/01' } } }), { code: 'CONFIG_INVALID' });
  assert.throws(() => resolveConfig({ env: {}, configFile: '/no/such/file.json' }), { code: 'CONFIG_FILE' });
});
