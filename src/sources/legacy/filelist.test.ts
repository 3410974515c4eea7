import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ArticleRef, SourceFilter } from '../types.js';
import { fileListFormatOf, filterRefs, normalizeLastUpdated, readFileListRows, refOfRow, type FileListFormat } from './filelist.js';

const corpus = fileURLToPath(new URL('../../../../shared/corpus/', import.meta.url));
const excerpt = join(corpus, 'filelists', 'oa_file_list.first10000rows.geralddzx.csv');
const covid = join(corpus, 'filelists', 'oa_file_list.covid4rows.seanBr97.csv');
const txtSample = join(corpus, 'pmc-cloud', 'legacy-oa_file_list.txt.sample');
const csvSample = join(corpus, 'pmc-cloud', 'legacy-oa_file_list.csv.sample');

async function refsOf(input: Readable, format: FileListFormat = 'csv'): Promise<ArticleRef[]> {
  const refs: ArticleRef[] = [];
  for await (const row of readFileListRows(input, { format })) refs.push(refOfRow(row));
  return refs;
}

async function* iterate<T>(items: T[], pulled: { n: number }): AsyncGenerator<T> {
  for (const item of items) {
    pulled.n++;
    yield item;
  }
}

async function collect(refs: ArticleRef[], filter: SourceFilter, skips: Array<[string, string]> = []): Promise<ArticleRef[]> {
  const out: ArticleRef[] = [];
  for await (const ref of filterRefs(iterate(refs, { n: 0 }), filter, (r, reason) => skips.push([r.pmcid, reason]))) out.push(ref);
  return out;
}

// The excerpt has no quoted fields (checked below), so a plain split is an independent reading to compare with.
const naive = readFileSync(excerpt, 'utf8').trim().split('\n').map((line) => line.split(','));

describe('the real 10,000-row oa_file_list.csv excerpt (no header row)', async () => {
  const refs = await refsOf(createReadStream(excerpt));

  test('every row is read, in file order, first and last as in the file', () => {
    assert.ok(naive.every((f) => f.length === 6), 'excerpt has quoted commas; the naive reading is not valid');
    assert.equal(refs.length, 10_000);
    assert.deepEqual(refs[0], {
      id: 'PMC13900',
      pmcid: 'PMC13900',
      version: null,
      pmid: '11250746',
      citation: 'Breast Cancer Res. 2001 Nov 2; 3(1):55-60',
      licenseCode: 'NO-CC CODE',
      licenseGroup: 'other',
      lastUpdated: '2019-11-05 11:56:12',
      retracted: false,
      location: 'oa_package/08/e0/PMC13900.tar.gz',
      revision: '2019-11-05 11:56:12',
    });
    assert.equal(refs.at(-1)!.pmcid, 'PMC549171');
    assert.equal(refs.at(-1)!.location, 'oa_package/63/6c/PMC549171.tar.gz');
    assert.deepEqual(refs.map((r) => r.pmcid), naive.map((f) => f[2]));
  });

  test('license groups: CC BY and CC0 are commercial, NO-CC CODE other', async () => {
    const count = (code: string) => naive.filter((f) => f[5] === code).length;
    const commercial = await collect(refs, { licenseGroups: ['commercial'] });
    assert.equal(commercial.length, count('CC BY') + count('CC0'));
    assert.equal(commercial.length, 2500);
    assert.equal((await collect(refs, { licenseGroups: ['other'] })).length, count('NO-CC CODE'));
    assert.equal((await collect(refs, { licenseGroups: ['noncommercial'] })).length, 0);
    assert.ok(commercial.every((r) => r.licenseCode === 'CC BY' || r.licenseCode === 'CC0'));
  });

  test('date range on Last Updated, inclusive, combined with licenses', async () => {
    const in2019 = naive.filter((f) => f[3]!.slice(0, 10) >= '2019-01-01' && f[3]!.slice(0, 10) <= '2019-12-31');
    assert.equal((await collect(refs, { updatedFrom: '2019-01-01', updatedTo: '2019-12-31' })).length, in2019.length);
    assert.equal(in2019.length, 882);
    const oneDay = await collect(refs, { updatedFrom: '2019-11-05', updatedTo: '2019-11-05' });
    assert.equal(oneDay.length, naive.filter((f) => f[3]!.startsWith('2019-11-05')).length);
    const commercial2019 = await collect(refs, { updatedFrom: '2019-01-01', updatedTo: '2019-12-31', licenseGroups: ['commercial'] });
    assert.equal(commercial2019.length, in2019.filter((f) => f[5] !== 'NO-CC CODE').length);
  });

  test('limit and a PMCID set; the scan stops once every requested PMCID is seen', async () => {
    const limited = await collect(refs, { limit: 25 });
    assert.deepEqual(limited.map((r) => r.pmcid), naive.slice(0, 25).map((f) => f[2]));
    assert.equal((await collect(refs, { limit: 0 })).length, 10_000);
    const pulled = { n: 0 };
    const wanted = new Set(['PMC406389', 'PMC13901', 'PMC9999999999']);
    const out: ArticleRef[] = [];
    for await (const ref of filterRefs(iterate(refs, pulled), { pmcids: new Set(['PMC406389', 'PMC13901']) })) out.push(ref);
    assert.deepEqual(out.map((r) => r.pmcid), ['PMC13901', 'PMC406389']);
    assert.equal(pulled.n, 5922, 'stopped at PMC406389 (row 5922)');
    const withMissing = await collect(refs, { pmcids: wanted });
    assert.equal(withMissing.length, 2);
  });
});

