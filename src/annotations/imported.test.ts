import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annotationsDir } from '../../test/helpers/corpus.js';
import { ManifestError } from '../errors.js';
import { readClusterLabels, validateClusterLabels } from './cluster-labels.js';
import { formatClusterLabels, importedLabelsPaths, readImportedLabels, writeImportedLabels } from './imported.js';
import { readTaxonomy, resolveTaxonomyPath } from './taxonomy.js';

test('imported labels round-trip, and anything that no longer matches its record is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'imported-'));
  try {
    assert.equal(await readImportedLabels(dir), undefined, 'nothing imported: no labels, not an error');
    const read = await readClusterLabels(join(annotationsDir, 'cluster_labels.json'));
    const taxonomy = await readTaxonomy(resolveTaxonomyPath('config/taxonomy/taxonomy_collapsed_and_filtered.json'));
    const report = validateClusterLabels(read.labels, taxonomy, { count: 2000, from: 'labels' });
    const record = await writeImportedLabels(dir, read.labels, { source: { path: read.path, sha256: read.sha256 }, taxonomy, report });
    const back = await readImportedLabels(dir);
    assert.deepEqual(back?.labels, read.labels);
    assert.deepEqual(back?.record, record);
    assert.equal(record.labelled, 2000);

    const paths = importedLabelsPaths(dir);
    assert.equal(paths.labels, join(dir, 'transform', 'cluster_labels.json'));
    const text = await readFile(paths.labels, 'utf8');
    // BIOMEDICA's field order, one cluster per line, ids in numeric order.
    assert.equal(text.split('\n')[1], '  "0": {"panel_type":"multiple","panel_subtype":"single panel","global_class":["Immuno Assays"],"local_class":["immunoblot"]},');
    assert.equal(text.split('\n')[11]!.slice(0, 8), '  "10": ');
    assert.equal(formatClusterLabels(read.labels), text, 'the same labels always give the same bytes');

    await writeFile(paths.labels, text.replace('"immunoblot"', '"western blot"'));
    await assert.rejects(readImportedLabels(dir), (e: ManifestError) => e.code === 'MANIFEST_MISMATCH' && /annotate import/.test(e.hint ?? ''));
    await rm(paths.labels);
    await assert.rejects(readImportedLabels(dir), (e: ManifestError) => e.code === 'MANIFEST_MISSING');
    await writeFile(paths.record, JSON.stringify({ schema: 'biomedica.annotations.import', version: 99 }));
    await assert.rejects(readImportedLabels(dir), (e: ManifestError) => e.code === 'MANIFEST_VERSION');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
