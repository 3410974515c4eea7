/**
 * One manifest reader (issue 7): the same damage to a manifest gives the same code and exit code
 * in every command that reads it. Before, corrupt JSON was "internal error" (exit 1) in enrich and
 * query but MANIFEST_INVALID (exit 3) in load and verify.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../src/config/schema.js';
import { enrichOptionsFromConfig, runEnrich } from '../src/enrich/pubmed.js';
import { ManifestError } from '../src/errors.js';
import { EXTRACT_SCHEMA, EXTRACT_VERSION, extractPaths } from '../src/manifest/extract-manifest.js';
import { testContext } from '../src/pipeline/context.js';
import { QueryOptions, runQuery } from '../src/stages/load/query.js';
import { LoadOptions, runLoad } from '../src/stages/load/run-load.js';
import { runVerify } from '../src/stages/load/verify.js';
import { buildExtractFixture } from './helpers/extract-fixture.js';

let dir: string;
let out: string;
let dataset: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manifest-read-'));
  out = join(dir, 'out');
  await buildExtractFixture(out);
  dataset = (await runLoad(LoadOptions.parse({ outDir: out }), testContext())).datasetDir;
});
after(async () => rm(dir, { recursive: true, force: true }));

const readers = {
  enrich: () => runEnrich(enrichOptionsFromConfig(resolveConfig({ env: {} }), out, {}), testContext()),
  load: () => runLoad(LoadOptions.parse({ outDir: out, datasetDir: join(dir, 'other') }), testContext()),
  verify: () => runVerify(dataset, testContext()),
  query: () => runQuery(QueryOptions.parse({ datasetDir: dataset, where: 'true', output: join(dir, 'keys.txt') }), testContext()),
};

async function codeOf(run: () => Promise<unknown>): Promise<[string, number]> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof ManifestError, String(error));
    return [error.code, error.exitCode];
  }
  assert.fail('expected the manifest to be refused');
}

describe('the same damage, the same answer', () => {
  for (const [damage, text, code] of [
    ['not JSON', '{"schema": "biomedica', 'MANIFEST_INVALID'],
    ['another version', '{"schema": "biomedica.extract", "version": 0}', 'MANIFEST_VERSION'],
    ['the wrong shape', null, 'MANIFEST_INVALID'],
  ] as const) {
    test(`${damage}: ${code} (exit 3) in enrich, load, verify and query`, async () => {
      const extractText = text ?? JSON.stringify({ schema: EXTRACT_SCHEMA, version: EXTRACT_VERSION, units: 'many' });
      const datasetText = text?.replace('biomedica.extract', 'biomedica.load') ?? JSON.stringify({ schema: 'biomedica.load', version: 1, groups: 3 });
      await writeFile(extractPaths(out).manifest, extractText);
      await writeFile(join(dataset, 'manifest.json'), datasetText);
      for (const [name, run] of Object.entries(readers)) assert.deepEqual(await codeOf(run), [code, 3], name);
    });
  }
});
