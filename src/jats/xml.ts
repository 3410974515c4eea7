/**
 * Article XML → fast-xml-parser's ordered tree, safely.
 *
 * fast-xml-parser accepts malformed XML without complaint, so ./wellformed.ts checks it first. Entities are
 * decoded by our own decoder (the parser's `entityDecoder` hook): numeric references, the HTML/MathML
 * named set that JATS DTDs declare, and, under hard limits, the plain-text entities of an internal
 * DOCTYPE subset. Nothing is ever fetched: external DTDs are ignored and external or parameter
 * entities are refused. Every failure is an ItemError: XML_MALFORMED, XML_ENTITY, XML_TOO_DEEP,
 * XML_TOO_LARGE or XML_ENCODING.
 */
import { XMLParser, type X2jOptions } from 'fast-xml-parser';
import { ItemError } from '../errors.js';
import { NAMED_ENTITIES } from './entities.js';
import { findSyntaxError } from './wellformed.js';

/** Larger than any real article (PMC's biggest nxml files are tens of MB); bounds memory per item. */
export const MAX_XML_BYTES = 256 * 1024 * 1024;
/**
 * Deepest element nesting accepted. The corpus's deepest article nests 30 levels, MathML included;
 * fast-xml-parser's default of 100 leaves a deep but legit formula little room. Past 1000 the file
 * is hostile or broken, and our recursive tree walks stay far from the call-stack limit.
 */
export const MAX_ELEMENT_DEPTH = 1000;
/** Internal DOCTYPE subsets: how many entities, how long each, how long the subset itself. */
export const MAX_DOCTYPE_ENTITIES = 64;
export const MAX_ENTITY_VALUE_CHARS = 4096;
export const MAX_DOCTYPE_SUBSET_CHARS = 64 * 1024;
/** Characters all DOCTYPE-declared entity references of one document may expand to, together. */
export const MAX_ENTITY_EXPANSION_CHARS = 100_000;
/** Longest `&name;` looked up; bounds the scan after each '&' so text full of bare '&' stays linear. */
const MAX_ENTITY_REF_CHARS = 40;

/**
 * Elements left unparsed: their content stays one raw XML string (the node's only text child).
 * Reference lists and tables are a large share of an article's markup and we need little from them
 * (a count, PMIDs and one string per reference; whether a table exists): not building their trees
 * cut parse time by ~45% on the corpus. ./references.ts reads a ref-list's markup in one pass.
 */
export const RAW_TAGS: ReadonlySet<string> = new Set(['ref-list', 'table']);

/**
 * One node of the ordered tree: an element `{ [tag]: XmlNode[], ':@'?: attributes }` or a text node
 * `{ '#text': string }`. Namespace prefixes are removed (mml:math → math, xlink:href → href).
 */
export type XmlNode = { readonly [key: string]: unknown };
export type XmlAttrs = { readonly [name: string]: string };

export const TEXT = '#text';
const ATTRS = ':@';

/** The tag of a node ('#text' for text). The parser always writes the tag key first. */
export function tagOf(node: XmlNode): string {
  for (const key in node) return key;
  return '';
}

export function kidsOf(node: XmlNode, tag: string): readonly XmlNode[] {
  const kids = node[tag];
  return Array.isArray(kids) ? (kids as XmlNode[]) : [];
}

export function attrOf(node: XmlNode, name: string): string {
  const attrs = node[ATTRS] as XmlAttrs | undefined;
  const value = attrs?.[name];
  return typeof value === 'string' ? value : '';
}

export function hasAttr(node: XmlNode, name: string): boolean {
  const attrs = node[ATTRS] as XmlAttrs | undefined;
  return attrs !== undefined && typeof attrs[name] === 'string';
}

export function textOf(node: XmlNode): string {
  const value = node[TEXT];
  return typeof value === 'string' ? value : '';
}

/** First child element named `tag`, or undefined. */
export function childEl(kids: readonly XmlNode[], tag: string): XmlNode | undefined {
  for (const node of kids) if (tagOf(node) === tag) return node;
  return undefined;
}

/** Children of the first child element named `tag` ([] when there is none). */
export function childKids(kids: readonly XmlNode[], tag: string): readonly XmlNode[] {
  const el = childEl(kids, tag);
  return el ? kidsOf(el, tag) : [];
}

export function childEls(kids: readonly XmlNode[], tag: string): XmlNode[] {
  const out: XmlNode[] = [];
  for (const node of kids) if (tagOf(node) === tag) out.push(node);
  return out;
}

