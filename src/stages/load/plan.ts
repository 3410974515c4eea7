/**
 * Load, pass 1: read the extract units in order, decide every sample, its shard and its byte
 * offset, and stage what the later passes need as JSONL under <dataset>/.work/:
 *
 *   <group>.tar.jsonl        TarLine per sample: member texts, image store, range and hash (pass 2 writes tars)
 *   <group>.index.jsonl      IndexRow per sample (pass 3 writes index/<group>.parquet)
 *   <group>.articles.jsonl   ArticleRow per article (pass 3 writes articles/<group>.parquet)
 *   failures.jsonl           FailureRecord per sample left out
 *
 * Images are not read here: each unit's image store is stat'ed once and every record's byte range
 * checked against it (src/manifest/image-store.ts); hashes come from the extract records. Memory
 * holds one extract unit's records at a time (the unit size bounds it) plus counters per shard.
 */
import { createHash, type Hash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InterruptedError, ManifestError } from '../../errors.js';
import { IMAGE_STORE_NAME, extractPaths, type ExtractManifest } from '../../manifest/extract-manifest.js';
import { imageStoreSize, storedImageProblem } from '../../manifest/image-store.js';
import { mergePubmed, readPubmedForUnit } from '../../enrich/merge.js';
import { readJsonl, sha256File } from '../../storage/files.js';
import { onOutput } from '../../storage/faults.js';
import { createOutputStream, endStream, writeChunk } from '../../storage/streams.js';
import {
  KEY_PATTERN,
  LICENSE_GROUPS,
  MAX_KEY_LENGTH,
  shardName,
  type SampleJson,
  type LicenseGroup,
} from '../../manifest/load-manifest.js';
import {
  ArticleRecord,
  FigureRecord,
  type FailureRecord,
  type ImageRecord,
  type TombstoneRecord,
} from '../../manifest/records.js';
import { readTransformLabels, transformPaths, type TransformLabel } from '../../manifest/transform-records.js';
import { articleRowOf, buildSample, indexRowOf, NO_LABEL, type Layout } from './sample.js';
import { LeadChooser } from './lead.js';
import { sampleBytes } from './tar.js';
import { END_OF_ARCHIVE } from '../../storage/tar.js';
import type { Logger } from '../../log/logger.js';

/** What pass 2 needs to write one sample into its shard. */
export interface TarLine {
  shard: number;
  key: string;
  /** The unit's image store relative to the extract folder, and the image's byte range in it. */
  file: string;
  offset: number;
  bytes: number;
  sha256: string;
  json: string;
  txt: string;
}

export interface PlannedShard {
  n: number;
  samples: number;
  /** Final tar size, end-of-archive blocks included. */
  bytes: number;
  imageBytes: number;
  articles: number;
  firstKey: string;
  lastKey: string;
  byPanelType: Record<string, number>;
  inputSha256: string;
  /** Where the shard's TarLines lie in the group's tar staging file: [start, end) in bytes. */
  staging: { start: number; end: number };
}

export interface GroupPlan {
  group: LicenseGroup;
  samples: number;
  articles: number;
  shards: PlannedShard[];
  tarStaging: string;
  indexStaging: string;
  articlesStaging: string;
}

export interface LeftOut {
  tombstonedArticles: number;
  articlesWithoutSamples: number;
  figuresFiltered: number;
  figuresFailed: number;
  subArticleFigures: number;
  samplesFailed: number;
  /** Images a training subset (load --subset) did not select. */
  notInSubset?: number;
}

export interface Plan {
  groups: GroupPlan[];
  leftOut: LeftOut;
  /** Why extract filtered the figures that were left out (FigureRecord.reason). */
  filteredByReason: Record<string, number>;
  /** Samples load itself had to leave out, by code. */
  failuresByCode: Record<string, number>;
  failuresStaging: string;
  byPanelType: Record<string, number>;
  /** Transform labels were joined; `unlabelled` counts samples that had no label line. */
  labelled: boolean;
  unlabelled: number;
}

/**
 * The plan as the file every worker reads (plan.json, written last in the plan folder): staging
 * files are named relative to that folder, which machines may mount at different paths.
 */
