// PubMed enrichment against a real HTTP server standing in for E-utilities, answering with the
// real efetch XML in ../shared/corpus/pubmed, including 429s and the 200-with-error-JSON answer.
// Slow-tagged: a real server and the real 3 requests/s pace (a few seconds).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runEnrich, type EnrichOptions } from '../src/enrich/pubmed.js';
import type { PubmedRecord } from '../src/enrich/records.js';
import { ThresholdError } from '../src/errors.js';
import { EXTRACT_SCHEMA, EXTRACT_VERSION, emptyStats, extractPaths, type ExtractManifest } from '../src/manifest/extract-manifest.js';
import { readJsonl, sha256, toJsonl, writeFileAtomic, writeJsonAtomic } from '../src/storage/files.js';
import type { ArticleRecord } from '../src/manifest/records.js';
import { testContext } from '../src/pipeline/context.js';
import { corpusDir } from './helpers/bucket.js';

const pubmedDir = join(corpusDir, 'pubmed');

interface EutilsRequest {
  at: number;
  ids: string[];
  tool: string;
  email: string;
  apiKey: string;
  status: number;
}

/** PMID → the <PubmedArticle> element of the real file that holds it (one per file). */
async function corpusArticles(): Promise<{ header: string; byPmid: Map<string, string> }> {
  const byPmid = new Map<string, string>();
  let header = '';
  for (const name of (await readdir(pubmedDir)).filter((n) => n.endsWith('.xml')).sort()) {
    const text = await readFile(join(pubmedDir, name), 'utf8');
    const start = text.indexOf('<PubmedArticle>');
    const end = text.lastIndexOf('</PubmedArticle>') + '</PubmedArticle>'.length;
    const pmid = /<PMID Version="\d+">(\d+)<\/PMID>/.exec(text)![1]!;
    byPmid.set(pmid, text.slice(start, end));
    if (name === 'pubmed_client_26846451.xml') header = text.slice(0, text.indexOf('<PubmedArticleSet>') + '<PubmedArticleSet>'.length);
  }
  return { header, byPmid };
}

