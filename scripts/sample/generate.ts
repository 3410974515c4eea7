/**
 * The sample generator: a legacy PMC mirror (oa_file_list.csv + oa_package/xx/yy/PMCn.tar.gz) of
 * synthetic articles, written one package at a time so memory stays flat for any article count.
 * Beside the mirror it writes `sample-truth.jsonl` (what each article holds and how it was broken)
 * and, last, `sample.json` (parameters and totals), which marks the directory as a finished sample.
 */
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { BAD_KINDS, buildArticle, LICENSE_CODES, type ArticleSpec, type BadKind, type LicenseCode } from './article.js';
import { ImagePool, tinyImage } from './images.js';
import { renderNxml } from './jats.js';
import { dummyPdf, tarGz, type PackageFile } from './package.js';
import { hashSeed, Rng } from './prng.js';

export interface SampleOptions {
  out: string;
  articles: number;
  seed: number;
  imagesPerArticleMax: number;
  bad: boolean;
}

export interface SampleStats {
  articles: number;
  packages: number;
  figures: number;
  imageFiles: number;
  bytes: number;
  poolImages: number;
  retracted: number;
  licenses: Partial<Record<LicenseCode, number>>;
  bad: { kind: BadKind; pmcid: string; figureId: string | null }[];
  ms: number;
}

export const FILE_LIST_HEADER = 'File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted';
export const SAMPLE_MARKER = 'sample.json';
export const TRUTH_FILE = 'sample-truth.jsonl';

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function fileListRow(a: Pick<ArticleSpec, 'path' | 'citation' | 'pmcid' | 'lastUpdated' | 'pmid' | 'license' | 'retracted'>): string {
  return [a.path, a.citation, a.pmcid, a.lastUpdated, a.pmid, a.license, a.retracted ? 'yes' : 'no'].map(csvField).join(',');
}

/** Where the bad items go: spread over the run so a --limit of the first few hits one or two. */
export function badPositions(articles: number): Map<number, BadKind> {
  const out = new Map<number, BadKind>();
  BAD_KINDS.forEach((kind, k) => out.set(Math.floor(((k + 0.5) * articles) / BAD_KINDS.length), kind));
  return out;
}

/** Refuses to write into a directory that holds anything but an earlier sample, then clears that sample. */
async function prepareOut(out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const entries = await readdir(out);
  if (entries.length > 0 && !entries.includes(SAMPLE_MARKER)) {
    throw new UsageError('SAMPLE_OUT_NOT_EMPTY', `${out} is not empty and holds no ${SAMPLE_MARKER}`, { out, hint: 'pick an empty or new --out directory' });
  }
  // Only what an earlier run wrote; anything else there (a README, say) stays.
  for (const name of [SAMPLE_MARKER, 'oa_package', 'oa_file_list.csv', TRUTH_FILE]) {
    await rm(join(out, name), { recursive: true, force: true });
  }
}

async function breakArticle(a: ArticleSpec, rng: Rng): Promise<void> {
  if (a.bad === null) return;
  const jpgFirst = a.figures.find((f) => f.image.format === 'jpg') ?? a.figures[0];
  const target = a.bad === 'corrupt-image' ? jpgFirst : a.figures[rng.int(0, a.figures.length - 1)];
  switch (a.bad) {
    case 'corrupt-image': {
      const full = target!.files[0]!;
      full.bytes = full.bytes.subarray(0, Math.floor(full.bytes.length * 0.4));
      break;
    }
    case 'empty-caption':
      target!.caption = null;
      break;
    case 'tiny-image': {
      const tiny = await tinyImage();
      target!.files = [
        { name: `${target!.stem}.jpg`, bytes: tiny.full },
        { name: `${target!.stem}.gif`, bytes: tiny.thumb },
      ];
      break;
    }
    case 'missing-image':
      target!.files = [];
      break;
    default:
      return;
  }
  a.badFigureId = target!.id;
}

function truthLine(a: ArticleSpec, written: boolean): string {
  return `${JSON.stringify({
    pmcid: a.pmcid,
    path: a.path,
    written,
    license: a.license,
    retracted: a.retracted,
    journal: a.journal.ta,
    nxml: a.naming.nxml,
    bad: a.bad,
    badFigureId: a.badFigureId,
    figures: a.figures.map((f) => ({
      id: f.id,
      stem: f.stem,
      kind: f.image.kind,
      files: f.files.map((x) => x.name),
      width: a.bad === 'tiny-image' && f.id === a.badFigureId ? 16 : f.image.width,
      height: a.bad === 'tiny-image' && f.id === a.badFigureId ? 16 : f.image.height,
      emptyCaption: f.caption === null,
    })),
  })}\n`;
}

