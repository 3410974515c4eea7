/**
 * JATS / NLM article XML → ParsedArticle records (article metadata, figures, captions, context).
 *
 * Decisions, in one place:
 *
 * - Wrappers. Every <article> in the document is parsed, wherever it sits: bare, inside an OAI-PMH
 *   GetRecord/ListRecords envelope, a <pmc-articleset>, or an <articles> file holding several. A
 *   document with no <article> (e.g. a file of sub-articles alone) fails with XML_NO_ARTICLE.
 * - Figures are <fig> elements. A <fig-group> is not a figure itself; its child figs are, marked
 *   `inFigGroup` (the group's own caption is not copied to them). A fig with no graphic of its own
 *   in a fig-group that holds graphics outside its figs gets those graphics: SciELO writes one fig
 *   per language and the image once, beside them. Index is 1-based in document order over the
 *   main article first, then over its sub-articles, so adding a sub-article never renumbers the
 *   main article's figures.
 * - Table images: a <table-wrap> is a figure of kind 'table-image' when it holds a <graphic>
 *   (outside its caption, footnotes and formulas) and no <table> element at all. A table-wrap with
 *   a real <table>, even one with an image alternative, is a table, not an image. BIOMEDICA keeps
 *   tables-as-images as its "Tables" concept; load decides whether to keep them.
 * - Not figures: <inline-graphic> (icons, symbols in text), graphics inside <disp-formula> or
 *   <inline-formula> (equations set as images), and <graphic> elements outside any fig or
 *   table-wrap (scanned pages, logos, loose images).
 * - Graphics: every <graphic> in the fig except those in its caption and formulas, with
 *   `alternative` set inside <alternatives> (one image in several renditions). A graphic with no
 *   href is kept with href '' so the figure still shows it had one.
 * - Sub-articles (<sub-article>, and the older <response>): their figures are included with
 *   `subArticleId` set ('sub-article-N', counted in document order, when it has no @id) and
 *   location 'sub-article'. Decision letters and author responses often repeat the main article's
 *   images and translations repeat all of them; extract keeps them marked so load can choose.
 *   Article metadata and references come from the main article only.
 * - Location is the innermost of 'boxed-text' and 'app', else the top-level part ('front',
 *   'body', 'back', 'floats-group'); anything in a sub-article is 'sub-article'. A figure in
 *   <front> is a graphical abstract.
 * - Citing paragraphs: the text of every <p> holding an <xref> whose @rid (an id list) names the
 *   figure, or names the <fig-group> that holds it. Any ref-type counts: ids are unique in a
 *   document, and publishers mislabel ref-type. Each xref belongs to its innermost <p>; paragraphs
 *   inside captions are not context. Dangling rids are ignored. A paragraph text appears once per
 *   figure (eLife replies quote the reviewer's paragraph verbatim), in document order; it leaves
 *   out floats nested in the paragraph (eLife puts figs inside <p>).
 * - pubDate comes from <pub-date> in article-meta only (never from a citation string), picked by
 *   this order: epub (pub-type="epub", or date-type="pub" with publication-format="electronic"),
 *   then date-type="pub" of no stated format, then ppub (or print format), then epub-ppub, then
 *   collection, then any other, then pmc-release and date-type="update" (dates of PMC's copy or
 *   of a revision, not of publication). Within one rank the most precise date wins, then document
 *   order. @iso-8601-date is used when present; a season gives the year alone.
 * - License: the first <license> in article-meta/permissions; its URL from @xlink:href, else an
 *   <ali:license_ref>, else the first link in its text. A bare <copyright-statement> is not a
 *   licence: both fields stay '' (the source's licence code decides the licence group anyway).
 * - References: `references` holds one string per <ref> of the main article's ref-list(s), nested
 *   ones included, in document order (as many as referenceCount, on every corpus file). A ref's
 *   text is that of its citation element (element-citation, mixed-citation, nlm-citation, or NLM
 *   2.x citation);
 *   of a <citation-alternatives>, the mixed-citation, else the first. A ref holding mixed-citations
 *   and element-citations both (SciELO writes each work twice) keeps the mixed ones; several
 *   citations otherwise (one ref for several works) are joined by a space. A ref with no citation
 *   element gives its own text, <label> left out; labels are numbers the list order already says.
 *   Citation text is flattened as captions are (inline markup adds no space), with one addition:
 *   element-citation's children are fields with nothing between them, so where two fields meet
 *   with no text but whitespace between them a separator is written:
 *     - in a citation, '. ' ('Smith J. Title. Nature. 2001'), nothing but the space when the first
 *       field ends in . ? or !, '–' from fpage to lpage, and ', ' between two names;
 *     - in a <person-group>, ', ' ('Smith J, Jones A'); in a <name> or <string-name>, ' '
 *       (surname and given names: 'Smith J'). Both apply in mixed citations too, which often
 *       write <surname>Smith</surname><given-names>J</given-names> with nothing between.
 *   A citation whose own text holds anything but whitespace (a mixed citation's punctuation, or an
 *   <x>) keeps that text and writes a single space, not '. ', where two fields meet with nothing
 *   between. Formatting elements (italic, sup, x...) are text, never fields. In a citation of
 *   fields only, a <pub-id> reads 'doi:10.1/x' or 'pmid:123' (a bare number says nothing), an
 *   empty <etal/> reads 'et al.', and an empty <ext-link>/<uri> gives its href. Example: eLife's
 *   element-citation gives 'Ahmed I, Yokota A, Fujiwara T. 2007. Chimaereicella boritolerans…
 *   International journal of systematic and evolutionary microbiology. 57. 986–92.
 *   doi:10.1099/ijs.0.64728-0'; PLOS's mixed-citation keeps its own punctuation. The ref-list stays
 *   raw markup in the tree and is read by ./references.ts in one pass.
 * - Text: see ./text.ts (inline markup adds no space, blocks are separated by one, MathML reduced
 *   to its characters, tables give no text). bodyText leaves out figures, tables, supplementary
 *   material and reference lists (records of their own) and joins titles and paragraphs with
 *   blank lines. abstract joins every non-graphical <abstract> with blank lines.
 */
