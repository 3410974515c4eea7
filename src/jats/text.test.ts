import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockText, collapseSpace, flatten, lineText } from './text.js';
import { kidsOf, parseXmlTree, tagOf } from './xml.js';

/** The one-line text of the root element of `xml`. */
function line(xml: string): string {
  const root = parseXmlTree(xml)[0]!;
  return lineText(kidsOf(root, tagOf(root)));
}

const MML = 'xmlns:mml="http://www.w3.org/1998/Math/MathML"';

describe('one-line text (captions, titles, paragraphs)', () => {
  test('inline markup adds and loses no space', () => {
    assert.equal(line('<p>Ca<sup>2+</sup>-dependent <italic>in vivo</italic> (<xref ref-type="fig" rid="F1">Fig. 1A</xref>).</p>'), 'Ca2+-dependent in vivo (Fig. 1A).');
    assert.equal(line('<p><bold>DOI:</bold> <ext-link xlink:href="x">http://dx.doi.org/1</ext-link></p>'), 'DOI: http://dx.doi.org/1');
    assert.equal(line('<p>H<sub>2</sub>O<named-content content-type="x">!</named-content></p>'), 'H2O!');
  });

  test('title, paragraphs and list items are separated by one space', () => {
    assert.equal(line('<caption><title>Growth</title><p>Cells grew.</p><p>They died.</p></caption>'), 'Growth Cells grew. They died.');
    assert.equal(
      line('<caption><p>Panels:</p><list><list-item><label>a</label><p>left</p></list-item><list-item><p>right</p></list-item></list></caption>'),
      'Panels: a left right',
    );
  });

  test('XML whitespace collapses; no-break, thin and hair spaces are kept', () => {
    assert.equal(line('<p>\n  a \t\r\n b\u00a0c\u2009d\u200ae  </p>'), 'a b\u00a0c\u2009d\u200ae');
    assert.equal(collapseSpace('\u2009x\u2009'), '\u2009x\u2009');
  });

  test('collapseSpace: every run of XML whitespace becomes one space, edges trimmed', () => {
    // The plain definition, against every string of up to 5 characters over a small alphabet.
    const reference = (text: string): string => text.replace(/[ \t\n\r]+/g, ' ').replace(/^ | $/g, '');
    const alphabet = [' ', '\t', '\n', '\r', 'a', '\u00a0'];
    let strings = [''];
    for (let length = 1; length <= 5; length++) {
      strings = strings.flatMap((s) => (s.length === length - 1 ? alphabet.map((c) => s + c) : []));
      for (const s of strings) assert.equal(collapseSpace(s), reference(s), JSON.stringify(s));
    }
    assert.equal(collapseSpace('one two  three\tfour\nfive \r\n six '), 'one two three four five six');
  });

  test('MathML gives its token characters, not its indentation or annotations', () => {
    const math = `<p>so <inline-formula><mml:math ${MML}>
      <mml:semantics><mml:mrow>
        <mml:msub><mml:mi> x </mml:mi><mml:mn>i</mml:mn></mml:msub>
        <mml:mo>=</mml:mo>
        <mml:mtext>a b</mml:mtext>
      </mml:mrow><mml:annotation encoding="TeX">x_i = a b</mml:annotation></mml:semantics>
    </mml:math></inline-formula> holds</p>`;
    assert.equal(line(math), 'so xi=a b holds');
  });

  test('mfenced shows its brackets and separators', () => {
    assert.equal(line(`<p><mml:math ${MML}><mml:mfenced><mml:mi>a</mml:mi><mml:mi>b</mml:mi></mml:mfenced></mml:math></p>`), '(a,b)');
    assert.equal(
      line(`<p><mml:math ${MML}><mml:mfenced open="[" close="" separators=";"><mml:mi>a</mml:mi><mml:mi>b</mml:mi></mml:mfenced></mml:math></p>`),
      '[a;b',
    );
  });

  test('alternatives give one rendering: MathML before TeX; a bare TeX document gives its body', () => {
    const alt = `<p>x <alternatives><tex-math>\\alpha</tex-math><mml:math ${MML}><mml:mi>α</mml:mi></mml:math><inline-graphic xlink:href="e1"/></alternatives> y</p>`;
    assert.equal(line(alt), 'x α y');
    const tex = '<p><tex-math>\\documentclass{minimal}\\begin{document}$\\beta$\\end{document}</tex-math></p>';
    assert.equal(line(tex), '$\\beta$');
  });

  test('tables give no text (they are kept unparsed)', () => {
    assert.equal(line('<caption><p>before</p><table><tr><td>cell</td></tr></table><p>after</p></caption>'), 'before after');
  });
});

describe('block text (body)', () => {
  test('titles and paragraphs become blocks joined by blank lines; skipped elements vanish', () => {
    const root = parseXmlTree(
      '<body><sec><title>Intro</title><p>One <italic>two</italic>.</p><fig><caption><p>Cap</p></caption></fig><p>Three</p></sec></body>',
    )[0]!;
    const sink = new BlockText();
    flatten(kidsOf(root, 'body'), sink, new Set(['fig']));
    assert.equal(sink.toString(), 'Intro\n\nOne two.\n\nThree');
  });
});