export function planToJson(plan: Plan, planDir: string): unknown {
  const rel = (p: string) => relative(planDir, p);
  return {
    ...plan,
    failuresStaging: rel(plan.failuresStaging),
    groups: plan.groups.map((g) => ({ ...g, tarStaging: rel(g.tarStaging), indexStaging: rel(g.indexStaging), articlesStaging: rel(g.articlesStaging) })),
  };
}

export function planFromJson(raw: unknown, planDir: string): Plan {
  const plan = raw as Plan;
  const abs = (p: string) => {
    if (p.includes('/') || p.includes('\\') || p.startsWith('.')) throw new Error(`plan names staging file "${p}" outside its folder`);
    return join(planDir, p);
  };
  return {
    ...plan,
    failuresStaging: abs(plan.failuresStaging),
    groups: plan.groups.map((g) => ({ ...g, tarStaging: abs(g.tarStaging), indexStaging: abs(g.indexStaging), articlesStaging: abs(g.articlesStaging) })),
  };
}

export interface PlanInput {
  outDir: string;
  manifest: ExtractManifest;
  workDir: string;
  layout: Layout;
  includeSubArticles: boolean;
  shardMaxBytes: number;
  shardMaxSamples: number;
  /** Tar settings that shape the bytes; part of every shard's input hash. */
  tarTag: string;
  withLabels: boolean;
  /** A training subset (src/annotations/subset-selector.ts): false leaves the image out. */
  select?: (key: string, label: Omit<TransformLabel, 'key'> | undefined) => boolean;
  signal: AbortSignal;
  log: Pick<Logger, 'info' | 'warn'>;
}


class JsonlWriter {
  private readonly out: WriteStream;
  /** Bytes written so far: the offset of the next line. */
  bytes = 0;
  constructor(readonly path: string) {
    this.out = createOutputStream(path, { highWaterMark: 1 << 20 });
  }
  async write(line: string): Promise<void> {
    this.bytes += Buffer.byteLength(line) + 1;
    await onOutput(this.path, () => writeChunk(this.out, line + '\n'));
  }
  async close(): Promise<void> {
    await onOutput(this.path, () => endStream(this.out));
  }
  destroy(): void {
    this.out.destroy();
  }
}

interface ShardState {
  n: number;
  samples: number;
  /** Bytes of the members so far (end-of-archive blocks not included). */
  bytes: number;
  imageBytes: number;
  firstKey: string;
  lastKey: string;
  byPanelType: Record<string, number>;
  hash: Hash;
  stagingStart: number;
  /** Distinct articles: the lead samples break up their articles' runs. */
  articleIds: Set<string>;
}

/** A sample decided by the plan, before its place in the shard is fixed. */
export interface PlannedSample {
  line: Omit<TarLine, 'shard'>;
  size: number;
  articleId: string;
}

/**
 * One license group. Samples are staged in dataset order first (`stage`), then placed (`finish`):
 * the lead samples (lead.ts) go first, every other sample follows in order, and shards are cut by
 * size and count as they are placed, which fixes every sample's shard and byte offset.
 */
class GroupState {
  samples = 0;
  articles = 0;
  readonly shards: PlannedShard[] = [];
  private current: ShardState | undefined;
  private lastArticle = '';
  private readonly staged: JsonlWriter;
  private readonly leads = new LeadChooser<PlannedSample>();
  readonly tar: JsonlWriter;
  readonly index: JsonlWriter;
  readonly articleRows: JsonlWriter;
  constructor(
    readonly group: LicenseGroup,
    workDir: string,
    private readonly tarTag: string,
    private readonly limits: { maxBytes: number; maxSamples: number },
  ) {
    this.staged = new JsonlWriter(join(workDir, `${group}.samples.jsonl`));
    this.tar = new JsonlWriter(join(workDir, `${group}.tar.jsonl`));
    this.index = new JsonlWriter(join(workDir, `${group}.index.jsonl`));
    this.articleRows = new JsonlWriter(join(workDir, `${group}.articles.jsonl`));
  }

  async stage(sample: PlannedSample, json: SampleJson): Promise<void> {
    this.leads.offer(this.samples, json, sample);
    this.samples++;
    if (sample.articleId !== this.lastArticle) {
      this.articles++;
      this.lastArticle = sample.articleId;
    }
    await this.staged.write(JSON.stringify(sample));
  }

