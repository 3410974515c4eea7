import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { IMAGE_EXTENSIONS, isImageName, resolveGraphic } from './resolve.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const corpus = resolve(repoRoot, '../shared/corpus');
const packagesDir = join(corpus, 'packages');

/** Graphic hrefs of an article, in document order (a test-side regex: JATS parsing lives elsewhere). */
function graphicHrefs(xml: string): string[] {
  return [...xml.matchAll(/<graphic\b[^>]*?\bxlink:href="([^"]*)"/g)].map((m) => m[1] ?? '');
}

interface PackageListing {
  names: string[];
  xml: string;
}

/** Entry names of a legacy PMC .tar.gz and the text of its nxml. */
async function readTarPackage(path: string): Promise<PackageListing> {
  const names: string[] = [];
  let xml = '';
  const tar = extract();
  tar.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    if (header.type === 'file') names.push(header.name);
    stream.on('data', (c: unknown) => {
      if (header.name.endsWith('.nxml') && Buffer.isBuffer(c)) chunks.push(c);
    });
    stream.on('end', () => {
      if (chunks.length > 0) xml = Buffer.concat(chunks).toString('utf8');
      next();
    });
    stream.resume();
  });
  await pipeline(createReadStream(path), createGunzip(), tar);
  return { names, xml };
}

