/** Cluster labels read and checked with BIOMEDICA's real released files (../shared/biomedica-annotations). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { annotationsDir } from '../../test/helpers/corpus.js';
import { ManifestError } from '../errors.js';
import { clustersInLabels, formatLabelsReport, parseClusterLabels, repeatedTopLevelKeys, validateClusterLabels, type ClusterLabels } from './cluster-labels.js';
import { readTaxonomy, resolveTaxonomyPath } from './taxonomy.js';

const releasedText = await readFile(join(annotationsDir, 'cluster_labels.json'), 'utf8');
const taxonomy = await readTaxonomy(resolveTaxonomyPath('config/taxonomy/taxonomy_collapsed_and_filtered.json'));
const released = () => parseClusterLabels(releasedText, 'cluster_labels.json');

test('the released labels: 2,000 clusters, every name in the shipped taxonomy, the known quirks as notes', () => {
  const labels = released();
  assert.equal(Object.keys(labels).length, 2000);
  assert.equal(clustersInLabels(labels), 2000);
  const report = validateClusterLabels(labels, taxonomy, { count: 2000, from: 'labels' });
  assert.equal(report.ok, true);
  assert.equal(report.labelled, 2000);
  assert.equal(report.unlabelled.count, 0);
  assert.equal(report.unknown.count, 0);
  assert.equal(report.incomplete.count, 0);
  // Counted independently: clusters with a local class whose global class the cluster does not list.
  const owner = new Map(taxonomy.globals.flatMap((g) => [...taxonomy.localOwners].filter(([, o]) => o.includes(g)).map(([l]) => [l, g] as const)));
  const outside = Object.entries(labels).filter(([, v]) => v.local_class.some((l) => !v.global_class.includes(owner.get(l)!)));
  assert.equal(report.localOutsideGlobal.count, outside.length);
  assert.equal(outside.length, 91);
  assert.deepEqual(report.repeatedClass.examples, ['1330', '1990']);
  assert.deepEqual(labels['0'], { panel_type: 'multiple', panel_subtype: 'single panel', global_class: ['Immuno Assays'], local_class: ['immunoblot'] });
});

test('unknown names are grouped, counted and given their nearest valid name; unlabelled and incomplete clusters are listed', () => {
  const labels: ClusterLabels = released();
  labels['5']!.global_class = ['plots and charts'];
  labels['9']!.local_class = ['bar plto', 'scatter plot'];
  labels['12']!.local_class = ['bar plto'];
  labels['14']!.panel_type = 'Multiple';
  labels['20']!.global_class = ['Quantum Chromodynamics'];
  delete labels['3'];
  delete labels['1999'];
  labels['7'] = { panel_type: '', panel_subtype: '', global_class: [], local_class: [] };
  labels['8']!.local_class = [];
  const report = validateClusterLabels(labels, taxonomy, { count: 2000, from: 'model' });
  assert.equal(report.ok, false);
  assert.deepEqual(
    report.unknown.names.map((u) => [u.field, u.value, u.nearest, u.clusters, u.examples]),
    [
      ['local_class', 'bar plto', 'bar plot', 2, ['9', '12']],
      ['global_class', 'Quantum Chromodynamics', '', 1, ['20']],
      ['global_class', 'plots and charts', 'Plots and Charts', 1, ['5']],
      ['panel_type', 'Multiple', 'multiple', 1, ['14']],
    ],
  );
  assert.equal(report.unknown.count, 5);
  assert.deepEqual(report.unlabelled, { count: 3, examples: ['3', '7', '1999'] });
  assert.deepEqual(report.incomplete.examples, [{ cluster: '8', missing: ['local_class'] }]);
  assert.equal(report.labelled, 1997);
  const text = formatLabelsReport(report, 'x.json');
  assert.match(text, /local_class "bar plto" \(did you mean "bar plot"\?\) in 2 clusters: 9, 12/);
  assert.match(text, /global_class "Quantum Chromodynamics" \(no close valid name\)/);
  assert.match(text, /unlabelled +3 \(3, 7, 1999\)/);
});

test('labels of clusters the fit does not have are errors', () => {
  const report = validateClusterLabels(released(), taxonomy, { count: 1990, from: 'flag' });
  assert.equal(report.ok, false);
  assert.equal(report.outOfRange.count, 10);
  assert.deepEqual(report.outOfRange.examples.slice(0, 2), ['1990', '1991']);
});

test('a file that is not in the format is refused with what is wrong, never read in part', () => {
  const refuse = (text: string, pattern: RegExp) =>
    assert.throws(() => parseClusterLabels(text, 'x.json'), (e: ManifestError) => e.code === 'LABELS_INVALID' && e.exitCode === 3 && pattern.test(e.message));
  refuse('{"0": {"panel_type": "single"', /not JSON/);
  refuse('{"0": {"panel_type": "single", "panel_subtype": "", "global_class": [], "local_classes": []}}', /local_class/);
  refuse('{"07": {"panel_type": "", "panel_subtype": "", "global_class": [], "local_class": []}}', /leading zeros/);
  refuse('{"-1": {"panel_type": "", "panel_subtype": "", "global_class": [], "local_class": []}}', /non-negative/);
  refuse('{"0": {"panel_type": "", "panel_subtype": "", "global_class": "Microscopy", "local_class": []}}', /global_class/);
  const entry = '{"panel_type": "single", "panel_subtype": "", "global_class": ["Maps"], "local_class": ["map"]}';
  refuse(`{"4": ${entry}, "5": ${entry},\n "4": ${entry}}`, /clusters 4 more than once/);
});

test('repeated keys are found only at the top level, with strings and escapes skipped', () => {
  assert.deepEqual(repeatedTopLevelKeys('{"a": {"x": 1, "x": 2}, "b": "\\"a\\"", "c": ["a", "a"]}'), []);
  assert.deepEqual(repeatedTopLevelKeys('{"a": 1, "b": {"a": 1}, "a": 2}'), ['a']);
  assert.deepEqual(repeatedTopLevelKeys(releasedText), []);
});
