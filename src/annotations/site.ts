/**
 * The static review site of `annotate export`: an index with every cluster and its counts, one page
 * per cluster (its contact sheet and what each tile is), and the taxonomy experts choose from.
 * Plain HTML with inline styles: no scripts, no external assets, opens from a file system. Captions
 * and names come from articles (hostile input): every text is escaped, and a CSP forbids scripts.
 */
import type { ClusterLabel } from './cluster-labels.js';
import type { Taxonomy } from './taxonomy.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export interface SiteSample {
  key: string;
  articleId: string;
  figureLabel: string;
  caption: string;
  /** Why the tile is grey ('' when the image was drawn). */
  failure: string;
}

export interface SiteCluster {
  id: number;
  images: number;
  /** Contact sheet path relative to the site root ('' for a cluster with no images). */
  sheet: string;
  columns: number;
  samples: SiteSample[];
  /** The labels the fill-in file starts with (empty ones for a fresh fit). */
  label: ClusterLabel;
}

export interface SiteMeta {
  run: string;
  seed: number;
  perCluster: number;
  clusters: number;
  images: number;
  notClustered: number;
}

const CAPTION_CHARS = 400;
export const clusterPage = (id: number) => `clusters/${String(id).padStart(4, '0')}.html`;

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}img.sheet{max-width:100%;height:auto;border:1px solid #888}
nav a{margin-right:1em}.empty{color:#999}.fail{color:#b00}code{background:#f4f4f4;padding:0 .2em}`;

function page(title: string, body: string, root: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<nav><a href="${root}index.html">all clusters</a><a href="${root}taxonomy.html">taxonomy</a></nav>
${body}
</body>
</html>
`;
}

const labelText = (label: ClusterLabel): string => {
  const parts = [label.panel_type, label.panel_subtype, label.global_class.join(', '), label.local_class.join(', ')].filter((s) => s !== '');
  return parts.length === 0 ? '<span class="empty">unlabelled</span>' : escapeHtml(parts.join(' · '));
};

export function renderIndex(clusters: readonly SiteCluster[], meta: SiteMeta): string {
  const rows = clusters
    .map(
      (c) =>
        `<tr id="c${c.id}"><td class="n"><a href="${clusterPage(c.id)}">${c.id}</a></td><td class="n">${c.images}</td><td class="n">${c.samples.length}</td><td>${labelText(c.label)}</td></tr>`,
    )
    .join('\n');
  const body = `<h1>Clusters of ${escapeHtml(meta.run)}</h1>
<p>${meta.clusters} clusters, ${meta.images} clustered images${meta.notClustered ? `, ${meta.notClustered} not clustered` : ''}. Each sheet shows up to ${meta.perCluster} images chosen by seed ${meta.seed}.
Fill in <code>cluster_labels.json</code> (beside this page) with names from the <a href="taxonomy.html">taxonomy</a>, then run <code>biomedica annotate import</code>.</p>
<table>
<thead><tr><th>cluster</th><th>images</th><th>shown</th><th>labels</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return page(`Clusters of ${meta.run}`, body, '');
}

export function renderClusterPage(c: SiteCluster, neighbours: { previous?: number; next?: number }): string {
  const nav = [
    neighbours.previous !== undefined ? `<a href="../${clusterPage(neighbours.previous)}">← cluster ${neighbours.previous}</a>` : '',
    neighbours.next !== undefined ? `<a href="../${clusterPage(neighbours.next)}">cluster ${neighbours.next} →</a>` : '',
  ].join('');
  const rows = c.samples
    .map((s, i) => {
      const caption = s.caption.length > CAPTION_CHARS ? `${s.caption.slice(0, CAPTION_CHARS)}…` : s.caption;
      const failure = s.failure ? ` <span class="fail">(${escapeHtml(s.failure)})</span>` : '';
      return `<tr><td class="n">${Math.floor(i / c.columns) + 1}, ${(i % c.columns) + 1}</td><td><code>${escapeHtml(s.key)}</code>${failure}</td><td>${escapeHtml(s.figureLabel)}</td><td>${escapeHtml(caption)}</td></tr>`;
    })
    .join('\n');
  const sheet = c.sheet
    ? `<p><img class="sheet" src="../${escapeHtml(c.sheet)}" alt="${c.samples.length} sample images of cluster ${c.id}"></p>`
    : '<p class="empty">No image of this run is in this cluster.</p>';
  const body = `<p>${nav}</p>
<h1>Cluster ${c.id}</h1>
<p>${c.images} images; ${c.samples.length} shown. Labels now: ${labelText(c.label)}</p>
${sheet}
<table>
<thead><tr><th>row, column</th><th>image key</th><th>figure</th><th>caption</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return page(`Cluster ${c.id}`, body, '../');
}

export function renderTaxonomyPage(taxonomy: Taxonomy): string {
  const byGlobal = new Map<string, string[]>(taxonomy.globals.map((g) => [g, []]));
  for (const [local, owners] of taxonomy.localOwners) for (const g of owners) byGlobal.get(g)?.push(local);
  const rows = [...byGlobal]
    .map(([g, locals]) => `<tr><td>${escapeHtml(g)}</td><td>${locals.map((l) => `<code>${escapeHtml(l)}</code>`).join(' ')}</td></tr>`)
    .join('\n');
  const list = (values: readonly string[]) => values.map((v) => `<code>${escapeHtml(v)}</code>`).join(' ');
  const body = `<h1>Taxonomy</h1>
<p>From <code>${escapeHtml(taxonomy.path)}</code> (sha256 <code>${taxonomy.sha256.slice(0, 12)}</code>).</p>
<p><code>panel_type</code>: ${list(taxonomy.panelTypes)}</p>
<p><code>panel_subtype</code>: ${list(taxonomy.panelSubtypes)}</p>
<table>
<thead><tr><th><code>global_class</code></th><th><code>local_class</code></th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return page('Taxonomy', body, '');
}