/**
 * The decoder fast-xml-parser calls for every text node and attribute value. One instance serves
 * every parse (parsing is synchronous and `reset()` starts each document).
 */
class EntityDecoder {
  private readonly declared = new Map<string, string>();
  private expanded = 0;

  reset(): void {
    this.declared.clear();
    this.expanded = 0;
  }

  /**
   * A decoder that goes on where this one stands: the same declared entities and what is left of
   * the expansion budget. Raw elements' markup is decoded after the parse, under the document's
   * entity declarations and within the document's one budget.
   */
  fork(): EntityDecoder {
    const copy = new EntityDecoder();
    for (const [name, value] of this.declared) copy.declared.set(name, value);
    copy.expanded = this.expanded;
    return copy;
  }

  setXmlVersion(): void {}

  /** Entities registered through XMLParser.addEntity; we register none. */
  setExternalEntities(): void {}

  /** Entities of the internal DOCTYPE subset (already screened by checkProlog; re-checked here). */
  addInputEntities(entities: Record<string, string>): void {
    for (const [name, value] of Object.entries(entities)) {
      if (this.declared.size >= MAX_DOCTYPE_ENTITIES) throw entityError(`more than ${MAX_DOCTYPE_ENTITIES} entities declared`);
      if (value.length > MAX_ENTITY_VALUE_CHARS) throw entityError(`entity "${name}" longer than ${MAX_ENTITY_VALUE_CHARS} characters`);
      this.declared.set(name, value);
    }
  }

  decode(text: string): string {
    let amp = text.indexOf('&');
    if (amp === -1) return text;
    const parts: string[] = [];
    let copied = 0;
    while (amp !== -1) {
      const limit = Math.min(text.length, amp + MAX_ENTITY_REF_CHARS);
      let semi = -1;
      for (let i = amp + 1; i < limit; i++) {
        const c = text.charCodeAt(i);
        if (c === 59 /* ; */) {
          semi = i;
          break;
        }
        if (c === 38 /* & */ || c === 32 || c === 10 || c === 9 || c === 13 || c === 60 /* < */) break;
      }
      if (semi !== -1) {
        const replacement = this.resolve(text.slice(amp + 1, semi));
        if (replacement !== undefined) {
          parts.push(text.slice(copied, amp), replacement);
          copied = semi + 1;
        }
      }
      amp = text.indexOf('&', amp + 1);
    }
    if (copied === 0) return text;
    parts.push(text.slice(copied));
    return parts.join('');
  }

  private resolve(name: string): string | undefined {
    if (name.charCodeAt(0) === 35 /* # */) return decodeCharRef(name);
    const declared = this.declared.get(name);
    if (declared !== undefined) {
      this.expanded += declared.length;
      if (this.expanded > MAX_ENTITY_EXPANSION_CHARS) {
        throw entityError(`declared entities expand to more than ${MAX_ENTITY_EXPANSION_CHARS} characters`);
      }
      return declared;
    }
    return NAMED_ENTITIES.get(name);
  }
}

