import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestError } from '../errors.js';
import { resolveConfig } from '../config/schema.js';
import { annotationsDir } from '../../test/helpers/corpus.js';
import { editDistance, nearestName, readTaxonomy, resolveTaxonomyPath } from './taxonomy.js';

test('the shipped default is BIOMEDICA\'s released taxonomy, byte for byte: 16 global and 119 local classes', async () => {
  const path = resolveTaxonomyPath(resolveConfig({ env: {} }).annotations.taxonomy);
  const taxonomy = await readTaxonomy(path);
  assert.deepEqual(await readFile(path), await readFile(join(annotationsDir, 'taxonomy_collapsed_and_filtered.json')));
  assert.equal(taxonomy.globals.length, 16);
  assert.equal(taxonomy.localOwners.size, 119);
  assert.deepEqual(taxonomy.localOwners.get('immunoblot'), ['Immuno Assays']);
});

test('nearest valid name: case and spacing first, then edit distance, nothing when far', () => {
  const names = ['bar plot', 'box plot', 'Microscopy', 'line plot'];
  assert.equal(nearestName('Bar  Plot', names), 'bar plot');
  assert.equal(nearestName('microscopy', names), 'Microscopy');
  assert.equal(nearestName('bar plto', names), 'bar plot');
  assert.equal(nearestName('lineplot', names), 'line plot');
  assert.equal(nearestName('sequencing', names), undefined);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
});

test('a taxonomy that is missing, not JSON, or of another shape is a ManifestError with a hint', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'taxonomy-'));
  try {
    await assert.rejects(readTaxonomy(join(dir, 'none.json')), (e: ManifestError) => e.code === 'TAXONOMY_MISSING' && e.exitCode === 3);
    await writeFile(join(dir, 'a.json'), '{"Microscopy": ');
    await assert.rejects(readTaxonomy(join(dir, 'a.json')), (e: ManifestError) => e.code === 'TAXONOMY_INVALID');
    await writeFile(join(dir, 'b.json'), '{"Microscopy": {"Light": ["x"]}}');
    await assert.rejects(readTaxonomy(join(dir, 'b.json')), (e: ManifestError) => e.code === 'TAXONOMY_INVALID' && /shape/.test(e.message) && e.hint !== undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
