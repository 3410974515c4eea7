/** What the JATS parser sees in one article. Strings are never null: absent text is ''. */

export type FigureLocation =
  | 'front'
  | 'body'
  | 'back'
  | 'app'
  | 'floats-group'
  | 'boxed-text'
  | 'sub-article';

/** `figure` for <fig>; `table-image` for a <table-wrap> delivered as a graphic (BIOMEDICA's "Tables"). */
export type FigureKind = 'figure' | 'table-image';

export interface ParsedGraphic {
  /** xlink:href as written ('' when the graphic has none). */
  href: string;
  /** True when the graphic sits inside <alternatives>: all alternatives show the same image. */
  alternative: boolean;
}

export interface ParsedFigure {
  /** 1-based position among the article's figures in document order; stable, used in keys. */
  index: number;
  /** The fig's @id ('' when missing). */
  id: string;
  label: string;
  /** All text of <caption> in document order, flattened and whitespace-collapsed. */
  caption: string;
  graphics: ParsedGraphic[];
  /** Text of every paragraph that cites this figure through <xref ref-type="fig">, in document order. */
  citingParagraphs: string[];
  location: FigureLocation;
  /** True when the fig sits inside a <fig-group>. */
  inFigGroup: boolean;
  /** The @id of the sub-article the figure belongs to ('' for the main article). */
  subArticleId: string;
  kind: FigureKind;
}

export interface ParsedLicense {
  text: string;
  url: string;
}

export interface ParsedArticle {
  pmcid: string; // 'PMC1234567' or ''
  pmid: string;
  doi: string;
  title: string;
  abstract: string;
  keywords: string[];
  subjects: string[];
  journal: string;
  publisher: string;
  /** ISO-like date from <pub-date>: 'YYYY-MM-DD', 'YYYY-MM' or 'YYYY'; '' when absent. */
  pubDate: string;
  license: ParsedLicense;
  articleType: string;
  /** Full body text, sections and paragraphs separated by blank lines. */
  bodyText: string;
  /** PMIDs cited in the reference list (pub-id-type="pmid"), in order, deduplicated. */
  referencePmids: string[];
  referenceCount: number;
  /**
   * The text of each <ref> of the main article's reference list(s), in document order, one entry
   * per ref ('' for a ref with no text); see the "References" rule in ./parse.ts.
   */
  references: string[];
  figures: ParsedFigure[];
}
