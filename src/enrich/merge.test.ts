import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { writeMarker } from '../pipeline/runner.js';
import { sha256, toJsonl, writeFileAtomic } from '../storage/files.js';
import type { ArticleRecord } from '../manifest/records.js';
import { mergePubmed, readPubmedForUnit } from './merge.js';
import { pubmedPaths, pubmedStep, pubmedUnit, type PubmedRecord } from './records.js';

const article = (over: Partial<ArticleRecord> = {}): ArticleRecord => ({
  id: 'PMC1_1', pmcid: 'PMC1', version: 1, pmid: '42', doi: '', title: 'T', abstract: '', keywords: [], subjects: [],
  journal: '', publisher: '', pubDate: '', licenseCode: 'CC BY', licenseGroup: 'commercial', licenseText: '', licenseUrl: '',
  articleType: '', citation: '', bodyText: '', referencePmids: [], referenceCount: 0, references: [], meshTerms: [], figureCount: 0,
  sourceLocation: '', sourceRevision: '', lastUpdated: '', ...over,
});
const pubmed = (over: Partial<PubmedRecord> = {}): PubmedRecord => ({
  articleId: 'PMC1_1', pmid: '42', found: true, meshTerms: ['Humans', 'Mice'], meshHeadings: [], abstract: 'From PubMed.',
  referencePmids: ['7', '8'], ...over,
});

test('MeSH comes from PubMed; the nXML abstract and references win where present', () => {
  assert.deepEqual(mergePubmed(article(), pubmed()).meshTerms, ['Humans', 'Mice']);
  assert.equal(mergePubmed(article(), pubmed()).abstract, 'From PubMed.');
  assert.deepEqual(mergePubmed(article(), pubmed()).referencePmids, ['7', '8']);
  const own = article({ abstract: 'Own.', referencePmids: ['1'] });
  assert.equal(mergePubmed(own, pubmed()).abstract, 'Own.');
  assert.deepEqual(mergePubmed(own, pubmed()).referencePmids, ['1']);
  assert.deepEqual(mergePubmed(article(), pubmed({ found: false })).meshTerms, []);
  assert.deepEqual(mergePubmed(article(), undefined), article());
});

test('records of a unit are used only when made from the articles.jsonl load reads', async () => {
  const out = await mkdtemp(join(tmpdir(), 'biomedica-merge-'));
  try {
    const paths = pubmedPaths(out);
    assert.equal(await readPubmedForUnit(out, 'u000000', 'abc'), undefined, 'no enrichment: nothing merged');
    const text = toJsonl([pubmed()]);
    await writeFileAtomic(paths.unitRecords('u000000'), text);
    const result = { records: 1, withPmid: 1, found: 1, withMesh: 1, sha256: sha256(text) };
    await writeMarker(pubmedStep(out), pubmedUnit('u000000', 'abc'), { result, outputs: { 'pubmed.jsonl': { bytes: text.length, sha256: sha256(text) } } });
    assert.deepEqual((await readPubmedForUnit(out, 'u000000', 'abc'))?.get('PMC1_1')?.meshTerms, ['Humans', 'Mice']);
    assert.equal(await readPubmedForUnit(out, 'u000000', 'other'), undefined, 'a redone unit needs enriching again');
    await writeFile(paths.unitRecords('u000000'), text.replace('Mice', 'Rats'));
    await assert.rejects(readPubmedForUnit(out, 'u000000', 'abc'), { code: 'MANIFEST_MISMATCH' });
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
