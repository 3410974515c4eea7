/**
 * Flattening mixed content to text in one pass: pieces go into an array, joined once, whitespace
 * collapsed once. Inline markup (italic, sup, xref, ext-link, named-content ...) adds nothing, so
 * "Ca<sup>2+</sup>-dependent" stays "Ca2+-dependent"; block elements (title, p, list-item, table
 * cells ...) are separated by one space, so a caption's title and first paragraph never run
 * together. MathML gives the characters of its token elements (mi, mn, mo, mtext, ms) and nothing
 * for the whitespace that indents it. Only XML whitespace (space, tab, CR, LF) collapses: no-break
 * and thin spaces are characters the author typed. Tables (kept unparsed, see RAW_TAGS) give no text.
 */
import { RAW_TAGS, TEXT, attrOf, hasAttr, kidsOf, tagOf, type XmlNode } from './xml.js';

/** Elements whose content starts and ends a block of text. Everything else is inline. */
export const BLOCK_TAGS: ReadonlySet<string> = new Set([
  'abstract', 'ack', 'address', 'aff', 'answer', 'app', 'app-group', 'array', 'attrib', 'bio',
  'boxed-text', 'break', 'caption', 'chem-struct-wrap', 'code', 'def', 'def-item', 'def-list',
  'disp-formula', 'disp-formula-group', 'disp-quote', 'fig', 'fig-group', 'fn', 'fn-group', 'glossary',
  'graphic', 'hr', 'kwd', 'label', 'license-p', 'list', 'list-item', 'media', 'notes', 'p', 'preformat',
  'question', 'ref', 'ref-list', 'sec', 'speaker', 'speech', 'statement', 'subtitle',
  'supplementary-material', 'table', 'table-wrap', 'table-wrap-foot', 'table-wrap-group', 'tbody', 'td',
  'term', 'tfoot', 'th', 'thead', 'title', 'tr', 'trans-abstract', 'verse-group', 'verse-line',
]);

/** MathML elements whose text is content; whitespace anywhere else in MathML is indentation. */
const MATH_TOKEN_TAGS: ReadonlySet<string> = new Set(['mi', 'mn', 'mo', 'mtext', 'ms']);
/** MathML annotations repeat the formula in another notation (TeX, content MathML). */
const MATH_SKIP_TAGS: ReadonlySet<string> = new Set(['annotation', 'annotation-xml']);

/** Floats and furniture that running text (body, citing paragraphs) leaves out: they are records of their own. */
export const FLOAT_TAGS: ReadonlySet<string> = new Set([
  'fig', 'fig-group', 'table-wrap', 'table-wrap-group', 'supplementary-material', 'ref-list',
]);

/**
 * Whitespace runs that collapsing changes: two or more characters, or one that is not a space. A lone
 * space, by far the most common run, is not matched: replacing every run (/[ \t\n\r]+/g) copied
 * every gap between words and was a third of the extraction time.
 */
const XML_SPACE_TO_COLLAPSE = /[ \t\n\r]{2,}|[\t\n\r]/g;

/** Collapses runs of XML whitespace to one space and trims them (String#trim would also eat U+2009). */
export function collapseSpace(text: string): string {
  const collapsed = text.replace(XML_SPACE_TO_COLLAPSE, ' ');
  const start = collapsed.charCodeAt(0) === 32 ? 1 : 0;
  const end = collapsed.length > start && collapsed.charCodeAt(collapsed.length - 1) === 32 ? collapsed.length - 1 : collapsed.length;
  return start === 0 && end === collapsed.length ? collapsed : collapsed.slice(start, end);
}

/** Where flattened text goes. `boundary()` marks the edge of a block element. */
export interface TextSink {
  text(piece: string): void;
  boundary(): void;
}

/** One line of text: blocks separated by a single space (captions, titles, paragraphs). */
export class LineText implements TextSink {
  private readonly parts: string[] = [];

  text(piece: string): void {
    this.parts.push(piece);
  }

  boundary(): void {
    this.parts.push(' ');
  }

  toString(): string {
    return collapseSpace(this.parts.join(''));
  }
}

/** Blocks of text (one per title, paragraph, list item...) joined by blank lines. */
export class BlockText implements TextSink {
  private parts: string[] = [];
  private readonly blocks: string[] = [];

  text(piece: string): void {
    this.parts.push(piece);
  }