/** Entry names of a zip, read from its central directory (no zip library among our dependencies). */
function zipNames(zip: Buffer): string[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'zip end record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, 'central directory entry');
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

describe('resolveGraphic on real packages', () => {
  const tarPackages = readdirSync(packagesDir).filter((n) => n.endsWith('.tar.gz')).sort();

  test('every figure of the legacy PMC packages pairs with its full-size JPG, never the GIF thumbnail', async () => {
    assert.equal(tarPackages.length, 3);
    let figures = 0;
    for (const file of tarPackages) {
      const { names, xml } = await readTarPackage(join(packagesDir, file));
      const dir = file.replace(/\.tar\.gz$/, '');
      const hrefs = graphicHrefs(xml);
      assert.ok(hrefs.length > 0, `${file} has graphics`);
      for (const href of hrefs) {
        // Each package holds `<href>.jpg` and a `<href>.gif` thumbnail.
        assert.ok(names.includes(`${dir}/${href}.gif`), `${file}: thumbnail ${href}.gif exists`);
        assert.equal(resolveGraphic(href, names), `${dir}/${href}.jpg`, `${file} ${href}`);
        // The listing order must not matter.
        assert.equal(resolveGraphic(href, [...names].reverse()), `${dir}/${href}.jpg`);
        figures++;
      }
      for (const nonImage of names.filter((n) => !isImageName(n))) {
        const stem = nonImage.slice(nonImage.lastIndexOf('/') + 1).replace(/\.[^.]*$/, '');
        assert.equal(resolveGraphic(stem, names), null, `${file}: ${nonImage} is never returned`);
      }
    }
    assert.equal(figures, 8);
  });

  test('a supplementary PDF href in a real package has no image', async () => {
    const { names, xml } = await readTarPackage(join(packagesDir, 'PMC7159299.tar.gz'));
    assert.ok(xml.includes('xlink:href="mmc1.pdf"'));
    assert.ok(names.includes('PMC7159299/mmc1.pdf'));
    assert.equal(resolveGraphic('mmc1.pdf', names), null);
  });

  test('the eLife deposit pairs extensionless hrefs with its TIFFs', () => {
    const zip = readFileSync(join(packagesDir, 'elife-05-19405.pmc_deposit.zip'));
    const names = zipNames(zip);
    assert.ok(names.includes('elife-19405-fig1.tif'));
    const hrefs = ['elife-19405-inf1', 'elife-19405-fig1'];
    for (const href of hrefs) assert.equal(resolveGraphic(href, names), `${href}.tif`);
    assert.equal(resolveGraphic('elife-19405.pdf', names), null);
    assert.equal(resolveGraphic('elife-19405', names), null, 'the article PDF shares no stem with an image');
  });

  test('real article folders: hrefs of the paired nxml find their images', () => {
    const pairs: Array<[xml: string, folder: string]> = [
      ['nxml/elife_bot/elife-00353-v1.xml', 'images/elife_bot/elife-00353'],
      ['nxml/elife_bot/elife39122__elife-39122.xml', 'images/elife_bot/elife-39122'],
      [
        'nxml/scielo/fixtures__aplicacao-design-system__2236-8906-hoehnea-49-e1112020__2236-8906-hoehnea-49-e1112020.xml',
        'images/scielo/2236-8906-hoehnea-49-e1112020',
      ],
    ];
    for (const [xmlPath, folder] of pairs) {
      const names = readdirSync(join(corpus, folder));
      const hrefs = graphicHrefs(readFileSync(join(corpus, xmlPath), 'utf8'));
      const found = hrefs.map((h) => resolveGraphic(h, names));
      assert.ok(found.every((f) => f !== null), `${folder}: ${hrefs.join(' ')} → ${found.join(' ')}`);
      assert.deepEqual([...new Set(found)].sort(), names.filter(isImageName).sort(), folder);
    }
  });

  test('real PMC media folders with a GIF beside each JPG pick the JPG', () => {
    const root = join(corpus, 'images/pubmed_client_pkgs');
    let checked = 0;
    for (const pmcid of readdirSync(root)) {
      const names = readdirSync(join(root, pmcid));
      for (const gif of names.filter((n) => n.endsWith('.gif'))) {
        const stem = gif.slice(0, -'.gif'.length);
        const jpg = `${stem}.jpg`;
        assert.equal(resolveGraphic(stem, names), names.includes(jpg) ? jpg : gif, `${pmcid} ${stem}`);
        checked++;
      }
    }
    assert.ok(checked > 20, `${checked} stems`);
  });
});

describe('resolveGraphic rules', () => {
  test('PLOS info:doi hrefs find pone.… files, with or without the journal. prefix', () => {
    const names = ['pone.0046493.g001.tif', 'pone.0046493.g002.tif', 'pone.0046493.t001.tif', 'pone.0046493.pdf'];
    assert.equal(resolveGraphic('info:doi/10.1371/journal.pone.0046493.g001', names), 'pone.0046493.g001.tif');
    assert.equal(resolveGraphic('info:doi/10.1371/journal.pone.0046493.t001', names), 'pone.0046493.t001.tif');
    assert.equal(resolveGraphic('pone.0046493.g002', names), 'pone.0046493.g002.tif');
    assert.equal(resolveGraphic('INFO:DOI/10.1371/JOURNAL.PONE.0046493.G001', names), 'pone.0046493.g001.tif');
    assert.equal(resolveGraphic('info:doi/10.1371/journal.pone.0046493.g003', names), null);
    // A file that keeps the journal. prefix is found by the first, exact stem.
    assert.equal(resolveGraphic('info:doi/10.1371/journal.pcbi.0010001.g001', ['journal.pcbi.0010001.g001.png']), 'journal.pcbi.0010001.g001.png');
  });

  test('dots inside a stem are not extensions', () => {
    const names = ['pone.0046493.g001.png', 'pone.0046493.g0011.png'];
    assert.equal(resolveGraphic('pone.0046493.g001', names), 'pone.0046493.g001.png');
    assert.equal(resolveGraphic('pone.0046493', names), null);
  });

  test('an extension in the href that differs from the file still matches by stem', () => {
    assert.equal(resolveGraphic('fig1.tif', ['fig1.jpg', 'fig2.jpg']), 'fig1.jpg');
    assert.equal(resolveGraphic('fig1.eps', ['fig1.jpg']), 'fig1.jpg');
    assert.equal(resolveGraphic('FIG1.JPG', ['Fig1.Jpg']), 'Fig1.Jpg');
  });

  test('the file the href names wins among equal non-GIF candidates', () => {
    assert.equal(resolveGraphic('fig1.tif', ['fig1.jpg', 'fig1.tif']), 'fig1.tif');
    assert.equal(resolveGraphic('fig1', ['fig1.tif', 'fig1.jpg']), 'fig1.jpg');
    assert.equal(resolveGraphic('fig1', ['fig1.tiff', 'fig1.png', 'fig1.webp']), 'fig1.png');
  });

  test('a GIF is chosen only when nothing else has the stem, even when the href names it', () => {
    assert.equal(resolveGraphic('gr1.gif', ['gr1.gif', 'gr1.jpg']), 'gr1.jpg');
    assert.equal(resolveGraphic('gr1', ['gr1.gif']), 'gr1.gif');
    assert.equal(resolveGraphic('gr1', ['gr1.gif', 'gr1.sml', 'gr1.pdf']), 'gr1.gif');
  });

  test('Elsevier _lrg: the full-size file is preferred whichever variant the href names', () => {
    const names = ['gr1.jpg', 'gr1_lrg.jpg', 'gr1.sml', 'gr1_lrg.gif', 'gr2.jpg', 'gr2.sml'];
    assert.equal(resolveGraphic('gr1_lrg', names), 'gr1_lrg.jpg');
    assert.equal(resolveGraphic('gr1', names), 'gr1_lrg.jpg');
    assert.equal(resolveGraphic('gr2_lrg', names), 'gr2.jpg', 'the cloud bucket holds only gr2.jpg');
    assert.equal(resolveGraphic('gr2', names), 'gr2.jpg');
    // A GIF `_lrg` never beats the JPG of the bare stem.
    assert.equal(resolveGraphic('gr3', ['gr3_lrg.gif', 'gr3.jpg']), 'gr3.jpg');
  });

  test('directories in the href or in the listing are ignored for matching, kept in the answer', () => {
    const names = ['PMC1/figures/Fig1.JPG', 'PMC1/thumbs/fig1.gif', 'PMC1/fig2.png'];
    assert.equal(resolveGraphic('images/fig1', names), 'PMC1/figures/Fig1.JPG');
    assert.equal(resolveGraphic('fig2', names), 'PMC1/fig2.png');
    assert.equal(resolveGraphic('media\\fig2.png', names), 'PMC1/fig2.png');
  });

  test('URLs reduce to their file name; a URL to a PDF has no image', () => {
    const names = ['fig-1.png', 'table-1.png', 'article.pdf', 'egusphere-2023-1-f01.png'];
    assert.equal(resolveGraphic('https://peerj.com/articles/3360/fig-1.png', names), 'fig-1.png');
    assert.equal(resolveGraphic('https://peerj.com/articles/3360/table-1.png?v=2#x', names), 'table-1.png');
    assert.equal(resolveGraphic('https://egusphere.copernicus.org/preprints/2023/egusphere-2023-1-f01.pdf', names), null);
    assert.equal(resolveGraphic('https://www.who.int/csr/don/en/', names), null);
    assert.equal(resolveGraphic('https://example.org/fig%201.png', ['fig 1.png']), 'fig 1.png');
  });

  test('non-image files are never returned', () => {
    const names = ['s1.pdf', 's1.doc', 's1.docx', 's1.mov', 's1.zip', 's1.xml', 's1.nxml', 's1.xlsx', 's1.sml', 's1'];
    for (const href of ['s1', 's1.pdf', 's1.jpg', 's1.mov']) assert.equal(resolveGraphic(href, names), null, href);
  });

  test('empty or blank hrefs have no image', () => {
    assert.equal(resolveGraphic('', ['fig1.jpg']), null);
    assert.equal(resolveGraphic('   ', ['fig1.jpg']), null);
    assert.equal(resolveGraphic('info:doi/', ['fig1.jpg']), null);
    assert.equal(resolveGraphic('fig1', []), null);
  });

  test('ties are broken by name, whatever the listing order', () => {
    const names = ['b/fig1.jpg', 'a/fig1.jpg', 'a/FIG1.jpg'];
    const expected = 'a/FIG1.jpg';
    assert.equal(resolveGraphic('fig1', names), expected);
    assert.equal(resolveGraphic('fig1', [...names].reverse()), expected);
  });
});

describe('isImageName', () => {
  test('knows image extensions in any case and nothing else', () => {
    for (const ext of IMAGE_EXTENSIONS) {
      assert.ok(isImageName(`PMC1/fig1.${ext}`), ext);
      assert.ok(isImageName(`fig1.${ext.toUpperCase()}`), ext);
    }
    for (const name of ['main.nxml', 'main.pdf', 'gr1.sml', 'movie.mov', 'data.zip', 'jpg', '.jpg', 'fig1.jpg.pdf', 'x.eps']) {
      assert.equal(isImageName(name), false, name);
    }
  });
});
