/**
 * XML 1.0 well-formedness in one forward pass, without building anything.
 *
 * fast-xml-parser builds a tree from broken input without complaint, so every document is checked
 * first. fast-xml-parser's own XMLValidator took ~350 ms CPU of a ~1.2 s pass over the corpus (it
 * copies every tag into a string one character at a time); this scanner jumps between '<' and '&'
 * with indexOf and reads only names and attribute syntax: ~75 ms.
 *
 * What it checks: a single root element; nothing but whitespace, comments, PIs and a DOCTYPE outside
 * it; every start tag closed by the matching end tag; names; attributes (whitespace before each,
 * `=`, a quoted value without '<', no name twice); every '&' in text and attribute values starting
 * a reference (`&name;`, `&#10;`, `&#xA;`); comments, CDATA sections, PIs and the DOCTYPE ending;
 * the XML declaration only at the very start; and only characters XML allows (no C0 controls other
 * than tab/LF/CR, no U+FFFE/U+FFFF, no lone surrogates).
 *
 * Deliberately not checked, as XMLValidator did not either: whether a named entity is declared
 * (JATS files name a DTD we never read; unknown names are kept as written), '--' inside comments and
 * ']]>' in text (harmless to the tree), and where a DOCTYPE sits (a misplaced one is still read for
 * its entities, under the same limits). The DOCTYPE's own content is screened by checkProlog and by
 * fast-xml-parser's DOCTYPE reader.
 *
 * Stricter than XMLValidator, as XML requires: '<' or a bare '&' in attribute values, control
 * characters, entity and character references without a name or digits. Also refused, though
 * well-formed: a processing instruction with an unpaired quote, which fast-xml-parser misreads
 * (see parserEndOfInstruction). More lenient where
 * XMLValidator rejected well-formed XML: entity names longer than 20 characters or holding '-' or
 * '.', and names outside the Basic Multilingual Plane.
 */

/** Where and why a document is not well-formed; `offset` counts UTF-16 units from the start. */
export interface XmlSyntaxError {
  message: string;
  offset: number;
}

/**
 * Characters XML 1.0 forbids anywhere, CDATA and comments included, and every surrogate: a pair
 * (a character past U+FFFF) is fine and skipped, a lone one (possible in a string handed in as text;
 * decoded bytes never hold one) is not a character at all.
 */
const ILLEGAL_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]/g;

/** Attributes compared pairwise up to this many on one tag; past it a Set keeps hostile tags linear. */
const PAIRWISE_ATTRS = 16;

/** Returns the first well-formedness error of `xml`, or null when it is well-formed. */
export function findSyntaxError(xml: string): XmlSyntaxError | null {
  const illegal = illegalChar(xml);
  if (illegal !== -1) {
    const code = xml.charCodeAt(illegal).toString(16).toUpperCase().padStart(4, '0');
    return { message: `character U+${code} is not allowed in XML`, offset: illegal };
  }
  return new Scanner(xml).run();
}

/** Offset of the first character XML forbids, or -1. */
function illegalChar(xml: string): number {
  ILLEGAL_CHARS.lastIndex = 0;
  for (let match = ILLEGAL_CHARS.exec(xml); match !== null; match = ILLEGAL_CHARS.exec(xml)) {
    const at = match.index;
    const c = xml.charCodeAt(at);
    if (c >= 0xd800 && c <= 0xdbff) {
      const low = xml.charCodeAt(at + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        ILLEGAL_CHARS.lastIndex = at + 2;
        continue;
      }
    }
    return at;
  }
  return -1;
}

class Scanner {
  private readonly xml: string;
  private readonly length: number;
  /** Open elements as (name start, name length) pairs, innermost last; `depth` pairs are live. */
  private readonly open: number[] = [];
  private depth = 0;
  private rootSeen = false;
  /** Next '<' / '&' at or after the last position asked about (length when none): each is searched once. */
  private nextLt = -1;
  private nextAmp = -1;
  /** Attribute names of the current tag, as (start, length) pairs; `attrCount` pairs are live. */
  private readonly attrs: number[] = [];
  private attrCount = 0;

  constructor(xml: string) {
    this.xml = xml;
    this.length = xml.length;
  }

