/**
 * The text of each <ref> of a reference list. The rule is written in the header of ./parse.ts
 * ("References"); this file holds its two readers.
 *
 * The ref-list stays raw markup in the document tree (RAW_TAGS): building its tree would add half
 * again to the parse time. referenceTexts reads the markup in one streaming pass instead, turning
 * each field (article-title, source, a name...) into a string as soon as it closes, and builds no
 * tree. A ref holding formulas (math, tex-math, alternatives) is the exception, rare in reference
 * lists: it is read as a tree, with ./text.ts's flattening. Both readers hand the same "items" (the
 * children of a citation, person-group or name, each already reduced to its text) to one
 * renderer, so the rule lives once; a test checks that both give the same texts on the corpus.
 */
import { BLOCK_TAGS, collapseSpace, flatten, lineText, type TextSink } from './text.js';
import { RAW_TAGS, TEXT, attrOf, kidsOf, tagOf, type RawMarkup, type XmlNode } from './xml.js';

const CITATION_TAGS: ReadonlySet<string> = new Set(['element-citation', 'mixed-citation', 'nlm-citation', 'citation']);

/**
 * Formatting inside a mixed citation's text: part of the text, never a field of its own. `x` is
 * JATS's element for punctuation the publisher generated between fields.
 */
const INLINE_TAGS: ReadonlySet<string> = new Set([
  'x', 'italic', 'bold', 'sc', 'sub', 'sup', 'underline', 'overline', 'monospace', 'roman', 'sans-serif',
  'strike', 'styled-content', 'named-content', 'fixed-case', 'abbrev', 'inline-formula', 'math', 'tex-math',
  'alternatives', 'inline-graphic', 'break', 'xref',
]);

/** Elements whose text ./text.ts reads by rules of their own: a ref holding one is read as a tree. */
const TREE_TAGS: ReadonlySet<string> = new Set(['math', 'tex-math', 'alternatives']);

/** Left out of a ref's own text (when it has no citation element): its number in the list. */
const REF_SKIP_TAGS: ReadonlySet<string> = new Set(['label']);

type FieldContainer = 'citation' | 'person-group' | 'name';

const FIELD_CONTAINERS: ReadonlyMap<string, FieldContainer> = new Map([
  ['person-group', 'person-group'],
  ['name', 'name'],
  ['string-name', 'name'],
]);

const NAME_TAGS: ReadonlySet<string> = new Set(['name', 'string-name']);
const SENTENCE_END = /[.?!]$/;

// ---------------------------------------------------------------------------------------------
// The renderer

/**
 * One child of a citation, person-group or name. `tag` is TEXT for text; for an element, `text` is
 * its children flattened (not collapsed: edge spaces tell whether text around it was spaced), or,
 * for a person-group or name, its rendering; `attr` its @pub-id-type or @href where the rule needs it.
 */
interface Item {
  readonly tag: string;
  readonly text: string;
  readonly attr: string;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 9 && c !== 13) return false;
  }
  return true;
}

