/**
 * `biomedica annotate export`: what experts need to label a fit's clusters.
 *
 *   <to>/index.html                 every cluster: images, images shown, current labels
 *   <to>/clusters/<id:4>.html       one page per cluster: contact sheet + what each tile is
 *   <to>/taxonomy.html              the names experts may use
 *   <to>/sheets/<id:4>-<hash>.jpg   contact sheets (JPEG, sharp); <hash> covers the sampled images
 *   <to>/sheets/<id:4>-<hash>.json  the sheet's layout and unreadable tiles (written before the jpg)
 *   <to>/cluster_labels.json        BIOMEDICA's format, every cluster present, to fill in
 *   <to>/export.json                ExportRecord, written last
 *
 * 1. sample   stream every unit's label lines (`<out>/transform/labels/<unit>.jsonl`): count per
 *             cluster and keep the N images of smallest seeded priority (seeded.ts). Memory:
 *             K counters and K×N samples, whatever the number of images.
 * 2. details  one pass over the figure records of the units that hold a sampled image: file,
 *             caption, figure label.
 * 3. sheets   one contact sheet per cluster. A sheet whose name (hash of its images and settings)
 *             is on disk with its sidecar is kept: a rerun after a stop redoes only what is missing.
 * 4. pages    HTML, the fill-in file, the record; stale sheets and pages of another K removed.
 *
 * The fill-in file is the experts' work in progress: an existing one is never overwritten with
 * different content. Its labels (or --labels FILE's, for a fresh folder) are shown on the pages.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { InterruptedError, ItemError, ManifestError, UsageError } from '../errors.js';
import { extractPaths } from '../manifest/extract-manifest.js';
import { StoredImages } from '../manifest/image-store.js';
import { sha256, stableStringify, writeFileAtomic, writeJsonAtomic } from '../storage/files.js';
import { readTransformLabels } from '../manifest/transform-records.js';
import type { StageContext } from '../pipeline/context.js';
import { EMPTY_CLUSTER_LABEL, parseClusterLabels, readClusterLabels, type ClusterLabels } from './cluster-labels.js';
import { DEFAULT_SHEET, renderContactSheet, sheetLayout, type SheetOptions } from './contact-sheet.js';
import { formatClusterLabels } from './imported.js';
import { clustersOfRun, labelUnits, unitImages, type ClusterCount, type ImageDetail } from './run-folder.js';
import { BottomK, priority } from './seeded.js';
import { clusterPage, renderClusterPage, renderIndex, renderTaxonomyPage, type SiteCluster } from './site.js';
import { readTaxonomy } from './taxonomy.js';

export const ExportOptions = z.object({
  outDir: z.string().min(1),
  toDir: z.string().min(1),
  perCluster: z.coerce.number().int().min(1).max(1024).default(16),
  seed: z.coerce.number().int().min(0).max(2 ** 32 - 1).default(0),
  /** K; default: the fitted model's, else one past the largest cluster id found. */
  clusters: z.coerce.number().int().min(1).optional(),
  /** Labels to start the fill-in file from (e.g. `annotate transfer`'s output). */
  labelsFile: z.string().optional(),
  taxonomyFile: z.string().min(1),
  tile: z.coerce.number().int().min(32).max(1024).default(DEFAULT_SHEET.tile),
  /** Sheets drawn at once (sharp already uses every core within one). */
  concurrency: z.coerce.number().int().min(1).max(64).default(2),
});
export type ExportOptions = z.infer<typeof ExportOptions>;

export const EXPORT_SCHEMA = 'biomedica.annotations.export';
export const EXPORT_VERSION = 1;

export interface ExportSummary {
  outDir: string;
  toDir: string;
  clusters: number;
  clustersFrom: ClusterCount['from'];
  images: number;
  notClustered: number;
  emptyClusters: number;
  sheets: { drawn: number; kept: number };
  tilesFailed: { count: number; byCode: Record<string, number>; examples: string[] };
  /** Extract record lines that did not parse (their images show without caption). */
  recordsInvalid: number;
  labels: { file: string; from: 'existing' | 'labels-file' | 'empty'; written: boolean };
  ms: number;
}