/** `#123` or `#x1F4A9` → the character; a reference to a character XML forbids becomes U+FFFD. */
function decodeCharRef(ref: string): string | undefined {
  const hex = ref.charCodeAt(1) === 120 /* x */ || ref.charCodeAt(1) === 88; /* X */
  const digits = ref.slice(hex ? 2 : 1);
  if (digits === '' || !(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return undefined;
  const code = Number.parseInt(digits, hex ? 16 : 10);
  const allowed =
    code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
  return allowed ? String.fromCodePoint(code) : '\uFFFD';
}

function entityError(message: string): ItemError {
  return new ItemError('XML_ENTITY', message, {
    hint: 'the document declares entities we refuse to expand; it is skipped and recorded as a failure',
  });
}

const decoder = new EntityDecoder();

/*
 * Namespace prefixes are removed by these callbacks rather than by fast-xml-parser's removeNSPrefix,
 * which splits every attribute name on ':' twice; the tree is the same. Tags lose what precedes
 * their first ':'. An attribute `p:name` becomes `name` (a name with two colons is kept whole), and
 * namespace declarations (`xmlns`, `xmlns:p`) and names ending in their only ':' are dropped. One
 * difference, on names XML namespaces forbid: fast-xml-parser applies transformTagName twice to an
 * empty element, so `<a:b:c/>` becomes `c` where removeNSPrefix gave `b:c`.
 */
function localTagName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

function localAttrName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 || name.indexOf(':', colon + 1) !== -1 ? name : name.slice(colon + 1);
}

function isDroppedAttr(name: string): boolean {
  const colon = name.indexOf(':');
  if (colon === -1) return name === 'xmlns';
  return (colon === 5 && name.startsWith('xmlns')) || colon === name.length - 1;
}

/** Exported for the test that checks the prefix callbacks against fast-xml-parser's removeNSPrefix. */
export const PARSER_OPTIONS: Readonly<X2jOptions> = {
  preserveOrder: true,
  ignoreAttributes: isDroppedAttr,
  attributeNamePrefix: '',
  removeNSPrefix: false,
  transformTagName: localTagName,
  transformAttributeName: localAttrName,
  // Mixed content: the spaces around inline markup are part of the text.
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: {
    enabled: true,
    maxEntitySize: MAX_ENTITY_VALUE_CHARS,
    maxEntityCount: MAX_DOCTYPE_ENTITIES,
    maxTotalExpansions: 10_000,
    maxExpandedLength: MAX_ENTITY_EXPANSION_CHARS,
  },
  entityDecoder: decoder,
  stopNodes: [...RAW_TAGS].map((tag) => `..${tag}`),
  maxNestedTags: MAX_ELEMENT_DEPTH,
  // Callbacks get the matcher instead of a path string built for every tag (a third of parse time).
  jPath: false,
};

const parser = new XMLParser(PARSER_OPTIONS);

/** Bytes → text, honouring a BOM or the XML declaration's encoding (UTF-8 when neither says). */
export function decodeXml(input: Buffer | string): string {
  if (typeof input === 'string') {
    if (input.length > MAX_XML_BYTES) throw tooLarge(input.length);
    return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  }
  if (input.length > MAX_XML_BYTES) throw tooLarge(input.length);
  if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) return input.toString('utf8', 3);
  if (input[0] === 0xff && input[1] === 0xfe) return new TextDecoder('utf-16le').decode(input.subarray(2));
  if (input[0] === 0xfe && input[1] === 0xff) return new TextDecoder('utf-16be').decode(input.subarray(2));
  const head = input.toString('latin1', 0, Math.min(input.length, 256));
  const declared = /^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]*)["']/.exec(head)?.[1]?.toLowerCase() ?? '';
  switch (declared) {
    case '':
    case 'utf-8':
    case 'utf8':
    case 'ascii':
    case 'us-ascii':
      return input.toString('utf8');
    case 'iso-8859-1':
    case 'latin1':
    case 'latin-1':
      return input.toString('latin1');
    case 'windows-1252':
    case 'cp1252':
      return new TextDecoder('windows-1252').decode(input);
    default:
      throw new ItemError('XML_ENCODING', `unsupported XML encoding "${declared}"`, {
        hint: 'convert the file to UTF-8',
      });
  }
}

function tooLarge(size: number): ItemError {
  return new ItemError('XML_TOO_LARGE', `XML document of ${size} bytes exceeds ${MAX_XML_BYTES}`, {
    hint: 'this is far larger than any real article; check that the file is an article',
  });
}

/**
 * Screens the prolog (XML declaration, comments, PIs, DOCTYPE) before anything else reads the
 * document: an internal DOCTYPE subset may declare plain-text entities only, few and short. External
 * and parameter entities, and entities whose value refers to other entities (the billion-laughs
 * shape), are refused here with XML_ENTITY.
 */
export function checkProlog(xml: string): void {
  let i = 0;
  for (;;) {
    while (i < xml.length && isXmlSpace(xml.charCodeAt(i))) i++;
    if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i + 2);
      if (end === -1) return; // the validator reports it
      i = end + 2;
    } else if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end === -1) return;
      i = end + 3;
    } else if (xml.startsWith('<!DOCTYPE', i)) {
      i = checkDoctype(xml, i + 9);
      if (i === -1) return;
    } else {
      return;
    }
  }
}

/** Returns the index after the DOCTYPE, or -1 when it does not end (left to the validator). */
function checkDoctype(xml: string, start: number): number {
  let quote = 0;
  for (let i = start; i < xml.length; i++) {
    const c = xml.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) {
      quote = c;
    } else if (c === 62 /* > */) {
      return i + 1;
    } else if (c === 91 /* [ */) {
      const end = checkInternalSubset(xml, i + 1);
      if (end === -1) return -1;
      const close = xml.indexOf('>', end);
      return close === -1 ? -1 : close + 1;
    }
  }
  return -1;
}