  async finish(): Promise<void> {
    await this.staged.close();
    const leads = this.leads.choose();
    const skip = new Set(leads.map((l) => l.index));
    for (const { item } of leads) await this.place(item);
    let i = 0;
    for await (const sample of readJsonl<PlannedSample>(this.staged.path)) {
      if (!skip.has(i++)) await this.place(sample);
    }
    this.closeShard();
    await rm(this.staged.path, { force: true });
    await Promise.all([this.tar.close(), this.index.close(), this.articleRows.close()]);
  }

  /** Fixes the sample's shard and offset and stages its tar line and index row. */
  private async place(sample: PlannedSample): Promise<void> {
    const c = this.current;
    if (c && c.samples > 0 && (c.samples >= this.limits.maxSamples || c.bytes + sample.size + END_OF_ARCHIVE > this.limits.maxBytes)) {
      this.closeShard();
    }
    const shard = (this.current ??= {
      n: this.shards.length,
      samples: 0,
      bytes: 0,
      imageBytes: 0,
      firstKey: '',
      lastKey: '',
      byPanelType: {},
      hash: createHash('sha256').update(this.tarTag + '\n'),
      stagingStart: this.tar.bytes,
      articleIds: new Set(),
    });
    const line: TarLine = { shard: shard.n, ...sample.line };
    const text = JSON.stringify(line);
    const offset = shard.bytes;
    shard.hash.update(text + '\n');
    shard.bytes += sample.size;
    shard.samples++;
    shard.imageBytes += line.bytes;
    if (shard.firstKey === '') shard.firstKey = line.key;
    shard.lastKey = line.key;
    shard.articleIds.add(sample.articleId);
    const json = JSON.parse(line.json) as SampleJson;
    bump(shard.byPanelType, json.image_panel_type);
    await this.tar.write(text);
    await this.index.write(
      JSON.stringify(
        indexRowOf({ key: line.key, json, jsonText: line.json, txt: line.txt }, { shard: `${this.group}/${shardName(shard.n)}`, offset, sampleBytes: sample.size }),
      ),
    );
  }

  private closeShard(): void {
    const c = this.current;
    if (!c) return;
    const { hash, articleIds, stagingStart, ...rest } = c;
    this.shards.push({
      ...rest,
      articles: articleIds.size,
      bytes: c.bytes + END_OF_ARCHIVE,
      inputSha256: hash.digest('hex'),
      staging: { start: stagingStart, end: this.tar.bytes },
    });
    this.current = undefined;
  }

  destroy(): void {
    this.staged.destroy();
    this.tar.destroy();
    this.index.destroy();
    this.articleRows.destroy();
  }

  toPlan(): GroupPlan {
    return {
      group: this.group,
      samples: this.samples,
      articles: this.articles,
      shards: this.shards,
      tarStaging: this.tar.path,
      indexStaging: this.index.path,
      articlesStaging: this.articleRows.path,
    };
  }
}

const bump = (counts: Record<string, number>, key: string, n = 1) => {
  counts[key] = (counts[key] ?? 0) + n;
};

