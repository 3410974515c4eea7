/**
 * Figures peers published, for the rows where the peer cannot run here. Each says where it comes
 * from and what work it measured; none is from this machine, so a ratio against one is indicative.
 */
export interface PublishedFigure {
  peer: string;
  value: number;
  unit: string;
  /** What the figure counts, and how it was derived from the source's words. */
  basis: string;
  source: string;
}

export const PUBLISHED = {
  /** Serialization (their transform/load: JSON → WebDataset + Parquet) of the whole archive. */
  biomedicaSerialization: {
    peer: 'BIOMEDICA ETL (published)',
    value: 24e6 / (33 * 3600),
    unit: 'samples/s',
    basis: '24 M samples serialized in 33 h = 202 samples/s; their machine, not this one',
    source: 'BIOMEDICA paper, arXiv 2501.07171 (figure as quoted in issue 9)',
  },
  /** Download + resize + package of web images, on one machine. */
  img2dataset: {
    peer: 'img2dataset (published)',
    value: 100e6 / (20 * 3600),
    unit: 'images/s',
    basis: '"download, resize and package 100M urls in 20h on one machine" = 1,389 images/s; resizes to 256 px by default, parses no XML, many cores',
    source: 'img2dataset README (github.com/rom1504/img2dataset)',
  },
  /**
   * No throughput for pubmed_parser's OA functions is published (README, JOSS paper, issues were
   * searched). The one published pubmed_parser timing found is for MEDLINE, another format and
   * function: a size rate, not articles/s.
   */
  pubmedParserMedline: {
    peer: 'pubmed_parser parse_medline_xml (published)',
    value: 233 / 25,
    unit: 'MB/s',
    basis: '"Parsing time for 233 mb file: pubmed_parser - around 25 secs" = 9.3 MB/s of MEDLINE XML (not JATS), 2016 hardware',
    source: 'opentargets/data_pipeline pull request #10 (2016)',
  },
} as const satisfies Record<string, PublishedFigure>;