  boundary(): void {
    if (this.parts.length === 0) return;
    const block = collapseSpace(this.parts.join(''));
    if (block !== '') this.blocks.push(block);
    this.parts = [];
  }

  toString(): string {
    this.boundary();
    return this.blocks.join('\n\n');
  }
}

/** Writes the text of `nodes` into `sink`, leaving out elements named in `skip`. */
export function flatten(nodes: readonly XmlNode[], sink: TextSink, skip?: ReadonlySet<string>): void {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT) {
      sink.text(node[TEXT] as string);
      continue;
    }
    // Raw (unparsed) elements hold markup, not text; tables are data, not prose.
    if (skip?.has(tag) || RAW_TAGS.has(tag)) continue;
    const kids = kidsOf(node, tag);
    if (tag === 'math') {
      flattenMath(kids, sink, false);
    } else if (tag === 'alternatives') {
      const chosen = pickAlternative(kids);
      if (chosen) flatten([chosen], sink, skip);
    } else if (tag === 'tex-math') {
      sink.text(texBody(kids));
    } else if (BLOCK_TAGS.has(tag)) {
      sink.boundary();
      flatten(kids, sink, skip);
      sink.boundary();
    } else {
      flatten(kids, sink, skip);
    }
  }
}

/** Shorthand: the one-line text of an element's children. */
export function lineText(nodes: readonly XmlNode[], skip?: ReadonlySet<string>): string {
  const sink = new LineText();
  flatten(nodes, sink, skip);
  return sink.toString();
}

function flattenMath(nodes: readonly XmlNode[], sink: TextSink, inToken: boolean): void {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (tag === TEXT) {
      // Token content loses its edge whitespace (MathML §2.1.7); between elements it is indentation.
      if (inToken) sink.text(collapseSpace(node[TEXT] as string));
      continue;
    }
    if (MATH_SKIP_TAGS.has(tag)) continue;
    if (tag === 'mfenced') flattenFenced(node, sink);
    else flattenMath(kidsOf(node, tag), sink, inToken || MATH_TOKEN_TAGS.has(tag));
  }
}

/** <mfenced> draws its brackets and separators from attributes: they are characters the reader sees. */
function flattenFenced(node: XmlNode, sink: TextSink): void {
  // An attribute present but empty (open="") means no bracket, so '' is not replaced by the default.
  const attr = (name: string, fallback: string): string => hasAttr(node, name) ? attrOf(node, name) : fallback;
  const separators = [...attr('separators', ',').replace(/[ \t\n\r]/g, '')];
  sink.text(attr('open', '('));
  let n = 0;
  for (const child of kidsOf(node, 'mfenced')) {
    const tag = tagOf(child);
    if (tag === TEXT) continue;
    if (n > 0 && separators.length > 0) sink.text(separators[Math.min(n - 1, separators.length - 1)]!);
    flattenMath([child], sink, false);
    n++;
  }
  sink.text(attr('close', ')'));
}

/**
 * <alternatives> holds equivalent renderings (MathML and TeX of one formula, a table and its image):
 * text is taken from one of them only, MathML first, then TeX, then the first element.
 */
function pickAlternative(kids: readonly XmlNode[]): XmlNode | undefined {
  let first: XmlNode | undefined;
  let tex: XmlNode | undefined;
  for (const node of kids) {
    const tag = tagOf(node);
    if (tag === TEXT) continue;
    if (tag === 'math') return node;
    if (tag === 'tex-math') tex ??= node;
    first ??= node;
  }
  return tex ?? first;
}

/** TeX as written, minus a LaTeX document wrapper (PMC wraps formulas in \documentclass…\begin{document}). */
function texBody(kids: readonly XmlNode[]): string {
  const parts: string[] = [];
  for (const node of kids) if (tagOf(node) === TEXT) parts.push(node[TEXT] as string);
  const tex = parts.join('');
  const begin = tex.indexOf('\\begin{document}');
  if (begin === -1) return tex;
  const end = tex.indexOf('\\end{document}', begin);
  return tex.slice(begin + 16, end === -1 ? undefined : end);
}

/** Space-separated id list of an IDREFS attribute such as xref/@rid. */
export function idList(node: XmlNode, name: string): string[] {
  const value = attrOf(node, name).trim();
  return value === '' ? [] : value.split(/[ \t\n\r]+/);
}