import { readFile } from 'node:fs/promises';
import { ItemError, toFailure } from '../errors.js';
import type { FigureKind, FigureLocation, ParsedArticle, ParsedFigure, ParsedGraphic, ParsedLicense } from './types.js';
import { BlockText, FLOAT_TAGS, flatten, idList, lineText } from './text.js';
import { referenceTexts } from './references.js';
import { TEXT, attrOf, childEl, childEls, childKids, kidsOf, parseXmlDocument, tagOf, textOf, type RawMarkup, type XmlNode } from './xml.js';

export { MAX_ELEMENT_DEPTH, MAX_XML_BYTES } from './xml.js';

/** Every article of an XML document, in document order. Throws ItemError (XML_*) on bad input. */
export function parseArticles(xml: Buffer | string): ParsedArticle[] {
  const { tree, raw } = parseXmlDocument(xml);
  const articles: XmlNode[] = [];
  findArticles(tree, articles);
  if (articles.length === 0) {
    throw new ItemError('XML_NO_ARTICLE', 'no <article> element in the document', {
      hint: 'the file is XML but not a JATS article (or holds only sub-articles)',
    });
  }
  return articles.map((article) => parseArticle(article, raw));
}

function findArticles(nodes: readonly XmlNode[], out: XmlNode[]): void {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT) continue;
    if (tag === 'article') out.push(node);
    else findArticles(kidsOf(node, tag), out);
  }
}

