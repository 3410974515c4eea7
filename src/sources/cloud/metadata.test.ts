import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ItemError } from '../../errors.js';
import { imageMedia, objectUrl, parseBucketUrl, parseVersionMetadata, refFromMetadata } from './metadata.js';

const cloud = resolve(fileURLToPath(new URL('../../../', import.meta.url)), '../shared/corpus/pmc-cloud');
const real = (name: string) => readFileSync(join(cloud, name));

test('a real open-access record with media', () => {
  const meta = parseVersionMetadata(real('metadata-PMC4599423.1.json'), 'PMC4599423.1');
  assert.equal(meta.pmcid, 'PMC4599423');
  assert.equal(meta.version, 1);
  assert.equal(meta.pmid, '25964207');
  assert.equal(meta.licenseCode, 'CC BY-NC');
  assert.equal(meta.isOpenAccess, true);
  assert.equal(meta.isRetracted, false);
  assert.deepEqual(meta.xml, { key: 'PMC4599423.1/PMC4599423.1.xml', md5: '59da354482d87d6365799de6d45538d5', name: 'PMC4599423.1.xml' });
  assert.deepEqual([...imageMedia(meta).keys()], ['jah30004-e001936-f1.jpg']);
  const ref = refFromMetadata(meta, { lastModified: '2026-01-08T11:47:59.000Z', revision: 'abc' });
  assert.equal(ref.id, 'PMC4599423_1');
  assert.equal(ref.licenseGroup, 'noncommercial');
  assert.equal(ref.location, 'PMC4599423.1/');
});

test('missing keys, a manuscript and a pretty-printed fixture are all accepted', () => {
  const trimmed = parseVersionMetadata(real('metadata-PMC4924218.1.json'));
  assert.deepEqual(trimmed.media, [], 'no media_urls key');
  assert.equal(trimmed.xml?.key, 'PMC4924218.1/PMC4924218.1.xml');
  const manuscript = parseVersionMetadata(real('metadata-PMC7983342.1.json'));
  assert.equal(manuscript.isOpenAccess, false);
  assert.equal(manuscript.isManuscript, true);
  assert.equal(manuscript.mid, 'NIHMS1675085');
  assert.equal(manuscript.licenseCode, 'TDM');
  assert.equal(manuscript.pdf, undefined);
  const rust = parseVersionMetadata(real('metadata-PMC7759461.1.rust-fixture.txt'));
  assert.equal(rust.pmcid, 'PMC7759461');
  assert.equal(rust.doi, '10.1038/s41586-020-2649-2');
});

test('[] and null where a file is absent, string versions, null pmid and licence', () => {
  const meta = parseVersionMetadata(
    JSON.stringify({ pmcid: 'PMC1', version: '2', pmid: null, doi: null, license_code: null, media_urls: null, pdf_url: null, xml_url: 's3://pmc-oa-opendata/PMC1.2/PMC1.2.xml?md5=0123456789ABCDEF0123456789abcdef', is_pmc_openaccess: true }),
  );
  assert.equal(meta.version, 2);
  assert.equal(meta.pmid, '');
  assert.equal(meta.licenseCode, '');
  assert.deepEqual(meta.media, []);
  assert.equal(meta.xml?.md5, '0123456789abcdef0123456789abcdef');
  assert.deepEqual(parseVersionMetadata(JSON.stringify({ pmcid: 'PMC1', version: 1, media_urls: [] })).media, []);
});

test('a title starting RETRACTED counts as retracted even when the flag says no', () => {
  const meta = parseVersionMetadata(JSON.stringify({ pmcid: 'PMC5', version: 1, title: 'RETRACTED ARTICLE: Something', is_retracted: false }));
  assert.equal(meta.isRetracted, true);
  assert.equal(parseVersionMetadata(JSON.stringify({ pmcid: 'PMC5', version: 1, title: 'Retraction patterns in PubMed' })).isRetracted, false);
});

test('only images are media the extract may ask for', () => {
  const meta = parseVersionMetadata(
    JSON.stringify({
      pmcid: 'PMC12855588',
      version: 1,
      media_urls: [
        's3://pmc-oa-opendata/PMC12855588.1/fx1.jpg?md5=7e7e95a91dedf32760eda1032d632d24',
        's3://pmc-oa-opendata/PMC12855588.1/gr1.jpg?md5=39209b49c555fa939d5108a4b6c4fe92',
        's3://pmc-oa-opendata/PMC12855588.1/mmc1.pdf?md5=e3b8ac93beae30fc40ae7e01421ab566',
        's3://pmc-oa-opendata/PMC12855588.1/NPR2-43-85-s001.xlsx?md5=e3b8ac93beae30fc40ae7e01421ab566',
      ],
    }),
  );
  assert.deepEqual([...imageMedia(meta).keys()], ['fx1.jpg', 'gr1.jpg']);
});

test('bad metadata is an item error, not a crash', () => {
  assert.throws(() => parseVersionMetadata('not json', 'PMC1.1'), (e: unknown) => e instanceof ItemError && e.code === 'METADATA_INVALID');
  assert.throws(() => parseVersionMetadata('[]'), (e: unknown) => e instanceof ItemError && e.code === 'METADATA_INVALID');
  assert.throws(() => parseVersionMetadata('{"title":"x"}'), (e: unknown) => e instanceof ItemError);
});

test('bucket URLs map onto the configured base, segments encoded', () => {
  assert.deepEqual(parseBucketUrl('s3://pmc-oa-opendata/PMC1.1/a b.jpg?md5=d3f7c932a088ff556dfef86a9a436e60'), {
    key: 'PMC1.1/a b.jpg',
    md5: 'd3f7c932a088ff556dfef86a9a436e60',
    name: 'a b.jpg',
  });
  assert.equal(parseBucketUrl('s3://pmc-oa-opendata/PMC1.1/x.jpg')?.md5, undefined);
  assert.equal(objectUrl('http://127.0.0.1:9/', 'PMC1.1/a b#1.jpg'), 'http://127.0.0.1:9/PMC1.1/a%20b%231.jpg');
});
