/**
 * PubMed efetch XML (`<PubmedArticleSet>`, SOURCES.md §4). An answer is cut into its
 * `<PubmedArticle>` elements as raw text first, so each can be cached as returned; each is then
 * parsed with fast-xml-parser in preserveOrder mode, because abstracts carry inline markup
 * (`β<sub>2</sub>-agonist`) whose order the default mode loses, and numeric character
 * references are decoded (htmlEntities).
 */
import { XMLParser } from 'fast-xml-parser';
import { ItemError } from '../errors.js';
import type { MeshHeading } from './records.js';

export interface RawPubmedArticle {
  pmid: string;
  xml: string;
}

export interface ParsedPubmedArticle {
  pmid: string;
  meshTerms: string[];
  meshHeadings: MeshHeading[];
  abstract: string;
  referencePmids: string[];
}

const OPEN = /<PubmedArticle[\s>]/g;
const CLOSE = '</PubmedArticle>';
const PMID = /<MedlineCitation\b[^>]*>\s*<PMID\b[^>]*>\s*(\d+)\s*<\/PMID>/;

/** The `<PubmedArticle>` elements of an answer, raw, with their PMID. Book articles are skipped. */
export function splitPubmedArticles(xml: string): RawPubmedArticle[] {
  const out: RawPubmedArticle[] = [];
  OPEN.lastIndex = 0;
  for (let m = OPEN.exec(xml); m; m = OPEN.exec(xml)) {
    const end = xml.indexOf(CLOSE, m.index);
    if (end < 0) break;
    const raw = xml.slice(m.index, end + CLOSE.length);
    const pmid = PMID.exec(raw)?.[1];
    if (pmid) out.push({ pmid, xml: raw });
    OPEN.lastIndex = end + CLOSE.length;
  }
  return out;
}

type Node = Record<string, unknown>;
const ATTRS = ':@';
const TEXT = '#text';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
});

function nameOf(node: Node): string | undefined {
  for (const key of Object.keys(node)) if (key !== ATTRS) return key;
  return undefined;
}
function childrenOf(node: Node): Node[] {
  const name = nameOf(node);
  const value = name === undefined ? undefined : node[name];
  return Array.isArray(value) ? (value as Node[]) : [];
}
function attr(node: Node, name: string): string {
  const attrs = node[ATTRS] as Record<string, unknown> | undefined;
  const v = attrs?.[name];
  return typeof v === 'string' ? v : '';
}
function child(node: Node, name: string): Node | undefined {
  return childrenOf(node).find((c) => nameOf(c) === name);
}
function children(node: Node, name: string): Node[] {
  return childrenOf(node).filter((c) => nameOf(c) === name);
}
function path(node: Node | undefined, ...names: string[]): Node | undefined {
  let current = node;
  for (const n of names) current = current ? child(current, n) : undefined;
  return current;
}
/** Text of a node and its descendants in document order (inline markup dropped, content kept). */
function textOf(node: Node): string {
  let out = '';
  for (const c of childrenOf(node)) {
    if (TEXT in c) out += String(c[TEXT]);
    else out += textOf(c);
  }
  return out;
}
const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

function referencePmidsOf(list: Node, into: string[], seen: Set<string>): void {
  for (const c of childrenOf(list)) {
    const name = nameOf(c);
    if (name === 'ReferenceList') referencePmidsOf(c, into, seen);
    if (name !== 'Reference') continue;
    for (const id of children(child(c, 'ArticleIdList') ?? {}, 'ArticleId')) {
      if (attr(id, 'IdType') !== 'pubmed') continue;
      const pmid = collapse(textOf(id));
      if (/^\d+$/.test(pmid) && !seen.has(pmid)) {
        seen.add(pmid);
        into.push(pmid);
      }
    }
  }
}

export function parsePubmedArticle(xml: string): ParsedPubmedArticle {
  let doc: Node[];
  try {
    doc = parser.parse(xml) as Node[];
  } catch (error) {
    throw new ItemError('PUBMED_XML_INVALID', 'unreadable PubmedArticle XML', { cause: error });
  }
  const article = doc.find((n) => nameOf(n) === 'PubmedArticle');
  if (!article) throw new ItemError('PUBMED_XML_INVALID', 'no PubmedArticle element');
  const citation = child(article, 'MedlineCitation');
  const pmid = collapse(textOf(child(citation ?? {}, 'PMID') ?? {}));

  const meshHeadings: MeshHeading[] = [];
  const meshTerms: string[] = [];
  for (const heading of children(path(citation, 'MeshHeadingList') ?? {}, 'MeshHeading')) {
    const descriptor = child(heading, 'DescriptorName');
    if (!descriptor) continue;
    const name = collapse(textOf(descriptor));
    meshHeadings.push({
      descriptor: name,
      descriptorUi: attr(descriptor, 'UI'),
      major: attr(descriptor, 'MajorTopicYN') === 'Y',
      qualifiers: children(heading, 'QualifierName').map((q) => ({ name: collapse(textOf(q)), ui: attr(q, 'UI'), major: attr(q, 'MajorTopicYN') === 'Y' })),
    });
    if (name && !meshTerms.includes(name)) meshTerms.push(name);
  }

  const sections = children(path(citation, 'Article', 'Abstract') ?? {}, 'AbstractText').map((section) => {
    const label = attr(section, 'Label');
    const text = collapse(textOf(section));
    return label && text ? `${label}: ${text}` : text;
  });
  const abstract = sections.filter(Boolean).join('\n');

  const referencePmids: string[] = [];
  const seen = new Set<string>();
  for (const list of children(child(article, 'PubmedData') ?? {}, 'ReferenceList')) referencePmidsOf(list, referencePmids, seen);

  return { pmid, meshTerms, meshHeadings, abstract, referencePmids };
}