  run(): XmlSyntaxError | null {
    const { xml } = this;
    let pos = 0;
    for (;;) {
      const lt = this.ltFrom(pos);
      if (lt > pos) {
        const error = this.depth === 0 ? this.onlySpace(pos, lt) : this.references(pos, lt);
        if (error) return error;
      }
      if (lt >= this.length) break;
      const next = xml.charCodeAt(lt + 1);
      let end: number | XmlSyntaxError;
      if (next === 47 /* / */) end = this.endTag(lt);
      else if (next === 33 /* ! */) end = this.declaration(lt);
      else if (next === 63 /* ? */) end = this.instruction(lt);
      else end = this.startTag(lt);
      if (typeof end !== 'number') return end;
      pos = end;
    }
    if (this.depth > 0) {
      const start = this.open[2 * this.depth - 2]!;
      return fail(`element <${xml.slice(start, start + this.open[2 * this.depth - 1]!)}> is never closed`, start - 1);
    }
    if (!this.rootSeen) return fail('no root element', this.length);
    return null;
  }

  private ltFrom(pos: number): number {
    if (this.nextLt < pos) {
      const found = this.xml.indexOf('<', pos);
      this.nextLt = found === -1 ? this.length : found;
    }
    return this.nextLt;
  }

  /** Outside the root element only whitespace may sit between markup. */
  private onlySpace(from: number, to: number): XmlSyntaxError | null {
    for (let i = from; i < to; i++) {
      if (!isSpace(this.xml.charCodeAt(i))) {
        return fail(this.rootSeen ? 'text after the root element' : 'text before the root element', i);
      }
    }
    return null;
  }

  /** Every '&' in [from, to) must start a complete reference. */
  private references(from: number, to: number): XmlSyntaxError | null {
    let i = from;
    for (;;) {
      if (this.nextAmp < i) {
        const found = this.xml.indexOf('&', i);
        this.nextAmp = found === -1 ? this.length : found;
      }
      const amp = this.nextAmp;
      if (amp >= to) return null;
      const end = this.reference(amp);
      if (end === -1) return fail("'&' that does not start an entity or character reference (write &amp;)", amp);
      i = end;
    }
  }

