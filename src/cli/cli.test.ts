/**
 * argv wiring and the exit point: what a user types reaches the right stage with the right
 * options, and every error class leaves with its documented exit code and a hint on stderr.
 * Behaviour of the stages is tested beside them and in test/.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { collect, repoRoot, runCli, spawnCli } from '../../test/helpers/cli.js';
import { buildProgram } from './program.js';

/** The command wiring in this process: for errors thrown before any output (main.ts's exit codes are tested by spawning). */
function inProcess(args: string[]): Promise<unknown> {
  return buildProgram({ signal: new AbortController().signal }).parseAsync(args, { from: 'user' });
}

describe('biomedica CLI', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'biomedica-cli-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('--help lists every stage and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const cmd of ['extract', 'enrich', 'load', 'run', 'verify', 'query', 'parse']) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
  });

  test('usage errors exit 2: unknown command, bad flag value, bad config', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 2);
    const limit = await runCli(['extract', '--source', 'sample', '--out', join(dir, 'x'), '--limit', 'many']);
    assert.equal(limit.code, 2);
    assert.match(limit.stderr, /FLAG_INVALID/);
    const license = await runCli(['extract', '--source', 'sample', '--out', join(dir, 'x'), '--license', 'free']);
    assert.equal(license.code, 2);
    // The flag as typed, not the setting path (filter.licenseGroups.0) or an env variable that does not exist.
    assert.match(license.stderr, /FLAG_INVALID: --license "free": /);
    assert.doesNotMatch(license.stderr, /licenseGroups\.0|BIOMEDICA_FILTER/);
    assert.match(license.stderr, /hint: /);
    const missing = await runCli(['extract', '--source', join(dir, 'no-mirror'), '--out', join(dir, 'x')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /SOURCE_NOT_FOUND/);
  });

  test('commander usage errors of every subcommand exit 2, not 1 ("a bug")', async () => {
    const unknown = await runCli(['extract', '--source', 'sample', '--out', join(dir, 'x'), '--bogus']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown option '--bogus'/);
    const noWhere = await runCli(['query', join(dir, 'dataset'), '--output', join(dir, 'k.txt')]);
    assert.equal(noWhere.code, 2, noWhere.stderr);
    assert.match(noWhere.stderr, /--where/);
    const noDataset = await runCli(['verify']);
    assert.equal(noDataset.code, 2, noDataset.stderr);
    assert.match(noDataset.stderr, /missing required argument 'dataset'/);
  });

  test('every command reads --config: a missing file or an unknown key is a usage error', async () => {
    const missing = join(dir, 'no-such-config.json');
    const commands = [
      ['extract', '--source', 'sample', '--out', join(dir, 'cfg')],
      ['run', '--source', 'sample', '--out', join(dir, 'cfg')],
      ['load', '--out', join(dir, 'cfg')],
      ['enrich', '--out', join(dir, 'cfg')],
      ['verify', join(dir, 'cfg')],
      ['query', join(dir, 'cfg'), '--where', 'true', '--output', join(dir, 'k.txt')],
      ['parse', join(repoRoot, 'config/defaults.json')],
    ];
    // In process: the wiring is under test here; the spawned runs below cover main.ts's exit codes.
    for (const args of commands) {
      await assert.rejects(inProcess([...args, '--config', missing]), (e: unknown) => {
        const err = e as { code: string; message: string; exitCode: number };
        assert.equal(err.code, 'CONFIG_FILE', `${args[0]}: ${err.message}`);
        return err.exitCode === 2;
      });
    }
    const typo = join(dir, 'typo.json');
    await writeFile(typo, JSON.stringify({ extract: { unitSiz: 5 } }));
    const r = await runCli(['extract', '--source', 'sample', '--out', join(dir, 'cfg'), '--config', typo]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /CONFIG_UNKNOWN: unknown setting extract\.unitSiz in .*typo\.json; did you mean extract\.unitSize\?/);
  });

  test('dates are calendar days: a usage error before any work', async () => {
    await assert.rejects(inProcess(['extract', '--source', 'sample', '--out', join(dir, 'dates'), '--updated-from', '2025-13-45']), {
      code: 'FLAG_INVALID',
      exitCode: 2,
      message: /^--updated-from "2025-13-45": expected a calendar date/,
    });
    await assert.rejects(inProcess(['load', '--out', join(dir, 'dates'), '--snapshot-date', '2025-02-30']), {
      code: 'FLAG_INVALID',
      exitCode: 2,
      message: /^--snapshot-date 2025-02-30: not a calendar date/,
    });
    assert.ok(!existsSync(join(dir, 'dates')), 'nothing was written');
  });

  test('a stage run before its input exists exits 3 with a hint', async () => {
    const r = await runCli(['load', '--out', join(dir, 'empty')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /MANIFEST_MISSING/);
    assert.match(r.stderr, /hint: .*extract/);
  });

  test('over the failure threshold exits 4 after writing everything', async () => {
    const config = join(dir, 'strict.json');
    await writeFile(config, JSON.stringify({ extract: { maxFailureRate: 0 } }));
    const out = join(dir, 'strict');
    const r = await runCli(['extract', '--source', 'sample', '--out', out, '--config', config, '--limit', '20']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /FAILURE_THRESHOLD/);
    const again = await runCli(['load', '--out', out]);
    assert.equal(again.code, 0, 'the manifest was written before the threshold was applied');
  });

  test('Ctrl-C says what happens: the unit in progress is discarded, finished ones are kept and a rerun resumes', async () => {
    const out = join(dir, 'interrupted');
    const args = ['extract', '--source', 'sample', '--out', out, '--unit-size', '8', '--no-progress'];
    const child = spawnCli(args);
    const result = collect(child);
    const units = join(out, 'extract', 'units');
    const done = () => (existsSync(units) ? readdirSync(units).filter((u) => existsSync(join(units, u, 'done.json'))).length : 0);
    while (done() < 1 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /SIGINT received: stopping\. The unit or shard in progress is discarded and redone by the next run; finished ones are kept/);
    assert.doesNotMatch(r.stderr, /finishing the current unit/);
    const kept = done();
    assert.ok(kept >= 1 && kept < 8, `a partial run: ${kept} units done`);
    assert.ok(!existsSync(join(out, 'extract', 'manifest.json')));
    const rerun = await runCli([...args, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(JSON.parse(rerun.stdout).unitsSkipped, kept, 'exactly the finished units are kept; the others are redone');
  });

  test('--json puts the summary alone on stdout; logs stay on stderr', async () => {
    const out = join(dir, 'json');
    const r = await runCli(['extract', '--source', 'sample', '--out', out, '--limit', '5', '--json', '--log-level', 'info']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.totals.articles + summary.totals.articlesFailed, 5);
    assert.match(r.stderr, /"msg":"unit written"/);
  });

  test('load takes its shard settings from --config; a flag wins; a bad flag value names the flag', async () => {
    const out = join(dir, 'json');
    const config = join(dir, 'small-shards.json');
    await writeFile(config, JSON.stringify({ load: { shardMaxSamples: 2 } }));
    const fromFile = await runCli(['load', '--out', out, '--dataset', join(dir, 'ds-file'), '--config', config, '--json']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const samples = JSON.parse(fromFile.stdout).samples as number;
    assert.ok(samples > 2, `the test needs more than 2 samples, got ${samples}`);
    const shardsOf = (stdout: string) => (JSON.parse(stdout).groups as { shards: number }[]).reduce((a, g) => a + g.shards, 0);
    assert.ok(shardsOf(fromFile.stdout) >= Math.ceil(samples / 2), 'load.shardMaxSamples from the file applies');
    // The extract took --limit 5: the card must not claim every figure of PMC-OA.
    const card = await readFile(join(dir, 'ds-file', 'README.md'), 'utf8');
    assert.match(card, /A selection, not the whole PubMed Central Open Access Subset:\*\* only the first 5 matching articles/);
    const flagWins = await runCli(['load', '--out', out, '--dataset', join(dir, 'ds-flag'), '--config', config, '--shard-max-samples', '1000', '--json']);
    assert.equal(flagWins.code, 0, flagWins.stderr);
    assert.ok(shardsOf(flagWins.stdout) <= 3, 'at most one shard per license group');
    const bad = await runCli(['load', '--out', out, '--shard-max-bytes', '12']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /FLAG_INVALID: --shard-max-bytes 12: /);
    assert.doesNotMatch(bad.stderr, /--shardMaxBytes/);
  });

  test('query --output in an unknown format is a usage error, and writes nothing', async () => {
    const xlsx = join(dir, 'keys.xlsx');
    await assert.rejects(inProcess(['query', join(dir, 'ds-file'), '--where', 'true', '--output', xlsx]), {
      code: 'FLAG_INVALID',
      exitCode: 2,
      message: /^--output: unknown output format; the file name must end in \.txt, \.parquet, \.csv, \.jsonl, \.json/,
    });
    assert.ok(!existsSync(xlsx));
  });

  test('parse prints one JSON line per article and a line per unreadable file', async () => {
    const bad = join(dir, 'bad.xml');
    await writeFile(bad, '<article><front></article>');
    const good = join(dir, 'good.xml');
    await writeFile(good, '<article><front><article-meta><article-id pub-id-type="pmc">123</article-id></article-meta></front></article>');
    // The flags every command takes (README "Using it") are accepted by parse too.
    const r = await runCli(['parse', good, bad, '--json', '--log-level', 'info', '--config', join(repoRoot, 'config/defaults.json')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].pmcid, 'PMC123');
    assert.equal(lines[1].error.code, 'XML_MALFORMED');
    assert.match(r.stderr, /"files":2,"articles":1,"failedFiles":1.*"msg":"parse finished"/);
  });

  test('parse exits 3 when no input could be parsed', async () => {
    const bad = join(dir, 'bad-only.xml');
    await writeFile(bad, '<article><front></article>');
    const r = await runCli(['parse', bad, join(dir, 'no-such.xml')]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /PARSE_FAILED: none of the 2 files could be parsed/);
    assert.equal(r.stdout.trim().split('\n').length, 2, 'every failed file still has its line');
  });
});
