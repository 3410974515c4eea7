/**
 * ArticleSpec → nxml text in the shape PMC delivers in legacy packages: an NLM/JATS archiving
 * article with PMC's processing instruction, xlink and MathML namespaces, front matter, a body
 * whose figures sit right after the paragraph that first cites them, and a back with references.
 * It writes an XML declaration and no DOCTYPE, so nothing tries to fetch a DTD.
 */
import type { ArticleSpec, Block, FigGroupSpec, FigureSpec, LicenseCode, SectionSpec, Ymd } from './article.js';
import { esc, type Reference } from './content.js';

const LICENSES: Record<LicenseCode, { href: string | null; text: string }> = {
  'CC BY': {
    href: 'https://creativecommons.org/licenses/by/4.0/',
    text: 'This is an open access article distributed under the terms of the <ext-link ext-link-type="uri" xlink:href="https://creativecommons.org/licenses/by/4.0/">Creative Commons Attribution License</ext-link>, which permits unrestricted use, distribution, and reproduction in any medium, provided the original author and source are credited.',
  },
  CC0: {
    href: 'https://creativecommons.org/publicdomain/zero/1.0/',
    text: 'This is an open access article, free of all copyright, and may be freely reproduced, distributed, transmitted, modified, built upon, or otherwise used by anyone for any lawful purpose. The work is made available under the <ext-link ext-link-type="uri" xlink:href="https://creativecommons.org/publicdomain/zero/1.0/">Creative Commons CC0</ext-link> public domain dedication.',
  },
  'CC BY-NC': {
    href: 'https://creativecommons.org/licenses/by-nc/4.0/',
    text: 'This is an open access article under the terms of the Creative Commons Attribution-NonCommercial License, which permits use, distribution and reproduction in any medium, provided the original work is properly cited and is not used for commercial purposes.',
  },
  'CC BY-NC-ND': {
    href: 'https://creativecommons.org/licenses/by-nc-nd/4.0/',
    text: 'This is an open access article under the terms of the Creative Commons Attribution-NonCommercial-NoDerivs License, which permits use and distribution in any medium, provided the original work is properly cited, the use is non-commercial and no modifications or adaptations are made.',
  },
  'CC BY-NC-SA': {
    href: 'https://creativecommons.org/licenses/by-nc-sa/3.0/',
    text: 'This is an Open Access article distributed under the terms of the Creative Commons Attribution-NonCommercial-ShareAlike License, which permits non-commercial re-use, distribution, and reproduction in any medium, provided the original work is properly cited and any adaptation is shared under the same licence.',
  },
  'NO-CC CODE': {
    href: null,
    text: 'Since January 2020 Elsevier has created a COVID-19 resource centre with free information in English and Mandarin on the novel coronavirus COVID-19. Elsevier hereby grants permission to make all its COVID-19-related research that is available on the COVID-19 resource centre immediately available in PubMed Central and other publicly funded repositories with rights for unrestricted research re-use and analyses in any form or by any means with acknowledgement of the original source.',
  },
};

function date(tag: string, attr: string, d: Ymd): string {
  const day = d.day > 0 ? `<day>${d.day}</day>` : '';
  return `<${tag} ${attr}>${day}<month>${d.month}</month><year>${d.year}</year></${tag}>`;
}

function caption(c: FigureSpec['caption']): string {
  if (c === null) return '<caption><p/></caption>';
  const title = c.title === null ? '' : `<title>${c.title}</title>`;
  return `<caption>${title}${c.paragraphs.map((p) => `<p>${p}</p>`).join('')}</caption>`;
}

function fig(f: FigureSpec, position = true): string {
  return `<fig id="${f.id}"${position ? ' position="float"' : ''}><label>${esc(f.label)}</label>${caption(f.caption)}<graphic xlink:href="${esc(f.stem)}"/></fig>`;
}

function figGroup(g: FigGroupSpec): string {
  return `<fig-group id="${g.id}" position="float"><label>${esc(g.label)}</label><caption><title>${g.title}</title></caption>${g.figures.map((f) => fig(f, false)).join('')}</fig-group>`;
}

function block(b: Block): string {
  switch (b.type) {
    case 'p':
      return `<p>${b.xml}</p>`;
    case 'fig':
      return fig(b.fig);
    case 'fig-group':
      return figGroup(b.group);
    case 'xml':
      return b.xml;
    case 'sec':
      return section(b.sec);
  }
}

function section(s: SectionSpec): string {
  const type = s.type ? ` sec-type="${s.type}"` : '';
  return `<sec id="${s.id}"${type}><title>${s.title}</title>${s.blocks.map(block).join('')}</sec>`;
}

function name(p: { surname: string; given: string }): string {
  return `<name><surname>${esc(p.surname)}</surname><given-names>${esc(p.given)}</given-names></name>`;
}

function reference(r: Reference, i: number, mixed: boolean): string {
  const authors = `<person-group person-group-type="author">${r.authors.map(name).join('')}</person-group>`;
  const ids = `${r.pmid ? `<pub-id pub-id-type="pmid">${r.pmid}</pub-id>` : ''}${r.doi ? `<pub-id pub-id-type="doi">${esc(r.doi)}</pub-id>` : ''}`;
  const body = `${authors}<article-title>${r.title}</article-title><source>${esc(r.source)}</source><year>${r.year}</year><volume>${r.volume}</volume><fpage>${r.fpage}</fpage><lpage>${r.lpage}</lpage>${ids}`;
  const cite = mixed ? `<mixed-citation publication-type="journal">${body}</mixed-citation>` : `<element-citation publication-type="journal">${body}</element-citation>`;
  return `<ref id="B${i + 1}"><label>${i + 1}</label>${cite}</ref>`;
}

