/**
 * PubMed enrichment over a finished extract: per unit, the articles' PMIDs are fetched from
 * E-utilities efetch in batches (POST, ~200 ids), each returned <PubmedArticle> is cached raw on
 * disk, and `pubmed.jsonl` + its `pubmed.done.json` marker are written beside the unit's records.
 *
 * Reruns cost nothing: a unit whose marker matches its articles.jsonl is skipped, and every PMID
 * already asked for (found or not) is answered from the cache. A batch that still fails after its
 * retries leaves its unit without a marker (and its failures in pubmed.failures.jsonl); the run
 * ends with ENRICH_INCOMPLETE so a rerun picks it up. Layout and merge rule: records.ts.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { ThresholdError, toFailure } from '../errors.js';
import { ExtractManifest, extractPaths } from '../manifest/extract-manifest.js';
import { readManifest } from '../manifest/read.js';
import type { ArticleRecord, FailureRecord } from '../manifest/records.js';
import type { StageContext } from '../pipeline/context.js';
import { runsDirOf } from '../pipeline/run-record.js';
import { runUnits, type Step } from '../pipeline/runner.js';
import { stage, type PipelineStage } from '../pipeline/stages.js';
import { readJsonl, sha256, toJsonl, writeFileAtomic, writeJsonIfChanged } from '../storage/files.js';
import { createEutilsClient, eutilsRate, type EutilsClient } from './eutils.js';
import { parsePubmedArticle, splitPubmedArticles, type ParsedPubmedArticle } from './parse.js';
import { PUBMED_VERSION, pubmedPaths, pubmedStep, pubmedUnit, type PubmedManifest, type PubmedRecord, type PubmedUnit, type PubmedUnitResult } from './records.js';

export const EnrichOptions = z.object({
  outDir: z.string().min(1),
  baseUrl: z.string().url(),
  tool: z.string(),
  email: z.string(),
  apiKey: z.string(),
  batchSize: z.number().int().min(1),
  requestsPerSecond: z.number().min(0),
  /** Units enriched at once; requests still go one per pacer slot. */
  concurrency: z.number().int().min(1),
  retries: z.number().int().min(0),
  retryBaseMs: z.number().int().min(0),
  retryMaxMs: z.number().int().min(0),
  timeoutMs: z.number().int().min(100),
  userAgent: z.string(),
});
export type EnrichOptions = z.infer<typeof EnrichOptions>;

export interface EnrichSummary {
  outDir: string;
  manifest: string;
  units: number;
  unitsSkipped: number;
  unitsFailed: number;
  articles: number;
  withPmid: number;
  found: number;
  withMesh: number;
  requests: number;
  /** PMIDs answered from the on-disk cache. */
  cacheHits: number;
  requestsPerSecond: number;
}

/** Config (and NCBI_API_KEY / NCBI_EMAIL, which let each user bring their own key) → options. */
export function enrichOptionsFromConfig(config: Config, outDir: string, env: NodeJS.ProcessEnv = process.env): EnrichOptions {
  return {
    outDir,
    baseUrl: config.pubmed.baseUrl,
    tool: config.pubmed.tool,
    email: config.pubmed.email || env['NCBI_EMAIL'] || '',
    apiKey: config.pubmed.apiKey || env['NCBI_API_KEY'] || '',
    batchSize: config.pubmed.batchSize,
    requestsPerSecond: config.pubmed.requestsPerSecond,
    concurrency: config.pubmed.concurrency,
    retries: config.network.retries,
    retryBaseMs: config.network.retryBaseMs,
    retryMaxMs: config.network.retryMaxMs,
    timeoutMs: config.network.timeoutMs,
    userAgent: config.network.userAgent,
  };
}

/** PMID → parsed result, from the cache or efetch. Undefined: efetch returned nothing for it. */
class PubmedLookup {
  cacheHits = 0;
  constructor(
    private readonly outDir: string,
    private readonly client: EutilsClient,
    private readonly batchSize: number,
  ) {}

  private async cached(pmid: string): Promise<{ hit: boolean; xml?: string }> {
    const paths = pubmedPaths(this.outDir);
    const xml = await readFile(paths.cache(pmid, 'xml'), 'utf8').catch(() => undefined);
    if (xml !== undefined) return { hit: true, xml };
    const none = await readFile(paths.cache(pmid, 'none')).then(() => true, () => false);
    return { hit: none };
  }

