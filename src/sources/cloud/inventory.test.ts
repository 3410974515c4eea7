import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { folderToIso, parseInventoryLine, parseInventoryManifest, splitQuotedCsv } from './inventory.js';
import { listUrl, parseListObjectsV2 } from './s3.js';

const cloud = resolve(fileURLToPath(new URL('../../../', import.meta.url)), '../shared/corpus/pmc-cloud');
const real = (name: string) => readFileSync(join(cloud, name), 'utf8');

test('the real inventory manifest', () => {
  const snap = parseInventoryManifest(real('inventory-manifest-2026-09-01T01-00Z.json'), '2026-09-01T01-00Z', 'k');
  assert.equal(snap.date, '2026-09-01T01:00:00Z');
  assert.deepEqual(snap.columns, ['Bucket', 'Key', 'LastModifiedDate', 'ETag']);
  assert.equal(snap.files.length, 5);
  assert.deepEqual(snap.files[0], {
    key: 'inventory-reports/pmc-oa-opendata/metadata/data/49c6aee8-c648-45be-b569-79df5878fc20.csv.gz',
    size: 54365551,
    md5: 'dff696f4b1567015afebb25e9f2cc7b7',
  });
  assert.throws(() => parseInventoryManifest('{"fileFormat":"ORC","fileSchema":"Key, ETag"}', '2026-09-01T01-00Z', 'k'), /ORC/);
  assert.throws(() => parseInventoryManifest('{"fileFormat":"CSV","fileSchema":"Bucket, Key"}', '2026-09-01T01-00Z', 'k'), /ETag/);
});

test('every real inventory row parses', () => {
  const columns = ['Bucket', 'Key', 'LastModifiedDate', 'ETag'];
  for (const file of ['inventory-rows.csv', 'inventory-rows-README-2026-01.csv', 'inventory-rows-pmcaws-2026-02.csv']) {
    for (const line of real(file).split('\n').filter(Boolean)) {
      const row = parseInventoryLine(line, columns);
      assert.ok(row, line);
      assert.match(row.etag, /^[0-9a-f]{32}$/);
      assert.match(row.lastModified, /^2026-\d\d-\d\dT/);
    }
  }
  assert.deepEqual(parseInventoryLine(real('inventory-rows.csv').split('\n')[0]!, columns), {
    pmcNum: 10000002,
    version: 1,
    etag: 'f25d9c5f5b85338f62156faeedfc1e95',
    lastModified: '2026-01-08T11:47:59.000Z',
  });
  // Another column order, as a manifest's fileSchema may declare it.
  assert.equal(parseInventoryLine('"abc","metadata/PMC5.12.json"', ['ETag', 'Key'])?.version, 12);
  assert.equal(parseInventoryLine('"pmc-oa-opendata","README.txt","2026-01-08T11:47:59.000Z","x"', columns), undefined);
});

test('quoted CSV fields with escaped quotes and commas', () => {
  assert.deepEqual(splitQuotedCsv('"a","b,c","d""e",""'), ['a', 'b,c', 'd"e', '']);
  assert.deepEqual(splitQuotedCsv('a,b,,c'), ['a', 'b', '', 'c']);
  assert.equal(folderToIso('2026-01-18T01-00Z'), '2026-01-18T01:00:00Z');
});

test('real ListObjectsV2 answers: one version, two versions, none', () => {
  assert.deepEqual(parseListObjectsV2(real('list-versions-PMC4924218.xml')).prefixes, ['PMC4924218.1/']);
  assert.deepEqual(parseListObjectsV2(real('list-versions-PMC11370360.rust-fixture.xml')).prefixes, ['PMC11370360.1/', 'PMC11370360.2/']);
  const empty = parseListObjectsV2(real('list-versions-empty-PMC12977955.xml'));
  assert.deepEqual(empty, { prefixes: [], objects: [], nextToken: undefined });
  const page = parseListObjectsV2(
    '<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t1</NextContinuationToken><Contents><Key>metadata/PMC1.1.json</Key><ETag>&quot;abc&quot;</ETag><Size>10</Size></Contents></ListBucketResult>',
  );
  assert.equal(page.nextToken, 't1');
  assert.deepEqual(page.objects, [{ key: 'metadata/PMC1.1.json', etag: 'abc', size: 10, lastModified: '' }]);
  assert.throws(() => parseListObjectsV2('<Error><Code>AccessDenied</Code></Error>'), /ListBucketResult/);
  assert.equal(listUrl('https://b/', 'PMC1.', '/'), 'https://b/?list-type=2&prefix=PMC1.&delimiter=%2F');
});