interface Sample {
  unit: string;
  key: string;
}

const SheetSidecar = z.object({
  layout: z.object({ columns: z.number(), rows: z.number(), width: z.number(), height: z.number() }),
  failed: z.array(z.object({ index: z.number().int(), code: z.string(), message: z.string() })),
});
type SheetSidecar = z.infer<typeof SheetSidecar>;

const SHEET_FILE = /^(\d{4,})-[0-9a-f]{12}\.(jpg|json)$/;
const PAGE_FILE = /^(\d{4,})\.html$/;
const pad = (id: number) => String(id).padStart(4, '0');

export async function runExport(options: ExportOptions, ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>): Promise<ExportSummary> {
  const started = Date.now();
  const outDir = resolve(options.outDir);
  const toDir = resolve(options.toDir);
  const taxonomy = await readTaxonomy(options.taxonomyFile);
  const sheetOptions: SheetOptions = { ...DEFAULT_SHEET, tile: options.tile };

  // 1. sample
  const units = await labelUnits(outDir);
  const counts = new Map<number, number>();
  const samplers = new Map<number, BottomK<string>>();
  let images = 0;
  let notClustered = 0;
  let maxId = -1;
  ctx.progress.start(units.length, 'sample');
  for (const unit of units) {
    if (ctx.signal.aborted) throw interrupted();
    for await (const label of readTransformLabels(outDir, unit)) {
      if (label.clusterId < 0) {
        notClustered++;
        continue;
      }
      images++;
      maxId = Math.max(maxId, label.clusterId);
      counts.set(label.clusterId, (counts.get(label.clusterId) ?? 0) + 1);
      let sampler = samplers.get(label.clusterId);
      if (!sampler) samplers.set(label.clusterId, (sampler = new BottomK(options.perCluster)));
      sampler.offer({ priority: priority(options.seed, label.key), key: label.key, item: unit });
    }
    ctx.progress.tick(1);
  }
  ctx.progress.stop();
  const k = await clustersOfRun(outDir, options.clusters, maxId);
  const chosen = new Map<number, Sample[]>();
  const wanted = new Map<string, Set<string>>();
  for (const [id, sampler] of samplers) {
    const list = sampler.sorted().map((r) => ({ unit: r.item, key: r.key }));
    chosen.set(id, list);
    for (const s of list) {
      const set = wanted.get(s.unit) ?? new Set<string>();
      set.add(s.key);
      wanted.set(s.unit, set);
    }
  }
  ctx.log.info({ units: units.length, images, notClustered, clusters: k.count, clustersFrom: k.from }, 'export sampled');

  // 2. details
  const details = new Map<string, ImageDetail>();
  const records = { invalid: 0 };
  for (const [unit, keys] of [...wanted].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for await (const d of unitImages(outDir, unit, records, (key) => keys.has(key))) details.set(d.key, d);
  }

  // 3. sheets
  const labels = await fillInLabels(toDir, options.labelsFile, k.count);
  const stored = new StoredImages(extractPaths(outDir).root, options.concurrency + 1);
  const limit = pLimit(options.concurrency);
  const summary: ExportSummary = {
    outDir,
    toDir,
    clusters: k.count,
    clustersFrom: k.from,
    images,
    notClustered,
    emptyClusters: k.count - chosen.size,
    sheets: { drawn: 0, kept: 0 },
    tilesFailed: { count: 0, byCode: {}, examples: [] },
    recordsInvalid: records.invalid,
    labels: { file: join(toDir, 'cluster_labels.json'), from: labels.from, written: false },
    ms: 0,
  };
  const site: SiteCluster[] = [];
  const sheetNames = new Set<string>();
  ctx.progress.start(chosen.size, 'sheets');
  try {
    await Promise.all(
      Array.from({ length: k.count }, (_, id) =>
        limit(async () => {
          const samples = chosen.get(id) ?? [];
          const entry: SiteCluster = {
            id,
            images: counts.get(id) ?? 0,
            sheet: '',
            columns: sheetLayout(samples.length, sheetOptions).columns,
            samples: [],
            label: labels.labels[String(id)] ?? EMPTY_CLUSTER_LABEL,
          };
          site[id] = entry;
          if (samples.length === 0) return;
          if (ctx.signal.aborted) throw interrupted();
          const found = samples.map((s) => details.get(s.key));
          const name = `${pad(id)}-${sha256(stableStringify({ sheet: sheetOptions, images: samples.map((s, i) => [s.key, found[i]?.sha256 ?? '']) })).slice(0, 12)}`;
          sheetNames.add(`${name}.jpg`).add(`${name}.json`);
          const jpg = join(toDir, 'sheets', `${name}.jpg`);
          let sidecar = await readSidecar(join(toDir, 'sheets', `${name}.json`), jpg);
          if (sidecar) summary.sheets.kept++;
          else {
            const tiles = samples.map((s, i) => () => {
              const detail = found[i];
              if (!detail) return Promise.reject(new ItemError('IMAGE_MISSING', `no extract record of ${s.key} in unit ${s.unit}`));
              return stored.read(detail.image, s.unit);
            });
            const sheet = await renderContactSheet(tiles, sheetOptions);
            sidecar = { layout: sheet.layout, failed: sheet.failed };
            // The sidecar first, the sheet last: a sheet on disk always has its sidecar.
            await writeJsonAtomic(join(toDir, 'sheets', `${name}.json`), sidecar);
            await writeFileAtomic(jpg, sheet.jpeg);
            summary.sheets.drawn++;
          }
          const failures = new Map(sidecar.failed.map((f) => [f.index, f]));
          entry.sheet = `sheets/${name}.jpg`;
          entry.samples = samples.map((s, i) => ({
            key: s.key,
            articleId: found[i]?.articleId ?? '',
            figureLabel: found[i]?.figureLabel ?? '',
            caption: found[i]?.caption ?? '',
            failure: failures.has(i) ? `${failures.get(i)!.code}: ${failures.get(i)!.message}` : '',
          }));
          for (const f of sidecar.failed) {
            summary.tilesFailed.count++;
            summary.tilesFailed.byCode[f.code] = (summary.tilesFailed.byCode[f.code] ?? 0) + 1;
          }
          ctx.progress.tick(1);
        }),
      ),
    );
  } finally {
    await stored.close();
  }
  ctx.progress.stop();
  summary.tilesFailed.examples = site.flatMap((c) => c.samples.filter((s) => s.failure).map((s) => `${s.key}: ${s.failure}`)).slice(0, 10);

  // 4. pages
  const meta = { run: outDir, seed: options.seed, perCluster: options.perCluster, clusters: k.count, images, notClustered };
  for (const c of site) {
    await writeFileAtomic(join(toDir, clusterPage(c.id)), renderClusterPage(c, { previous: c.id > 0 ? c.id - 1 : undefined, next: c.id + 1 < k.count ? c.id + 1 : undefined }));
  }
  await writeFileAtomic(join(toDir, 'index.html'), renderIndex(site, meta));
  await writeFileAtomic(join(toDir, 'taxonomy.html'), renderTaxonomyPage(taxonomy));
  if (labels.write !== undefined) {
    await writeFileAtomic(summary.labels.file, labels.write);
    summary.labels.written = true;
  }
  await removeStale(join(toDir, 'sheets'), SHEET_FILE, (name) => !sheetNames.has(name));
  await removeStale(join(toDir, 'clusters'), PAGE_FILE, (name) => Number(PAGE_FILE.exec(name)![1]) >= k.count);
  await writeJsonAtomic(join(toDir, 'export.json'), {
    schema: EXPORT_SCHEMA,
    version: EXPORT_VERSION,
    run: outDir,
    seed: options.seed,
    perCluster: options.perCluster,
    tile: options.tile,
    taxonomy: { path: taxonomy.path, sha256: taxonomy.sha256 },
    clusters: k.count,
    clustersFrom: k.from,
    images,
    notClustered,
    samples: Object.fromEntries(site.filter((c) => c.samples.length > 0).map((c) => [String(c.id), { images: c.images, sheet: c.sheet, keys: c.samples.map((s) => s.key) }])),
  });
  summary.ms = Date.now() - started;
  ctx.log.info({ toDir, clusters: k.count, sheetsDrawn: summary.sheets.drawn, sheetsKept: summary.sheets.kept, tilesFailed: summary.tilesFailed.count }, 'export finished');
  return summary;
}

