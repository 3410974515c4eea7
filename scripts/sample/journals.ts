/**
 * Journals and the file-naming habits of their publishers. Legacy packages name the nxml, the PDF
 * and every figure after the publisher's own scheme (Elsevier `gr1`, PLOS `pone.0046493.g001`,
 * Springer `12885_2018_4512_Fig1_HTML`), and graphic hrefs carry no extension; a reader must cope
 * with all of them, dots inside stems included, so the sample mixes them.
 */
import type { Rng } from './prng.js';

export type PublisherStyle = 'elsevier' | 'plos' | 'springer' | 'frontiers' | 'mdpi' | 'wiley' | 'oup' | 'elife' | 'lww';

export interface Journal {
  ta: string;
  title: string;
  publisher: string;
  issnEpub: string;
  issnPpub: string | null;
  style: PublisherStyle;
  /** Springer journal number, PLOS/Frontiers/MDPI/Wiley code, Elsevier PII prefix. */
  code: string;
  doiPrefix: string;
  /** Continuous publication: an elocation-id instead of page numbers. */
  elocation: boolean;
  firstYear: number;
  /** For journals with long runs: the volume in 2020 and volumes a year. */
  volume2020?: number;
  volumesPerYear?: number;
}

export function volumeOf(journal: Journal, year: number): number {
  if (journal.volume2020 !== undefined) return Math.max(1, journal.volume2020 + (year - 2020) * (journal.volumesPerYear ?? 1));
  return Math.max(1, year - journal.firstYear + 1);
}

export const JOURNALS: readonly Journal[] = [
  { ta: 'PLoS One', title: 'PLoS ONE', publisher: 'Public Library of Science', issnEpub: '1932-6203', issnPpub: null, style: 'plos', code: 'pone', doiPrefix: '10.1371/journal.pone', elocation: true, firstYear: 2007 },
  { ta: 'PLoS Pathog', title: 'PLoS Pathogens', publisher: 'Public Library of Science', issnEpub: '1553-7374', issnPpub: '1553-7366', style: 'plos', code: 'ppat', doiPrefix: '10.1371/journal.ppat', elocation: true, firstYear: 2005 },
  { ta: 'Sci Rep', title: 'Scientific Reports', publisher: 'Nature Publishing Group UK', issnEpub: '2045-2322', issnPpub: null, style: 'springer', code: '41598', doiPrefix: '10.1038/s41598', elocation: true, firstYear: 2011 },
  { ta: 'BMC Cancer', title: 'BMC Cancer', publisher: 'BioMed Central', issnEpub: '1471-2407', issnPpub: null, style: 'springer', code: '12885', doiPrefix: '10.1186/s12885', elocation: true, firstYear: 2001 },
  { ta: 'J Neuroinflammation', title: 'Journal of Neuroinflammation', publisher: 'BioMed Central', issnEpub: '1742-2094', issnPpub: null, style: 'springer', code: '12974', doiPrefix: '10.1186/s12974', elocation: true, firstYear: 2004 },
  { ta: 'Lancet', title: 'Lancet (London, England)', publisher: 'Elsevier Ltd.', issnEpub: '1474-547X', issnPpub: '0140-6736', style: 'elsevier', code: 'S0140-6736', doiPrefix: '10.1016/S0140-6736', elocation: false, firstYear: 1995, volume2020: 395, volumesPerYear: 2 },
  { ta: 'Heliyon', title: 'Heliyon', publisher: 'Elsevier', issnEpub: '2405-8440', issnPpub: null, style: 'elsevier', code: 'S2405-8440', doiPrefix: '10.1016/j.heliyon', elocation: true, firstYear: 2015 },
  { ta: 'EBioMedicine', title: 'EBioMedicine', publisher: 'Elsevier', issnEpub: '2352-3964', issnPpub: null, style: 'elsevier', code: 'S2352-3964', doiPrefix: '10.1016/j.ebiom', elocation: false, firstYear: 2014 },
  { ta: 'Front Immunol', title: 'Frontiers in Immunology', publisher: 'Frontiers Media S.A.', issnEpub: '1664-3224', issnPpub: null, style: 'frontiers', code: 'fimmu', doiPrefix: '10.3389/fimmu', elocation: true, firstYear: 2010 },
  { ta: 'Front Oncol', title: 'Frontiers in Oncology', publisher: 'Frontiers Media S.A.', issnEpub: '2234-943X', issnPpub: null, style: 'frontiers', code: 'fonc', doiPrefix: '10.3389/fonc', elocation: true, firstYear: 2011 },
  { ta: 'Int J Mol Sci', title: 'International Journal of Molecular Sciences', publisher: 'MDPI', issnEpub: '1422-0067', issnPpub: null, style: 'mdpi', code: 'ijms', doiPrefix: '10.3390/ijms', elocation: true, firstYear: 2000 },
  { ta: 'Cancers (Basel)', title: 'Cancers', publisher: 'MDPI', issnEpub: '2072-6694', issnPpub: null, style: 'mdpi', code: 'cancers', doiPrefix: '10.3390/cancers', elocation: true, firstYear: 2009 },
  { ta: 'J Am Heart Assoc', title: 'Journal of the American Heart Association: Cardiovascular and Cerebrovascular Disease', publisher: 'John Wiley and Sons Inc.', issnEpub: '2047-9980', issnPpub: null, style: 'wiley', code: 'JAH3', doiPrefix: '10.1161/JAHA', elocation: true, firstYear: 2012 },
  { ta: 'Nucleic Acids Res', title: 'Nucleic Acids Research', publisher: 'Oxford University Press', issnEpub: '1362-4962', issnPpub: '0305-1048', style: 'oup', code: 'gk', doiPrefix: '10.1093/nar', elocation: false, firstYear: 1996, volume2020: 48 },
  { ta: 'eLife', title: 'eLife', publisher: 'eLife Sciences Publications, Ltd', issnEpub: '2050-084X', issnPpub: null, style: 'elife', code: 'elife', doiPrefix: '10.7554/eLife', elocation: true, firstYear: 2012 },
  { ta: 'Medicine (Baltimore)', title: 'Medicine', publisher: 'Wolters Kluwer Health', issnEpub: '1536-5964', issnPpub: '0025-7974', style: 'lww', code: 'medi', doiPrefix: '10.1097/MD', elocation: true, firstYear: 2014 },
];