/** One <article> element → its record; `raw` reads its unparsed elements (the document's, from parseXmlDocument). */
export function parseArticle(article: XmlNode, raw: RawMarkup): ParsedArticle {
  const kids = kidsOf(article, 'article');
  const front = childKids(kids, 'front');
  const meta = childKids(front, 'article-meta');
  const journalMeta = childKids(front, 'journal-meta');
  const ids = articleIds(meta);
  const walk = walkArticle(kids, raw);
  return {
    pmcid: ids.pmcid,
    pmid: ids.pmid,
    doi: ids.doi,
    title: lineText(childKids(childKids(meta, 'title-group'), 'article-title')),
    abstract: abstractText(meta),
    keywords: keywords(meta),
    subjects: subjects(meta),
    journal: journalTitle(journalMeta),
    publisher: lineText(childKids(childKids(journalMeta, 'publisher'), 'publisher-name')),
    pubDate: pubDate(meta),
    license: license(meta),
    articleType: attrOf(article, 'article-type').trim(),
    bodyText: bodyText(kids),
    referencePmids: walk.referencePmids,
    referenceCount: walk.referenceCount,
    references: walk.references,
    figures: walk.figures,
  };
}

// ---------------------------------------------------------------------------------------------
// Identifiers and metadata

interface ArticleIds {
  pmcid: string;
  pmid: string;
  doi: string;
}

/**
 * pub-id-type values naming the PMC id, best first. 'pmc-uid' is the bare number in OAI-PMH records;
 * 'accession' counts only when it reads PMCn (elsewhere it can be any database's accession).
 */
const PMCID_TYPES = ['pmcid', 'pmc', 'pmc-uid', 'accession'];

function articleIds(meta: readonly XmlNode[]): ArticleIds {
  let pmcid = '';
  let pmcRank = PMCID_TYPES.length;
  let pmid = '';
  let doi = '';
  for (const node of childEls(meta, 'article-id')) {
    const type = attrOf(node, 'pub-id-type').trim().toLowerCase();
    const value = lineText(kidsOf(node, 'article-id'));
    const rank = PMCID_TYPES.indexOf(type);
    if (rank !== -1 && rank < pmcRank) {
      const normal = type === 'accession' && !/^PMC/i.test(value) ? '' : normalisePmcid(value);
      if (normal !== '') {
        pmcid = normal;
        pmcRank = rank;
      }
    } else if (type === 'pmid' && pmid === '' && /^\d+$/.test(value)) {
      pmid = value;
    } else if (type === 'doi' && doi === '') {
      doi = normaliseDoi(value);
    }
  }
  return { pmcid, pmid, doi };
}

/** 'PMC123', 'pmc123', '123' → 'PMC123'; anything else → ''. */
export function normalisePmcid(value: string): string {
  const match = /^(?:PMC)?(\d+)$/i.exec(value.trim());
  return match ? `PMC${match[1]}` : '';
}

function normaliseDoi(value: string): string {
  return value.trim().replace(/^(?:doi:\s*|https?:\/\/(?:dx\.)?doi\.org\/)/i, '');
}

function abstractText(meta: readonly XmlNode[]): string {
  const parts: string[] = [];
  for (const node of childEls(meta, 'abstract')) {
    // Graphical abstracts are an image with a caption-like blurb, not the article's summary.
    if (attrOf(node, 'abstract-type') === 'graphical') continue;
    const text = lineText(kidsOf(node, 'abstract'), FLOAT_TAGS);
    if (text !== '') parts.push(text);
  }
  return parts.join('\n\n');
}

function keywords(meta: readonly XmlNode[]): string[] {
  const out = new Set<string>();
  for (const group of childEls(meta, 'kwd-group')) {
    for (const kwd of childEls(kidsOf(group, 'kwd-group'), 'kwd')) {
      const text = lineText(kidsOf(kwd, 'kwd'));
      if (text !== '') out.add(text);
    }
  }
  return [...out];
}

function subjects(meta: readonly XmlNode[]): string[] {
  const out = new Set<string>();
  const visit = (groups: readonly XmlNode[]): void => {
    for (const group of groups) {
      const kids = kidsOf(group, 'subj-group');
      for (const subject of childEls(kids, 'subject')) {
        const text = lineText(kidsOf(subject, 'subject'));
        if (text !== '') out.add(text);
      }
      visit(childEls(kids, 'subj-group'));
    }
  };
  visit(childEls(childKids(meta, 'article-categories'), 'subj-group'));
  return [...out];
}

/** Journal ids by preference when no title is given. */
const JOURNAL_ID_TYPES = ['nlm-ta', 'iso-abbrev', 'publisher-id'];

