// Expert-label tooling at scale, on a synthetic run folder of --images label lines in units of
// --unit-size, over --clusters clusters: figure and article records for every image, one real
// corpus figure per unit that every image record points at (so contact sheets decode real JPEGs).
//   export     annotate export end to end (sample pass, details pass, one sheet per cluster, site)
//   sample     the sample pass alone: label lines read, checked and offered to per-cluster bottom-k
//   transfer   annotate transfer against a prior release (Parquet) holding every image
//   balance    the concept-balanced counting pass (load --subset concept-balanced)
//   baseline   the same label files streamed by readJsonl with JSON.parse only, in the same command
// Each in its own child process (peak RSS is its own), median of --runs.
// Usage: npx tsx scripts/bench/annotate.ts [--images 200000] [--unit-size 1000] [--clusters 200] [--per-cluster 16] [--runs 3] [--dir bench-out]
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '200000' },
    'unit-size': { type: 'string', default: '1000' },
    clusters: { type: 'string', default: '200' },
    'per-cluster': { type: 'string', default: '16' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: 'bench-out' },
    child: { type: 'string' },
  },
});
const images = Number(values.images);
const unitSize = Number(values['unit-size']);
const clusters = Number(values.clusters);
const dir = resolve(values.dir, 'annotate');
const outDir = join(dir, 'run');
const taxonomyFile = 'config/taxonomy/taxonomy_collapsed_and_filtered.json';

if (values.child) {
  const { testContext } = await import('../../src/pipeline/context.js');
  const started = performance.now();
  let rows = 0;
  if (values.child === 'export') {
    const { runExport, ExportOptions } = await import('../../src/annotations/export.js');
    rmSync(join(dir, 'site'), { recursive: true, force: true });
    const s = await runExport(ExportOptions.parse({ outDir, toDir: join(dir, 'site'), perCluster: values['per-cluster'], taxonomyFile }), testContext());
    rows = s.images;
  } else if (values.child === 'transfer') {
    const { runTransfer, TransferOptions } = await import('../../src/annotations/transfer.js');
    const r = await runTransfer(TransferOptions.parse({ priorFiles: [join(dir, 'prior.parquet')], outDir, toFile: join(dir, 'transferred.json') }), testContext());
    rows = r.images;
  } else {
    const { labelUnits } = await import('../../src/annotations/run-folder.js');
    const units = await labelUnits(outDir);
    if (values.child === 'balance') {
      const { subsetSelector } = await import('../../src/annotations/subset-selector.js');
      const s = await subsetSelector({ kind: 'concept-balanced', maxPerConcept: 1000, seed: 1 }, outDir, units);
      rows = s.balance!.images;
    } else if (values.child === 'sample') {
      const { readTransformLabels } = await import('../../src/manifest/transform-records.js');
      const { BottomK, priority } = await import('../../src/annotations/seeded.js');
      const samplers = new Map<number, InstanceType<typeof BottomK<string>>>();
      for (const unit of units) {
        for await (const l of readTransformLabels(outDir, unit)) {
          let s = samplers.get(l.clusterId);
          if (!s) samplers.set(l.clusterId, (s = new BottomK<string>(16)));
          s.offer({ priority: priority(0, l.key), key: l.key, item: unit });
          rows++;
        }
      }
    } else {
      // baseline (and warm): the label files streamed and parsed, nothing else.
      const { readJsonl } = await import('../../src/storage/files.js');
      const { transformPaths } = await import('../../src/manifest/transform-records.js');
      for (const unit of units) for await (const _ of readJsonl(transformPaths(outDir).labels(unit))) rows++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ rows, seconds, rss: process.resourceUsage().maxRSS * 1024 }) + '\n');
  process.exit(0);
}

