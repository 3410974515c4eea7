import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listFiles, nxmlDir } from '../../test/helpers/corpus.js';
import { parseArticles } from './parse.js';
import { referenceTexts, referenceTextsOfTree } from './references.js';
import { TEXT, kidsOf, parseXmlDocument, tagOf, textOf, type RawMarkup, type XmlNode } from './xml.js';

const corpusFiles = (dir = nxmlDir): string[] => listFiles(dir);

function refsOf(rel: string): string[] {
  const articles = parseArticles(readFileSync(join(nxmlDir, rel)));
  assert.equal(articles.length, 1, rel);
  const article = articles[0]!;
  assert.equal(article.references.length, article.referenceCount, `${rel}: one text per counted ref`);
  return article.references;
}

/** Every ref-list of a document, as raw markup, with the reader of its document. */
function refLists(xml: Buffer | string): { markup: string; raw: RawMarkup }[] {
  const document = parseXmlDocument(xml);
  const lists: { markup: string; raw: RawMarkup }[] = [];
  const visit = (nodes: readonly XmlNode[]): void => {
    for (const node of nodes) {
      const tag = tagOf(node);
      if (tag === TEXT) continue;
      if (tag === 'ref-list') lists.push({ markup: textOf(kidsOf(node, tag)[0] ?? {}), raw: document.raw });
      else visit(kidsOf(node, tag));
    }
  };
  visit(document.tree);
  return lists;
}

/** The references of a small synthetic article whose back holds `refList`; the tree reader must agree. */
function refsOfXml(refList: string, prolog = ''): string[] {
  const xml = `${prolog}<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta/></front><back>${refList}</back></article>`;
  const references = parseArticles(xml)[0]!.references;
  const fromTree: string[] = [];
  for (const { markup, raw } of refLists(xml)) referenceTextsOfTree(raw.parse(markup), fromTree);
  assert.deepEqual(references, fromTree, 'the tree reader gives the same texts');
  return references;
}

describe('reference texts of real articles, checked by hand against the XML', () => {
  test('element-citation fields are joined with ". ", names with ", ", pages with "–" (PMC nxml, Sci Rep)', () => {
    const refs = refsOf('tidypmc/PMC6385181.xml');
    assert.equal(refs.length, 53);
    assert.equal(refs[0], 'Prentice MB, Rahalison L. Plague. Lancet Lond. Engl. 2007. 369. 1196–1207. doi:10.1016/S0140-6736(07)60566-2');
    assert.equal(refs[1], 'Bertherat E. Plague around the world, 2010–2015. Wkly. Epidemiol. Rec. 2016. 91. 89–104. pmid:26922822');
    // The third ref is a mixed-citation: its own punctuation is kept, the label "3." left out.
    assert.equal(
      refs[2],
      'Tsuzuki, S. et al. Dynamics of the pneumonic plague epidemic in Madagascar, August to October 2017. Euro Surveill. Bull. Eur. Sur Mal. Transm. Eur. Commun. Dis. Bull. 22 (2017).',
    );
  });

  test('eLife element-citation: year before title; nlm-citation of PLOS: a title ending in "?" takes no period', () => {
    assert.equal(
      refsOf('elife_tools/elife02304.xml')[0],
      'Adams PD, Afonine PV, Bunkóczi G, Chen VB, Davis IW, Echols N, Headd JJ, Hung LW, Kapral GJ, Grosse-Kunstleve RW, McCoy AJ, Moriarty NW, Oeffner R, Read RJ, Richardson DC, Richardson JS, Terwilliger TC, Zwart PH. 2010. PHENIX: a comprehensive Python-based system for macromolecular structure solution. Acta Crystallographica Section D Biological Crystallography. 66. 213–221. doi:10.1107/S0907444909052925',
    );
    assert.equal(
      refsOf('plos/journal.pmed.0020124.xml')[0],
      'Ioannidis JP, Haidich AB, Lau J. Any casualties in the clash of randomised and observational evidence? BMJ. 2001. 322. 879–880',
    );
  });

  test('mixed-citation: the publisher text between fields is kept, and names written with nothing between surname and initials get a space', () => {
    // <name><surname>Anisimov</surname><given-names>AP</given-names></name>, …; <year>2004</year><month>4</month>;
    assert.equal(
      refsOf('tidypmc/PMC6095483.xml')[1],
      'Anisimov AP, Lindler LE, Pier GB. Intraspecific diversity of Yersinia pestis. Clin Microbiol Rev. 2004 4;17(2):434–64. Review. Erratum in: Clin Microbiol Rev. 2004 Jul;17(3):695. PubMed Central PMCID: PMC387406. 10.1128/CMR.17.2.434-464.2004 15084509',
    );
    // <string-name><surname>Altman</surname>, <given-names>D.G.</given-names></string-name>: the comma is the publisher's.
    assert.equal(
      refsOf('elife_bot/95901-v1-meca__content__24301711.xml')[2],
      'Altman, D.G., Bland, J.M., 2003. Interaction revisited: the difference between two estimates. BMJ 326, 219. DOI: 10.1136/bmj.326.7382.219',
    );
  });

  test('BMC: names straight in a field-only mixed-citation, a suffix, a processing instruction, a comment with a link', () => {
    const refs = refsOf('norma_contentmine/PMC4059091.xml');
    assert.equal(
      refs[0],
      'Oliveira-Ferreira J, Lacerda MV, Brasil P, Ladislau JL, Tauil PL, Daniel-Ribeiro CT. Malaria in Brazil: an overview. Malar J. 2010. 9. 115. doi:10.1186/1475-2875-9-115. pmid:20433744',
    );
    assert.equal(refs[1], 'World Health Organization. World Malaria Report. 2013. [http://www.who.int/malaria/publications/world_malaria_report_2013/en/]. Accessed 31 March 2014');
    assert.match(refs[47]!, /, Mello MH, Matos MO Jr, Mucci LF,/);
  });

  test('SciELO writes each work as a mixed-citation and an element-citation: the mixed one is kept', () => {
    const refs = refsOf('scielo/samples__0034-8910-rsp-48-2-0240.xml');
    assert.equal(refs.length, 29);
    // The leading '. ' is in the source's mixed-citation.
    assert.equal(
      refs[0],
      '. Amorim VMSL, Barros MBA, César CLG, Carandina L, Goldbaum M. Fatores associados à não realização do exame de Papanicolaou: um estudo de base populacional no Município de Campinas, São Paulo, Brasil. Cad Saude Publica. 2006;22(11):2329-38. DOI:10.1590/S0102-311X2006001100007',
    );
  });

  test('a reference holding MathML is read as a tree: formula characters only (PLOS ONE)', () => {
    assert.equal(
      refsOf('plos/journal.pone.0119074.xml')[17],
      'Using the form of the negative binomial with parameters r and p, where E(X)=r(1−p)p and Var(X)=r(1−p)p2.',
    );
  });

  test('an article with no ref-list has no references', () => {
    assert.deepEqual(refsOf('plos/journal.pbio.0030408.xml'), []);
  });
});

