/**
 * A hint is a promise: the command a summary or an error tells the user to run must run when
 * pasted into a shell, whether biomedica is a checkout after `npm ci` (only `npx biomedica` works),
 * installed or linked on PATH (`biomedica`), or neither (`node …/bin/biomedica.js`).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, runBin, runShell, shellEnv } from './helpers/cli.js';

describe('printed commands run as printed', () => {
  let work: string;
  let out: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-hints-'));
    out = join(work, 'out');
    const env = shellEnv();
    const extract = await runBin(['extract', '--source', 'sample', '--out', out, '--limit', '3'], { cwd: repoRoot, env });
    assert.equal(extract.code, 0, extract.stderr);
  });
  after(() => rm(work, { recursive: true, force: true }));

  /** Load (a rerun after the first: cheap), take its "Check it:" line, paste it into sh. */
  async function checkItRuns(cwd: string, env: NodeJS.ProcessEnv, expected: RegExp): Promise<void> {
    const load = await runBin(['load', '--out', out], { cwd, env });
    assert.equal(load.code, 0, load.stderr);
    const line = /^Check it: (.*)$/m.exec(load.stdout)?.[1];
    assert.ok(line, load.stdout);
    assert.match(line, expected);
    const pasted = await runShell(line, { cwd, env });
    assert.equal(pasted.code, 0, `${line}\n${pasted.stderr}`);
    assert.match(pasted.stdout, /^OK: .* 0 defects/m);
  }

  test('a checkout after npm ci: npx biomedica', async () => {
    await checkItRuns(repoRoot, shellEnv(), /^npx biomedica verify /);
  });

  test('linked or installed on PATH: biomedica', async () => {
    const linked = join(work, 'global-bin');
    await mkdir(linked);
    await symlink(join(repoRoot, 'bin/biomedica.js'), join(linked, 'biomedica'));
    const elsewhere = join(work, 'elsewhere-linked');
    await mkdir(elsewhere);
    await checkItRuns(elsewhere, shellEnv([linked]), /^biomedica verify /);
  });

  test('neither: node and the path of the entry point', async () => {
    const elsewhere = join(work, 'elsewhere');
    await mkdir(elsewhere);
    await checkItRuns(elsewhere, shellEnv(), new RegExp(`^node ${join(repoRoot, 'bin/biomedica.js').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} verify `));
  });

  test("an error's hint names the same command", async () => {
    const r = await runBin(['load', '--out', join(work, 'no-extract')], { cwd: repoRoot, env: shellEnv() });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /hint: run npx biomedica extract first/);
  });
});
