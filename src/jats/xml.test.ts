import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { ItemError } from '../errors.js';
import { parseArticles } from './parse.js';
import { MAX_ELEMENT_DEPTH, MAX_ENTITY_EXPANSION_CHARS, MAX_ENTITY_VALUE_CHARS, PARSER_OPTIONS, decodeXml, parseXmlTree } from './xml.js';

function rejects(xml: string | Buffer, code: string): ItemError {
  let caught: unknown;
  try {
    parseArticles(xml);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ItemError, `expected ItemError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

function journalOf(xml: string | Buffer): string {
  return parseArticles(xml)[0]!.journal;
}

const article = (journal: string) => `<article><front><journal-meta><journal-title>${journal}</journal-title></journal-meta></front></article>`;

describe('hostile XML', () => {
  // A request to this server would mean the parser fetched a DTD or an entity.
  let server: Server;
  let requests = 0;
  let base = '';
  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.end('<!ENTITY leak "LEAKED">');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));

  test('billion laughs is refused before any expansion', { timeout: 2000 }, () => {
    const levels = ['<!ENTITY lol0 "lol">'];
    for (let i = 1; i <= 9; i++) levels.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
    const xml = `<?xml version="1.0"?><!DOCTYPE article [${levels.join('')}]><article><p>&lol9;</p></article>`;
    assert.match(rejects(xml, 'XML_ENTITY').message, /refers to other entities/);
  });

  test('quadratic blow-up: one long entity, or a short one repeated, is refused', { timeout: 2000 }, () => {
    const long = 'a'.repeat(MAX_ENTITY_VALUE_CHARS + 1);
    rejects(`<!DOCTYPE article [<!ENTITY a "${long}">]><article><p>${'&a;'.repeat(50_000)}</p></article>`, 'XML_ENTITY');
    const short = 'a'.repeat(MAX_ENTITY_VALUE_CHARS);
    const refs = Math.ceil(MAX_ENTITY_EXPANSION_CHARS / short.length) + 1;
    const xml = `<!DOCTYPE article [<!ENTITY a "${short}">]><article><p>${'&a;'.repeat(refs)}</p></article>`;
    assert.match(rejects(xml, 'XML_ENTITY').message, /expand to more than/);
    // The same limit holds when the references sit in attribute values.
    rejects(`<!DOCTYPE article [<!ENTITY a "${short}">]><article id="${'&a;'.repeat(refs)}"/>`, 'XML_ENTITY');
  });

  test('too many declared entities is refused', () => {
    const decls = Array.from({ length: 200 }, (_, i) => `<!ENTITY e${i} "x">`).join('');
    rejects(`<!DOCTYPE article [${decls}]><article/>`, 'XML_ENTITY');
  });

  test('an external entity on a local file is refused without opening it', { timeout: 3000 }, () => {
    // A FIFO blocks whoever opens it for reading until a writer comes: reading it would hang this test.
    const dir = mkdtempSync(join(tmpdir(), 'jats-xxe-'));
    try {
      const fifo = join(dir, 'secret');
      execFileSync('mkfifo', [fifo]);
      rejects(`<?xml version="1.0"?><!DOCTYPE article [<!ENTITY xxe SYSTEM "file://${fifo}">]><article><p>&xxe;</p></article>`, 'XML_ENTITY');
      rejects(`<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><article><p>&xxe;</p></article>`, 'XML_ENTITY');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('external entities, parameter entities and external DTDs over http are never fetched', async () => {
    rejects(`<!DOCTYPE article [<!ENTITY xxe SYSTEM "${base}/entity">]><article><p>&xxe;</p></article>`, 'XML_ENTITY');
    rejects(`<!DOCTYPE article [<!ENTITY xxe PUBLIC "-//X//EN" "${base}/public">]><article><p>&xxe;</p></article>`, 'XML_ENTITY');
    rejects(`<!DOCTYPE article [<!ENTITY % pe SYSTEM "${base}/pe.dtd"> %pe;]><article/>`, 'XML_ENTITY');
    rejects(`<!DOCTYPE article [<!ENTITY a "x"> %pe;]><article/>`, 'XML_ENTITY');
    // An external DTD reference is ordinary JATS: parsed without it, its entities left as written.
    const withDtd = `<!DOCTYPE article PUBLIC "-//NLM//DTD JATS//EN" "${base}/JATS-archivearticle1.dtd">${article('&leak; &amp;')}`;
    assert.equal(journalOf(withDtd), '&leak; &');
    await new Promise((done) => setTimeout(done, 50));
    assert.equal(requests, 0);
  });

  test('a DOCTYPE misplaced inside the root: self-referring entities stay unexpanded, external ones are refused', () => {
    const xml = `<article><!DOCTYPE x [<!ENTITY lol "${'&lol;'.repeat(10)}"><!ENTITY ok "fine">]>${article('&lol; &ok;').slice('<article>'.length)}`;
    assert.equal(journalOf(xml), '&lol; fine');
    rejects(`<article><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><front/></article>`, 'XML_ENTITY');
  });

  test('nesting: deep but legit documents parse; past the limit is XML_TOO_DEEP', { timeout: 5000 }, () => {
    const nested = (n: number) => `<article><body>${'<sec>'.repeat(n)}<p>x</p>${'</sec>'.repeat(n)}</body></article>`;
    assert.equal(parseArticles(nested(MAX_ELEMENT_DEPTH - 10))[0]!.bodyText, 'x');
    rejects(nested(MAX_ELEMENT_DEPTH + 10), 'XML_TOO_DEEP');
  });

  test('malformed XML is XML_MALFORMED; XML without an article is XML_NO_ARTICLE', () => {
    rejects('<article><front></article>', 'XML_MALFORMED');
    rejects('<article><p>unclosed', 'XML_MALFORMED');
    rejects('<article a="1" a="2"/>', 'XML_MALFORMED');
    rejects('not xml at all', 'XML_MALFORMED');
    rejects('', 'XML_MALFORMED');
    rejects('<article><!-- never closed </article>', 'XML_MALFORMED');
    rejects('<?xml version="1.0"?><PubmedArticleSet><PubmedArticle/></PubmedArticleSet>', 'XML_NO_ARTICLE');
  });
});

describe('entities and encodings', () => {
  test('numeric references, the JATS named set, and plain internal entities are decoded', () => {
    const xml = `<!DOCTYPE article [<!ENTITY jn "J. Test">]>${article('&jn; &lsqb;1&rsqb; 5&percnt; a&thinsp;b &alpha;&#x2013;&#8212;&#x1D4A9; &lt;&gt;&amp;&quot;&apos;')}`;
    assert.equal(journalOf(xml), 'J. Test [1] 5% a\u2009b α–—𝒩 <>&"\'');
  });

  test('unknown names stay as written; Object.prototype names are not entities; forbidden characters become U+FFFD', () => {
    assert.equal(journalOf(article('&Thetas; &constructor; &toString; &#0; &#xD800; &#x110000;')), '&Thetas; &constructor; &toString; \uFFFD \uFFFD \uFFFD');
    assert.equal(journalOf(article('AT&amp;T &amp;amp; &#38;lt;')), 'AT&T &amp; &lt;');
  });

  test('attribute values are decoded too', () => {
    const tree = parseXmlTree('<article><fig id="a&#x2013;b"/></article>');
    const fig = (tree[0]!['article'] as Record<string, unknown>[])[0]!;
    assert.deepEqual(fig[':@'], { id: 'a–b' });
  });

  test('bytes: UTF-8 with and without BOM, UTF-16 with BOM, declared Latin-1', () => {
    const text = article('Cerâmica – São Paulo');
    assert.equal(journalOf(Buffer.from(text, 'utf8')), 'Cerâmica – São Paulo');
    assert.equal(journalOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')])), 'Cerâmica – São Paulo');
    assert.equal(journalOf(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])), 'Cerâmica – São Paulo');
    const latin = `<?xml version="1.0" encoding="ISO-8859-1"?>${article('Cerâmica São Paulo')}`;
    assert.equal(journalOf(Buffer.from(latin, 'latin1')), 'Cerâmica São Paulo');
    rejects(Buffer.from(`<?xml version="1.0" encoding="Shift_JIS"?>${article('x')}`, 'latin1'), 'XML_ENCODING');
  });
});

describe('namespace prefixes', () => {
  // Our callbacks replace fast-xml-parser's removeNSPrefix (cheaper); the trees must not differ.
  const reference = new XMLParser({
    ...PARSER_OPTIONS,
    removeNSPrefix: true,
    transformTagName: false,
    transformAttributeName: false,
    ignoreAttributes: false,
  });

  test('prefixed tags and attributes, namespace declarations, odd names: the same tree as removeNSPrefix', () => {
    const xml =
      '<article xmlns="urn:a" xmlns:mml="urn:m" xmlns:xlink="urn:x" xml:lang="en" a:b:c="3" p:="dropped" :lead="4" q::r="5">' +
      '<mml:math><mml:mi mathvariant="bold">x</mml:mi><mml:none/><mml:mspace width="1em"/></mml:math>' +
      '<graphic xlink:href="f1.jpg" xlink:type="simple"/><fig id="f"><x:y:z></x:y:z></fig><only xmlns:q="urn:q"/></article>';
    const tree = parseXmlTree(xml);
    assert.deepEqual(tree, reference.parse(xml));
    const root = tree[0]!;
    assert.deepEqual(root[':@'], { lang: 'en', 'a:b:c': '3', lead: '4', 'q::r': '5' });
    assert.equal(tagOfFirst(root['article'] as Record<string, unknown>[]), 'math');
  });

  test('corpus files (every other one, for time): the same tree as removeNSPrefix', () => {
    const nxml = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/corpus/nxml');
    const files = (dir: string): string[] =>
      readdirSync(dir).sort().flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
    const sample = files(nxml).filter((_, i) => i % 2 === 0);
    assert.ok(sample.length > 100);
    for (const path of sample) {
      const xml = decodeXml(readFileSync(path));
      assert.deepEqual(parseXmlTree(xml), reference.parse(xml), path);
    }
  });
});

function tagOfFirst(nodes: readonly Record<string, unknown>[]): string {
  return Object.keys(nodes[0]!)[0]!;
}
