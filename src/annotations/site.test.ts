import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, renderClusterPage, renderIndex, renderTaxonomyPage, type SiteCluster } from './site.js';
import { readTaxonomy, resolveTaxonomyPath } from './taxonomy.js';

// Captions and keys come from articles: treat them as hostile.
const hostile = `</td><script>alert("x")</script><img src=x onerror='y'> & "quotes" <a href="https://evil.example/">`;
const cluster: SiteCluster = {
  id: 7,
  images: 120,
  sheet: 'sheets/0007-0123456789ab.jpg',
  columns: 2,
  samples: [
    { key: 'PMC1_1_f001', articleId: 'PMC1_1', figureLabel: 'Figure 1', caption: hostile, failure: '' },
    { key: 'PMC2_1_f001', articleId: 'PMC2_1', figureLabel: hostile, caption: 'x'.repeat(1000), failure: 'IMAGE_UNREADABLE: <bad>' },
    { key: 'PMC3_1_f002', articleId: 'PMC3_1', figureLabel: 'Figure 2', caption: 'Microscopy of cells.', failure: '' },
  ],
  label: { panel_type: 'single', panel_subtype: 'single panel', global_class: [hostile], local_class: [] },
};

function assertSafe(html: string) {
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<img src=x/);
  assert.doesNotMatch(html, /onerror='/);
  assert.doesNotMatch(html, /href="https?:/, 'no external links or assets');
  assert.doesNotMatch(html, /src="https?:/);
  assert.match(html, /Content-Security-Policy" content="script-src 'none'/);
}

test('escapeHtml escapes the five characters that matter', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('a cluster page shows its sheet, each tile\'s image and caption, escaped, and links to its neighbours', () => {
  const html = renderClusterPage(cluster, { previous: 6, next: 8 });
  assertSafe(html);
  assert.match(html, /<img class="sheet" src="\.\.\/sheets\/0007-0123456789ab\.jpg"/);
  assert.match(html, /href="\.\.\/clusters\/0006\.html"/);
  assert.match(html, /href="\.\.\/clusters\/0008\.html"/);
  assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
  // Tile positions follow the grid: 2 columns.
  assert.match(html, /<td class="n">2, 1<\/td><td><code>PMC3_1_f002<\/code>/);
  assert.match(html, /IMAGE_UNREADABLE: &lt;bad&gt;/);
  assert.match(html, /x{400}…/);
  assert.doesNotMatch(html, /x{401}/);
});

test('the index lists every cluster with its counts; the taxonomy page lists the valid names', async () => {
  const empty: SiteCluster = { id: 8, images: 0, sheet: '', columns: 1, samples: [], label: { panel_type: '', panel_subtype: '', global_class: [], local_class: [] } };
  const index = renderIndex([cluster, empty], { run: '/runs/<x>', seed: 3, perCluster: 16, clusters: 9, images: 120, notClustered: 2 });
  assertSafe(index);
  assert.match(index, /<tr id="c7"><td class="n"><a href="clusters\/0007\.html">7<\/a><\/td><td class="n">120<\/td><td class="n">3<\/td>/);
  assert.match(index, /<tr id="c8">.*<span class="empty">unlabelled<\/span>/);
  assert.match(index, /\/runs\/&lt;x&gt;/);
  const taxonomy = await readTaxonomy(resolveTaxonomyPath('config/taxonomy/taxonomy_collapsed_and_filtered.json'));
  const page = renderTaxonomyPage(taxonomy);
  assertSafe(page);
  const rows = [...page.matchAll(/<tr><td>([^<]*)<\/td><td>(.*)<\/td><\/tr>/g)];
  assert.equal(rows.length, 16);
  assert.equal(rows.reduce((n, r) => n + r[2]!.split('<code>').length - 1, 0), 119);
  assert.match(page, /<tr><td>Immuno Assays<\/td><td>.*<code>immunoblot<\/code>/);
});