function journalTitle(journalMeta: readonly XmlNode[]): string {
  for (const group of childEls(journalMeta, 'journal-title-group')) {
    const title = childEl(kidsOf(group, 'journal-title-group'), 'journal-title');
    const text = title ? lineText(kidsOf(title, 'journal-title')) : '';
    if (text !== '') return text;
  }
  const title = childEl(journalMeta, 'journal-title'); // NLM 2.x puts it straight in journal-meta
  const text = title ? lineText(kidsOf(title, 'journal-title')) : '';
  if (text !== '') return text;
  const journalIds = childEls(journalMeta, 'journal-id');
  for (const type of JOURNAL_ID_TYPES) {
    const id = journalIds.find((node) => attrOf(node, 'journal-id-type') === type);
    if (id) return lineText(kidsOf(id, 'journal-id'));
  }
  return journalIds[0] ? lineText(kidsOf(journalIds[0], 'journal-id')) : '';
}

// ---------------------------------------------------------------------------------------------
// Publication date

const MONTHS: Readonly<Record<string, number>> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
};

/** Rank of a <pub-date> (lower is better); see the header comment. */
function pubDateRank(node: XmlNode): number {
  const pubType = attrOf(node, 'pub-type').trim().toLowerCase();
  const dateType = attrOf(node, 'date-type').trim().toLowerCase();
  const format = attrOf(node, 'publication-format').trim().toLowerCase();
  const isPub = dateType === 'pub' || dateType === 'publication' || pubType === 'pub';
  if (pubType === 'epub' || (isPub && format === 'electronic')) return 0;
  if (isPub && format === '') return 1;
  if (pubType === 'ppub' || (isPub && format === 'print')) return 2;
  if (pubType === 'epub-ppub') return 3;
  if (pubType === 'collection' || dateType === 'collection') return 4;
  if (pubType === 'pmc-release' || dateType === 'update' || pubType === 'update') return 6;
  return 5;
}

function pubDate(meta: readonly XmlNode[]): string {
  let best = '';
  let bestRank = Number.POSITIVE_INFINITY;
  for (const node of childEls(meta, 'pub-date')) {
    const date = dateOf(node);
    if (date === '') continue;
    const rank = pubDateRank(node);
    if (rank < bestRank || (rank === bestRank && date.length > best.length)) {
      best = date;
      bestRank = rank;
    }
  }
  return best;
}

/** A <pub-date> (or any JATS date) → 'YYYY-MM-DD' | 'YYYY-MM' | 'YYYY' | ''. */
export function dateOf(node: XmlNode): string {
  const iso = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(attrOf(node, 'iso-8601-date').trim());
  if (iso?.[1] && iso[1] !== '0000') return formatDate(iso[1], Number(iso[2] ?? 0), Number(iso[3] ?? 0));
  const kids = kidsOf(node, tagOf(node));
  const field = (name: string): string => {
    const el = childEl(kids, name);
    return el ? lineText(kidsOf(el, name)) : '';
  };
  const year = field('year');
  if (!/^\d{4}$/.test(year)) return '';
  const monthText = field('month');
  const month = /^\d{1,2}$/.test(monthText) ? Number(monthText) : (MONTHS[monthText.slice(0, 3).toLowerCase()] ?? 0);
  const dayText = field('day');
  const day = /^\d{1,2}$/.test(dayText) ? Number(dayText) : 0;
  return formatDate(year, month, day);
}

