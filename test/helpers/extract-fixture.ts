/**
 * A valid extract folder built directly from records, for testing load without running extract:
 * manifest.json, units/<unit>/{articles,figures,failures}.jsonl, images.tar (real JPEGs made with
 * sharp) and done.json markers, all written the way extract writes them: each unit through
 * extract's own unit writer (src/stages/extract/unit-store.ts), the manifest with writeJsonAtomic.
 *
 * The hand-written part covers: all three license groups, two units, a figure with two images, a
 * filtered and a failed figure, a sub-article figure, a table given as an image, a tombstoned
 * article, an article with no figures, a failed article, and non-ASCII captions. `generated` adds
 * any number of synthetic articles (for the bench).
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  EXTRACT_SCHEMA,
  EXTRACT_STEP,
  EXTRACT_VERSION,
  addStats,
  emptyStats,
  extractPaths,
  unitId,
  imageStoreRel,
  type ExtractManifest,
} from '../../src/manifest/extract-manifest.js';
import { FigureRecord as FigureSchema } from '../../src/manifest/records.js';
import { readJsonl, sha256, toJsonl, writeFileAtomic, writeJsonAtomic } from '../../src/storage/files.js';
import { writeUnitStore, type ArticleOutcome } from '../../src/stages/extract/unit-store.js';
import { StoredImages } from '../../src/manifest/image-store.js';
import type {
  ArticleRecord,
  FailureRecord,
  FigureRecord,
  ImageRecord,
  TombstoneRecord,
} from '../../src/manifest/records.js';
import type { LicenseGroup } from '../../src/manifest/load-manifest.js';
import { writeMarker, type WorkUnit } from '../../src/pipeline/runner.js';
import { TRANSFORM_SCHEMA, TRANSFORM_VERSION, transformPaths, type TransformLabel, type TransformManifest } from '../../src/manifest/transform-records.js';

export interface FixtureOptions {
  /**
   * Synthetic articles appended in further units (for the bench). Those numbered below
   * `referencesFrom` (default 0) have no references: list fields empty in a group's first samples.
   */
  generated?: { articles: number; figuresPerArticle: number; width?: number; height?: number; unitSize?: number; referencesFrom?: number };
  snapshotDate?: string;
  /** Leave out the hand-written articles (bench). */
  handWritten?: boolean;
  /** The JPEG of the n-th image stored (0-based), in place of the generated ones (real figures). */
  imageBytes?: (n: number) => Buffer;
}

export interface ExtractFixture {
  outDir: string;
  manifest: ExtractManifest;
  articles: ArticleRecord[];
  figures: FigureRecord[];
  /** Stored JPEG bytes per image key. */
  images: Map<string, Buffer>;
  /** The samples load should write, per license group, in dataset order (computed from the records). */
  expected: Record<LicenseGroup, string[]>;
  tombstoned: string[];
  units: string[];
}

/** Deterministic noise, so that every image is a different, real JPEG and compresses like a photo. */
function noise(width: number, height: number, seed: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    // Smooth structure plus noise: a gradient keeps sharp's encoder doing realistic work.
    out[i] = ((i % (width * 3)) / 3 + (s & 63)) & 255;
  }
  return out;
}