export interface Naming {
  /** Package-relative names. */
  nxml: string;
  pdf: string;
  /** Graphic href (no extension) of the n-th figure, 1-based. */
  figureStem(n: number): string;
  figureId(n: number): string;
  figureLabel(n: number): string;
  supplement(n: number): string;
  publisherId: string;
  doi: string;
  elocationId: string;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Naming for one article; `serial` is the publisher's article number. */
export function namingFor(journal: Journal, rng: Rng, year: number, volume: number, serial: number): Naming {
  switch (journal.style) {
    case 'elsevier': {
      const large = rng.chance(0.5);
      const pii = `${journal.code}(${pad(year % 100, 2)})${pad(serial % 100000, 5)}-${rng.int(0, 9)}`;
      return {
        nxml: 'main.nxml',
        pdf: 'main.pdf',
        figureStem: (n) => (large ? `gr${n}_lrg` : `gr${n}`),
        figureId: (n) => `fig${n}`,
        figureLabel: (n) => (large ? `Fig. ${n}` : `Figure ${n}`),
        supplement: (n) => `mmc${n}.pdf`,
        publisherId: pii,
        doi: journal.elocation ? `${journal.doiPrefix}.${year}.e${pad(serial % 100000, 5)}` : `${journal.doiPrefix}(${pad(year % 100, 2)})${pad(serial % 100000, 5)}-${rng.int(0, 9)}`,
        elocationId: `e${pad(serial % 100000, 5)}`,
      };
    }
    case 'plos': {
      const name = `${journal.code}.${pad(serial % 10000000, 7)}`;
      return {
        nxml: `${name}.nxml`,
        pdf: `${name}.pdf`,
        figureStem: (n) => `${name}.g${pad(n, 3)}`,
        figureId: (n) => `${name.replace('.', '-')}-g${pad(n, 3)}`,
        figureLabel: (n) => `Fig ${n}`,
        supplement: (n) => `${name}.s${pad(n, 3)}.pdf`,
        publisherId: `${journal.code.toUpperCase()}-D-${pad(year % 100, 2)}-${pad(serial % 100000, 5)}`,
        doi: `${journal.doiPrefix}.${pad(serial % 10000000, 7)}`,
        elocationId: `e${pad(serial % 10000000, 7)}`,
      };
    }
    case 'springer': {
      const n5 = serial % 100000;
      const base = `${journal.code}_${year}_${n5}`;
      return {
        nxml: `${journal.code}_${year}_Article_${n5}.nxml`,
        pdf: `${journal.code}_${year}_Article_${n5}.pdf`,
        figureStem: (n) => `${base}_Fig${n}_HTML`,
        figureId: (n) => `Fig${n}`,
        figureLabel: (n) => `Fig. ${n}`,
        supplement: (n) => `${base}_MOESM${n}_ESM.pdf`,
        publisherId: `s${journal.code}-0${pad(year % 100, 2)}-${pad(n5, 5)}-${rng.int(0, 9)}`,
        doi: `${journal.doiPrefix}-0${pad(year % 100, 2)}-${pad(n5, 5)}-${rng.int(0, 9)}`,
        elocationId: String(rng.int(1, 999)),
      };
    }
    case 'frontiers':
    case 'mdpi':
    case 'lww': {
      const name = journal.style === 'lww' ? `${journal.code}-${volume}-e${pad(serial % 100000, 5)}` : `${journal.code}-${pad(volume, 2)}-${pad(serial % 100000, 5)}`;
      return {
        nxml: `${name}.nxml`,
        pdf: `${name}.pdf`,
        figureStem: (n) => `${name}-g${pad(n, 3)}`,
        figureId: (n) => (journal.style === 'mdpi' ? `${name}-f${pad(n, 3)}` : `F${n}`),
        figureLabel: (n) => `Figure ${n}`,
        supplement: (n) => (journal.style === 'mdpi' ? `${name}-s00${n}.pdf` : `DataSheet${n}.pdf`),
        publisherId: journal.style === 'lww' ? `MD-D-${pad(year % 100, 2)}-${pad(serial % 10000, 5)}` : name,
        doi: `${journal.doiPrefix}.${year}.${pad(serial % 100000, 5)}`,
        elocationId: journal.style === 'lww' ? `e${pad(serial % 100000, 5)}` : String(serial % 10000),
      };
    }
    case 'wiley': {
      const name = `${journal.code}-${volume}-e${pad(serial % 1000000, 6)}`;
      return {
        nxml: `${name}.nxml`,
        pdf: `${name}.pdf`,
        figureStem: (n) => `${name}-g${pad(n, 3)}`,
        figureId: (n) => `jah3${pad(serial % 10000, 4)}-fig-${pad(n, 4)}`,
        figureLabel: (n) => `Figure ${n}`,
        supplement: (n) => `${name}-s00${n}.pdf`,
        publisherId: `JAH3${pad(serial % 10000, 4)}`,
        doi: `${journal.doiPrefix}.${pad(serial % 1000000, 6)}`,
        elocationId: `e${pad(serial % 1000000, 6)}`,
      };
    }
    case 'oup': {
      const name = `${journal.code}${String.fromCharCode(97 + rng.int(0, 25))}${rng.int(100, 999)}`;
      return {
        nxml: `${name}.nxml`,
        pdf: `${name}.pdf`,
        figureStem: (n) => `${name}fig${n}`,
        figureId: (n) => `F${n}`,
        figureLabel: (n) => `Figure ${n}.`,
        supplement: (n) => `${name}_Supplementary_Data${n > 1 ? n : ''}.pdf`,
        publisherId: name,
        doi: `${journal.doiPrefix}/${name}`,
        elocationId: '',
      };
    }
    case 'elife': {
      const name = `elife-${pad(serial % 100000, 5)}`;
      return {
        nxml: `${name}.nxml`,
        pdf: `${name}.pdf`,
        figureStem: (n) => `${name}-fig${n}`,
        figureId: (n) => `fig${n}`,
        figureLabel: (n) => `Figure ${n}.`,
        supplement: (n) => `${name}-supp${n}-v2.pdf`,
        publisherId: String(serial % 100000),
        doi: `${journal.doiPrefix}.${pad(serial % 100000, 5)}`,
        elocationId: `e${pad(serial % 100000, 5)}`,
      };
    }
  }
}
