/**
 * A legacy mirror (oa_file_list.csv + oa_package/xx/yy/PMCn.tar.gz) made of the real corpus: every
 * package holds a real article XML from ../shared/corpus/nxml (≈136 KB each, ~7 figures) and, for
 * each of its graphics, a real figure image from ../shared/corpus/images under the name the
 * graphic's href resolves to. The generated sample mirror is lighter than PMC (33 KB XML, 0.6 MP
 * progressive JPEGs), so throughput measured on it flatters; this one has PMC's weight.
 *
 * Articles with figures are taken spread over the corpus (cycled when more are asked than there
 * are) under fresh PMCIDs, images cycled in sorted order: the same mirror for the same count.
 * Left out: the PDF and supplements of real packages, which extract skips but must gunzip through.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseArticles } from '../../../src/jats/parse.js';
import { resolveGraphic } from '../../../src/images/resolve.js';
import { sniffFormat } from '../../../src/images/normalize.js';
import { corpusDir, listFiles, nxmlDir } from '../../../test/helpers/corpus.js';
import { FILE_LIST_HEADER, fileListRow } from '../../sample/generate.js';
import { tarGz, type PackageFile } from '../../sample/package.js';

export interface RealMirror {
  /** The mirror root, to pass as `--source`. */
  root: string;
  articles: number;
  /** Graphics given an image file: what extract can turn into stored images at most. */
  images: number;
  figures: number;
  xmlBytes: number;
  imageBytes: number;
  packageBytes: number;
}

const MARKER = 'mirror.json';
const VERSION = 1;

/** Real article XML files that parse and hold at least one figure, in sorted order. */
function realArticles(): string[] {
  return listFiles(nxmlDir, /\.(nxml|xml)$/i).filter((path) => {
    try {
      return (parseArticles(readFileSync(path))[0]?.figures.length ?? 0) > 0;
    } catch {
      return false;
    }
  });
}

/** The real figure images extract normalises (jpg and png; the corpus's gif and tif are few). */
export function realImagePaths(): string[] {
  return listFiles(join(corpusDir, 'images'), /\.(jpe?g|png)$/i);
}

/** The package file name a graphic href resolves to, for an image of the given extension. */
function mediaNameFor(href: string, ext: string): string | null {
  const last = href.replace(/[?#].*$/s, '').replace(/^info:doi\//i, '').split(/[\\/]/).pop() ?? '';
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // a stray '%' is part of the name
  }
  const stem = name.replace(/\.(jpe?g|png|tiff?|gif|webp|bmp|eps|svg|ai|ps)$/i, '');
  if (stem === '' || /[\0]/.test(stem)) return null;
  const candidate = `${stem}.${ext}`;
  // Only names the pipeline's own resolver pairs with the href: a PDF href gets no image, as in PMC.
  return resolveGraphic(href, [candidate]) === candidate ? candidate : null;
}

export async function buildRealMirror(dir: string, articles: number): Promise<RealMirror> {
  const marker = join(dir, MARKER);
  if (existsSync(marker)) {
    const known = JSON.parse(await readFile(marker, 'utf8')) as RealMirror & { version: number };
    if (known.version === VERSION && known.articles === articles) return { ...known, root: dir };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  const sources = realArticles();
  const images = realImagePaths();
  if (sources.length === 0 || images.length === 0) throw new Error(`no real articles or images under ${corpusDir}`);
  const rows: string[] = [FILE_LIST_HEADER];
  const stats = { articles, images: 0, figures: 0, xmlBytes: 0, imageBytes: 0, packageBytes: 0 };
  let nextImage = 0;
  for (let i = 0; i < articles; i++) {
    // Spread over the corpus rather than its first files: journals and sizes differ by folder.
    const source = sources[Math.floor((i * sources.length) / Math.min(articles, sources.length)) % sources.length]!;
    const xml = readFileSync(source);
    const parsed = parseArticles(xml)[0]!;
    const pmcid = `PMC${9_000_001 + i}`;
    const files: PackageFile[] = [{ name: `${basename(source).replace(/\.(nxml|xml)$/i, '')}.nxml`, bytes: xml }];
    const taken = new Set<string>();
    for (const figure of parsed.figures) {
      stats.figures++;
      for (const graphic of figure.graphics) {
        if (!graphic.href) continue;
        const path = images[nextImage % images.length]!;
        const bytes = readFileSync(path);
        const name = mediaNameFor(graphic.href, sniffFormat(bytes) === 'png' ? 'png' : 'jpg');
        if (name === null || taken.has(name.toLowerCase())) continue;
        taken.add(name.toLowerCase());
        nextImage++;
        files.push({ name, bytes });
        stats.images++;
        stats.imageBytes += bytes.length;
      }
    }
    stats.xmlBytes += xml.length;
    const h = createHash('md5').update(pmcid).digest('hex');
    const path = `oa_package/${h.slice(0, 2)}/${h.slice(2, 4)}/${pmcid}.tar.gz`;
    const gz = await tarGz(pmcid, files, new Date(Date.UTC(2024, 0, 1)));
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), gz);
    stats.packageBytes += gz.length;
    rows.push(fileListRow({ path, citation: `Real corpus article ${basename(source)}`, pmcid, lastUpdated: '2024-01-01 00:00:00', pmid: '', license: 'CC BY', retracted: false }));
  }
  await writeFile(join(dir, 'oa_file_list.csv'), rows.join('\n') + '\n');
  // Written last: its presence says the mirror is complete.
  await writeFile(marker, JSON.stringify({ version: VERSION, ...stats }, null, 2) + '\n');
  return { root: dir, ...stats };
}
