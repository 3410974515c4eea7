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
      return (
        err.code === 'CONFIG_INVALID' &&
        /^BIOMEDICA_EXTRACT_UNIT_SIZE="lots": /.test(err.message) &&
        /extract\.unitSize/.test(err.hint) &&
        err.exitCode === 2
      );
    },
  );
  assert.throws(() => resolveConfig({ env: {}, overrides: { filter: { updatedFrom: '2026/01/01' } } }), { code: 'CONFIG_INVALID' });
  assert.throws(() => resolveConfig({ env: {}, configFile: '/no/such/file.json' }), { code: 'CONFIG_FILE' });
});

async function withConfigFile(content: string, check: (file: string) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'biomedica-config-'));
  try {
    const file = join(dir, 'c.json');
    await writeFile(file, content);
    check(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('unknown keys and sections are errors that name the nearest valid one', async () => {
  const unknown = (content: unknown, message: RegExp, suggestion: string) =>
    withConfigFile(JSON.stringify(content), (file) =>
      assert.throws(
        () => resolveConfig({ env: {}, configFile: file }),
        (e: unknown) => {
          const err = e as { code: string; message: string; details: { suggestion: string }; exitCode: number };
          assert.equal(err.code, 'CONFIG_UNKNOWN');
          assert.match(err.message, message);
          assert.ok(err.message.includes(file), 'the message names the file');
          assert.equal(err.details.suggestion, suggestion);
          return err.exitCode === 2;
        },
      ),
    );
  await unknown({ extract: { unitSiz: 5 } }, /unknown setting extract\.unitSiz .*did you mean extract\.unitSize\?/, 'extract.unitSize');
  await unknown({ extrct: { unitSize: 5 } }, /unknown section extrct .*did you mean extract\?/, 'extract');
  await unknown({ extract: { limit: 5 } }, /did you mean filter\.limit\?/, 'filter.limit');
  await unknown({ network: { requestPerSecond: 5 } }, /did you mean network\.requestsPerSecond\?/, 'network.requestsPerSecond');
});

test('a config file must hold an object of sections, each an object', async () => {
  await withConfigFile('[]', (file) => assert.throws(() => resolveConfig({ env: {}, configFile: file }), { code: 'CONFIG_FILE', message: /holds an array, not an object/ }));
  await withConfigFile('{"extract": 5}', (file) =>
    assert.throws(() => resolveConfig({ env: {}, configFile: file }), { code: 'CONFIG_INVALID', message: /invalid setting extract 5 in .*c\.json: .*object/ }),
  );
  await withConfigFile('{"load": {"shardMaxBytes": 10}}', (file) =>
    assert.throws(() => resolveConfig({ env: {}, configFile: file }), { code: 'CONFIG_INVALID', message: /invalid setting load\.shardMaxBytes 10 in / }),
  );
});

test('a bad flag value is reported under the flag, with the value as typed', () => {
  assert.throws(
    () => resolveConfig({ env: {}, flags: [{ setting: 'filter.licenseGroups', flag: '--license', value: ['commercial', 'free'] }] }),
    (e: unknown) => {
      const err = e as { code: string; message: string; hint: string };
      assert.equal(err.code, 'FLAG_INVALID');
      assert.match(err.message, /^--license "free": /);
      // The hint may name the setting the flag sets; neither names an array index or an env variable.
      assert.doesNotMatch(`${err.message} ${err.hint}`, /licenseGroups\.0|BIOMEDICA_/);
      assert.match(err.hint, /--license sets filter\.licenseGroups/);
      return true;
    },
  );
});

test('dates are real calendar days, and a range must not be reversed', () => {
  for (const bad of ['2025-02-30', '2025-13-45', '2024-00-10', '2023-02-29', '2025-1-05']) {
    assert.throws(() => resolveConfig({ env: {}, flags: [{ setting: 'filter.updatedFrom', flag: '--updated-from', value: bad }] }), {
      code: 'FLAG_INVALID',
      message: new RegExp(`^--updated-from "${bad}": expected a calendar date`),
    });
  }
  assert.equal(resolveConfig({ env: {}, overrides: { filter: { updatedFrom: '2024-02-29' } } }).filter.updatedFrom, '2024-02-29');
  assert.throws(() => resolveConfig({ env: {}, overrides: { filter: { updatedFrom: '2025-03-01', updatedTo: '2025-02-01' } } }), {
    code: 'CONFIG_INVALID',
    message: /no article can match/,
  });
});