describe('reference texts: the rule on small cases', () => {
  test('citation-alternatives keeps the mixed-citation; <x> punctuation is text, and the citation is not a field list', () => {
    assert.deepEqual(
      refsOfXml(
        '<ref-list><ref id="r1"><citation-alternatives><element-citation><source>A</source><year>1</year></element-citation>' +
          '<mixed-citation><source>A</source> (<year>1</year>)</mixed-citation></citation-alternatives></ref>' +
          '<ref id="r2"><element-citation><person-group><name><surname>Lee</surname><given-names>K</given-names></name></person-group><x>: </x>' +
          '<article-title>T</article-title><source>S</source><pub-id pub-id-type="doi">10.1/x</pub-id></element-citation></ref></ref-list>',
      ),
      ['A (1)', 'Lee K: T S 10.1/x'],
    );
  });

  test('a ref with no citation gives its own text, label left out; empty etal and links; several works in one ref', () => {
    assert.deepEqual(
      refsOfXml(
        '<ref-list><title>References</title><ref id="a"><label>1</label>Plain <italic>text</italic> reference.</ref>' +
          '<ref id="b"><element-citation><person-group><name><surname>Roe</surname><given-names>R</given-names></name><etal/></person-group>' +
          '<source>Web</source><ext-link xlink:href="https://e.org/?a&amp;b"/></element-citation></ref>' +
          '<ref id="c"><mixed-citation>One.</mixed-citation><mixed-citation>Two.</mixed-citation></ref><ref id="d"/></ref-list>',
      ),
      ['Plain text reference.', 'Roe R, et al. Web. https://e.org/?a&b', 'One. Two.', ''],
    );
  });

  test('entities declared by the document, CDATA, comments, a ">" in an attribute, nested ref-lists', () => {
    const prolog = '<?xml version="1.0"?><!DOCTYPE article [<!ENTITY jn "J Biol">]>';
    assert.deepEqual(
      refsOfXml(
        '<ref-list><ref-list><ref id="a"><mixed-citation specific-use="a>b"><!-- x -->Doe &amp; Roe. <source>&jn;</source> <![CDATA[<1>]]>&#x2013;2.</mixed-citation></ref></ref-list>' +
          '<ref id="b"><mixed-citation><source>S</source></mixed-citation></ref></ref-list>',
        prolog,
      ),
      ['Doe & Roe. J Biol <1>–2.', 'S'],
    );
  });

  test('references of sub-articles are not the article\'s', () => {
    const xml =
      '<article><front><article-meta/></front><back><ref-list><ref id="a"><mixed-citation>Main.</mixed-citation></ref></ref-list></back>' +
      '<sub-article id="s"><back><ref-list><ref id="b"><mixed-citation>Reply.</mixed-citation></ref></ref-list></back></sub-article></article>';
    const [article] = parseArticles(xml);
    assert.deepEqual(article!.references, ['Main.']);
    assert.equal(article!.referenceCount, 1);
  });
});

describe('the two readers agree', () => {
  test('on every reference of the corpus, the streaming reader gives what the tree reader gives', () => {
    const lists: { rel: string; markup: string; raw: RawMarkup }[] = [];
    for (const path of corpusFiles()) {
      let found;
      try {
        found = refLists(readFileSync(path));
      } catch {
        continue; // malformed files are parse.test.ts's business
      }
      for (const list of found) lists.push({ rel: relative(nxmlDir, path), ...list });
    }
    let refs = 0;
    for (const { rel, markup, raw } of lists) {
      const streamed: string[] = [];
      const fromTree: string[] = [];
      referenceTexts(markup, raw, streamed);
      referenceTextsOfTree(raw.parse(markup), fromTree);
      assert.deepEqual(streamed, fromTree, rel);
      refs += streamed.length;
    }
    assert.ok(refs > 10_000, `${refs} references compared`);
  });
});