test('a list with a header, quoted citations with commas and quotes, Retracted, BOM and CRLF', async () => {
  const csv =
    '\ufeffFile,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted\r\n' +
    'oa_package/00/01/PMC1.tar.gz,"J Foo. 2020; 1(2):3-4, suppl ""A""",PMC1,2020-01-02 03:04:05,111,CC BY-NC,no\r\n' +
    'oa_package/00/02/PMC2.tar.gz,Bar 2021; 5:e1,PMC2,2021-02-03 04:05:06,,CC BY,yes\r\n' +
    'oa_package/00/03/PMC3.tar.gz,Baz "quoted" 2021,PMC3,,333,CC0,no\r\n' +
    'not-a-row,,,,,\r\n' +
    '\r\n';
  const bad: number[] = [];
  const rows = [];
  for await (const row of readFileListRows(Readable.from([csv]), { format: 'csv', onBadRow: (line) => bad.push(line) })) rows.push(row);
  assert.equal(rows.length, 3);
  assert.deepEqual(bad, [5]);
  assert.equal(rows[0]!.citation, 'J Foo. 2020; 1(2):3-4, suppl "A"');
  assert.equal(rows[0]!.license, 'CC BY-NC');
  assert.equal(refOfRow(rows[0]!).licenseGroup, 'noncommercial');
  assert.equal(rows[1]!.retracted, true);
  assert.equal(rows[1]!.pmid, '');
  assert.equal(rows[2]!.citation, 'Baz "quoted" 2021');
  assert.equal(rows[2]!.lastUpdated, '');

  const refs = rows.map(refOfRow);
  const skips: Array<[string, string]> = [];
  assert.deepEqual((await collect(refs, {}, skips)).map((r) => r.pmcid), ['PMC1', 'PMC3']);
  assert.deepEqual(skips, [['PMC2', 'retracted']]);
  assert.deepEqual((await collect(refs, { includeRetracted: true })).map((r) => r.pmcid), ['PMC1', 'PMC2', 'PMC3']);
  const dateSkips: Array<[string, string]> = [];
  assert.deepEqual((await collect(refs, { updatedFrom: '2020-01-01', includeRetracted: true }, dateSkips)).map((r) => r.pmcid), ['PMC1', 'PMC2']);
  assert.deepEqual(dateSkips, [['PMC3', 'date-unknown']]);
});

test('a header without File or Accession ID is refused', async () => {
  await assert.rejects(refsOf(Readable.from(['Name,Citation,Last Updated\nx,y,z\n'])), { code: 'FILELIST_FORMAT' });
});

test('the documented csv sample with its header', async () => {
  const refs = await refsOf(createReadStream(csvSample));
  assert.equal(refs.length, 1);
  assert.equal(refs[0]!.pmcid, 'PMC13900');
  assert.equal(refs[0]!.lastUpdated, '2019-11-05 11:56:12');
});

test('oa_file_list.txt: timestamp line, tab-separated rows, PMID: prefix', async () => {
  let timestamp = '';
  const rows = [];
  for await (const row of readFileListRows(createReadStream(txtSample), { format: 'txt', onTimestamp: (t) => (timestamp = t) })) rows.push(row);
  assert.equal(timestamp, '2017-01-17 15:07:51');
  assert.deepEqual(rows.map((r) => [r.path, r.pmcid, r.pmid, r.license, r.lastUpdated]), [
    ['oa_package/08/e0/PMC13900.tar.gz', 'PMC13900', '11250746', 'NO-CC CODE', ''],
    ['oa_package/b0/ac/PMC13901.tar.gz', 'PMC13901', '11250747', 'NO-CC CODE', ''],
  ]);
  assert.equal(rows[1]!.citation, 'Breast Cancer Res. 2001 Nov 9; 3(1):61-65');
  assert.equal(fileListFormatOf('oa_file_list.txt'), 'txt');
  assert.equal(fileListFormatOf('oa_file_list.csv'), 'csv');
});

test('the spreadsheet-mangled excerpt: DD-MM-YY HH:MM dates are read day first', async () => {
  const refs = await refsOf(createReadStream(covid));
  assert.deepEqual(refs.map((r) => [r.pmcid, r.lastUpdated, r.revision]), [
    ['PMC7112410', '2020-04-06 14:56:00', '06-04-20 14:56'],
    ['PMC7135076', '2020-06-18 12:56:00', '18-06-20 12:56'],
    ['PMC7159286', '2021-01-15 17:16:00', '15-01-21 17:16'],
    ['PMC7159299', '2021-01-15 17:16:00', '15-01-21 17:16'],
  ]);
  assert.equal(refs[1]!.citation, 'Lancet. 2020 Jan 30 15-21 February; 395(10223):507-513');
  assert.deepEqual((await collect(refs, { updatedFrom: '2020-06-01', updatedTo: '2020-12-31' })).map((r) => r.pmcid), ['PMC7135076']);
});

test('normalizeLastUpdated', () => {
  assert.equal(normalizeLastUpdated('2019-11-05 11:56:12'), '2019-11-05 11:56:12');
  assert.equal(normalizeLastUpdated('2019-11-05'), '2019-11-05 00:00:00');
  assert.equal(normalizeLastUpdated('2019-11-05T11:56:12.000Z'), '2019-11-05 11:56:12');
  assert.equal(normalizeLastUpdated('06/04/2020 14:56'), '2020-04-06 14:56:00');
  assert.equal(normalizeLastUpdated('04-18-20 09:00'), '2020-04-18 09:00:00', 'month first only when day first is impossible');
  assert.equal(normalizeLastUpdated('2019-02-30 00:00:00'), '');
  assert.equal(normalizeLastUpdated('31-31-20 10:00'), '');
  assert.equal(normalizeLastUpdated('43928.62'), '');
  assert.equal(normalizeLastUpdated(''), '');
});