function formatDate(year: string, month: number, day: number): string {
  if (!(month >= 1 && month <= 12)) return year;
  const mm = String(month).padStart(2, '0');
  if (!(day >= 1 && day <= 31)) return `${year}-${mm}`;
  return `${year}-${mm}-${String(day).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// License

function license(meta: readonly XmlNode[]): ParsedLicense {
  const permissions = childKids(meta, 'permissions');
  const node = childEl(permissions, 'license');
  const licenseKids = node ? kidsOf(node, 'license') : [];
  const text = lineText(licenseKids, LICENSE_REF_TAGS);
  let url = node ? attrOf(node, 'href').trim() : '';
  if (url === '') url = licenseRef(licenseKids) || licenseRef(permissions);
  if (url === '') url = firstLinkHref(licenseKids);
  return { text, url };
}

const LICENSE_REF_TAGS: ReadonlySet<string> = new Set(['license_ref']);

function licenseRef(kids: readonly XmlNode[]): string {
  const ref = childEl(kids, 'license_ref');
  return ref ? lineText(kidsOf(ref, 'license_ref')) : '';
}

/** The first ext-link/uri href in a licence paragraph (older PMC files state the URL only there). */
function firstLinkHref(nodes: readonly XmlNode[]): string {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT) continue;
    if (tag === 'ext-link' || tag === 'uri') {
      const href = attrOf(node, 'href').trim() || lineText(kidsOf(node, tag));
      if (href !== '') return href;
    }
    const found = firstLinkHref(kidsOf(node, tag));
    if (found !== '') return found;
  }
  return '';
}

// ---------------------------------------------------------------------------------------------
// Body text

function bodyText(articleKids: readonly XmlNode[]): string {
  const body = childEl(articleKids, 'body');
  if (!body) return '';
  const sink = new BlockText();
  flatten(kidsOf(body, 'body'), sink, FLOAT_TAGS);
  return sink.toString();
}

// ---------------------------------------------------------------------------------------------
// The walk: figures, citing paragraphs, references

/** What the walk knows about where it is; replaced (not mutated) when entering a container. */
interface Place {
  readonly location: FigureLocation;
  readonly subArticleId: string;
  readonly inFigGroup: boolean;
  /** Ids of the fig-groups around this point, outermost first. */
  readonly figGroupIds: readonly string[];
  readonly inCaption: boolean;
  /** Graphics a fig-group holds outside its figs (SciELO puts one image beside per-language figs). */
  readonly groupGraphics: readonly ParsedGraphic[];
}

interface FigureDraft {
  figure: ParsedFigure;
  /** Paragraph texts already added: one paragraph cited twice, or quoted again in a reply, counts once. */
  paragraphs: Set<string>;
}

interface OpenParagraph {
  node: XmlNode;
  rids: string[] | null;
}

interface WalkResult {
  figures: ParsedFigure[];
  referencePmids: string[];
  referenceCount: number;
  references: string[];
}

const TOP_LOCATIONS: ReadonlySet<string> = new Set(['front', 'body', 'back', 'floats-group']);
/** Subtrees that never hold a figure or a paragraph: the walk does not enter them. */
const WALK_SKIP_TAGS: ReadonlySet<string> = new Set(['math', 'tex-math', 'contrib-group', 'aff', 'history']);

function walkArticle(articleKids: readonly XmlNode[], raw: RawMarkup): WalkResult {
  const main: FigureDraft[] = [];
  const sub: FigureDraft[] = [];
  const byId = new Map<string, FigureDraft[]>();
  const cited: { node: XmlNode; rids: string[] }[] = [];
  const openParagraphs: OpenParagraph[] = [];
  const pmids: string[] = [];
  const seenPmids = new Set<string>();
  const references: string[] = [];
  let referenceCount = 0;
  let subArticleCount = 0;

  const addId = (id: string, draft: FigureDraft): void => {
    if (id === '') return;
    const list = byId.get(id);
    if (list) list.push(draft);
    else byId.set(id, [draft]);
  };

  const addFigure = (node: XmlNode, tag: string, kind: FigureKind, graphics: ParsedGraphic[], place: Place): void => {
    const kids = kidsOf(node, tag);
    const label = childEl(kids, 'label');
    const caption = childEl(kids, 'caption');
    const draft: FigureDraft = {
      figure: {
        index: 0,
        id: attrOf(node, 'id').trim(),
        label: label ? lineText(kidsOf(label, 'label')) : '',
        caption: caption ? lineText(kidsOf(caption, 'caption')) : '',
        graphics,
        citingParagraphs: [],
        location: place.location,
        inFigGroup: place.inFigGroup,
        subArticleId: place.subArticleId,
        kind,
      },
      paragraphs: new Set(),
    };
    (place.subArticleId === '' ? main : sub).push(draft);
    addId(draft.figure.id, draft);
    for (const groupId of place.figGroupIds) addId(groupId, draft);
  };

  const visit = (nodes: readonly XmlNode[], place: Place): void => {
    for (const node of nodes) {
      const tag = tagOf(node);
      if (tag === TEXT || WALK_SKIP_TAGS.has(tag)) continue;
      const kids = kidsOf(node, tag);
      let next = place;
      switch (tag) {
        case 'fig': {
          const own = graphicsOf(kids, false);
          const graphics = own.length > 0 ? own : place.groupGraphics.map((g) => ({ ...g }));
          addFigure(node, tag, 'figure', graphics, place);
          break;
        }
        case 'table-wrap': {
          const scan = { hasTable: false };
          const graphics = tableGraphics(kids, false, scan);
          if (!scan.hasTable && graphics.length > 0) addFigure(node, tag, 'table-image', graphics, place);
          break;
        }
        case 'fig-group': {
          const id = attrOf(node, 'id').trim();
          const own = graphicsOf(kids, false);
          next = {
            ...place,
            inFigGroup: true,
            figGroupIds: id === '' ? place.figGroupIds : [...place.figGroupIds, id],
            groupGraphics: own.length > 0 ? own : place.groupGraphics,
          };
          break;
        }
        case 'caption':
          next = { ...place, inCaption: true };
          break;
        case 'sub-article':
        case 'response':
          subArticleCount++;
          next = { ...place, location: 'sub-article', subArticleId: attrOf(node, 'id').trim() || `sub-article-${subArticleCount}` };
          break;
        case 'boxed-text':
        case 'app':
          if (place.location !== 'sub-article') next = { ...place, location: tag };
          break;
        case 'ref-list':
          // Unparsed (RAW_TAGS): counted, searched and read as markup (see ./references.ts).
          // Sub-articles' references are not the article's.
          if (place.subArticleId === '') {
            const markup = textOf(kids[0] ?? {});
            referenceCount += scanReferences(markup, pmids, seenPmids);
            referenceTexts(markup, raw, references);
          }
          continue;
        case 'xref': {
          const open = openParagraphs[openParagraphs.length - 1];
          if (open && !place.inCaption) {
            const rids = idList(node, 'rid');
            if (rids.length > 0) (open.rids ??= []).push(...rids);
          }
          break;
        }
        default:
          if (TOP_LOCATIONS.has(tag) && place.location !== 'sub-article') next = { ...place, location: tag as FigureLocation };
      }
      if (tag === 'p' && !place.inCaption) {
        const open: OpenParagraph = { node, rids: null };
        openParagraphs.push(open);
        visit(kids, next);
        openParagraphs.pop();
        if (open.rids) cited.push({ node, rids: open.rids });
      } else {
        visit(kids, next);
      }
    }
  };

  visit(articleKids, {
    location: 'body',
    subArticleId: '',
    inFigGroup: false,
    figGroupIds: [],
    inCaption: false,
    groupGraphics: [],
  });

  const drafts = [...main, ...sub];
  drafts.forEach((draft, i) => {
    draft.figure.index = i + 1;
  });

  // Paragraphs are resolved after the walk: floats-group figures come after the text citing them.
  for (const { node, rids } of cited) {
    let text: string | undefined;
    for (const rid of rids) {
      for (const draft of byId.get(rid) ?? []) {
        text ??= lineText(kidsOf(node, 'p'), FLOAT_TAGS);
        if (text === '' || draft.paragraphs.has(text)) continue;
        draft.paragraphs.add(text);
        draft.figure.citingParagraphs.push(text);
      }
    }
  }

  return { figures: drafts.map((draft) => draft.figure), referencePmids: pmids, referenceCount, references };
}

const REF_START = /<ref[\s>/]/g;
const PMID_PUB_ID = /<pub-id\b[^>]*?\bpub-id-type\s*=\s*["']pmid["'][^>]*>\s*(\d+)\s*<\/pub-id>/gi;
const XML_COMMENT = /<!--[\s\S]*?-->/g;

/** Counts the <ref>s of a raw ref-list and adds its new PMIDs, in order. Returns the count. */
function scanReferences(raw: string, pmids: string[], seen: Set<string>): number {
  const markup = raw.includes('<!--') ? raw.replace(XML_COMMENT, '') : raw;
  let count = 0;
  for (const _ of markup.matchAll(REF_START)) count++;
  for (const match of markup.matchAll(PMID_PUB_ID)) {
    const pmid = match[1]!;
    if (!seen.has(pmid)) {
      seen.add(pmid);
      pmids.push(pmid);
    }
  }
  return count;
}

/** Elements whose graphics are not the figure's image. */
const NOT_FIGURE_GRAPHIC_TAGS: ReadonlySet<string> = new Set([
  'caption', 'disp-formula', 'inline-formula', 'fig', 'table-wrap', 'fig-group',
]);

function graphicsOf(nodes: readonly XmlNode[], alternative: boolean, out: ParsedGraphic[] = []): ParsedGraphic[] {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT || NOT_FIGURE_GRAPHIC_TAGS.has(tag)) continue;
    if (tag === 'graphic') out.push({ href: attrOf(node, 'href').trim(), alternative });
    else graphicsOf(kidsOf(node, tag), alternative || tag === 'alternatives', out);
  }
  return out;
}

/** Like graphicsOf for a table-wrap, also noting whether it has a real <table> anywhere. */
function tableGraphics(
  nodes: readonly XmlNode[],
  alternative: boolean,
  scan: { hasTable: boolean },
  out: ParsedGraphic[] = [],
): ParsedGraphic[] {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT) continue;
    if (tag === 'table') {
      scan.hasTable = true;
      continue;
    }
    if (NOT_FIGURE_GRAPHIC_TAGS.has(tag) || tag === 'table-wrap-foot') continue;
    if (tag === 'graphic') out.push({ href: attrOf(node, 'href').trim(), alternative });
    else tableGraphics(kidsOf(node, tag), alternative || tag === 'alternatives', scan, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// `biomedica parse FILE…`: one JSON line per article

/** A figure as the parse command prints it: graphics reduced to their hrefs. */
export type ParseLineFigure = Omit<ParsedFigure, 'graphics'> & { graphics: string[] };
export type ParseLine = Omit<ParsedArticle, 'figures'> & { figures: ParseLineFigure[] };

/** The JSON-ready view of an article that `biomedica parse` prints. */
export function toParseLine(article: ParsedArticle): ParseLine {
  const { pmcid, pmid, doi, title, journal, license, figures, ...rest } = article;
  return {
    pmcid,
    pmid,
    doi,
    title,
    journal,
    license,
    ...rest,
    figures: figures.map((figure) => ({ ...figure, graphics: figure.graphics.map((g) => g.href) })),
  };
}

export interface ParseFilesSummary {
  files: number;
  articles: number;
  failedFiles: number;
}

/**
 * Reads and parses each file in turn and writes one JSON line (no newline) per article, led by
 * its `file`; a file that cannot be read or parsed gives one line `{ file, error: { code, message } }`
 * and the next file goes on.
 */
export async function parseFiles(paths: readonly string[], write: (line: string) => void): Promise<ParseFilesSummary> {
  const summary: ParseFilesSummary = { files: 0, articles: 0, failedFiles: 0 };
  for (const file of paths) {
    summary.files++;
    let articles: ParsedArticle[];
    try {
      articles = parseArticles(await readFile(file));
    } catch (error) {
      summary.failedFiles++;
      const fallback = error instanceof Error && 'errno' in error ? 'FILE_UNREADABLE' : 'INTERNAL';
      // A local file has no network to retry: the line keeps the code and the message.
      const { code, message } = toFailure(error, fallback);
      write(JSON.stringify({ file, error: { code, message } }));
      continue;
    }
    for (const article of articles) {
      summary.articles++;
      write(JSON.stringify({ file, ...toParseLine(article) }));
    }
  }
  return summary;
}
