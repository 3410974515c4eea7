import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { buildLegacyMirror, corpusPackages, startFtpServer, startHttpServer, type LegacyMirror } from '../../../test/helpers/servers.js';
import { createSource, sourceKindOf } from '../index.js';
import type { ArticleRef, Source } from '../types.js';
import { isImageName } from '../package.js';
import { createLegacySource } from './source.js';

const MISSING = 'PMC7159286';

/** Image base names of a real package, read by the system tar: an independent listing. */
function imagesOf(pkg: string): string[] {
  return execFileSync('tar', ['-tzf', pkg], { encoding: 'utf8' }).trim().split('\n').filter(isImageName).map((e) => e.split('/').pop()!).sort();
}

async function listAll(source: Source, filter = {}): Promise<ArticleRef[]> {
  const refs: ArticleRef[] = [];
  for await (const ref of source.list(filter)) refs.push(ref);
  return refs;
}

/** Lists the mirror and opens every article; checks XML, media and the missing one. */
async function exercise(source: Source, mirror: LegacyMirror): Promise<void> {
  const refs = await listAll(source);
  assert.deepEqual(refs.map((r) => r.pmcid), mirror.rows.map((r) => r.pmcid));
  for (const ref of refs) {
    assert.equal(ref.id, ref.pmcid);
    assert.equal(ref.version, null);
    if (ref.pmcid === MISSING) {
      await assert.rejects(source.open(ref), { code: 'PACKAGE_NOT_FOUND' });
      continue;
    }
    const pkg = await source.open(ref);
    try {
      assert.match(pkg.xml.toString('utf8', 0, 300), /<\?xml|<!DOCTYPE|<article/);
      assert.match(pkg.xml.toString(), new RegExp(ref.pmcid.slice(3)));
      const expected = imagesOf(corpusPackages.find((p) => p.includes(ref.pmcid))!);
      assert.deepEqual([...pkg.mediaNames].sort(), expected);
      for (const name of pkg.mediaNames) {
        const bytes = await pkg.getMedia(name);
        const magic = name.endsWith('.gif') ? Buffer.from('GIF8') : Buffer.from([0xff, 0xd8]);
        assert.ok(bytes.subarray(0, magic.length).equals(magic), `${name} magic`);
      }
      await assert.rejects(pkg.getMedia('main.pdf'), { code: 'MEDIA_NOT_FOUND' });
    } finally {
      await pkg.close();
      await pkg.close();
    }
  }
}