/** Scans the internal subset from `start`; returns the index of its closing ']' (-1 if none). */
function checkInternalSubset(xml: string, start: number): number {
  let count = 0;
  let i = start;
  while (i < xml.length) {
    if (i - start > MAX_DOCTYPE_SUBSET_CHARS) throw entityError(`DOCTYPE internal subset longer than ${MAX_DOCTYPE_SUBSET_CHARS} characters`);
    const c = xml.charCodeAt(i);
    if (c === 93 /* ] */) return i;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end === -1) return -1;
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<!ENTITY', i)) {
      count++;
      if (count > MAX_DOCTYPE_ENTITIES) throw entityError(`more than ${MAX_DOCTYPE_ENTITIES} entities declared`);
      i = checkEntityDecl(xml, i + 8);
      continue;
    }
    if (c === 60 /* < */) {
      // <!ELEMENT, <!ATTLIST, <!NOTATION, <?pi?>: skip to the '>' that ends it, quotes respected.
      let quote = 0;
      let j = i + 1;
      for (; j < xml.length; j++) {
        const d = xml.charCodeAt(j);
        if (quote !== 0) {
          if (d === quote) quote = 0;
        } else if (d === 34 || d === 39) quote = d;
        else if (d === 62) break;
      }
      i = j + 1;
      continue;
    }
    if (c === 37 /* % */) throw entityError('parameter entity reference in the DOCTYPE');
    i++;
  }
  return -1;
}