function isBlankRange(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/**
 * The text of a citation, a person-group or a name: fields in document order, the publisher's
 * text between them kept as written, and a separator where there is none. A container with no text
 * of its own (element-citation's shape) is a field list: every child element is a field. Only a
 * citation's text is collapsed; a person-group's or name's is trimmed, and collapsed with it.
 */
function render(items: readonly Item[], container: FieldContainer): string {
  let fieldList = true;
  for (const item of items) {
    if (item.tag === 'x' || (item.tag === TEXT && !isBlank(item.text))) {
      fieldList = false;
      break;
    }
  }
  // Strings are built by concatenation: V8 joins the pieces once, when the result is first read.
  let out = '';
  let pendingSpace = '';
  let previousTag = '';
  let previousText = '';
  for (const item of items) {
    if (item.tag === TEXT) {
      if (isBlank(item.text)) {
        pendingSpace += item.text;
      } else {
        out += pendingSpace + item.text;
        pendingSpace = '';
        previousTag = '';
      }
      continue;
    }
    if (!fieldList && INLINE_TAGS.has(item.tag)) {
      out += pendingSpace + (BLOCK_TAGS.has(item.tag) ? ` ${item.text} ` : item.text);
      pendingSpace = '';
      previousTag = '';
      continue;
    }
    const raw = fieldText(item, fieldList);
    const text = trimSpace(raw);
    if (text === '') {
      pendingSpace += raw;
      continue;
    }
    if (previousTag !== '') out += separator(container, fieldList, previousTag, previousText, item.tag);
    else out += isSpace(raw.charCodeAt(0)) ? `${pendingSpace} ` : pendingSpace;
    out += text;
    pendingSpace = isSpace(raw.charCodeAt(raw.length - 1)) ? ' ' : '';
    previousTag = item.tag;
    previousText = text;
  }
  return container === 'citation' ? collapseSpace(out) : trimSpace(out);
}

/** `text` without the XML whitespace at its ends. */
function trimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** What is written between two fields the markup puts nothing between. */
function separator(container: FieldContainer, fieldList: boolean, previousTag: string, previousText: string, tag: string): string {
  if (container === 'name') return ' ';
  // BMC and others put the names straight in the citation, with no person-group around them.
  if (container === 'person-group' || (NAME_TAGS.has(previousTag) && (NAME_TAGS.has(tag) || tag === 'etal'))) return ', ';
  if (!fieldList) return ' ';
  if (previousTag === 'fpage' && tag === 'lpage') return '\u2013';
  return SENTENCE_END.test(previousText) ? ' ' : '. ';
}

function fieldText(item: Item, fieldList: boolean): string {
  const { tag, text } = item;
  if (isBlank(text)) {
    if (tag === 'etal') return 'et al.';
    if (tag === 'ext-link' || tag === 'uri') return item.attr.trim();
    return text;
  }
  // A field list has no place to say what a bare identifier is; mixed citations write 'doi:' themselves.
  if (fieldList && (tag === 'pub-id' || tag === 'object-id')) {
    const type = item.attr.trim();
    return type === '' ? text : `${type}:${collapseSpace(text)}`;
  }
  return text;
}

/** The attribute the renderer reads from an element, by tag ('' for none). */
function attrName(tag: string): string {
  if (tag === 'pub-id' || tag === 'object-id') return 'pub-id-type';
  if (tag === 'ext-link' || tag === 'uri') return 'href';
  return '';
}

interface Citation {
  readonly tag: string;
  readonly text: string;
}

/** A ref's text from its citations, or from its own text when it has none. */
function refText(citations: readonly Citation[], ownText: () => string): string {
  if (citations.length === 0) return ownText();
  let mixed = 0;
  for (const citation of citations) if (citation.tag === 'mixed-citation') mixed++;
  // SciELO writes each work twice, as a mixed-citation and as its element-citation copy.
  const keepMixedOnly = mixed > 0 && mixed < citations.length;
  const texts: string[] = [];
  for (const citation of citations) {
    if (citation.text !== '' && (!keepMixedOnly || citation.tag === 'mixed-citation')) texts.push(citation.text);
  }
  return texts.join(' ');
}

/** One rendering of a work from <citation-alternatives>: the publisher's mixed-citation first. */
function pickAlternative<T>(candidates: readonly T[], tagOfCandidate: (candidate: T) => string): T | undefined {
  for (const candidate of candidates) if (tagOfCandidate(candidate) === 'mixed-citation') return candidate;
  return candidates[0];
}

// ---------------------------------------------------------------------------------------------
// The tree reader

/** Appends the text of every <ref> in `nodes` (at any depth, in document order) to `out`. */
export function referenceTextsOfTree(nodes: readonly XmlNode[], out: string[]): void {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT) continue;
    if (tag === 'ref') out.push(treeRefText(kidsOf(node, tag)));
    else referenceTextsOfTree(kidsOf(node, tag), out);
  }
}

function treeRefText(kids: readonly XmlNode[]): string {
  const citations: Citation[] = [];
  for (const node of kids) {
    const tag = tagOf(node);
    let chosen: XmlNode | undefined;
    if (CITATION_TAGS.has(tag)) chosen = node;
    else if (tag === 'citation-alternatives') {
      chosen = pickAlternative(kidsOf(node, tag).filter((kid) => CITATION_TAGS.has(tagOf(kid))), tagOf);
    }
    if (chosen) {
      const chosenTag = tagOf(chosen);
      citations.push({ tag: chosenTag, text: render(itemsOf(kidsOf(chosen, chosenTag)), 'citation') });
    }
  }
  return refText(citations, () => lineText(kids, REF_SKIP_TAGS));
}

class PiecesSink implements TextSink {
  readonly pieces: string[] = [];

  text(piece: string): void {
    this.pieces.push(piece);
  }

  boundary(): void {
    this.pieces.push(' ');
  }
}