describe('legacy source end to end', () => {
  let dir: string;
  let mirror: LegacyMirror;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'biomedica-legacy-test-'));
    mirror = await buildLegacyMirror(join(dir, 'mirror'), corpusPackages, { missing: [MISSING] });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('local directory, and file:// URL through createSource', async () => {
    const source = await createSource(mirror.root);
    assert.deepEqual(source.descriptor, { kind: 'legacy-local', url: mirror.root, snapshotDate: '' });
    await exercise(source, mirror);
    await source.close();
    const viaUrl = await createSource(pathToFileURL(mirror.root).href);
    assert.equal((await listAll(viaUrl, { limit: 1 })).length, 1);
    await viaUrl.close();
  });

  test('refs carry the real rows; filters pass through', async () => {
    const source = await createSource(mirror.root);
    const [first] = await listAll(source, { limit: 1 });
    assert.deepEqual(first, {
      id: 'PMC7112410',
      pmcid: 'PMC7112410',
      version: null,
      pmid: '12781535',
      citation: 'Lancet. 2003 May 24; 361(9371):1767-1772',
      licenseCode: 'NO-CC CODE',
      licenseGroup: 'other',
      lastUpdated: '2020-04-06 14:56:00',
      retracted: false,
      location: 'oa_package/ac/6a/PMC7112410.tar.gz',
      revision: '2020-04-06 14:56:00',
    });
    assert.deepEqual((await listAll(source, { pmcids: new Set(['PMC7159299']) })).map((r) => r.pmcid), ['PMC7159299']);
    assert.deepEqual(await listAll(source, { licenseGroups: ['commercial'] }), []);
    await source.close();

    const retracted = await buildLegacyMirror(join(dir, 'retracted'), corpusPackages.slice(0, 2), {
      overrides: { PMC7135076: { retracted: true, license: 'CC BY' } },
    });
    const other = await createSource(retracted.root);
    const skipped: string[] = [];
    const refs: ArticleRef[] = [];
    for await (const ref of other.list({}, (r, reason) => skipped.push(`${r.pmcid} ${reason}`))) refs.push(ref);
    assert.deepEqual(refs.map((r) => r.pmcid), ['PMC7112410']);
    assert.deepEqual(skipped, ['PMC7135076 retracted']);
    assert.deepEqual((await listAll(other, { includeRetracted: true, licenseGroups: ['commercial'] })).map((r) => r.pmcid), ['PMC7135076']);
    await other.close();
  });

  test('oa_file_list.txt mirror', async () => {
    const txt = await buildLegacyMirror(join(dir, 'txt'), corpusPackages, { format: 'txt' });
    const source = await createSource(txt.root);
    await exercise(source, txt);
    await source.close();
  });

  test('HTTP mirror: downloads resume after a cut, 404 → PACKAGE_NOT_FOUND, downloads removed on close', async () => {
    const server = await startHttpServer(join(dir, 'mirror'));
    const workDir = join(dir, 'work-http');
    try {
      server.fault('/pub/pmc/oa_package/ac/6a/PMC7112410.tar.gz', { cutAfterBytes: 300_000 }, { status: 503 });
      const source = await createSource(`${server.url}/pub/pmc`, { workDir, network: { retries: 3, retryBaseMs: 1, retryMaxMs: 5 } });
      assert.deepEqual(source.descriptor, { kind: 'legacy-http', url: `${server.url}/pub/pmc`, snapshotDate: '' });
      await exercise(source, mirror);
      const pkgRequests = server.requests.filter((r) => r.path.endsWith('PMC7112410.tar.gz'));
      assert.deepEqual(pkgRequests.map((r) => r.range === undefined), [true, false, false]);
      assert.deepEqual(await readdir(join(workDir, 'packages')), []);
      await source.close();
      assert.deepEqual(await readdir(workDir), ['packages']);
    } finally {
      await server.close();
    }
  });

  test('HTTP mirror with keepDownloads reuses the package; a corrupt package is PACKAGE_CORRUPT and is not kept', async () => {
    const broken = await buildLegacyMirror(join(dir, 'broken'), corpusPackages.slice(0, 2));
    await truncate(join(broken.root, broken.rows[1]!.path), 50_000);
    const server = await startHttpServer(join(dir, 'broken'));
    const workDir = join(dir, 'work-keep');
    try {
      const source = await createSource(`${server.url}/pub/pmc/`, { workDir, keepDownloads: true, network: { retries: 0 } });
      const [good, bad] = await listAll(source);
      await (await source.open(good!)).close();
      await (await source.open(good!)).close();
      assert.equal(server.requests.filter((r) => r.path.endsWith(`${good!.pmcid}.tar.gz`)).length, 1);
      assert.ok((await stat(join(workDir, 'packages', `${good!.id}.tar.gz`))).size > 0);
      await assert.rejects(source.open(bad!), { code: 'PACKAGE_CORRUPT' });
      assert.deepEqual(await readdir(join(workDir, 'packages')), [`${good!.id}.tar.gz`]);
      await assert.rejects(source.open({ ...good!, location: '../../etc/passwd' }), { code: 'PACKAGE_LOCATION' });
      await source.close();
      assert.ok((await readdir(workDir)).includes('oa_file_list.csv'), 'kept downloads include the list');
    } finally {
      await server.close();
    }
  });

  test('HTTP mirror without a file list → FILELIST_NOT_FOUND', async () => {
    const server = await startHttpServer(dir);
    try {
      const source = await createSource(`${server.url}/nothing/here`, { network: { retries: 0 } });
      await assert.rejects(listAll(source), { code: 'FILELIST_NOT_FOUND' });
      await source.close();
    } finally {
      await server.close();
    }
  });

  test('FTP mirror', async () => {
    const server = await startFtpServer(join(dir, 'mirror'));
    try {
      const source = await createLegacySource({ url: `${server.url}/pub/pmc`, network: { retries: 2, retryBaseMs: 1, connections: 2 } });
      assert.equal(source.descriptor.kind, 'legacy-ftp');
      await exercise(source, mirror);
      await source.close();
    } finally {
      await server.close();
    }
  });
});

describe('createSource', () => {
  test('routes by URL; unknown schemes and missing mirrors are refused', async () => {
    assert.equal(sourceKindOf('/data/pub/pmc'), 'legacy-local');
    assert.equal(sourceKindOf('ftp://ftp.ncbi.nlm.nih.gov/pub/pmc'), 'legacy-ftp');
    assert.equal(sourceKindOf('https://mirror.example.org/pub/pmc'), 'legacy-http');
    for (const url of ['cloud', 'cloud:', 's3://pmc-oa-opendata/', 'https://pmc-oa-opendata.s3.amazonaws.com']) {
      // The cloud source itself is tested against a bucket-shaped server (test/cloud-*.test.ts).
      assert.equal(sourceKindOf(url), 'cloud');
    }
    await assert.rejects(createSource('gs://bucket/pub/pmc'), { code: 'SOURCE_URL' });
    await assert.rejects(createSource(join(tmpdir(), 'no-such-mirror-here')), { code: 'SOURCE_NOT_FOUND' });
  });

  test('accepts the config slice and puts downloads under <outDir>/downloads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'biomedica-cfg-'));
    const mirror = await buildLegacyMirror(join(dir, 'srv'), corpusPackages.slice(0, 1));
    const server = await startHttpServer(join(dir, 'srv'));
    try {
      const source = await createSource(
        { source: { url: `${server.url}/pub/pmc`, keepDownloads: true }, network: { retries: 0, connections: 2 }, package: { maxEntries: 100 } },
        { outDir: join(dir, 'out') },
      );
      const [ref] = await listAll(source);
      await (await source.open(ref!)).close();
      await source.close();
      assert.deepEqual((await readdir(join(dir, 'out', 'downloads', 'packages'))), [`${mirror.rows[0]!.pmcid}.tar.gz`]);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