export async function planLoad(input: PlanInput): Promise<Plan> {
  const extract = extractPaths(input.outDir);
  const tombstones = await readTombstones(extract.tombstones, input.manifest.tombstonesSha256);
  const groups = new Map<LicenseGroup, GroupState>(
    LICENSE_GROUPS.map((g) => [g, new GroupState(g, input.workDir, input.tarTag, { maxBytes: input.shardMaxBytes, maxSamples: input.shardMaxSamples })]),
  );
  const failures = new JsonlWriter(join(input.workDir, 'failures.jsonl'));
  const plan: Plan = {
    groups: [],
    leftOut: {
      tombstonedArticles: 0,
      articlesWithoutSamples: 0,
      figuresFiltered: 0,
      figuresFailed: 0,
      subArticleFigures: 0,
      samplesFailed: 0,
    },
    filteredByReason: {},
    failuresByCode: {},
    failuresStaging: failures.path,
    byPanelType: {},
    labelled: input.withLabels,
    unlabelled: 0,
  };
  const fail = async (unit: string, item: string, step: FailureRecord['step'], code: string, message: string) => {
    bump(plan.failuresByCode, code);
    const record: FailureRecord = { unit, item, step, code, message, transient: false };
    await failures.write(JSON.stringify(record));
  };

  try {
    for (const unit of input.manifest.units) {
      if (input.signal.aborted) {
        throw new InterruptedError('INTERRUPTED', `stopped while planning, at unit ${unit.id}`, {
          hint: 'rerun the same command: finished shards are kept',
        });
      }
      await checkUnitFiles(input.outDir, unit);
      const labels = input.withLabels ? await readLabels(input.outDir, unit.id) : undefined;

      const pubmed = await readPubmedForUnit(input.outDir, unit.id, unit.files['articles.jsonl'] ?? '');
      const articles: ArticleRecord[] = [];
      let line = 0;
      for await (const raw of readJsonl(extract.unitFile(unit.id, 'articles.jsonl'))) {
        line++;
        const parsed = ArticleRecord.safeParse(raw);
        if (parsed.success) articles.push(mergePubmed(parsed.data, pubmed?.get(parsed.data.id)));
        else await fail(unit.id, `articles.jsonl:${line}`, 'parse', 'RECORD_INVALID', parsed.error.message);
      }
      const figuresOf = new Map<string, FigureRecord[]>();
      line = 0;
      for await (const raw of readJsonl(extract.unitFile(unit.id, 'figures.jsonl'))) {
        line++;
        const parsed = FigureRecord.safeParse(raw);
        if (!parsed.success) {
          await fail(unit.id, `figures.jsonl:${line}`, 'parse', 'RECORD_INVALID', parsed.error.message);
          continue;
        }
        const list = figuresOf.get(parsed.data.articleId);
        if (list) list.push(parsed.data);
        else figuresOf.set(parsed.data.articleId, [parsed.data]);
      }

      const storeSize = await imageStoreSize(extract.root, unit.id);
      for (const article of articles) {
        const figures = (figuresOf.get(article.id) ?? []).sort((a, b) => a.index - b.index);
        figuresOf.delete(article.id);
        if (isTombstoned(tombstones, article.id, unit.id)) {
          plan.leftOut.tombstonedArticles++;
          continue;
        }
        const chosen: { figure: FigureRecord; image: ImageRecord; imageIndex: number }[] = [];
        const seen = new Set<string>();
        for (const figure of figures) {
          if (figure.status === 'filtered') {
            plan.leftOut.figuresFiltered++;
            for (const reason of (figure.reason || 'UNSPECIFIED').split(',')) bump(plan.filteredByReason, reason);
            continue;
          }
          if (figure.status === 'failed') {
            plan.leftOut.figuresFailed++;
            continue;
          }
          if (figure.subArticleId !== '' && !input.includeSubArticles) {
            plan.leftOut.subArticleFigures++;
            continue;
          }
          for (const [imageIndex, image] of figure.images.entries()) {
            const problem = imageProblem(image, seen, unit.id, storeSize);
            if (problem) {
              plan.leftOut.samplesFailed++;
              await fail(unit.id, image.key, 'image', problem.code, problem.message);
              continue;
            }
            if (input.select && !input.select(image.key, labels?.get(image.key))) {
              plan.leftOut.notInSubset = (plan.leftOut.notInSubset ?? 0) + 1;
              continue;
            }
            seen.add(image.key);
            chosen.push({ figure, image, imageIndex });
          }
        }
        if (chosen.length === 0) {
          plan.leftOut.articlesWithoutSamples++;
          continue;
        }

        const group = groups.get(article.licenseGroup)!;
        const imageSet = chosen.map((c) => c.image.mediaName);
        const keys: string[] = [];
        for (const { figure, image, imageIndex } of chosen) {
          const found = labels?.get(image.key);
          if (labels && !found) plan.unlabelled++;
          const sample = buildSample({
            article,
            figure,
            image,
            imageIndex,
            label: found ?? NO_LABEL,
            imageSet,
            layout: input.layout,
          });
          const size = sampleBytes(image.bytes, Buffer.byteLength(sample.jsonText), Buffer.byteLength(sample.txt));
          await group.stage(
            {
              line: { key: sample.key, file: image.file, offset: image.offset, bytes: image.bytes, sha256: image.sha256, json: sample.jsonText, txt: sample.txt },
              size,
              articleId: article.id,
            },
            sample.json,
          );
          if (input.withLabels) bump(plan.byPanelType, sample.json.image_panel_type || '(unlabelled)');
          keys.push(sample.key);
        }
        await group.articleRows.write(JSON.stringify(articleRowOf(article, imageSet, keys)));
      }
      for (const [articleId, figures] of figuresOf) {
        await fail(unit.id, articleId, 'parse', 'ORPHAN_FIGURES', `${figures.length} figure records name an article the unit does not hold`);
      }
    }
    for (const group of groups.values()) await group.finish();
    await failures.close();
  } catch (error) {
    for (const group of groups.values()) group.destroy();
    failures.destroy();
    throw error;
  }
  plan.groups = [...groups.values()].map((g) => g.toPlan());
  return plan;
}