const interrupted = () => new InterruptedError('INTERRUPTED', 'export stopped', { hint: 'rerun the same command: finished contact sheets are kept' });

async function readSidecar(path: string, jpg: string): Promise<SheetSidecar | undefined> {
  try {
    await stat(jpg);
    // A sidecar that does not parse is redrawn with its sheet, not trusted.
    return SheetSidecar.safeParse(JSON.parse(await readFile(path, 'utf8'))).data;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * The labels the site shows and the fill-in file holds: an existing fill-in file wins (it is the
 * experts' work), then --labels FILE, then empty labels. `write` is the file's new text, or
 * undefined when the file on disk already says it.
 */
async function fillInLabels(
  toDir: string,
  labelsFile: string | undefined,
  clusters: number,
): Promise<{ labels: ClusterLabels; from: ExportSummary['labels']['from']; write: string | undefined }> {
  const path = join(toDir, 'cluster_labels.json');
  const existingText = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  const given = labelsFile ? (await readClusterLabels(labelsFile)).labels : {};
  for (const id of Object.keys(given)) {
    if (Number(id) >= clusters) {
      throw new ManifestError('CLUSTER_OUT_OF_RANGE', `${labelsFile} labels cluster ${id}, but the fit has ${clusters} clusters`, {
        path: labelsFile,
        hint: 'give labels of this fit (annotate transfer makes them from a prior release)',
      });
    }
  }
  const template: ClusterLabels = {};
  for (let id = 0; id < clusters; id++) template[String(id)] = given[String(id)] ?? EMPTY_CLUSTER_LABEL;
  const text = formatClusterLabels(template);
  if (existingText === undefined || existingText === text) {
    return { labels: template, from: labelsFile ? 'labels-file' : 'empty', write: existingText === text ? undefined : text };
  }
  if (labelsFile) {
    throw new UsageError('LABELS_WOULD_OVERWRITE', `${path} already holds other labels, and --labels would replace them`, {
      path,
      hint: `export to another --to folder, or move ${path} away first`,
    });
  }
  let existing: ClusterLabels;
  try {
    existing = parseClusterLabels(existingText, path);
  } catch (error) {
    throw new ManifestError('LABELS_INVALID', `${path} (the fill-in file of an earlier export) does not parse; it is kept as it is`, {
      path,
      cause: error,
      hint: `fix it (${(error as Error).message}), or move it away to start from empty labels`,
    });
  }
  return { labels: existing, from: 'existing', write: undefined };
}

async function removeStale(dir: string, pattern: RegExp, stale: (name: string) => boolean): Promise<void> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const name of names) if (pattern.test(name) && stale(name)) await rm(join(dir, name), { force: true });
}

export function formatExportSummary(s: ExportSummary): string {
  const codes = Object.entries(s.tilesFailed.byCode).map(([c, n]) => `${c}=${n}`).join(' ');
  return [
    `export: ${s.clusters} clusters (K from ${s.clustersFrom}), ${s.images} images, ${s.notClustered} not clustered, ${s.emptyClusters} clusters empty`,
    `  site          ${join(s.toDir, 'index.html')}`,
    `  sheets        ${s.sheets.drawn} drawn, ${s.sheets.kept} kept from an earlier run`,
    `  tiles failed  ${s.tilesFailed.count}${codes ? ` (${codes})` : ''}${s.tilesFailed.examples.length ? `\n    ${s.tilesFailed.examples.join('\n    ')}` : ''}`,
    `  labels        ${s.labels.file} (${s.labels.written ? 'written' : 'unchanged'}, from ${s.labels.from})`,
    s.recordsInvalid ? `  records       ${s.recordsInvalid} extract record lines did not parse` : '',
    `  next          fill in the labels, then: biomedica annotate import --labels ${s.labels.file} --to ${s.outDir}`,
  ]
    .filter(Boolean)
    .join('\n');
}
