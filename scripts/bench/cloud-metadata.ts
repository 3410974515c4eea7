/**
 * Bench: metadata fetch throughput of the cloud source against the local bucket server.
 *
 *   npx tsx scripts/bench/cloud-metadata.ts [--versions 5000] [--runs 3] [--concurrency 32]
 *
 * Builds a bucket of `versions` metadata JSONs in the shape of the real metadata-PMC4599423.1.json
 * (Python json.dumps one-liners with md5'd URLs) plus its inventory, serves it with the test S3
 * server (test/helpers/bucket.ts) on 127.0.0.1, and times a full listing through the real source:
 * inventory download, external sort, one metadata GET per version through the shared keep-alive
 * client, parse, version choice, cache write. Reports metadata GETs/s (median of the runs, each
 * from an empty out dir) uncapped and under a 200 requests/s cap (start and ceiling of the
 * adaptive rate); the whole listing is timed, so the inventory's own requests count against the
 * rate. Then a second listing over the last uncapped out dir reads every version from the
 * packed cache: cache reads/s, and the files the cache holds. Client and server share the machine.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { createCloudSource } from '../../src/sources/cloud/index.js';
import { TestBucket, cloudCorpus, cloudTestConfig } from '../../test/helpers/bucket.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const VERSIONS = Number(arg('versions', '5000'));
const RUNS = Number(arg('runs', '3'));
const CONCURRENCY = Number(arg('concurrency', '32'));

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    n += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return n;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'bm-bench-meta-'));
  try {
    const bucket = await TestBucket.create(join(work, 'bucket'));
    const real = JSON.parse(await readFile(join(cloudCorpus, 'metadata-PMC4599423.1.json'), 'utf8')) as Record<string, unknown>;
    for (let i = 0; i < VERSIONS; i++) {
      const pmcid = `PMC${5_000_000 + i}`;
      const prefix = `${pmcid}.1`;
      const url = (name: string) => `s3://pmc-oa-opendata/${prefix}/${name}?md5=${'0'.repeat(24)}${String(i).padStart(8, '0')}`;
      await bucket.writeMetadata(prefix, {
        ...real,
        pmcid,
        pmid: 30_000_000 + i,
        // One in ten is not open access, like the bucket's author manuscripts.
        is_pmc_openaccess: i % 10 !== 0,
        xml_url: url(`${prefix}.xml`),
        pdf_url: url(`${prefix}.pdf`),
        text_url: url(`${prefix}.txt`),
        media_urls: [url('f1.jpg'), url('f2.jpg'), url('mmc1.pdf')],
      });
    }
    await bucket.writeInventory('2026-09-01T01-00Z', { parts: 3 });
    const server = await bucket.serve();
    const results: { cap: number; runs: number; metadataGetsPerSecond: number }[] = [];
    let warm: { cacheReadsPerSecond: number; cacheHits: number; cacheFiles: number } | undefined;
    try {
      for (const cap of [0, 200]) {
        const rates: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          const outDir = join(work, `out-${cap}-${run}`);
          const config = cloudTestConfig(server.url, {
            network: { requestsPerSecond: cap, maxRequestsPerSecond: cap, connections: CONCURRENCY },
            cloud: { metadataConcurrency: CONCURRENCY },
          });
          const source = await createCloudSource(config, { outDir, log: silentLogger() });
          const started = performance.now();
          let refs = 0;
          for await (const _ref of source.list({})) refs++;
          const seconds = (performance.now() - started) / 1000;
          await source.close();
          if (refs !== VERSIONS - Math.ceil(VERSIONS / 10)) throw new Error(`listed ${refs} refs`);
          rates.push(source.counters.metadataReads / seconds);
          if (cap === 0 && run === RUNS - 1) {
            const again = await createCloudSource(config, { outDir, log: silentLogger() });
            const t0 = performance.now();
            for await (const _ref of again.list({})) void _ref;
            const s = (performance.now() - t0) / 1000;
            await again.close();
            warm = {
              cacheReadsPerSecond: Math.round(again.counters.metadataCacheHits / s),
              cacheHits: again.counters.metadataCacheHits,
              cacheFiles: await countFiles(join(outDir, 'cache', 'cloud', 'metadata-packs')),
            };
            console.error(`warm listing: ${warm.cacheHits} versions from the packed cache, ${warm.cacheReadsPerSecond}/s; ${warm.cacheFiles} cache files`);
          }
          await rm(outDir, { recursive: true, force: true });
          if (cap > 0) break; // a capped run takes VERSIONS/cap seconds: once is enough
        }
        rates.sort((a, b) => a - b);
        const median = rates[Math.floor(rates.length / 2)]!;
        console.error(
          `metadata listing, ${VERSIONS} versions, concurrency ${CONCURRENCY}, cap ${cap || 'none'}: ${Math.round(median)} metadata GETs/s (${rates.length === 1 ? '1 run' : `median of ${rates.length}`})`,
        );
        results.push({ cap, runs: rates.length, metadataGetsPerSecond: Math.round(median) });
      }
    } finally {
      await server.close();
    }
    // The last stdout line is the JSON result npm run bench collects.
    console.log(JSON.stringify({ versions: VERSIONS, concurrency: CONCURRENCY, results, warm }));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