async function build(): Promise<void> {
  const marker = join(dir, `built-${images}-${unitSize}-${clusters}`);
  if (existsSync(marker)) return;
  rmSync(dir, { recursive: true, force: true });
  const { extractPaths, unitId } = await import('../../src/manifest/extract-manifest.js');
  const { writeTar } = await import('../../src/storage/tar.js');
  const { transformPaths } = await import('../../src/manifest/transform-records.js');
  const { writeJsonAtomic } = await import('../../src/storage/files.js');
  const { corpusDir, listFiles } = await import('../../test/helpers/corpus.js');
  const taxonomy = JSON.parse(readFileSync(taxonomyFile, 'utf8')) as Record<string, string[]>;
  const globals = Object.keys(taxonomy);
  const figures = listFiles(join(corpusDir, 'images'), /\.jpg$/);
  const paths = extractPaths(outDir);
  const prior = createWriteStream(join(dir, 'prior.jsonl.tmp'));
  const write = async (s: NodeJS.WritableStream, text: string) => {
    if (!s.write(text)) await once(s, 'drain');
  };
  for (let u = 0; u * unitSize < images; u++) {
    const unit = unitId(u);
    mkdirSync(paths.unitDir(unit), { recursive: true });
    mkdirSync(join(transformPaths(outDir).root, 'labels'), { recursive: true });
    // Every record of the unit points at one image, the only member of the unit's store.
    const shared = readFileSync(figures[u % figures.length]!);
    await writeTar(paths.imageStore(unit), (async function* () { yield { name: 'shared.jpg', data: shared }; })(), new Date(0));
    const labels = createWriteStream(transformPaths(outDir).labels(unit));
    const figs = createWriteStream(paths.unitFile(unit, 'figures.jsonl'));
    const arts = createWriteStream(paths.unitFile(unit, 'articles.jsonl'));
    for (let i = u * unitSize; i < Math.min(images, (u + 1) * unitSize); i += 2) {
      const pmcid = `PMC${3_000_000 + i / 2}`;
      const id = `${pmcid}_1`;
      await write(arts, JSON.stringify({ id, pmcid, version: 1, pmid: '', doi: '', title: 't', abstract: '', keywords: [], subjects: [], journal: '', publisher: '', pubDate: '', licenseCode: 'CC BY', licenseGroup: 'commercial', licenseText: '', licenseUrl: '', articleType: '', citation: '', bodyText: '', referencePmids: [], referenceCount: 0, references: [], meshTerms: [], figureCount: 2, sourceLocation: '', sourceRevision: '', lastUpdated: '' }) + '\n');
      for (let f = 0; f < 2 && i + f < images; f++) {
        const key = `${id}_f00${f + 1}`;
        const n = i + f;
        const cluster = (n * 2654435761) % clusters;
        const mediaName = `${pmcid.toLowerCase()}-g00${f + 1}.jpg`;
        await write(labels, JSON.stringify({ key, clusterId: cluster, labelId: '', panelType: '', panelSubtype: '', primaryLabel: [globals[cluster % globals.length]], secondaryLabel: [] }) + '\n');
        const image = { key, href: `f${f}`, mediaName, file: paths.imageStoreRel(unit), offset: 512, width: 1, height: 1, bytes: shared.length, originalFormat: 'jpeg', originalWidth: 1, originalHeight: 1, sha256: '' };
        await write(figs, JSON.stringify({ key, articleId: id, index: f + 1, id: `F${f}`, label: `Figure ${f + 1}`, caption: `Figure ${f + 1}. A synthetic caption of ordinary length for a figure of ${pmcid}.`, graphics: [], citingParagraphs: [], location: 'body', inFigGroup: false, subArticleId: '', kind: 'figure', images: [image], status: 'ok', reason: '' }) + '\n');
        const g = globals[(cluster + (n % 4 === 0 ? 1 : 0)) % globals.length]!;
        await write(prior, JSON.stringify({ article_accession_id: pmcid, image_file_name: mediaName, image_panel_type: 'single', image_panel_subtype: 'single panel', image_primary_label: [g], image_secondary_label: [taxonomy[g]![0]] }) + '\n');
      }
    }
    for (const s of [labels, figs, arts]) {
      s.end();
      await once(s, 'finish');
    }
  }
  prior.end();
  await once(prior, 'finish');
  await writeJsonAtomic(join(transformPaths(outDir).root, 'model', 'model.json'), { clusters });
  const { withDuckDb, sqlString } = await import('../../src/stages/load/parquet.js');
  await withDuckDb((conn) =>
    conn.run(`COPY (SELECT * FROM read_json(${sqlString(join(dir, 'prior.jsonl.tmp'))}, format = 'newline_delimited')) TO ${sqlString(join(dir, 'prior.parquet'))} (FORMAT parquet)`),
  );
  rmSync(join(dir, 'prior.jsonl.tmp'));
  await writeJsonAtomic(marker, {});
}

await build();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result: Record<string, unknown> = { images, unitSize, clusters, perCluster: Number(values['per-cluster']), units: readdirSync(join(outDir, 'transform', 'labels')).length };
// The first pass over the files warms the page cache for every measured one, the baseline included.
for (const child of ['warm', 'baseline', 'sample', 'balance', 'transfer', 'export']) {
  const runs: { rows: number; seconds: number; rss: number }[] = [];
  for (let r = 0; r < (child === 'warm' ? 1 : Number(values.runs)); r++) {
    const p = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', child], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BIOMEDICA_LOG_LEVEL: 'silent' },
    });
    if (p.status !== 0) throw new Error(`${child} failed`);
    runs.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
  }
  if (child === 'warm') continue;
  const seconds = median(runs.map((x) => x.seconds));
  result[child] = { seconds: Number(seconds.toFixed(2)), rowsPerSecond: Math.round(runs[0]!.rows / seconds), peakRssMB: Math.round(Math.max(...runs.map((x) => x.rss)) / 2 ** 20) };
}
const base = (result['baseline'] as { seconds: number }).seconds;
for (const k of ['sample', 'balance', 'transfer', 'export']) (result[k] as Record<string, number>)['vsBaseline'] = Number(((result[k] as { seconds: number }).seconds / base).toFixed(2));
process.stdout.write(JSON.stringify(result) + '\n');
