import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldKinds, SampleJson, SAMPLE_FIELD_DOCS, IndexRow } from '../../manifest/load-manifest.js';
import type { ArticleRecord, FigureRecord, ImageRecord } from '../../manifest/records.js';
import { buildSample, indexRowOf, NO_LABEL } from './sample.js';

const image: ImageRecord = {
  key: 'PMC1_f001',
  href: 'g1',
  mediaName: 'pone-g001.tif',
  file: 'units/u000000/images.tar',
  offset: 512,
  width: 640,
  height: 480,
  bytes: 1234,
  originalFormat: 'tiff',
  originalWidth: 1280,
  originalHeight: 960,
  sha256: 'ab'.repeat(32),
  passThrough: false,
};
const figure: FigureRecord = {
  key: 'PMC1_f001', articleId: 'PMC1', index: 1, id: 'F1', label: 'Figure 1', caption: 'A caption.', graphics: ['g1'],
  citingParagraphs: ['See Figure 1.'], location: 'body', inFigGroup: false, subArticleId: '', kind: 'figure',
  images: [image], status: 'ok', reason: '',
};
const article: ArticleRecord = {
  id: 'PMC1', pmcid: 'PMC1', version: null, pmid: '', doi: '', title: 'T', abstract: 'A', keywords: [], subjects: [],
  journal: 'J', publisher: 'P', pubDate: '2020-05', licenseCode: 'CC BY', licenseGroup: 'commercial', licenseText: '',
  licenseUrl: '', articleType: 'research-article', citation: 'J. 2020', bodyText: 'Body.', referencePmids: [],
  referenceCount: 1, references: ['Smith J. Title. Nature. 2001'], meshTerms: [], figureCount: 1, sourceLocation: '',
  sourceRevision: '', lastUpdated: '',
};

test('a sample has every documented field, typed, never null; article-level text only when denormalized', () => {
  const base = { article, figure, image, imageIndex: 0, label: NO_LABEL, imageSet: ['pone-g001.tif'] };
  const normalized = buildSample({ ...base, layout: 'normalized' });
  const denormalized = buildSample({ ...base, layout: 'denormalized' });
  for (const s of [normalized, denormalized]) {
    SampleJson.parse(s.json);
    assert.deepEqual(Object.keys(s.json).sort(), Object.keys(SAMPLE_FIELD_DOCS).sort());
    assert.ok(!Object.values(s.json).includes(null as never));
  }
  assert.equal(normalized.json.article_text, '');
  assert.deepEqual(normalized.json.image_set, []);
  assert.deepEqual(normalized.json.article_reference_list, []);
  assert.equal(denormalized.json.article_text, 'Body.');
  assert.deepEqual(denormalized.json.image_set, ['pone-g001.tif']);
  assert.deepEqual(denormalized.json.article_reference_list, ['Smith J. Title. Nature. 2001']);
  assert.equal(normalized.json.article_reference_count, 1);
  assert.equal(normalized.json.article_version, -1);
  assert.equal(normalized.json.image_cluster_id, -1);
  assert.deepEqual(normalized.json.image_size, [640, 480]);
  assert.equal(normalized.json.article_date, '2020-05');
  assert.equal(normalized.txt, 'A caption.');
  // Sorted keys: the text does not depend on the order fields were assigned in.
  assert.deepEqual(Object.keys(JSON.parse(normalized.jsonText)), Object.keys(normalized.json).sort());
});

test('the index row is a typed projection of the sample', () => {
  const s = buildSample({ article, figure, image, imageIndex: 0, label: NO_LABEL, imageSet: [], layout: 'normalized' });
  const row = IndexRow.parse(indexRowOf(s, { shard: 'commercial/000000.tar', offset: 1536, sampleBytes: 4096 }));
  assert.equal(row.image_width, 640);
  assert.equal(row.caption, 'A caption.');
  assert.equal(row.json_sha256.length, 64);
  assert.deepEqual(Object.keys(row).sort(), Object.keys(fieldKinds(IndexRow)).sort());
});
