/**
 * Which command a hint may print: decided from real folders, links and PATH entries laid out the
 * way a checkout, a global install, npx and a dependent project leave them.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commandPrefix, runnableCommands } from './invocation.js';

describe('commandPrefix', () => {
  let root: string;
  let pkg: string;
  let bin: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'biomedica-invocation-'));
    pkg = join(root, 'checkout');
    bin = join(pkg, 'bin', 'biomedica.js');
    await mkdir(join(pkg, 'bin'), { recursive: true });
    await writeFile(join(pkg, 'package.json'), '{"name":"biomedica"}');
    await writeFile(bin, '#!/usr/bin/env node\n');
    await chmod(bin, 0o755);
  });
  after(() => rm(root, { recursive: true, force: true }));

  const linkDir = async (name: string, target: string) => {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await symlink(target, join(dir, 'biomedica'));
    return dir;
  };

  test('in a checkout after npm ci, with nothing on PATH: npx biomedica (also from a subfolder)', async () => {
    await mkdir(join(pkg, 'sample', 'deep'), { recursive: true });
    assert.equal(commandPrefix({ path: '/usr/bin', cwd: pkg, packageRoot: pkg }), 'npx biomedica');
    assert.equal(commandPrefix({ path: '/usr/bin', cwd: join(pkg, 'sample', 'deep'), packageRoot: pkg }), 'npx biomedica');
  });

  test('installed globally or linked: biomedica, from anywhere', async () => {
    const global = await linkDir('global-bin', bin);
    assert.equal(commandPrefix({ path: ['/usr/bin', global].join(delimiter), cwd: root, packageRoot: pkg }), 'biomedica');
  });

  test("another biomedica earlier on PATH is not ours: the shell would run that one", async () => {
    const other = join(root, 'other.js');
    await writeFile(other, '#!/bin/sh\n');
    await chmod(other, 0o755);
    const shadow = await linkDir('shadow-bin', other);
    const global = await linkDir('global-bin-2', bin);
    assert.equal(commandPrefix({ path: [shadow, global].join(delimiter), cwd: pkg, packageRoot: pkg }), 'npx biomedica');
  });

  test("the PATH npx gives its child does not count: the user's shell lacks those entries", async () => {
    const npxCache = await linkDir(join('.npm', '_npx', '726c458491520f96', 'node_modules', '.bin'), bin);
    const local = await linkDir(join('proj', 'node_modules', '.bin'), bin);
    assert.equal(commandPrefix({ path: [npxCache, local, '/usr/bin'].join(delimiter), cwd: pkg, packageRoot: pkg }), 'npx biomedica');
  });

  test('a project that depends on biomedica: npx biomedica finds its node_modules/.bin link', async () => {
    const project = join(root, 'project');
    await linkDir(join('project', 'node_modules', '.bin'), bin);
    await writeFile(join(project, 'package.json'), '{"name":"uses-biomedica"}');
    assert.equal(commandPrefix({ path: '/usr/bin', cwd: project, packageRoot: pkg }), 'npx biomedica');
  });

  test('elsewhere, not on PATH: node and the full path of the bin (quoted when it must be)', async () => {
    const away = join(root, 'away');
    await mkdir(join(away, 'node_modules'), { recursive: true });
    assert.equal(commandPrefix({ path: '/usr/bin', cwd: away, packageRoot: pkg }), `node ${bin}`);
    const spaced = join(root, 'my checkout');
    await mkdir(join(spaced, 'bin'), { recursive: true });
    await writeFile(join(spaced, 'bin', 'biomedica.js'), '');
    assert.equal(commandPrefix({ path: '', cwd: away, packageRoot: spaced }), `node '${join(spaced, 'bin', 'biomedica.js')}'`);
  });
});

test('runnableCommands rewrites commands, not paths or words, and never twice', () => {
  const p = 'npx biomedica';
  assert.equal(runnableCommands('rerun biomedica extract first', p), 'rerun npx biomedica extract first');
  assert.equal(runnableCommands('Check it: biomedica verify /data/biomedica/out/dataset', p), 'Check it: npx biomedica verify /data/biomedica/out/dataset');
  assert.equal(runnableCommands('`biomedica extract --plan-only` then biomedica load', p), '`npx biomedica extract --plan-only` then npx biomedica load');
  assert.equal(runnableCommands('already npx biomedica verify x', p), 'already npx biomedica verify x');
  assert.equal(runnableCommands('biomedica: error X; /opt/biomedica load; biomedica-load', p), 'biomedica: error X; /opt/biomedica load; biomedica-load');
  assert.equal(runnableCommands('rerun biomedica load', 'biomedica'), 'rerun biomedica load');
});
