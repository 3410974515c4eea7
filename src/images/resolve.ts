/**
 * Pairs a JATS graphic href with a file of the article's package. Hrefs rarely name the file
 * exactly: most lack an extension (`gr1_lrg`, `pone.0046493.g001`, `1471-2105-9-1-1`), PLOS writes
 * DOIs (`info:doi/10.1371/journal.pone.0046493.g001` for `pone.0046493.g001.tif`), some name the
 * original (`fig1.tif`) where the package holds PMC's rendering (`fig1.jpg`), PeerJ writes URLs
 * (`https://peerj.com/articles/3360/fig-1.png`), Copernicus URLs to PDFs.
 *
 * The rule, in order:
 * 1. Reduce the href to a file stem: drop a query or fragment, keep the last path segment (so
 *    directories and URLs reduce to their file), drop `info:doi/` and the DOI prefix, and drop the
 *    extension when it is a known one. A known non-image extension (pdf, doc, mov, zip, xml, …)
 *    means the href points at something that is not a figure image: no match.
 * 2. Candidate files are the package's image files (IMAGE_EXTENSIONS) whose stem equals, ignoring
 *    case: the href stem; else, for PLOS DOIs, the stem without its `journal.` prefix.
 *    Elsevier's `_lrg` files are the full-size rendering of the same figure, so the stems `gr1`
 *    and `gr1_lrg` are one figure, and `gr1_lrg` is the better file whichever the href names. The
 *    real legacy packages (corpus/packages) name `gr1_lrg` in the XML and hold `gr1_lrg.jpg` beside
 *    a `gr1_lrg.gif` thumbnail; the cloud bucket holds `gr1.jpg`.
 * 3. Among candidates: any raster before GIF, because packages pair the full-size JPEG with a GIF
 *    thumbnail, so a GIF is taken only when no other candidate exists, even if the href names it;
 *    then `_lrg` before bare; then the file the href names exactly; then by extension: jpg, jpeg,
 *    png, tif, tiff, webp, bmp (PMC's web rendering first: it is what the article shows and is
 *    cheap to decode); then by name, in code-unit order, so the answer never depends on the
 *    package's listing order.
 */

/** Extensions (lower case, no dot) of files that may hold a figure image, in preference order. */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp', 'bmp', 'gif'] as const;
export type ImageExtension = (typeof IMAGE_EXTENSIONS)[number];

/**
 * Extensions that name something other than a figure image. Vector originals (eps, svg, ai, ps)
 * are not here: PMC renders them to JPEG under the same stem, so such an href still finds its image.
 */
const NON_IMAGE_EXTENSIONS = new Set([
  'pdf', 'doc', 'docx', 'rtf', 'odt', 'xls', 'xlsx', 'csv', 'tsv', 'ppt', 'pptx', 'txt', 'xml', 'nxml',
  'html', 'htm', 'mov', 'mp4', 'avi', 'wmv', 'mpg', 'mpeg', 'm4v', 'webm', 'mp3', 'wav', 'zip', 'gz',
  'tgz', 'tar', 'rar', '7z', 'bz2',
]);
const VECTOR_EXTENSIONS = new Set(['eps', 'svg', 'ai', 'ps']);

const imageRank = new Map<string, number>(IMAGE_EXTENSIONS.map((ext, i) => [ext, i]));

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? '';
}

/** True for a file name (or path) whose extension is one of IMAGE_EXTENSIONS. */
export function isImageName(name: string): boolean {
  return imageRank.has(extensionOf(baseName(name)));
}

interface HrefKey {
  /** Lower-case stems to look for, most specific first. */
  stems: string[];
  /** The lower-case file name the href spells out when it carries an image extension. */
  exactName: string | null;
}

function hrefKey(href: string): HrefKey | null {
  let text = href.trim();
  if (text === '') return null;
  text = text.replace(/[?#].*$/s, '');
  if (/^info:doi\//i.test(text)) text = text.slice('info:doi/'.length);
  let name = baseName(text);
  try {
    name = decodeURIComponent(name);
  } catch {
    // A stray '%' is part of the name, not an escape.
  }
  const ext = extensionOf(name);
  if (NON_IMAGE_EXTENSIONS.has(ext)) return null;
  const known = imageRank.has(ext) || VECTOR_EXTENSIONS.has(ext);
  const stem = (known ? name.slice(0, -(ext.length + 1)) : name).toLowerCase();
  if (stem === '') return null;
  const stems = [stem];
  // PLOS: the DOI suffix is `journal.pone.0046493.g001`, the file `pone.0046493.g001.tif`.
  if (stem.startsWith('journal.') && stem.length > 'journal.'.length) stems.push(stem.slice('journal.'.length));
  return { stems, exactName: imageRank.has(ext) ? name.toLowerCase() : null };
}

interface Candidate {
  name: string;
  isGif: boolean;
  /** 0 for the `_lrg` stem, 1 for the bare one. */
  stemRank: number;
  exact: boolean;
  extRank: number;
}

function compare(a: Candidate, b: Candidate): number {
  if (a.isGif !== b.isGif) return a.isGif ? 1 : -1;
  if (a.stemRank !== b.stemRank) return a.stemRank - b.stemRank;
  if (a.exact !== b.exact) return a.exact ? -1 : 1;
  if (a.extRank !== b.extRank) return a.extRank - b.extRank;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The media file a graphic href refers to, or null when the package holds no image for it. */
export function resolveGraphic(href: string, mediaNames: readonly string[]): string | null {
  const key = hrefKey(href);
  if (key === null) return null;

  const images = mediaNames
    .map((name) => {
      const file = baseName(name);
      const ext = extensionOf(file);
      return { name, file: file.toLowerCase(), ext, stem: file.slice(0, -(ext.length + 1)).toLowerCase() };
    })
    .filter((m) => imageRank.has(m.ext));

  for (const stem of key.stems) {
    const bare = stem.endsWith('_lrg') ? stem.slice(0, -'_lrg'.length) : stem;
    const wanted = bare === '' ? [stem] : [`${bare}_lrg`, bare];
    const candidates: Candidate[] = [];
    for (const m of images) {
      const stemRank = wanted.indexOf(m.stem);
      if (stemRank < 0) continue;
      candidates.push({
        name: m.name,
        stemRank,
        isGif: m.ext === 'gif',
        exact: m.file === key.exactName,
        extRank: imageRank.get(m.ext) ?? IMAGE_EXTENSIONS.length,
      });
    }
    if (candidates.length > 0) return candidates.sort(compare)[0]?.name ?? null;
  }
  return null;
}
