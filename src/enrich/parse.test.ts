import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { parsePubmedArticle, splitPubmedArticles } from './parse.js';

const pubmed = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/corpus/pubmed');
const real = (name: string) => readFileSync(join(pubmed, name), 'utf8');

test('an answer is split into raw PubmedArticles keyed by PMID; book articles are skipped', () => {
  const a = real('pubmed_client_26846451.xml');
  const b = real('pubmed-29768149.xml');
  const body = (s: string) => s.slice(s.indexOf('<PubmedArticle>'), s.lastIndexOf('</PubmedArticle>') + 16);
  const answer = `<PubmedArticleSet>${body(a)}<PubmedBookArticle><BookDocument><PMID Version="1">1</PMID></BookDocument></PubmedBookArticle>\n${body(b)}</PubmedArticleSet>`;
  const parts = splitPubmedArticles(answer);
  assert.deepEqual(parts.map((p) => p.pmid), ['26846451', '29768149']);
  assert.equal(parts[0]!.xml, body(a));
});

test('MeSH headings with qualifiers and major flags, references, labelled abstract', () => {
  const p = parsePubmedArticle(splitPubmedArticles(real('pubmed_client_26846451.xml'))[0]!.xml);
  assert.equal(p.pmid, '26846451');
  assert.deepEqual(p.meshTerms.slice(0, 3), ['Adult', 'Bacteria', 'Bacteriuria']);
  assert.deepEqual(p.meshHeadings[1], {
    descriptor: 'Bacteria',
    descriptorUi: 'D001419',
    major: false,
    qualifiers: [
      { name: 'classification', ui: 'Q000145', major: false },
      { name: 'genetics', ui: 'Q000235', major: true },
      { name: 'metabolism', ui: 'Q000378', major: true },
    ],
  });
  assert.ok(p.referencePmids.length > 10);
  assert.deepEqual(p.referencePmids.slice(0, 3), ['24390916', '24625252', '18568457']);

  const nejm = parsePubmedArticle(splitPubmedArticles(real('pubmed-29768149.xml'))[0]!.xml);
  const sections = nejm.abstract.split('\n');
  assert.deepEqual(sections.map((s) => s.split(':')[0]), ['BACKGROUND', 'METHODS', 'RESULTS', 'CONCLUSIONS']);
  // &#946; decoded, inline <sub> kept in place.
  assert.match(sections[0]!, /fast-acting β 2-agonist may be an alternative/);
  assert.match(sections[1]!, /200 μg of budesonide/);
});

test('every real record parses; ones without MeSH give none', () => {
  for (const name of readdirSync(pubmed).filter((n) => n.endsWith('.xml'))) {
    const text = real(name);
    const [raw] = splitPubmedArticles(text);
    const p = parsePubmedArticle(raw!.xml);
    assert.equal(p.pmid, raw!.pmid);
    assert.equal(p.abstract.length > 50, text.includes('<Abstract>'), name);
    assert.equal(p.meshTerms.length > 0, text.includes('<MeshHeadingList>'), name);
  }
  assert.deepEqual(parsePubmedArticle(splitPubmedArticles(real('pubmed_client_29540945.xml'))[0]!.xml).meshTerms, []);
  const medline = gunzipSync(readFileSync(join(pubmed, 'test_current_medline.xml.gz'))).toString('utf8');
  const [first] = splitPubmedArticles(medline);
  assert.ok(first && parsePubmedArticle(first.xml).pmid === first.pmid);
});