  private async store(path: string, text: string): Promise<void> {
    // Rename without fsync: a torn cache file only costs a refetch (it fails to parse or to split).
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  }

  /** Resolves every PMID it can; `failed` holds the PMIDs of batches that failed, with why. */
  async resolve(pmids: readonly string[], signal: AbortSignal): Promise<{ found: Map<string, ParsedPubmedArticle>; failed: Map<string, ReturnType<typeof toFailure>> }> {
    const found = new Map<string, ParsedPubmedArticle>();
    const failed = new Map<string, ReturnType<typeof toFailure>>();
    const missing: string[] = [];
    for (const pmid of pmids) {
      const c = await this.cached(pmid);
      if (!c.hit) {
        missing.push(pmid);
        continue;
      }
      this.cacheHits++;
      if (c.xml !== undefined) {
        try {
          found.set(pmid, parsePubmedArticle(c.xml));
        } catch {
          missing.push(pmid);
          this.cacheHits--;
        }
      }
    }
    const paths = pubmedPaths(this.outDir);
    for (let i = 0; i < missing.length; i += this.batchSize) {
      signal.throwIfAborted();
      const batch = missing.slice(i, i + this.batchSize);
      let answer: string;
      try {
        answer = await this.client.efetch(batch, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const failure = toFailure(error, 'EFETCH_FAILED');
        for (const pmid of batch) failed.set(pmid, failure);
        continue;
      }
      const returned = new Map(splitPubmedArticles(answer).map((a) => [a.pmid, a.xml]));
      for (const pmid of batch) {
        const xml = returned.get(pmid);
        if (xml === undefined) {
          await this.store(paths.cache(pmid, 'none'), '');
          continue;
        }
        await this.store(paths.cache(pmid, 'xml'), xml);
        try {
          found.set(pmid, parsePubmedArticle(xml));
        } catch (error) {
          failed.set(pmid, toFailure(error, 'PUBMED_XML_INVALID'));
        }
      }
    }
    return { found, failed };
  }
}

/** One extract unit's enrichment as a runner step: pubmed.jsonl from the cache or efetch. */
function enrichStep(outDir: string, lookup: PubmedLookup): Step<PubmedUnit, PubmedUnitResult> {
  const paths = pubmedPaths(outDir);
  return {
    ...pubmedStep(outDir),
    async run(unit, io) {
      const articles: { id: string; pmid: string }[] = [];
      for await (const a of readJsonl<ArticleRecord>(extractPaths(outDir).unitFile(unit.id, 'articles.jsonl'))) {
        const pmid = a.pmid.trim();
        articles.push({ id: a.id, pmid: /^\d+$/.test(pmid) ? String(Number(pmid)) : '' });
      }
      const pmids = [...new Set(articles.map((a) => a.pmid).filter(Boolean))];
      const { found, failed } = await lookup.resolve(pmids, io.signal);

      if (failed.size > 0) {
        const failures: FailureRecord[] = articles
          .filter((a) => failed.has(a.pmid))
          .map((a) => ({ unit: unit.id, item: a.id, step: 'enrich', ...failed.get(a.pmid)! }));
        await writeFileAtomic(extractPaths(outDir).unitFile(unit.id, 'pubmed.failures.jsonl'), toJsonl(failures));
        io.log.warn({ unit: unit.id, failed: failures.length, code: failures[0]?.code }, 'pubmed enrichment incomplete for unit');
        return { failed: { code: failures[0]!.code, message: `${failures.length} articles could not be looked up`, transient: failures.every((f) => f.transient) } };
      }

      const records: PubmedRecord[] = articles.map((a) => {
        const p = a.pmid ? found.get(a.pmid) : undefined;
        return {
          articleId: a.id,
          pmid: a.pmid,
          found: p !== undefined,
          meshTerms: p?.meshTerms ?? [],
          meshHeadings: p?.meshHeadings ?? [],
          abstract: p?.abstract ?? '',
          referencePmids: p?.referencePmids ?? [],
        };
      });
      const text = toJsonl(records);
      await writeFileAtomic(paths.unitRecords(unit.id), text);
      const digest = sha256(text);
      const result: PubmedUnitResult = {
        records: records.length,
        withPmid: records.filter((r) => r.pmid).length,
        found: records.filter((r) => r.found).length,
        withMesh: records.filter((r) => r.meshTerms.length > 0).length,
        sha256: digest,
      };
      io.log.info({ unit: unit.id, records: result.records, found: result.found, withMesh: result.withMesh }, 'pubmed unit written');
      return { result, outputs: { 'pubmed.jsonl': { bytes: Buffer.byteLength(text), sha256: digest } } };
    },
  };
}

export async function runEnrich(
  options: EnrichOptions,
  ctx: Pick<StageContext, 'log' | 'progress' | 'signal'>,
  deps: { client?: EutilsClient } = {},
): Promise<EnrichSummary> {
  const { value: manifest, sha256: extractManifestSha256 } = await readManifest(extractPaths(options.outDir).manifest, ExtractManifest, {
    missing: 'run biomedica extract first (enrichment reads its units; an unfinished extract has no manifest yet: rerun it to finish)',
    invalid: 'rerun biomedica extract',
  });
  const client =
    deps.client ??
    createEutilsClient({
      ...options,
      onRetry: (info) => ctx.log.info({ attempt: info.attempt, delayMs: info.delayMs, code: info.error.code }, 'efetch retry'),
    });
  const lookup = new PubmedLookup(options.outDir, client, options.batchSize);
  const paths = pubmedPaths(options.outDir);
  let report;
  try {
    report = await runUnits(
      enrichStep(options.outDir, lookup),
      manifest.units.map((u) => pubmedUnit(u.id, u.files['articles.jsonl'] ?? '')),
      { concurrency: options.concurrency, label: 'pubmed', beforeChange: () => rm(paths.manifest, { force: true }), recordDir: runsDirOf(options.outDir) },
      ctx,
    );
  } finally {
    if (!deps.client) await client.close();
  }

  const totals = { articles: 0, withPmid: 0, found: 0, withMesh: 0 };
  for (const { marker } of report.done) {
    totals.articles += marker.result.records;
    totals.withPmid += marker.result.withPmid;
    totals.found += marker.result.found;
    totals.withMesh += marker.result.withMesh;
  }
  const summary: EnrichSummary = {
    outDir: options.outDir,
    manifest: paths.manifest,
    units: report.units,
    unitsSkipped: report.counts.skipped,
    unitsFailed: report.counts.failed,
    ...totals,
    requests: client.requests,
    cacheHits: lookup.cacheHits,
    requestsPerSecond: eutilsRate(options),
  };
  if (report.counts.failed > 0) {
    throw new ThresholdError('ENRICH_INCOMPLETE', `${report.counts.failed} of ${report.units} units could not be enriched`, {
      summary,
      hint: 'see units/*/pubmed.failures.jsonl; rerun biomedica enrich: finished units and cached PMIDs cost nothing',
    });
  }
  const pubmedManifest: PubmedManifest = {
    schema: 'biomedica.enrich.pubmed',
    version: PUBMED_VERSION,
    extractManifestSha256,
    units: report.done.map(({ unit, marker }) => ({ id: unit.id, records: marker.result.records, found: marker.result.found, sha256: marker.result.sha256 })),
    totals,
  };
  // A rerun that changed nothing leaves the file (and its mtime) alone.
  await writeJsonIfChanged(paths.manifest, pubmedManifest);
  ctx.log.info({ ...totals, requests: summary.requests, cacheHits: summary.cacheHits }, 'pubmed enrichment finished');
  return summary;
}

/** Enrichment as a step of a run (src/pipeline/stages.ts). */
export function enrichStage(options: EnrichOptions, deps: { client?: EutilsClient } = {}): PipelineStage {
  return stage<EnrichSummary>({ name: 'enrich', run: (ctx) => runEnrich(options, ctx, deps), format: formatEnrichSummary, complete: () => true });
}

export function formatEnrichSummary(s: EnrichSummary): string {
  return [
    `pubmed: ${s.units} units (${s.unitsSkipped} already done)`,
    `  articles     ${s.articles} (${s.withPmid} with a PMID, ${s.found} found in PubMed, ${s.withMesh} with MeSH terms)`,
    `  requests     ${s.requests} at ≤ ${s.requestsPerSecond}/s, ${s.cacheHits} PMIDs from the cache`,
    `  manifest     ${s.manifest}`,
  ].join('\n');
}