export function renderNxml(a: ArticleSpec): string {
  const j = a.journal;
  const lic = LICENSES[a.license];
  const modern = a.epub.year >= 2016;
  const dtd = modern ? '1.2' : '3.0';
  const ns = `xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML"${modern ? ' xmlns:ali="http://www.niso.org/schemas/ali/1.0/"' : ''}`;
  const issn = `${j.issnPpub ? `<issn pub-type="ppub">${j.issnPpub}</issn>` : ''}<issn pub-type="epub">${j.issnEpub}</issn>`;
  const journalMeta = `<journal-meta><journal-id journal-id-type="nlm-ta">${esc(j.ta)}</journal-id><journal-id journal-id-type="iso-abbrev">${esc(j.ta)}</journal-id><journal-title-group><journal-title>${esc(j.title)}</journal-title></journal-title-group>${issn}<publisher><publisher-name>${esc(j.publisher)}</publisher-name></publisher></journal-meta>`;
  const ids = `${a.pmid ? `<article-id pub-id-type="pmid">${a.pmid}</article-id>` : ''}<article-id pub-id-type="pmc">${a.pmcid.slice(3)}</article-id><article-id pub-id-type="publisher-id">${esc(a.naming.publisherId)}</article-id><article-id pub-id-type="doi">${esc(a.naming.doi)}</article-id>`;
  const categories = `<article-categories><subj-group subj-group-type="heading"><subject>${a.heading}</subject></subj-group>${a.subjects.length > 0 ? `<subj-group subj-group-type="Discipline">${a.subjects.map((s) => `<subject>${esc(s)}</subject>`).join('')}</subj-group>` : ''}</article-categories>`;
  const contribs = a.authors
    .map((au, i) => `<contrib contrib-type="author"${au.corresponding ? ' corresp="yes"' : ''} id="au${i + 1}">${name(au.person)}${au.affs.map((k) => `<xref ref-type="aff" rid="aff${k + 1}">${k + 1}</xref>`).join('')}${au.corresponding ? '<xref ref-type="corresp" rid="cor1">*</xref>' : ''}</contrib>`)
    .join('');
  const affs = a.affiliations.map((s, k) => `<aff id="aff${k + 1}"><label>${k + 1}</label>${esc(s)}</aff>`).join('');
  const first = a.authors[0]!.person;
  const notes = `<author-notes><corresp id="cor1">* Corresponding author. E-mail: <email>${esc(first.surname.toLowerCase().replace(/[^a-z]/g, ''))}@example.org</email></corresp></author-notes>`;
  const dates = `${date('pub-date', 'pub-type="epub"', a.epub)}${a.ppub ? date('pub-date', 'pub-type="ppub"', a.ppub) : `<pub-date pub-type="collection"><year>${a.epub.year}</year></pub-date>`}`;
  const pages = j.elocation ? `<elocation-id>${esc(a.naming.elocationId || String(a.fpage))}</elocation-id>` : `<fpage>${a.fpage}</fpage><lpage>${a.lpage}</lpage>`;
  const history = `<history>${date('date', 'date-type="received"', a.received)}${date('date', 'date-type="accepted"', a.accepted)}</history>`;
  const licenseAttrs = lic.href ? ` license-type="open-access" xlink:href="${lic.href}"` : ' license-type="open-access"';
  const aliRef = modern && lic.href ? `<ali:license_ref>${lic.href}</ali:license_ref>` : '';
  const permissions = `<permissions><copyright-statement>&#x000a9; ${a.epub.year} ${esc(first.surname)} et al.</copyright-statement><copyright-year>${a.epub.year}</copyright-year><license${licenseAttrs}>${aliRef}<license-p>${lic.text}</license-p></license></permissions>`;
  const abstract = `<abstract>${a.abstract.map((s) => (s.title ? `<sec><title>${s.title}</title><p>${s.p}</p></sec>` : `<p>${s.p}</p>`)).join('')}</abstract>`;
  const kwd = `<kwd-group kwd-group-type="author"><title>Keywords</title>${a.keywords.map((k) => `<kwd>${k}</kwd>`).join('')}</kwd-group>`;
  const articleMeta = `<article-meta>${ids}${categories}<title-group><article-title>${a.title}</article-title></title-group><contrib-group>${contribs}</contrib-group>${affs}${notes}${dates}<volume>${a.volume}</volume>${a.issue !== null ? `<issue>${a.issue}</issue>` : ''}${pages}${history}${permissions}${abstract}${kwd}</article-meta>`;
  const body = `<body>${a.sections.map(section).join('')}</body>`;
  const mixed = j.style === 'plos' || j.style === 'oup';
  const back = `<back><ack><p>We thank the participants and the staff of the participating centres.</p></ack><fn-group><fn fn-type="COI-statement"><p>The authors declare no competing interests.</p></fn></fn-group><ref-list><title>References</title>${a.references.map((r, i) => reference(r, i, mixed)).join('')}</ref-list></back>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<article ${ns} article-type="${a.articleType}" dtd-version="${dtd}" xml:lang="en"><?properties open_access?><front>${journalMeta}${articleMeta}</front>${body}${back}</article>\n`;
}