async function jpeg(width: number, height: number, seed: number): Promise<Buffer> {
  return sharp(noise(width, height, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

function article(id: string, pmcid: string, version: number | null, licenseCode: string, licenseGroup: LicenseGroup, extra: Partial<ArticleRecord> = {}): ArticleRecord {
  return {
    id,
    pmcid,
    version,
    pmid: String(30_000_000 + Number(pmcid.slice(3)) % 1_000_000),
    doi: `10.1234/fixture.${pmcid.toLowerCase()}`,
    title: `A study numbered ${pmcid}`,
    abstract: `Abstract of ${pmcid}: we measured things and found other things.`,
    keywords: ['imaging', 'fixture'],
    subjects: ['Research Article'],
    journal: 'Journal of Fixtures',
    publisher: 'Fixture Press',
    pubDate: '2021-06-15',
    licenseCode,
    licenseGroup,
    licenseText: `This article is distributed under ${licenseCode}.`,
    licenseUrl: licenseGroup === 'other' ? '' : 'https://creativecommons.org/licenses/by/4.0/',
    articleType: 'research-article',
    citation: `J Fixtures. 2021; 12:${pmcid.slice(3)}`,
    bodyText: `Introduction. The body of ${pmcid}, long enough to matter.\n\nResults. See Figure 1.`,
    referencePmids: ['11111111', '22222222'],
    referenceCount: 3,
    references: [
      'Smith J, Jones A. Imaging fixtures at scale. J Fixtures. 2019. 10. 1–9. doi:10.1234/ref.1. pmid:11111111',
      'Müller K, Doe R (2020) Another study of the same things. Nature 581: 100–105.',
      'Fixture Consortium. Reference data, release 3. 2018. https://example.org/data',
    ],
    meshTerms: [],
    figureCount: 0,
    sourceLocation: `oa_package/00/00/${pmcid}.tar.gz`,
    sourceRevision: '2024-01-01 00:00:00',
    lastUpdated: '2024-01-01 00:00:00',
    ...extra,
  };
}

interface FigureSpec {
  status?: FigureRecord['status'];
  reason?: string;
  images?: number;
  caption?: string;
  subArticleId?: string;
  kind?: FigureRecord['kind'];
  citing?: string[];
}

interface ArticleSpec {
  unit: number;
  record: ArticleRecord;
  figures: FigureSpec[];
}

function handWritten(): { specs: ArticleSpec[]; tombstones: TombstoneRecord[]; failures: FailureRecord[]; failedArticles: Record<number, number> } {
  const specs: ArticleSpec[] = [
    {
      unit: 0,
      record: article('PMC1000001_1', 'PMC1000001', 1, 'CC BY', 'commercial'),
      figures: [
        { caption: 'Figure 1. Confocal micrographs of stained cells.', citing: ['As shown in Figure 1, cells were stained.'] },
        { caption: 'Figure 2. Two panels shown as separate images.', images: 2 },
        { status: 'filtered', reason: 'CAPTION_EMPTY', caption: '', images: 0 },
      ],
    },
    {
      unit: 0,
      record: article('PMC1000002_1', 'PMC1000002', 1, 'CC BY-NC', 'noncommercial', { title: 'Études des cellules — 细胞研究 🔬' }),
      figures: [
        { caption: 'Figure 1. Coupe histologique (×40), µm scale — 显微镜图像 🔬.' },
        { status: 'failed', reason: 'IMAGE_NOT_IN_PACKAGE', images: 0 },
      ],
    },
    {
      unit: 0,
      record: article('PMC1000003', 'PMC1000003', null, 'NO-CC CODE', 'other', { pubDate: '2019' }),
      figures: [
        { caption: 'Figure 1. An X-ray of the chest.' },
        { caption: 'Author response image 1. A revised plot.', subArticleId: 'sa2' },
      ],
    },
    {
      unit: 1,
      record: article('PMC1000004_2', 'PMC1000004', 2, 'CC BY', 'commercial'),
      figures: [{ caption: 'Figure 1. From an article that was retracted.' }],
    },
    { unit: 1, record: article('PMC1000005_1', 'PMC1000005', 1, 'CC0', 'commercial'), figures: [] },
    {
      unit: 1,
      record: article('PMC1000006_1', 'PMC1000006', 1, 'CC BY-SA', 'commercial', { meshTerms: ['Humans', 'Neoplasms'] }),
      figures: [
        { caption: 'Figure 1. A western blot.', citing: ['Protein levels (Fig. 1) rose.', 'Fig. 1 also shows controls.'] },
        { caption: 'Table 1. Patient characteristics.', kind: 'table-image' },
      ],
    },
  ];
  const tombstones: TombstoneRecord[] = [{ articleId: 'PMC1000004_2', unit: '', reason: 'retracted' }];
  const failures: FailureRecord[] = [
    { unit: unitId(0), item: 'PMC1000002_1_f002', step: 'image', code: 'IMAGE_NOT_IN_PACKAGE', message: 'no media file matches graphic href "f2"', transient: false },
    { unit: unitId(1), item: 'PMC1000007_1', step: 'parse', code: 'PARSE_FAILED', message: 'not well-formed XML', transient: false },
  ];
  return { specs, tombstones, failures, failedArticles: { 1: 1 } };
}

const GROUPS: [string, LicenseGroup][] = [
  ['CC BY', 'commercial'],
  ['CC BY-NC', 'noncommercial'],
  ['CC BY', 'commercial'],
  ['NO-CC CODE', 'other'],
];

export async function buildExtractFixture(outDir: string, options: FixtureOptions = {}): Promise<ExtractFixture> {
  const paths = extractPaths(outDir);
  const hand = options.handWritten === false ? { specs: [], tombstones: [], failures: [], failedArticles: {} } : handWritten();
  const specs = [...hand.specs];
  const baseUnits = specs.length > 0 ? 2 : 0;
  const g = options.generated;
  if (g) {
    const unitSize = g.unitSize ?? 500;
    for (let i = 0; i < g.articles; i++) {
      const pmcid = `PMC${2_000_000 + i}`;
      const [code, group] = GROUPS[i % GROUPS.length]!;
      specs.push({
        unit: baseUnits + Math.floor(i / unitSize),
        record: article(`${pmcid}_1`, pmcid, 1, code, group, i < (g.referencesFrom ?? 0) ? { references: [], referenceCount: 0, referencePmids: [] } : {}),
        figures: Array.from({ length: g.figuresPerArticle }, (_, f) => ({
          caption: `Figure ${f + 1}. Generated figure ${f + 1} of ${pmcid}, with a caption of ordinary length for a figure.`,
          citing: [`Figure ${f + 1} shows the result.`],
        })),
      });
    }
  }
  const width = g?.width ?? 64;
  const height = g?.height ?? 48;

  const articles: ArticleRecord[] = [];
  const figures: FigureRecord[] = [];
  const images = new Map<string, Buffer>();
  const byUnit = new Map<number, { articles: ArticleRecord[]; figures: FigureRecord[] }>();
  // Bench fixtures hold thousands of images: encode a pool of distinct JPEGs and reuse them.
  const pool: Buffer[] = [];
  const poolSize = g ? 64 : Number.POSITIVE_INFINITY;
  let seed = 1;
  let drawn = 0;
  const nextImage = async () => {
    if (options.imageBytes) return options.imageBytes(drawn++);
    if (pool.length < poolSize) {
      const img = await jpeg(width + (seed % 5), height + (seed % 3), seed * 7919);
      pool.push(img);
      seed++;
      return img;
    }
    return pool[seed++ % pool.length]!;
  };

  for (const spec of specs) {
    const unit = unitId(spec.unit);
    const record = { ...spec.record, figureCount: spec.figures.length };
    const entry = byUnit.get(spec.unit) ?? { articles: [], figures: [] };
    byUnit.set(spec.unit, entry);
    entry.articles.push(record);
    articles.push(record);
    for (const [i, f] of spec.figures.entries()) {
      const index = i + 1;
      const key = `${record.id}_f${String(index).padStart(3, '0')}`;
      const status = f.status ?? 'ok';
      const count = f.images ?? (status === 'ok' ? 1 : 0);
      const imgs: ImageRecord[] = [];
      for (let k = 0; k < count; k++) {
        const imageKey = k === 0 ? key : `${key}_${k + 1}`;
        const bytes = await nextImage();
        const meta = await sharp(bytes).metadata();
        images.set(imageKey, bytes);
        imgs.push({
          key: imageKey,
          href: `f${index}${k ? `-${k + 1}` : ''}`,
          mediaName: `${record.pmcid.toLowerCase()}-g${String(index).padStart(3, '0')}${k ? `-${k + 1}` : ''}.jpg`,
          // Where the image lands in the unit's store is the unit writer's to fill in.
          file: imageStoreRel(unit),
          offset: 0,
          width: meta.width!,
          height: meta.height!,
          bytes: bytes.length,
          originalFormat: k === 0 ? 'jpeg' : 'tiff',
          originalWidth: meta.width! * 2,
          originalHeight: meta.height! * 2,
          sha256: sha256(bytes),
          passThrough: false,
        });
      }
      const figure: FigureRecord = {
        key,
        articleId: record.id,
        index,
        id: `F${index}`,
        label: f.kind === 'table-image' ? `Table ${index}` : `Figure ${index}`,
        caption: f.caption ?? `Figure ${index}.`,
        graphics: imgs.map((x) => x.href),
        citingParagraphs: f.citing ?? [],
        location: f.subArticleId ? 'sub-article' : 'body',
        inFigGroup: false,
        subArticleId: f.subArticleId ?? '',
        kind: f.kind ?? 'figure',
        images: imgs,
        status,
        reason: f.reason ?? '',
      };
      entry.figures.push(figure);
      figures.push(figure);
    }
  }

  const unitIndexes = [...byUnit.keys()].sort((a, b) => a - b);
  const units: ExtractManifest['units'] = [];
  const totals = emptyStats();
  const stored = new Map<string, FigureRecord>();
  for (const u of unitIndexes) {
    const unit = unitId(u);
    const { articles: as, figures: fs } = byUnit.get(u)!;
    const outcomes: ArticleOutcome[] = as.map((article) => {
      const own = fs.filter((f) => f.articleId === article.id);
      return { article, figures: own, failures: [], images: new Map(own.flatMap((f) => f.images.map((i) => [i.key, images.get(i.key)!]))) };
    });
    for (let n = 0; n < ((hand.failedArticles as Record<number, number>)[u] ?? 0); n++) outcomes.push({ article: null, figures: [], failures: [], images: new Map() });
    const failures = hand.failures.filter((f) => f.unit === unit);
    if (failures.length > 0) outcomes.at(-1)!.failures.push(...failures);
    const written = await writeUnitStore(outDir, unit, (async function* () { yield* outcomes; })(), new AbortController().signal);
    const step = { name: EXTRACT_STEP, version: EXTRACT_VERSION, markerPath: (u: WorkUnit) => paths.unitMarker(u.id) };
    await writeMarker(step, { id: unit, key: sha256(`fixture ${unit}`) }, written);
    units.push({ id: unit, stats: written.result.stats, files: written.result.files });
    addStats(totals, written.result.stats);
    // The records as written: with each image's place in the unit's store.
    for await (const raw of readJsonl(paths.unitFile(unit, 'figures.jsonl'))) {
      const f = FigureSchema.parse(raw);
      stored.set(f.key, f);
    }
  }
  for (const [i, f] of figures.entries()) figures[i] = stored.get(f.key)!;

  let tombstonesSha256 = '';
  if (hand.tombstones.length > 0) {
    const text = toJsonl(hand.tombstones);
    await writeFileAtomic(paths.tombstones, text);
    tombstonesSha256 = sha256(text);
  }
  const manifest: ExtractManifest = {
    schema: EXTRACT_SCHEMA,
    version: EXTRACT_VERSION,
    source: { kind: 'legacy-local', url: 'file:///fixture', snapshotDate: options.snapshotDate ?? '2026-03-01' },
    optionsSha256: sha256('fixture'),
    options: {},
    units,
    totals,
    tombstonesSha256,
  };
  await writeJsonAtomic(paths.manifest, manifest);

  // What load must write, derived from the records by the rules of the issue, not by load's code.
  const tombstoned = hand.tombstones.map((t) => t.articleId);
  const expected: Record<LicenseGroup, string[]> = { commercial: [], noncommercial: [], other: [] };
  for (const u of unitIndexes) {
    for (const a of byUnit.get(u)!.articles) {
      if (tombstoned.includes(a.id)) continue;
      for (const f of figures.filter((x) => x.articleId === a.id && x.status === 'ok')) {
        for (const i of f.images) expected[a.licenseGroup].push(i.key);
      }
    }
  }
  return { outDir, manifest, articles, figures, images, expected, tombstoned, units: units.map((u) => u.id) };
}

/** A finished transform: a manifest and one label file per unit, labels chosen by `labelOf`. */
export async function writeTransformFixture(
  fixture: ExtractFixture,
  labelOf: (key: string) => Omit<TransformLabel, 'key'> | undefined,
): Promise<void> {
  const paths = transformPaths(fixture.outDir);
  for (const unit of fixture.units) {
    const keys = fixture.figures
      .filter((f) => f.images.some((i) => i.file.startsWith(`units/${unit}/`)))
      .flatMap((f) => f.images.map((i) => i.key));
    const lines: TransformLabel[] = [];
    for (const key of keys) {
      const label = labelOf(key);
      if (label) lines.push({ key, ...label });
    }
    await writeFileAtomic(paths.labels(unit), toJsonl(lines));
  }
  await writeJsonAtomic(paths.manifest, transformManifestFixture(fixture.units));
}

/**
 * A transform manifest of the shape transform writes (load reads it for the dataset card), for
 * tests that hand-write label lines instead of running transform.
 */
export function transformManifestFixture(units: readonly string[]): TransformManifest {
  const zero = '0'.repeat(64);
  const totals = { images: 0, embedded: 0, failed: 0, failuresByCode: {}, labelled: 0, unlabelled: 0 };
  return {
    schema: TRANSFORM_SCHEMA,
    version: TRANSFORM_VERSION,
    upstream: { extractManifestSha256: zero },
    embedding: { modelSha256: zero, modelFile: 'fixture.onnx', inputName: 'pixel_values', outputName: 'last_hidden_state[:, 0]', inputType: 'float32', dim: 8, recipe: 'biomedica', providers: ['cpu'] },
    model: { sha256: zero, clusters: 4, components: 2, seed: 0, sampleSize: 8, inertia: 0 },
    labels: { sha256: '', clustersLabelled: 0 },
    units: units.map((id) => ({ id, images: 0, embedded: 0, failed: 0, files: {} })),
    totals,
  };
}

/**
 * Overwrites an image's bytes inside its unit's store with bytes that are no JPEG, same length:
 * a stored image damaged after extract (the store keeps its size, the records their hashes).
 */
export async function corruptStoredImage(outDir: string, image: ImageRecord): Promise<void> {
  const handle = await open(join(extractPaths(outDir).root, image.file), 'r+');
  try {
    await handle.write(Buffer.alloc(image.bytes, 'not a jpeg '), 0, image.bytes, image.offset);
  } finally {
    await handle.close();
  }
}

/** One stored image's bytes, read the way every reader does (src/manifest/image-store.ts). */
export async function readStoredImage(outDir: string, image: ImageRecord): Promise<Buffer> {
  const stored = new StoredImages(extractPaths(outDir).root);
  try {
    return await stored.read(image);
  } finally {
    await stored.close();
  }
}
