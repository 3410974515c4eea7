/**
 * One synthetic article as data: its file-list row, its front matter, body, figures and the files
 * of its package. jats.ts turns it into nxml and package.ts into a tar.gz; keeping the model apart
 * lets --bad break one thing at a time and lets tests compare what was written with what was meant.
 */
import * as content from './content.js';
import type { ImagePool, PooledImage } from './images.js';
import { JOURNALS, namingFor, volumeOf, type Journal, type Naming, type PublisherStyle } from './journals.js';
import { hashSeed, Rng } from './prng.js';

export const LICENSE_CODES = ['CC BY', 'CC0', 'CC BY-NC', 'CC BY-NC-ND', 'CC BY-NC-SA', 'NO-CC CODE'] as const;
export type LicenseCode = (typeof LICENSE_CODES)[number];

/** Deliberately broken items for --bad; the demo must record each as a failure and go on. */
export const BAD_KINDS = ['missing-package', 'truncated-gzip', 'malformed-nxml', 'corrupt-image', 'empty-caption', 'tiny-image', 'missing-image'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface Ymd {
  year: number;
  month: number;
  day: number;
}

export interface FigureSpec {
  id: string;
  label: string;
  /** Graphic href: the file stem, no extension. */
  stem: string;
  /** null renders as an empty caption (a --bad item). */
  caption: { title: string | null; paragraphs: string[] } | null;
  image: PooledImage;
  /** What the package holds for this figure; empty when the file is missing (a --bad item). */
  files: { name: string; bytes: Buffer }[];
}

export interface FigGroupSpec {
  id: string;
  label: string;
  title: string;
  figures: FigureSpec[];
}

export type Block =
  | { type: 'p'; xml: string }
  | { type: 'fig'; fig: FigureSpec }
  | { type: 'fig-group'; group: FigGroupSpec }
  | { type: 'xml'; xml: string }
  | { type: 'sec'; sec: SectionSpec };

export interface SectionSpec {
  id: string;
  type: string | null;
  title: string;
  blocks: Block[];
}

export interface ArticleSpec {
  index: number;
  pmcid: string;
  pmid: string;
  journal: Journal;
  naming: Naming;
  articleType: string;
  heading: string;
  subjects: string[];
  title: string;
  authors: { person: content.Person; affs: number[]; corresponding: boolean }[];
  affiliations: string[];
  epub: Ymd;
  ppub: Ymd | null;
  received: Ymd;
  accepted: Ymd;
  volume: number;
  issue: number | null;
  fpage: number;
  lpage: number;
  license: LicenseCode;
  retracted: boolean;
  abstract: { title: string; p: string }[];
  keywords: string[];
  sections: SectionSpec[];
  references: content.Reference[];
  supplements: { name: string; label: string }[];
  /** Every figure, in document order, grouped or not. */
  figures: FigureSpec[];
  citation: string;
  lastUpdated: string;
  /** `oa_package/xx/yy/PMCn.tar.gz` */
  path: string;
  bad: BadKind | null;
  badFigureId: string | null;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Which publishers carry which licence, so a row's licence and its journal agree. */
const STYLES_BY_LICENSE: Record<LicenseCode, PublisherStyle[]> = {
  'CC BY': ['plos', 'springer', 'frontiers', 'mdpi', 'elife', 'lww', 'wiley', 'oup'],
  CC0: ['plos', 'springer'],
  'CC BY-NC': ['oup', 'wiley', 'lww', 'elsevier'],
  'CC BY-NC-ND': ['wiley', 'lww', 'elsevier', 'oup'],
  'CC BY-NC-SA': ['oup', 'lww', 'springer'],
  'NO-CC CODE': ['elsevier', 'oup', 'springer'],
};

const LICENSE_WEIGHTS: readonly (readonly [LicenseCode, number])[] = [
  ['CC BY', 42],
  ['CC0', 3],
  ['CC BY-NC', 10],
  ['CC BY-NC-ND', 14],
  ['CC BY-NC-SA', 5],
  ['NO-CC CODE', 26],
];

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function addDays(d: Ymd, days: number): Ymd {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day) + days * 86_400_000);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

export function ymdString(d: Ymd): string {
  return `${d.year}-${pad2(d.month)}-${pad2(d.day)}`;
}

function citationOf(rng: Rng, a: Pick<ArticleSpec, 'journal' | 'epub' | 'volume' | 'issue' | 'fpage' | 'lpage' | 'naming'>): string {
  const date = `${a.epub.year} ${MONTHS[a.epub.month - 1]} ${a.epub.day}`;
  const vol = a.issue === null ? String(a.volume) : `${a.volume}(${a.issue})`;
  let where: string;
  if (a.journal.elocation) where = a.naming.elocationId || String(a.fpage);
  else {
    where = `${a.fpage}-${a.lpage}`;
    // NLM citations of articles split over non-contiguous pages hold a comma, which the csv must quote.
    if (rng.chance(0.3)) where += `, ${a.lpage + rng.int(2, 9)}`;
  }
  return `${a.journal.ta}. ${date}; ${vol}:${where}`;
}

export interface ArticleContext {
  seed: number;
  pool: ImagePool;
  imagesPerArticleMax: number;
}

export interface ArticleOverrides {
  bad: BadKind | null;
  retracted: boolean;
  /** Pins a licence so that even a small sample shows every code. */
  license: LicenseCode | null;
}

/** Builds article `index` with PMC number `pmcNumber`; `force.bad` breaks it on purpose. */
export async function buildArticle(ctx: ArticleContext, index: number, pmcNumber: number, force: ArticleOverrides): Promise<ArticleSpec> {
  const { bad } = force;
  const pmcid = `PMC${pmcNumber}`;
  const rng = new Rng(hashSeed(ctx.seed, 'article', pmcid));
  const drawn = rng.weighted(LICENSE_WEIGHTS);
  const license = force.license ?? drawn;
  const journal = rng.pick(JOURNALS.filter((j) => STYLES_BY_LICENSE[license].includes(j.style)));
  const t = content.theme(rng);
  const year = rng.int(Math.max(journal.firstYear, 2005), 2024);
  const epub: Ymd = { year, month: rng.int(1, 12), day: 1 };
  epub.day = rng.int(1, daysIn(epub.year, epub.month));
  const received = addDays(epub, -rng.int(90, 400));
  const accepted = addDays(epub, -rng.int(14, 60));
  const volume = volumeOf(journal, year);
  const issue = journal.style === 'springer' || journal.style === 'elife' ? null : journal.ta === 'Lancet' ? rng.int(8900, 10400) : journal.ta === 'Nucleic Acids Res' ? rng.int(1, 22) : rng.int(1, 12);
  const fpage = rng.int(1, 1800);
  const lpage = fpage + rng.int(3, 14);
  const naming = namingFor(journal, rng, year, volume, rng.int(1000, 9_999_999));
  const retracted = force.retracted || rng.chance(0.004);
  const titleXml = content.title(rng, t);

  const affiliations = content.institutions(rng, rng.int(1, 4));
  const authors = Array.from({ length: rng.int(2, 9) }, (_, i) => ({
    person: content.person(rng),
    affs: rng.sample(affiliations.map((_, k) => k), rng.int(1, Math.min(2, affiliations.length))).sort(),
    corresponding: i === 0,
  }));

  const structured = rng.chance(0.6);
  const abstract = structured
    ? ['Background', 'Methods', 'Results', 'Conclusions'].map((title) => ({ title, p: `${content.sentence(rng, t)} ${content.sentence(rng, t)}` }))
    : [{ title: '', p: content.paragraph(rng, t) }];

  // Figures: how many, which pooled image each shows, which ones sit in a fig-group.
  const wantFigures = bad !== null && ['corrupt-image', 'empty-caption', 'tiny-image', 'missing-image'].includes(bad) ? Math.max(2, ctx.imagesPerArticleMax) : ctx.imagesPerArticleMax;
  const figureCount = rng.chance(0.05) && bad === null ? 0 : Math.min(wantFigures, Math.max(bad ? 2 : 1, rng.int(1, wantFigures)));
  const figures: FigureSpec[] = [];
  const units: (FigureSpec | FigGroupSpec)[] = [];
  const ids = { math: 0 };
  let labelNo = 0;
  let graphicNo = 0;
  const imageBase = rng.int(0, 1_000_000);
  const makeFigure = async (id: string, label: string): Promise<FigureSpec> => {
    graphicNo += 1;
    const image = await ctx.pool.get(imageBase + graphicNo * 7 + rng.int(0, 6));
    const cap = content.caption(rng, t, image, ids);
    const stem = naming.figureStem(graphicNo);
    const captionTitle = rng.chance(0.85) ? cap.title : null;
    const captionParagraphs = rng.chance(0.85) ? cap.paragraphs : [cap.title, ...cap.paragraphs];
    const fig: FigureSpec = {
      id,
      label,
      stem,
      // Without its title and with no paragraph left, a caption would come out empty: only the
      // deliberate 'empty-caption' item may be empty (sample-truth.jsonl says which one is).
      caption: { title: captionTitle, paragraphs: captionTitle === null && captionParagraphs.length === 0 ? [cap.title] : captionParagraphs },
      image,
      files: [
        { name: `${stem}.${image.format}`, bytes: image.full },
        { name: `${stem}.gif`, bytes: image.thumb },
      ],
    };
    figures.push(fig);
    return fig;
  };
  while (graphicNo < figureCount) {
    labelNo += 1;
    const id = naming.figureId(labelNo);
    const label = naming.figureLabel(labelNo);
    const left = figureCount - graphicNo;
    if (left >= 2 && rng.chance(0.12)) {
      const n = Math.min(left, rng.int(2, 3));
      const children: FigureSpec[] = [];
      for (let k = 0; k < n; k++) {
        const letter = String.fromCharCode(65 + k);
        children.push(await makeFigure(`${id}${letter}`, `${label.replace(/\.$/, '')}${letter}`));
      }
      units.push({ id, label, title: content.caption(rng, t, children[0]!.image, ids).title, figures: children });
    } else {
      units.push(await makeFigure(id, label));
    }
  }

  const labelWord = naming.figureLabel(1).replace(/\s*1\.?$/, '');
  const xrefTo = (u: FigureSpec | FigGroupSpec, panel = ''): string => `<xref ref-type="fig" rid="${u.id}">${labelWord} ${u.label.replace(/^\D+/, '').replace(/\.$/, '')}${panel}</xref>`;

  const sec = (id: string, title: string, type: string | null, blocks: Block[]): SectionSpec => ({ id, type, title, blocks });
  const p = (xrefs: string[] = []): Block => ({ type: 'p', xml: content.paragraph(rng, t, xrefs) });

  const introBlocks: Block[] = [p(), p()];
  // One rid list naming several figures, the case that trips naive xref readers.
  if (units.length >= 2 && rng.chance(0.6)) {
    const [a, b] = [units[0]!, units[1]!];
    introBlocks.push(p([`<xref ref-type="fig" rid="${a.id} ${b.id}">${labelWord}s ${a.label.replace(/^\D+/, '').replace(/\.$/, '')} and ${b.label.replace(/^\D+/, '').replace(/\.$/, '')}</xref>`]));
  }
  const methods: SectionSpec[] = [
    sec('sec2-1', 'Study design and participants', null, [p()]),
    sec('sec2-2', 'Cell culture and reagents', null, [p()]),
  ];
  if (rng.chance(0.35)) {
    methods.push(
      sec('sec2-3', 'Tumour volume', null, [
        p(),
        {
          type: 'xml',
          xml: '<disp-formula id="E1"><mml:math id="M0" display="block"><mml:mrow><mml:mi>V</mml:mi><mml:mo>=</mml:mo><mml:mfrac><mml:mrow><mml:mi>L</mml:mi><mml:mo>&#x000d7;</mml:mo><mml:msup><mml:mi>W</mml:mi><mml:mn>2</mml:mn></mml:msup></mml:mrow><mml:mn>2</mml:mn></mml:mfrac></mml:mrow></mml:math></disp-formula>',
        },
      ]),
    );
  }
  methods.push(sec(`sec2-${methods.length + 1}`, 'Statistical analysis', null, [p()]));

  const results: SectionSpec[] = [];
  units.forEach((u, i) => {
    const cited = rng.chance(0.92);
    const blocks: Block[] = [p(cited ? [xrefTo(u, rng.chance(0.3) ? 'A' : '')] : [])];
    blocks.push('figures' in u ? { type: 'fig-group', group: u } : { type: 'fig', fig: u });
    if (rng.chance(0.5)) blocks.push(p(cited && rng.chance(0.5) ? [xrefTo(u, 'B')] : []));
    // Results headings usually restate the figure's message.
    const heading = 'figures' in u ? u.title : (u.caption?.title ?? content.sentence(rng, t));
    results.push(sec(`sec3-${i + 1}`, heading.replace(/\s*\([^)]*\)\.$|\.$/, ''), null, blocks));
  });
  if (results.length === 0) results.push(sec('sec3-1', 'Patient characteristics', null, [p(), p()]));
  if (rng.chance(0.5)) {
    const rows = Array.from({ length: rng.int(3, 7) }, (_, r) => `<tr><td>${['Age, years', 'Female sex, n (%)', 'BMI, kg/m<sup>2</sup>', 'Smoking, n (%)', 'Hypertension, n (%)', 'Diabetes, n (%)', 'CRP, mg/L'][r]}</td><td>${rng.int(20, 80)} &#x000b1; ${rng.int(2, 15)}</td><td>${rng.int(20, 80)} &#x000b1; ${rng.int(2, 15)}</td><td>0.${rng.int(1, 99)}</td></tr>`).join('');
    results[0]!.blocks.push({
      type: 'xml',
      xml: `<table-wrap id="T1" position="float"><label>Table 1</label><caption><p>Baseline characteristics of the study population.</p></caption><table frame="hsides" rules="groups"><thead><tr><th>Characteristic</th><th>Control (<italic>n</italic> = ${rng.int(20, 200)})</th><th>Case (<italic>n</italic> = ${rng.int(20, 200)})</th><th><italic>P</italic></th></tr></thead><tbody>${rows}</tbody></table><table-wrap-foot><fn id="TF1"><p>Data are mean &#x000b1; SD or <italic>n</italic> (%).</p></fn></table-wrap-foot></table-wrap>`,
    });
  }

  const supplements = rng.chance(0.25) ? [{ name: naming.supplement(1), label: 'Supplementary Material' }] : [];
  const sections: SectionSpec[] = [
    sec('sec1', 'Introduction', 'intro', introBlocks),
    sec('sec2', 'Materials and methods', 'methods', methods.map((s) => ({ type: 'sec', sec: s }) as Block)),
    sec('sec3', 'Results', 'results', results.map((s) => ({ type: 'sec', sec: s }) as Block)),
    sec('sec4', 'Discussion', 'discussion', [p(), p(units.length > 0 && rng.chance(0.4) ? [xrefTo(units[units.length - 1]!)] : []), p()]),
    sec('sec5', 'Conclusions', 'conclusions', [p()]),
  ];
  if (supplements.length > 0) {
    sections.push(sec('sec6', 'Supplementary Material', 'supplementary-material', [{ type: 'xml', xml: `<supplementary-material id="SM1" content-type="local-data"><label>${supplements[0]!.label}</label><media xlink:href="${supplements[0]!.name}"><caption><p>Additional methods and tables.</p></caption></media></supplementary-material>` }]));
  }

  const references = Array.from({ length: rng.int(12, 40) }, () => content.reference(rng, t, year));
  const lastUpdatedDay = addDays(epub, rng.int(20, 2000));
  const capped = lastUpdatedDay.year > 2025 ? { year: 2025, month: rng.int(1, 12), day: rng.int(1, 28) } : lastUpdatedDay;
  const lastUpdated = `${ymdString(capped)} ${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}`;
  const hex = (): string => rng.int(0, 255).toString(16).padStart(2, '0');
  const path = `oa_package/${hex()}/${hex()}/${pmcid}.tar.gz`;
  const spec: ArticleSpec = {
    index,
    pmcid,
    pmid: rng.chance(0.05) ? '' : String(rng.int(10_000_000, 39_999_999)),
    journal,
    naming,
    articleType: rng.weighted([
      ['research-article', 85],
      ['review-article', 8],
      ['case-report', 7],
    ]),
    heading: rng.pick(['Research Article', 'Article', 'Original Research', 'Research']),
    subjects: rng.sample(t.topic.subjects, rng.int(1, 2)),
    title: retracted && rng.chance(0.6) ? `RETRACTED ARTICLE: ${titleXml}` : titleXml,
    authors,
    affiliations,
    epub,
    ppub: journal.elocation ? null : { year, month: Math.min(12, epub.month + rng.int(0, 2)), day: 0 },
    received,
    accepted,
    volume,
    issue,
    fpage,
    lpage,
    license,
    retracted,
    abstract,
    keywords: content.keywords(rng, t),
    sections,
    references,
    supplements,
    figures,
    citation: '',
    lastUpdated,
    path,
    bad,
    badFigureId: null,
  };
  spec.citation = citationOf(rng, spec);
  return spec;
}
