import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SampleJson } from '../../manifest/load-manifest.js';
import { LEAD_SAMPLES, LIST_FIELDS, LeadChooser } from './lead.js';

/** A sample whose list fields are all empty except the named ones. */
function sample(...nonEmpty: string[]): SampleJson {
  const json: Record<string, unknown> = {};
  for (const f of LIST_FIELDS) json[f] = nonEmpty.includes(f) ? ['x'] : [];
  return json as SampleJson;
}

test('covers every list field that is ever non-empty, with as few leads as it can, in dataset order', () => {
  const chooser = new LeadChooser<string>();
  const offered = [
    sample(),
    sample('article_keywords'),
    sample('image_context'),
    sample('image_context', 'article_keywords', 'image_primary_label'),
    sample(),
    sample('article_mesh_terms'),
  ];
  offered.forEach((s, i) => chooser.offer(i, s, `s${i}`));
  assert.deepEqual(chooser.choose().map((c) => c.item), ['s3', 's5']);
});

test('nothing non-empty: no leads; too many fields apart: at most LEAD_SAMPLES', () => {
  const none = new LeadChooser<number>();
  none.offer(0, sample(), 0);
  assert.deepEqual(none.choose(), []);

  const spread = new LeadChooser<number>();
  LIST_FIELDS.forEach((f, i) => spread.offer(i, sample(f), i));
  const chosen = spread.choose();
  assert.equal(chosen.length, Math.min(LEAD_SAMPLES, LIST_FIELDS.length));
  assert.deepEqual(chosen.map((c) => c.index), [...chosen.map((c) => c.index)].sort((a, b) => a - b));
});
