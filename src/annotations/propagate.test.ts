/** Propagation with BIOMEDICA's real cluster labels: every one of the 2,000 clusters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { annotationsDir } from '../../test/helpers/corpus.js';
import { TransformLabel } from '../manifest/transform-records.js';
import { NO_LABEL } from '../stages/load/sample.js';
import { parseClusterLabels } from './cluster-labels.js';
import { clusterLabel, inUnlabelledCluster, propagateLabel } from './propagate.js';

// Read with JSON.parse, not our reader: the expectation must not come from the code under test.
const raw = JSON.parse(await readFile(join(annotationsDir, 'cluster_labels.json'), 'utf8')) as Record<string, Record<string, unknown>>;
const labels = parseClusterLabels(JSON.stringify(raw), 'cluster_labels.json');

test('every image of each of the 2,000 released clusters gets that cluster\'s labels, in load\'s schema', () => {
  for (let k = 0; k < 2000; k++) {
    const line = propagateLabel(`PMC1_1_f${k}`, k, labels);
    assert.deepEqual(TransformLabel.parse(line), line);
    const expected = raw[String(k)]!;
    assert.equal(line.clusterId, k);
    assert.equal(line.labelId, String(k));
    assert.equal(line.panelType, expected['panel_type']);
    assert.equal(line.panelSubtype, expected['panel_subtype']);
    assert.deepEqual(line.primaryLabel, expected['global_class']);
    assert.deepEqual(line.secondaryLabel, expected['local_class']);
    assert.equal(inUnlabelledCluster(line), false);
  }
});

test('an unlabelled cluster is explicit: its id, an empty labelId and typed empty labels', () => {
  const partial = { ...labels };
  delete partial['17'];
  partial['18'] = { panel_type: '', panel_subtype: '', global_class: [], local_class: [] };
  for (const k of [17, 18, 2500]) {
    const line = propagateLabel('PMC2_1_f001', k, partial);
    assert.deepEqual(line, { key: 'PMC2_1_f001', clusterId: k, labelId: '', panelType: '', panelSubtype: '', primaryLabel: [], secondaryLabel: [] });
    assert.equal(inUnlabelledCluster(line), true);
  }
  // With no labels imported yet, every clustered image is in an unlabelled cluster.
  assert.equal(inUnlabelledCluster(clusterLabel(3, {})), true);
});

test('an image that was not clustered gets exactly the values load uses for "no transform label"', () => {
  assert.deepEqual(clusterLabel(-1, labels), NO_LABEL);
  assert.equal(inUnlabelledCluster(clusterLabel(-1, labels)), false);
});

test('propagated labels are copies: changing one image\'s arrays leaves the cluster labels alone', () => {
  const a = propagateLabel('PMC3_1_f001', 2, labels);
  a.primaryLabel.push('changed');
  assert.deepEqual(propagateLabel('PMC3_1_f002', 2, labels).primaryLabel, ['Microscopy', 'Plots and Charts', 'Immuno Assays']);
});
