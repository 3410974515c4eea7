/**
 * `run --enrich` end to end: extract the real packages, ask a stand-in E-utilities server on
 * 127.0.0.1 for their PubMed records, and find the MeSH terms in the published samples.
 * The stand-in answers every PMID with one real PubMed record (its PMID rewritten to the one
 * asked for): the corpus holds no PubMed record of these three articles.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { corpusDir } from './helpers/corpus.js';
import { buildLegacyMirror, corpusPackages } from './helpers/servers.js';

describe('run --enrich', () => {
  let work: string;
  let server: ReturnType<typeof createServer>;
  let url: string;
  const asked: string[] = [];
  let record: string;
  let header: string;
  let mesh: string[];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'biomedica-enrich-'));
    const text = await readFile(join(corpusDir, 'pubmed', 'pubmed_client_26846451.xml'), 'utf8');
    header = text.slice(0, text.indexOf('<PubmedArticleSet>') + '<PubmedArticleSet>'.length);
    record = text.slice(text.indexOf('<PubmedArticle>'), text.lastIndexOf('</PubmedArticle>') + '</PubmedArticle>'.length);
    mesh = [...record.matchAll(/<DescriptorName[^>]*>([^<]+)<\/DescriptorName>/g)].map((m) => m[1]!);
    assert.ok(mesh.length > 0, 'the real record carries MeSH headings');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const ids = (new URLSearchParams(body).get('id') ?? '').split(',').filter(Boolean);
        asked.push(...ids);
        const articles = ids.map((id) => record.replace(/<PMID Version="(\d+)">\d+<\/PMID>/, `<PMID Version="$1">${id}</PMID>`));
        res.writeHead(200, { 'content-type': 'text/xml' }).end(`${header}\n${articles.join('\n')}\n</PubmedArticleSet>\n`);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/entrez/eutils`;
  });
  after(async () => {
    server.close();
    await rm(work, { recursive: true, force: true });
  });

  test('MeSH terms from PubMed reach article_mesh_terms in the shards', async () => {
    const mirror = await buildLegacyMirror(join(work, 'mirror'), corpusPackages);
    const out = join(work, 'out');
    const r = await runCli(['run', '--enrich', '--source', mirror.root, '--out', out, '--no-progress', '--json'], {
      BIOMEDICA_PUBMED_BASE_URL: url,
      NCBI_EMAIL: 'test@example.org',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(asked.sort(), ['12781535', '31986264', '32007143'], 'one lookup per article PMID');

    const dir = join(out, 'dataset', 'other');
    const groups = ['commercial', 'noncommercial', 'other'];
    let seen = 0;
    for (const g of groups) {
      const gdir = join(out, 'dataset', g);
      for (const shard of await readdir(gdir).catch(() => [] as string[])) {
        const members = execFileSync('tar', ['tf', join(gdir, shard)], { encoding: 'utf8' }).split('\n').filter((m) => m.endsWith('.json'));
        for (const m of members) {
          const meta = JSON.parse(execFileSync('tar', ['xOf', join(gdir, shard), m], { encoding: 'utf8' }));
          assert.deepEqual(meta.article_mesh_terms, mesh, m);
          seen++;
        }
      }
    }
    assert.ok(seen >= 8, `${seen} samples checked in ${dir}`);
  });
});