function imageProblem(
  image: ImageRecord,
  seen: Set<string>,
  unit: string,
  storeSize: number,
): { code: string; message: string } | undefined {
  if (image.key.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(image.key)) {
    return { code: 'KEY_INVALID', message: `key must match ${KEY_PATTERN} and have at most ${MAX_KEY_LENGTH} characters` };
  }
  if (seen.has(image.key)) return { code: 'DUPLICATE_KEY', message: 'the article holds this image key twice' };
  // The record names the file and the range: never follow it out of the unit's own store.
  return storedImageProblem(image, unit, storeSize);
}

async function checkUnitFiles(outDir: string, unit: ExtractManifest['units'][number]): Promise<void> {
  const extract = extractPaths(outDir);
  for (const name of ['articles.jsonl', 'figures.jsonl']) {
    if (!(name in unit.files)) {
      throw new ManifestError('MANIFEST_MISMATCH', `the extract manifest lists no ${name} for unit ${unit.id}`, {
        unit: unit.id,
        hint: 'rerun biomedica extract',
      });
    }
  }
  // The records are hashed; images.tar is not read here (its marker and the byte-range checks vouch for it).
  for (const [name, expected] of Object.entries(unit.files)) {
    if (name === IMAGE_STORE_NAME) continue;
    const path = extract.unitFile(unit.id, name);
    const actual = await sha256File(path).catch(() => 'missing');
    if (actual !== expected) {
      throw new ManifestError('MANIFEST_MISMATCH', `${name} of unit ${unit.id} does not match the extract manifest`, {
        path,
        expected,
        actual,
        hint: 'the extract folder changed after extract finished: rerun biomedica extract (it redoes units whose files changed; add --check if the file was damaged rather than edited), then load',
      });
    }
  }
}

type Tombstones = Map<string, Set<string>>;

async function readTombstones(path: string, expectedSha256: string): Promise<Tombstones> {
  const out: Tombstones = new Map();
  if (expectedSha256 === '') return out;
  const actual = await sha256File(path).catch(() => 'missing');
  if (actual !== expectedSha256) {
    throw new ManifestError('MANIFEST_MISMATCH', 'tombstones.jsonl does not match the extract manifest', {
      path,
      hint: 'rerun biomedica extract --sync on this folder: it rebuilds tombstones.jsonl from the plan epochs',
    });
  }
  for await (const raw of readJsonl<TombstoneRecord>(path)) {
    const units = out.get(raw.articleId) ?? new Set<string>();
    units.add(raw.unit ?? '');
    out.set(raw.articleId, units);
  }
  return out;
}

function isTombstoned(tombstones: Tombstones, articleId: string, unit: string): boolean {
  const units = tombstones.get(articleId);
  return units !== undefined && (units.has('') || units.has(unit));
}

async function readLabels(outDir: string, unit: string): Promise<Map<string, Omit<TransformLabel, 'key'>>> {
  const out = new Map<string, Omit<TransformLabel, 'key'>>();
  try {
    for await (const { key, ...label } of readTransformLabels(outDir, unit)) out.set(key, label);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ManifestError('MANIFEST_MISSING', `transform labels for unit ${unit} are missing`, {
        path: transformPaths(outDir).labels(unit),
        hint: 'rerun biomedica transform, or remove the transform folder to load without labels',
      });
    }
    throw error;
  }
  return out;
}