  /** The index after the reference at `amp`, or -1 when it is not one. */
  private reference(amp: number): number {
    const { xml } = this;
    let i = amp + 1;
    if (xml.charCodeAt(i) === 35 /* # */) {
      i++;
      const start = xml.charCodeAt(i) === 120 /* x */ ? ++i : i;
      const hex = start !== amp + 2;
      for (;;) {
        const c = xml.charCodeAt(i);
        if ((c >= 48 && c <= 57) || (hex && ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)))) i++;
        else break;
      }
      if (i === start) return -1;
    } else {
      const end = this.nameEnd(i);
      if (end === i) return -1;
      i = end;
    }
    return xml.charCodeAt(i) === 59 /* ; */ ? i + 1 : -1;
  }

  /** The index after the XML Name starting at `i` (`i` itself when no name starts there). */
  private nameEnd(i: number): number {
    const { xml } = this;
    let c = xml.charCodeAt(i);
    if (isAsciiNameStart(c)) i++;
    else if (c >= 0x80) {
      const width = nonAsciiNameStart(xml, i, c);
      if (width === 0) return i;
      i += width;
    } else return i;
    for (;;) {
      c = xml.charCodeAt(i);
      if (isAsciiNameStart(c) || (c >= 48 && c <= 57) || c === 45 /* - */ || c === 46 /* . */) i++;
      else if (c >= 0x80) {
        const width = nonAsciiNameStart(xml, i, c) || (isNonAsciiNameChar(c) ? 1 : 0);
        if (width === 0) return i;
        i += width;
      } else return i;
    }
  }

  private skipSpace(i: number): number {
    while (isSpace(this.xml.charCodeAt(i))) i++;
    return i;
  }

  private startTag(lt: number): number | XmlSyntaxError {
    const { xml } = this;
    const nameStart = lt + 1;
    let i = this.nameEnd(nameStart);
    if (i === nameStart) return fail("'<' that does not start a tag (write &lt;)", lt);
    const nameLength = i - nameStart;
    if (this.depth === 0 && this.rootSeen) return fail('a second root element', lt);
    this.attrCount = 0;
    let names: Set<string> | undefined;
    for (;;) {
      let c = xml.charCodeAt(i);
      if (c === 62 /* > */) {
        const top = 2 * this.depth++;
        this.open[top] = nameStart;
        this.open[top + 1] = nameLength;
        this.rootSeen = true;
        return i + 1;
      }
      if (c === 47 /* / */) {
        if (xml.charCodeAt(i + 1) !== 62) return fail("'/' not followed by '>' in a tag", i);
        this.rootSeen = true;
        return i + 2;
      }
      if (i >= this.length) return fail(`tag <${xml.slice(nameStart, nameStart + nameLength)}> is never closed with '>'`, lt);
      if (!isSpace(c)) return fail('attributes must be separated by whitespace', i);
      i = this.skipSpace(i + 1);
      c = xml.charCodeAt(i);
      if (c === 62 || c === 47) continue;
      const attrStart = i;
      i = this.nameEnd(i);
      if (i === attrStart) {
        return fail(i >= this.length ? 'tag is never closed' : `invalid character in tag: ${JSON.stringify(xml[i])}`, i);
      }
      const attrLength = i - attrStart;
      if (names === undefined && this.attrCount < PAIRWISE_ATTRS) {
        if (this.seenAttr(attrStart, attrLength)) return duplicate(xml, attrStart, attrLength);
        this.attrs[2 * this.attrCount] = attrStart;
        this.attrs[2 * this.attrCount + 1] = attrLength;
        this.attrCount++;
      } else {
        if (names === undefined) {
          names = new Set();
          for (let k = 0; k < 2 * this.attrCount; k += 2) names.add(xml.slice(this.attrs[k], this.attrs[k]! + this.attrs[k + 1]!));
        }
        const name = xml.slice(attrStart, i);
        if (names.has(name)) return duplicate(xml, attrStart, attrLength);
        names.add(name);
      }
      i = this.skipSpace(i);
      if (xml.charCodeAt(i) !== 61 /* = */) return fail(`attribute ${xml.slice(attrStart, attrStart + attrLength)} has no value`, attrStart);
      i = this.skipSpace(i + 1);
      const quote = xml.charCodeAt(i);
      if (quote !== 34 && quote !== 39) return fail(`the value of attribute ${xml.slice(attrStart, attrStart + attrLength)} is not quoted`, i);
      const close = xml.indexOf(quote === 34 ? '"' : "'", i + 1);
      if (close === -1) return fail(`the value of attribute ${xml.slice(attrStart, attrStart + attrLength)} is never closed`, i);
      const lt2 = this.ltFrom(i + 1);
      if (lt2 < close) return fail("'<' in an attribute value (write &lt;)", lt2);
      const error = this.references(i + 1, close);
      if (error) return error;
      i = close + 1;
    }
  }

  private seenAttr(start: number, length: number): boolean {
    const { xml, attrs } = this;
    for (let k = 0; k < 2 * this.attrCount; k += 2) {
      if (attrs[k + 1] !== length) continue;
      const other = attrs[k]!;
      let same = true;
      for (let j = 0; j < length; j++) {
        if (xml.charCodeAt(start + j) !== xml.charCodeAt(other + j)) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    return false;
  }

  private endTag(lt: number): number | XmlSyntaxError {
    const { xml, open } = this;
    const nameStart = lt + 2;
    const nameEnd = this.nameEnd(nameStart);
    if (nameEnd === nameStart) return fail("'</' not followed by a name", lt);
    const i = this.skipSpace(nameEnd);
    if (xml.charCodeAt(i) !== 62) return fail(`end tag </${xml.slice(nameStart, nameEnd)}> is not closed with '>'`, i);
    if (this.depth === 0) return fail(`end tag </${xml.slice(nameStart, nameEnd)}> with no open element`, lt);
    const openStart = open[2 * this.depth - 2]!;
    const openLength = open[2 * this.depth - 1]!;
    let same = openLength === nameEnd - nameStart;
    for (let j = 0; same && j < openLength; j++) same = xml.charCodeAt(openStart + j) === xml.charCodeAt(nameStart + j);
    if (!same) return fail(`end tag </${xml.slice(nameStart, nameEnd)}> does not match <${xml.slice(openStart, openStart + openLength)}>`, lt);
    this.depth--;
    return i + 1;
  }

  /** `<!--`, `<![CDATA[` or `<!DOCTYPE` at `lt`. */
  private declaration(lt: number): number | XmlSyntaxError {
    const { xml } = this;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      return end === -1 ? fail('comment is never closed', lt) : end + 3;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      if (this.depth === 0) return fail('CDATA section outside the root element', lt);
      const end = xml.indexOf(']]>', lt + 9);
      return end === -1 ? fail('CDATA section is never closed', lt) : end + 3;
    }
    if (xml.startsWith('<!DOCTYPE', lt)) return this.doctype(lt);
    return fail("'<!' that starts no comment, CDATA section or DOCTYPE", lt);
  }

  /** Skips a DOCTYPE: quoted literals, the [internal subset] and its comments may hold '>'. */
  private doctype(lt: number): number | XmlSyntaxError {
    const { xml } = this;
    let inSubset = false;
    for (let i = lt + 9; i < this.length; i++) {
      const c = xml.charCodeAt(i);
      if (c === 34 || c === 39) {
        const close = xml.indexOf(c === 34 ? '"' : "'", i + 1);
        if (close === -1) return fail('quoted literal in the DOCTYPE is never closed', i);
        i = close;
      } else if (inSubset) {
        if (c === 93 /* ] */) inSubset = false;
        else if (c === 60 /* < */ && xml.startsWith('<!--', i)) {
          const close = xml.indexOf('-->', i + 4);
          if (close === -1) return fail('comment is never closed', i);
          i = close + 2;
        }
      } else if (c === 91 /* [ */) {
        inSubset = true;
      } else if (c === 62 /* > */) {
        return i + 1;
      }
    }
    return fail('DOCTYPE is never closed', lt);
  }

  /** A processing instruction `<?target …?>`; the XML declaration only at the very start. */
  private instruction(lt: number): number | XmlSyntaxError {
    const { xml } = this;
    const targetStart = lt + 2;
    const targetEnd = this.nameEnd(targetStart);
    if (targetEnd === targetStart) return fail("'<?' not followed by a name", lt);
    if (targetEnd - targetStart === 3 && xml.slice(targetStart, targetEnd).toLowerCase() === 'xml' && lt !== 0) {
      return fail('XML declaration not at the start of the document', lt);
    }
    const after = xml.charCodeAt(targetEnd);
    if (!isSpace(after) && !(after === 63 && xml.charCodeAt(targetEnd + 1) === 62)) {
      return fail('processing instruction target not followed by whitespace', targetEnd);
    }
    const end = xml.indexOf('?>', targetEnd);
    if (end === -1) return fail('processing instruction is never closed', lt);
    if (this.parserEndOfInstruction(lt) !== end) {
      return fail('processing instruction with an unpaired quote (fast-xml-parser would read past its end)', lt);
    }
    return end + 2;
  }

  /**
   * Where fast-xml-parser thinks the PI at `lt` ends: it skips quoted strings while looking for
   * '?>', so a lone apostrophe (`<?pi don't?>`) would make it swallow the markup up to a later
   * quote and '?>', silently. Such a PI is well-formed, but the tree would be wrong.
   */
  private parserEndOfInstruction(lt: number): number {
    const { xml } = this;
    for (let i = lt + 1; i < this.length; i++) {
      const c = xml.charCodeAt(i);
      if (c === 34 || c === 39) {
        i = xml.indexOf(c === 34 ? '"' : "'", i + 1);
        if (i === -1) return -1;
      } else if (c === 63 /* ? */ && xml.charCodeAt(i + 1) === 62) {
        return i;
      }
    }
    return -1;
  }
}

function fail(message: string, offset: number): XmlSyntaxError {
  return { message, offset };
}

function duplicate(xml: string, start: number, length: number): XmlSyntaxError {
  return fail(`attribute ${xml.slice(start, start + length)} given twice`, start);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

function isAsciiNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 /* _ */ || c === 58; /* : */
}

/** Width (1 or 2 UTF-16 units) of the non-ASCII NameStartChar at `i`, 0 when there is none. */
function nonAsciiNameStart(xml: string, i: number, c: number): number {
  if (
    (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd)
  ) {
    return 1;
  }
  // U+10000–U+EFFFF: high surrogates D800–DB7F followed by a low surrogate.
  if (c >= 0xd800 && c <= 0xdb7f) {
    const low = xml.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) return 2;
  }
  return 0;
}

function isNonAsciiNameChar(c: number): boolean {
  return c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040;
}