function checkEntityDecl(xml: string, start: number): number {
  let i = start;
  while (i < xml.length && isXmlSpace(xml.charCodeAt(i))) i++;
  if (xml.charCodeAt(i) === 37 /* % */) throw entityError('parameter entities are not accepted');
  const nameStart = i;
  while (i < xml.length && !isXmlSpace(xml.charCodeAt(i)) && xml[i] !== '"' && xml[i] !== "'" && xml[i] !== '>') i++;
  const name = xml.slice(nameStart, i);
  while (i < xml.length && isXmlSpace(xml.charCodeAt(i))) i++;
  const q = xml[i];
  if (q !== '"' && q !== "'") {
    // SYSTEM "file:///…" or PUBLIC "…" "http://…": never resolved, and never silently dropped.
    throw entityError(`external entity "${name}" is not accepted`);
  }
  const end = xml.indexOf(q, i + 1);
  if (end === -1) return xml.length;
  const value = xml.slice(i + 1, end);
  if (value.length > MAX_ENTITY_VALUE_CHARS) throw entityError(`entity "${name}" longer than ${MAX_ENTITY_VALUE_CHARS} characters`);
  if (/&[^#]|%/.test(value)) throw entityError(`entity "${name}" refers to other entities`);
  const close = xml.indexOf('>', end + 1);
  return close === -1 ? xml.length : close + 1;
}

/** 'line L, column C' (1-based) of a UTF-16 offset; computed only when reporting an error. */
function lineAndColumn(xml: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = xml.indexOf('\n'); i !== -1 && i < offset; i = xml.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

function isXmlSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Parses a whole document into the ordered tree. Throws ItemError (XML_*) and nothing else. */
export function parseXmlTree(input: Buffer | string): XmlNode[] {
  return parseXmlDocument(input).tree;
}

export interface XmlDocument {
  readonly tree: XmlNode[];
  /** Reads the markup the tree keeps raw (RAW_TAGS), decoding entities as this document declares them. */
  readonly raw: RawMarkup;
}

/** parseXmlTree, plus what is needed to read the document's raw elements later. */
export function parseXmlDocument(input: Buffer | string): XmlDocument {
  const xml = decodeXml(input);
  checkProlog(xml);
  const syntax = findSyntaxError(xml);
  if (syntax !== null) {
    throw new ItemError('XML_MALFORMED', `${syntax.message} (${lineAndColumn(xml, syntax.offset)})`, {
      hint: 'the file is not well-formed XML; fetch it again or skip it',
    });
  }
  try {
    const tree = parser.parse(xml) as XmlNode[];
    return { tree, raw: new RawMarkup(decoder.fork()) };
  } catch (error) {
    if (error instanceof ItemError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (/nested tags/i.test(message)) {
      throw new ItemError('XML_TOO_DEEP', `elements nested deeper than ${MAX_ELEMENT_DEPTH}`, {
        hint: 'no real article nests this deep; the file is likely hostile or broken',
      });
    }
    if (/entit/i.test(message)) throw entityError(message);
    throw new ItemError('XML_MALFORMED', message, { hint: 'the file is not well-formed XML; fetch it again or skip it' });
  } finally {
    decoder.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Raw markup

const START_TAG_NAME = /<([^\s/>]+)/y;
const ATTRIBUTE = /[ \t\n\r]+([^\s=/>]+)[ \t\n\r]*=[ \t\n\r]*(?:"([^"]*)"|'([^']*)')/y;
const START_TAG_END = /[ \t\n\r]*(\/?)>/y;

/**
 * Reads a raw element's content (see RAW_TAGS) after the parse: `decode` decodes entities under
 * the document's declarations and within its one expansion budget, and `parse` builds the ordered
 * tree (the same node shapes, prefixes removed, as parseXmlTree's). The markup was part of a
 * document the validator accepted, so `parse` trusts its syntax and only tokenizes (about twice
 * as fast as fast-xml-parser on reference lists); it never loops on markup it does not expect (an
 * unmatched end tag is ignored), and it keeps the depth limit (XML_TOO_DEEP).
 */
export class RawMarkup {
  constructor(private readonly decoder: EntityDecoder) {}

  /** Text or an attribute value of the raw markup, entities decoded. */
  decode(text: string): string {
    return this.decoder.decode(text);
  }

  parse(raw: string): XmlNode[] {
    const root: XmlNode[] = [];
    const open: XmlNode[][] = [root];
    let kids = root;
    let i = 0;
    while (i < raw.length) {
      const lt = raw.indexOf('<', i);
      const textEnd = lt === -1 ? raw.length : lt;
      if (textEnd > i) kids.push({ [TEXT]: this.decoder.decode(raw.slice(i, textEnd)) });
      if (lt === -1) break;
      const next = raw.charCodeAt(lt + 1);
      if (next === 47 /* / */) {
        if (open.length > 1) {
          open.pop();
          kids = open[open.length - 1]!;
        }
        i = endOf(raw, '>', lt + 2);
      } else if (next === 33 /* ! */) {
        if (raw.startsWith('<![CDATA[', lt)) {
          const close = raw.indexOf(']]>', lt + 9);
          kids.push({ [TEXT]: raw.slice(lt + 9, close === -1 ? raw.length : close) });
          i = close === -1 ? raw.length : close + 3;
        } else if (raw.startsWith('<!--', lt)) {
          i = endOf(raw, '-->', lt + 4);
        } else {
          i = endOf(raw, '>', lt + 2);
        }
      } else if (next === 63 /* ? */) {
        i = endOf(raw, '?>', lt + 2);
      } else {
        START_TAG_NAME.lastIndex = lt;
        const name = START_TAG_NAME.exec(raw);
        if (!name) {
          kids.push({ [TEXT]: '<' });
          i = lt + 1;
          continue;
        }
        let at = START_TAG_NAME.lastIndex;
        let attrs: Record<string, string> | undefined;
        for (;;) {
          ATTRIBUTE.lastIndex = at;
          const attr = ATTRIBUTE.exec(raw);
          if (!attr) break;
          at = ATTRIBUTE.lastIndex;
          const attrName = attr[1]!;
          if (isDroppedAttr(attrName)) continue;
          (attrs ??= {})[localAttrName(attrName)] = this.decoder.decode(attr[2] ?? attr[3] ?? '');
        }
        START_TAG_END.lastIndex = at;
        const end = START_TAG_END.exec(raw);
        i = end ? START_TAG_END.lastIndex : endOf(raw, '>', at);
        const childKids: XmlNode[] = [];
        const node: Record<string, unknown> = { [localTagName(name[1]!)]: childKids };
        if (attrs) node[ATTRS] = attrs;
        kids.push(node);
        if (end?.[1] !== '/') {
          if (open.length > MAX_ELEMENT_DEPTH) {
            throw new ItemError('XML_TOO_DEEP', `elements nested deeper than ${MAX_ELEMENT_DEPTH}`, {
              hint: 'no real article nests this deep; the file is likely hostile or broken',
            });
          }
          open.push(childKids);
          kids = childKids;
        }
      }
    }
    return root;
  }
}

/** The index just past the next `token` from `from`, or the end of `text` when there is none. */
function endOf(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  return at === -1 ? text.length : at + token.length;
}