export async function generateSample(options: SampleOptions, onArticle?: (done: number) => void): Promise<SampleStats> {
  const started = Date.now();
  if (!Number.isInteger(options.articles) || options.articles < 1) throw new UsageError('SAMPLE_ARTICLES', '--articles must be a positive integer', { hint: 'e.g. --articles 60' });
  if (options.bad && options.articles < BAD_KINDS.length) {
    throw new UsageError('SAMPLE_TOO_SMALL', `--bad needs at least ${BAD_KINDS.length} articles`, { hint: `use --articles ${BAD_KINDS.length} or more` });
  }
  if (!Number.isInteger(options.imagesPerArticleMax) || options.imagesPerArticleMax < 0) throw new UsageError('SAMPLE_IMAGES', '--images-per-article-max must be a whole number', {});
  await prepareOut(options.out);

  // Enough distinct images that a small sample rarely repeats one, few enough to render quickly.
  const pool = new ImagePool(options.seed, Math.min(160, Math.max(16, options.articles * 2)));
  const list = new Rng(hashSeed(options.seed, 'file-list'));
  const bad = options.bad ? badPositions(options.articles) : new Map<number, BadKind>();
  const retractedAt = options.articles >= 10 ? Math.floor(options.articles * 0.37) : -1;
  const stats: SampleStats = { articles: 0, packages: 0, figures: 0, imageFiles: 0, bytes: 0, poolImages: 0, retracted: 0, licenses: {}, bad: [], ms: 0 };

  const csvPath = join(options.out, 'oa_file_list.csv');
  const truthPath = join(options.out, TRUTH_FILE);
  const csv = await open(`${csvPath}.tmp`, 'w');
  const truth = await open(`${truthPath}.tmp`, 'w');
  try {
    await csv.write(`${FILE_LIST_HEADER}\n`);
    let pmcNumber = list.int(1_000_000, 3_000_000);
    for (let i = 0; i < options.articles; i++) {
      pmcNumber += list.int(1, 1500);
      const kind = bad.get(i) ?? null;
      const license = options.articles >= 2 * LICENSE_CODES.length && i % Math.floor(options.articles / LICENSE_CODES.length) === 1 ? LICENSE_CODES[Math.floor(i / Math.floor(options.articles / LICENSE_CODES.length))] ?? null : null;
      const a = await buildArticle({ seed: options.seed, pool, imagesPerArticleMax: options.imagesPerArticleMax }, i, pmcNumber, { bad: kind, retracted: i === retractedAt, license });
      const rng = new Rng(hashSeed(options.seed, 'package', a.pmcid));
      await breakArticle(a, rng);

      let nxml = renderNxml(a);
      if (a.bad === 'malformed-nxml') nxml = nxml.replace('<body>', '<body><p>Results are shown in <italic>Figure 1</p>');
      const files: PackageFile[] = [
        { name: a.naming.nxml, bytes: Buffer.from(nxml, 'utf8') },
        { name: a.naming.pdf, bytes: dummyPdf([a.title, a.citation, a.authors.map((x) => `${x.person.given} ${x.person.surname}`).join(', '), a.pmcid]) },
        ...a.figures.flatMap((f) => f.files),
        ...a.supplements.map((s) => ({ name: s.name, bytes: dummyPdf([s.label, a.pmcid]) })),
      ];
      // Real packages list their members in no useful order; readers must not rely on one.
      const ordered = rng.sample(files, files.length);
      const [y, mo, d] = a.lastUpdated.slice(0, 10).split('-').map(Number) as [number, number, number];
      const [h, mi, s] = a.lastUpdated.slice(11).split(':').map(Number) as [number, number, number];
      let gz = await tarGz(a.pmcid, ordered, new Date(Date.UTC(y, mo - 1, d, h, mi, s)));
      if (a.bad === 'truncated-gzip') gz = gz.subarray(0, Math.floor(gz.length * 0.55));

      const written = a.bad !== 'missing-package';
      if (written) {
        const target = join(options.out, a.path);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, gz);
        stats.packages += 1;
        stats.bytes += gz.length;
      }
      await csv.write(`${fileListRow(a)}\n`);
      await truth.write(truthLine(a, written));
      stats.articles += 1;
      stats.figures += a.figures.length;
      stats.imageFiles += a.figures.reduce((n, f) => n + f.files.length, 0);
      stats.retracted += a.retracted ? 1 : 0;
      stats.licenses[a.license] = (stats.licenses[a.license] ?? 0) + 1;
      if (a.bad) stats.bad.push({ kind: a.bad, pmcid: a.pmcid, figureId: a.badFigureId });
      onArticle?.(i + 1);
    }
  } finally {
    await csv.close();
    await truth.close();
  }
  await rename(`${csvPath}.tmp`, csvPath);
  await rename(`${truthPath}.tmp`, truthPath);
  stats.bytes += (await stat(csvPath)).size + (await stat(truthPath)).size;
  stats.poolImages = pool.rendered;
  stats.ms = Date.now() - started;
  const { ms: _ms, ...stable } = stats;
  // Written last: its presence says the sample is complete. No timings, so reruns stay identical.
  await writeFile(join(options.out, SAMPLE_MARKER), `${JSON.stringify({ generator: 'scripts/make-sample.ts', options: { articles: options.articles, seed: options.seed, imagesPerArticleMax: options.imagesPerArticleMax, bad: options.bad }, ...stable }, null, 2)}\n`);
  return stats;
}