function itemsOf(kids: readonly XmlNode[]): Item[] {
  const items: Item[] = [];
  for (const node of kids) {
    const tag = tagOf(node);
    if (tag === TEXT) {
      items.push({ tag, text: node[TEXT] as string, attr: '' });
      continue;
    }
    const container = FIELD_CONTAINERS.get(tag);
    let text = '';
    if (container) {
      text = render(itemsOf(kidsOf(node, tag)), container);
    } else if (TREE_TAGS.has(tag)) {
      const sink = new PiecesSink();
      flatten([node], sink);
      text = sink.pieces.join('');
    } else if (!RAW_TAGS.has(tag)) {
      const sink = new PiecesSink();
      flatten(kidsOf(node, tag), sink);
      text = sink.pieces.join('');
    }
    const name = attrName(tag);
    items.push({ tag, text, attr: name === '' ? '' : attrOf(node, name) });
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// The streaming reader

const enum Kind {
  /** A <ref>: collects its citations, and its own text in case it has none. */
  Ref,
  /** <citation-alternatives>: collects its citations, keeps one. */
  Alternatives,
  /** A citation, person-group or name: collects items. */
  Container,
  /** A field (a child element of a container): collects its flattened text. */
  Field,
  /** Any element inside a field or in a ref's own text: writes into the text it sits in. */
  Flat,
  /** The same, for a block element: a space on each side. */
  FlatBlock,
  /** Text that counts for nothing (a label, a table, what citation-alternatives holds besides citations). */
  Skip,
}

/** An element that collects something (Ref, Alternatives, Container, Field); Flat and Skip ones need no frame. */
class Frame {
  /** Where text goes (Ref, Field); the elements inside a field write here too. */
  text = '';
  /** Citations (Ref, Alternatives). */
  readonly citations: Citation[];
  /** Children (Container). */
  readonly items: Item[];

  constructor(
    readonly kind: Kind,
    readonly tag: string,
    readonly container: FieldContainer,
    readonly attr: string,
  ) {
    // Only what the kind collects is allocated: a field is the most frequent frame by far.
    this.citations = kind === Kind.Ref || kind === Kind.Alternatives ? [] : NOTHING;
    this.items = kind === Kind.Container ? [] : NOTHING;
  }
}

/** Shared by frames that collect nothing of a kind; frozen, so a push there would throw, not leak. */
const NOTHING = Object.freeze([]) as unknown as never[];

/**
 * Appends the text of every <ref> of a raw ref-list's markup to `out`, in document order. `raw`
 * decodes entities as the document declared them and reads the rare ref that needs a tree.
 */
export function referenceTexts(markup: string, raw: RawMarkup, out: string[]): void {
  /** One entry per open element inside the current ref, the ref included. */
  const kinds: Kind[] = [];
  const frames: Frame[] = [];
  let refStart = 0;
  let treeOnly = false;
  const n = markup.length;
  // Where the next quote characters are, searched again only once passed: a search per tag for a
  // character the markup may not hold would read to its end every time.
  let nextQuote = -1;
  let nextApostrophe = -1;
  let i = 0;
  while (i < n) {
    const lt = markup.indexOf('<', i);
    const textEnd = lt === -1 ? n : lt;
    // Indentation between elements is most of the text: one space stands for it (all is collapsed later).
    if (textEnd > i && kinds.length > 0) addText(kinds, frames, isBlankRange(markup, i, textEnd) ? ' ' : raw.decode(markup.slice(i, textEnd)));
    if (lt === -1) break;
    const next = markup.charCodeAt(lt + 1);
    if (next === 47 /* / */) {
      i = endOf(markup, '>', lt + 2);
      if (kinds.length === 0) continue;
      if (kinds.length === 1) {
        out.push(treeOnly ? treeRefText(kidsOf(raw.parse(markup.slice(refStart, i))[0] ?? {}, 'ref')) : streamRefText(frames[0]!));
        kinds.length = 0;
        frames.length = 0;
      } else {
        close(kinds, frames);
      }
      continue;
    }
    if (next === 33 /* ! */) {
      if (markup.startsWith('<![CDATA[', lt)) {
        const end = markup.indexOf(']]>', lt + 9);
        if (kinds.length > 0) addText(kinds, frames, markup.slice(lt + 9, end === -1 ? n : end));
        i = end === -1 ? n : end + 3;
      } else {
        i = markup.startsWith('<!--', lt) ? endOf(markup, '-->', lt + 4) : endOf(markup, '>', lt + 2);
      }
      continue;
    }
    if (next === 63 /* ? */) {
      i = endOf(markup, '?>', lt + 2);
      continue;
    }
    let nameStart = lt + 1;
    let nameEnd = nameStart;
    while (nameEnd < n) {
      const c = markup.charCodeAt(nameEnd);
      if (isSpace(c) || c === 47 || c === 62) break;
      if (c === 58 /* : */) nameStart = nameEnd + 1;
      nameEnd++;
    }
    let gt = markup.indexOf('>', nameEnd);
    if (gt === -1) gt = n;
    // A '>' may sit inside a quoted attribute value: then the tag ends at the first one outside quotes.
    if (nextQuote < nameEnd) nextQuote = indexOrEnd(markup, '"', nameEnd);
    if (nextApostrophe < nameEnd) nextApostrophe = indexOrEnd(markup, "'", nameEnd);
    if (nextQuote < gt || nextApostrophe < gt) gt = quotedTagEnd(markup, nameEnd);
    i = gt + 1;
    const selfClosing = markup.charCodeAt(gt - 1) === 47; /* / */
    const tag = knownTag(markup, nameStart, nameEnd) ?? markup.slice(nameStart, nameEnd);
    if (kinds.length === 0) {
      if (tag !== 'ref') continue;
      if (selfClosing) {
        out.push('');
        continue;
      }
      kinds.push(Kind.Ref);
      frames.push(new Frame(Kind.Ref, tag, 'citation', ''));
      refStart = lt;
      treeOnly = false;
      continue;
    }
    if (TREE_TAGS.has(tag)) treeOnly = true;
    open(kinds, frames, tag, markup, nameEnd, gt, raw);
    if (selfClosing) close(kinds, frames);
  }
}

function open(kinds: Kind[], frames: Frame[], tag: string, markup: string, attrsStart: number, attrsEnd: number, raw: RawMarkup): void {
  const kind = kinds[kinds.length - 1]!;
  if (kind === Kind.Skip) {
    kinds.push(Kind.Skip);
    return;
  }
  if (kind === Kind.Flat || kind === Kind.FlatBlock || kind === Kind.Field || kind === Kind.Ref) {
    if (kind === Kind.Ref) {
      if (CITATION_TAGS.has(tag)) {
        kinds.push(Kind.Container);
        frames.push(new Frame(Kind.Container, tag, 'citation', ''));
        return;
      }
      if (tag === 'citation-alternatives') {
        kinds.push(Kind.Alternatives);
        frames.push(new Frame(Kind.Alternatives, tag, 'citation', ''));
        return;
      }
    }
    // Flattened text, as ./text.ts writes it; a ref's own text leaves out labels at any depth.
    const skipLabel = frames[frames.length - 1]!.kind === Kind.Ref;
    if ((skipLabel && REF_SKIP_TAGS.has(tag)) || RAW_TAGS.has(tag) || TREE_TAGS.has(tag)) {
      kinds.push(Kind.Skip);
    } else if (BLOCK_TAGS.has(tag)) {
      frames[frames.length - 1]!.text += ' ';
      kinds.push(Kind.FlatBlock);
    } else {
      kinds.push(Kind.Flat);
    }
    return;
  }
  if (kind === Kind.Alternatives) {
    if (CITATION_TAGS.has(tag)) {
      kinds.push(Kind.Container);
      frames.push(new Frame(Kind.Container, tag, 'citation', ''));
    } else {
      kinds.push(Kind.Skip);
    }
    return;
  }
  // In a container: a person-group or name is a container of its own, any other element a field.
  const container = FIELD_CONTAINERS.get(tag);
  if (container) {
    kinds.push(Kind.Container);
    frames.push(new Frame(Kind.Container, tag, container, ''));
    return;
  }
  if (RAW_TAGS.has(tag)) {
    frames[frames.length - 1]!.items.push({ tag, text: '', attr: '' });
    kinds.push(Kind.Skip);
    return;
  }
  const name = attrName(tag);
  kinds.push(Kind.Field);
  frames.push(new Frame(Kind.Field, tag, 'citation', name === '' ? '' : attrValue(markup.slice(attrsStart, attrsEnd), name, raw)));
}

function close(kinds: Kind[], frames: Frame[]): void {
  const kind = kinds.pop()!;
  if (kind === Kind.Flat || kind === Kind.Skip) return;
  if (kind === Kind.FlatBlock) {
    frames[frames.length - 1]!.text += ' ';
    return;
  }
  const frame = frames.pop()!;
  const parent = frames[frames.length - 1]!;
  if (kind === Kind.Field) {
    parent.items.push({ tag: frame.tag, text: frame.text, attr: frame.attr });
  } else if (kind === Kind.Container) {
    const text = render(frame.items, frame.container);
    if (frame.container === 'citation') parent.citations.push({ tag: frame.tag, text });
    else parent.items.push({ tag: frame.tag, text, attr: '' });
  } else if (kind === Kind.Alternatives) {
    const chosen = pickAlternative(frame.citations, (citation) => citation.tag);
    if (chosen) parent.citations.push(chosen);
  }
}

function addText(kinds: readonly Kind[], frames: readonly Frame[], text: string): void {
  const kind = kinds[kinds.length - 1]!;
  if (kind === Kind.Skip || kind === Kind.Alternatives) return;
  const frame = frames[frames.length - 1]!;
  if (kind === Kind.Container) frame.items.push({ tag: TEXT, text, attr: '' });
  else frame.text += text;
}

function streamRefText(ref: Frame): string {
  return refText(ref.citations, () => collapseSpace(ref.text));
}

function indexOrEnd(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  return at === -1 ? text.length : at;
}

/** The index of the '>' that ends a start tag, quoted attribute values skipped. */
function quotedTagEnd(markup: string, from: number): number {
  let at = from;
  while (at < markup.length) {
    const c = markup.charCodeAt(at);
    if (c === 62) return at;
    if (c === 34 || c === 39) at = indexOrEnd(markup, c === 34 ? '"' : "'", at + 1);
    at++;
  }
  return markup.length;
}

/**
 * Names of the elements references are made of. A name read from the markup is matched against
 * these in place: a new string per tag, hashed for every set it is looked up in, was a third of
 * the reader's time.
 */
const KNOWN_TAGS: readonly string[] = [
  ...BLOCK_TAGS, ...CITATION_TAGS, ...INLINE_TAGS, ...RAW_TAGS, ...FIELD_CONTAINERS.keys(),
  'citation-alternatives', 'etal', 'pub-id', 'object-id', 'ext-link', 'uri', 'surname', 'given-names', 'prefix',
  'suffix', 'article-title', 'source', 'year', 'month', 'day', 'season', 'volume', 'issue', 'fpage', 'lpage',
  'page-range', 'elocation-id', 'publisher-name', 'publisher-loc', 'comment', 'collab', 'edition', 'chapter-title',
  'date-in-citation', 'issn', 'isbn', 'series', 'conf-name', 'conf-loc', 'conf-date', 'trans-title',
  'trans-source', 'data-title', 'version', 'part-title', 'institution', 'role', 'issue-id', 'supplement',
  'annotation', 'email', 'mi', 'mo', 'mn', 'mrow',
];

/** Known names by length and first character, so that a name is compared with one or two candidates. */
const KNOWN_BY_SHAPE: ReadonlyMap<number, readonly string[]> = (() => {
  const byShape = new Map<number, string[]>();
  for (const tag of new Set(KNOWN_TAGS)) {
    const shape = tagShape(tag.length, tag.charCodeAt(0));
    const list = byShape.get(shape);
    if (list) list.push(tag);
    else byShape.set(shape, [tag]);
  }
  return byShape;
})();

function tagShape(length: number, first: number): number {
  return length * 65536 + first;
}

/** The known tag name written at markup[start, end), or undefined. */
function knownTag(markup: string, start: number, end: number): string | undefined {
  const candidates = KNOWN_BY_SHAPE.get(tagShape(end - start, markup.charCodeAt(start)));
  if (candidates) for (const tag of candidates) if (markup.startsWith(tag, start)) return tag;
  return undefined;
}

/** The index just past the next `token` from `from`, or the end of `text` when there is none. */
function endOf(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  return at === -1 ? text.length : at + token.length;
}

const ATTRIBUTE = /([^\s=/>]+)[ \t\n\r]*=[ \t\n\r]*(?:"([^"]*)"|'([^']*)')/g;

/** The decoded value of attribute `name` (namespace prefix ignored) in a start tag's attribute text. */
function attrValue(attrs: string, name: string, raw: RawMarkup): string {
  for (const match of attrs.matchAll(ATTRIBUTE)) {
    const qname = match[1]!;
    const colon = qname.indexOf(':');
    if ((colon === -1 ? qname : qname.slice(colon + 1)) === name) return raw.decode(match[2] ?? match[3] ?? '');
  }
  return '';
}