async function startEutils(corpus: { header: string; byPmid: Map<string, string> }) {
  const started = performance.now();
  const requests: EutilsRequest[] = [];
  const script: { status: number; body: string; retryAfter?: string }[] = [];
  const refuse = new Set<string>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const ids = (form.get('id') ?? '').split(',').filter(Boolean);
      const record = (status: number) =>
        requests.push({ at: performance.now() - started, ids, tool: form.get('tool') ?? '', email: form.get('email') ?? '', apiKey: form.get('api_key') ?? '', status });
      if (req.method !== 'POST' || !req.url?.endsWith('/efetch.fcgi') || form.get('db') !== 'pubmed') {
        record(400);
        res.writeHead(400).end('bad request');
        return;
      }
      const next = script.shift();
      if (next) {
        record(next.status);
        res.writeHead(next.status, { 'content-type': 'application/json', ...(next.retryAfter ? { 'retry-after': next.retryAfter } : {}) }).end(next.body);
        return;
      }
      if (ids.some((id) => refuse.has(id))) {
        record(400);
        res.writeHead(400, { 'content-type': 'text/plain' }).end('Supplied id parameter is empty.');
        return;
      }
      record(200);
      const articles = ids.map((id) => corpus.byPmid.get(id)).filter(Boolean).join('\n');
      res.writeHead(200, { 'content-type': 'text/xml; charset=UTF-8' }).end(`${corpus.header}\n${articles}\n</PubmedArticleSet>\n`);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/entrez/eutils`,
    requests,
    script,
    refuse,
    perSecond(): number[] {
      if (requests.length === 0) return [];
      const counts: number[] = [];
      for (const r of requests) {
        const s = Math.floor((r.at - requests[0]!.at) / 1000);
        counts[s] = (counts[s] ?? 0) + 1;
      }
      return Array.from(counts, (n) => n ?? 0);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

function article(id: string, pmid: string): ArticleRecord {
  return {
    id, pmcid: id.replace(/_\d+$/, ''), version: 1, pmid, doi: '', title: '', abstract: '', keywords: [], subjects: [], journal: '', publisher: '',
    pubDate: '', licenseCode: 'CC BY', licenseGroup: 'commercial', licenseText: '', licenseUrl: '', articleType: '', citation: '', bodyText: '',
    referencePmids: [], referenceCount: 0, references: [], meshTerms: [], figureCount: 0, sourceLocation: '', sourceRevision: '', lastUpdated: '',
  };
}

/** A finished extract folder holding only what enrichment reads: the manifest and articles.jsonl. */
async function writeExtract(outDir: string, units: ArticleRecord[][]): Promise<void> {
  const paths = extractPaths(outDir);
  const manifestUnits: ExtractManifest['units'] = [];
  for (const [i, articles] of units.entries()) {
    const id = `u${String(i).padStart(6, '0')}`;
    const text = toJsonl(articles);
    await writeFileAtomic(paths.unitFile(id, 'articles.jsonl'), text);
    manifestUnits.push({ id, stats: { ...emptyStats(), articles: articles.length }, files: { 'articles.jsonl': sha256(text) } });
  }
  const manifest: ExtractManifest = {
    schema: EXTRACT_SCHEMA, version: EXTRACT_VERSION, source: { kind: 'cloud', url: 'http://test', snapshotDate: '2026-09-01T01:00:00Z' },
    optionsSha256: '', options: {}, units: manifestUnits, totals: emptyStats(), tombstonesSha256: '',
  };
  await writeJsonAtomic(paths.manifest, manifest);
}

describe('pubmed enrichment', () => {
  let work: string;
  let corpus: Awaited<ReturnType<typeof corpusArticles>>;
  let eutils: Awaited<ReturnType<typeof startEutils>>;
  let pmids: string[];

  const options = (outDir: string, over: Partial<EnrichOptions> = {}): EnrichOptions => ({
    outDir, baseUrl: eutils.url, tool: 'biomedica-test', email: 'test@example.org', apiKey: '', batchSize: 4, requestsPerSecond: 0, concurrency: 2,
    retries: 4, retryBaseMs: 10, retryMaxMs: 100, timeoutMs: 10_000, userAgent: 'biomedica-test', ...over,
  });
  const records = async (outDir: string, unit: string) => {
    const out: PubmedRecord[] = [];
    for await (const r of readJsonl<PubmedRecord>(join(outDir, 'extract', 'units', unit, 'pubmed.jsonl'))) out.push(r);
    return out;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'bm-pubmed-'));
    corpus = await corpusArticles();
    eutils = await startEutils(corpus);
    pmids = [...corpus.byPmid.keys()].sort();
    assert.equal(pmids.length, 17);
  });
  after(async () => {
    await eutils.close();
    await rm(work, { recursive: true, force: true });
  });

  test('MeSH terms, abstracts and references land in pubmed.jsonl at ≤ 3 requests/s, 429s survived; reruns cost nothing', async () => {
    const outDir = join(work, 'out');
    const u0 = pmids.slice(0, 8).map((p, i) => article(`PMC${1000 + i}_1`, p));
    const u1 = [
      ...pmids.slice(8).map((p, i) => article(`PMC${2000 + i}_1`, p)),
      article('PMC3000_1', '99999999'), // not in PubMed
      article('PMC3001_1', ''), // no PMID
    ];
    await writeExtract(outDir, [u0, u1]);
    eutils.script.push(
      { status: 429, body: '{"error":"API rate limit exceeded","count":"4"}', retryAfter: '1' },
      // NCBI's other over-limit answer: 200 with the error JSON (corpus: eutils-rate-limit-doc-example.json).
      { status: 200, body: await readFile(join(corpusDir, 'pmc-cloud', 'eutils-rate-limit-doc-example.json'), 'utf8') },
    );
    eutils.requests.length = 0;

    const summary = await runEnrich(options(outDir), testContext());
    assert.equal(summary.found, 17);
    assert.equal(summary.articles, 19);
    assert.equal(summary.unitsFailed, 0);
    // 8 + 10 PMIDs in batches of 4 → 2 + 3 POSTs, plus the two over-limit answers retried.
    assert.equal(eutils.requests.length, 7);
    assert.deepEqual(eutils.requests.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 429]);
    const refused = eutils.requests.find((r) => r.status === 429)!;
    const retried = eutils.requests.find((r) => r !== refused && r.ids.join() === refused.ids.join())!;
    assert.ok(retried.at - refused.at >= 1000, 'the 429 asked for Retry-After: 1');
    assert.ok(eutils.requests.every((r) => r.tool === 'biomedica-test' && r.email === 'test@example.org' && r.apiKey === ''));
    const perSecond = eutils.perSecond();
    assert.ok(Math.max(...perSecond) <= 3, `per-second counts ${perSecond.join(',')} exceed 3`);

    const all = [...(await records(outDir, 'u000000')), ...(await records(outDir, 'u000001'))];
    assert.equal(all.length, 19);
    const by = new Map(all.map((r) => [r.pmid, r]));
    // Expected MeSH terms read straight from the real file, independently of the parser.
    const raw = corpus.byPmid.get('26846451')!;
    const descriptors = [...raw.matchAll(/<DescriptorName[^>]*>([^<]+)<\/DescriptorName>/g)].map((m) => m[1]!);
    assert.ok(descriptors.length > 5);
    assert.deepEqual(by.get('26846451')!.meshTerms, descriptors);
    const bacteria = by.get('26846451')!.meshHeadings.find((h) => h.descriptor === 'Bacteria')!;
    assert.deepEqual(bacteria.qualifiers.map((q) => [q.name, q.major]), [['classification', false], ['genetics', true], ['metabolism', true]]);
    assert.equal(by.get('26846451')!.referencePmids[0], '24390916');
    assert.ok(by.get('26846451')!.abstract.startsWith('Recent evidence has indicated that bacteria-derived extracellular vesicles'));
    assert.ok(by.get('29768149')!.abstract.startsWith('BACKGROUND: In patients with mild asthma, as-needed use of an inhaled glucocorticoid plus a fast-acting β'));
    assert.match(by.get('29768149')!.abstract, /\nMETHODS: We conducted a 52-week/);
    assert.deepEqual(by.get('29540945')!.meshTerms, [], 'a PubMed-not-MEDLINE record has no MeSH');
    assert.equal(by.get('99999999')!.found, false);
    assert.equal(all.find((r) => r.articleId === 'PMC3001_1')!.found, false);

    // Rerun: every unit has its marker.
    eutils.requests.length = 0;
    const again = await runEnrich(options(outDir), testContext());
    assert.equal(again.unitsSkipped, 2);
    assert.equal(eutils.requests.length, 0);

    // Rerun with the outputs deleted: the per-PMID cache answers, the same bytes come out.
    const before = await readFile(join(outDir, 'extract', 'units', 'u000001', 'pubmed.jsonl'));
    for (const u of ['u000000', 'u000001']) {
      await rm(join(outDir, 'extract', 'units', u, 'pubmed.done.json'));
      await rm(join(outDir, 'extract', 'units', u, 'pubmed.jsonl'));
    }
    const cached = await runEnrich(options(outDir), testContext());
    assert.equal(eutils.requests.length, 0);
    assert.equal(cached.cacheHits, 18, '17 found and the one PubMed does not know');
    assert.deepEqual(await readFile(join(outDir, 'extract', 'units', 'u000001', 'pubmed.jsonl')), before);
  });

  test('a batch refused for good leaves its unit unmarked and the run incomplete; a rerun finishes it', async () => {
    const outDir = join(work, 'out-refused');
    await writeExtract(outDir, [pmids.slice(0, 3).map((p, i) => article(`PMC${4000 + i}_1`, p)), pmids.slice(3, 5).map((p, i) => article(`PMC${5000 + i}_1`, p))]);
    eutils.refuse.add(pmids[3]!);
    eutils.requests.length = 0;
    await assert.rejects(runEnrich(options(outDir, { apiKey: 'k', batchSize: 10 }), testContext()), (error: unknown) => {
      assert.ok(error instanceof ThresholdError);
      assert.equal(error.code, 'ENRICH_INCOMPLETE');
      return true;
    });
    assert.ok(eutils.requests.every((r) => r.apiKey === 'k'));
    assert.equal(eutils.requests.filter((r) => r.status === 400).length, 1, 'a 400 is not retried');
    const failures = await readFile(join(outDir, 'extract', 'units', 'u000001', 'pubmed.failures.jsonl'), 'utf8');
    assert.match(failures, /"code":"HTTP_STATUS"/);
    await assert.rejects(readFile(join(outDir, 'extract', 'units', 'u000001', 'pubmed.done.json')));

    eutils.refuse.clear();
    eutils.requests.length = 0;
    const summary = await runEnrich(options(outDir, { apiKey: 'k', batchSize: 10 }), testContext());
    assert.equal(summary.unitsSkipped, 1);
    assert.equal(eutils.requests.length, 1, 'only the unfinished unit asks again');
    assert.equal(summary.found, 5);
  });
});
