/**
 * The Hugging Face dataset card: README.md with YAML front matter (one `configs` entry and one
 * declared feature set per license group), so the dataset folder can be uploaded as it is and
 * `load_dataset(<repo>, "<group>")` needs no type inference. Built only from the manifest and the
 * summary, so the same dataset always gets the same card.
 */
import {
  BIOMEDICA_FIELDS,
  SAMPLE_FIELD_DOCS,
  SampleJson,
  fieldKinds,
  type FieldKind,
  type LoadManifest,
} from '../../manifest/load-manifest.js';
import type { Selection } from '../../manifest/extract-manifest.js';
import { sha256, stableStringify } from '../../storage/files.js';
import { TOOL_NAME, TOOL_VERSION } from '../../version.js';
import type { BuildScope, DatasetSummary } from './summary.js';

const GROUP_TEXT = {
  commercial: 'CC0, CC BY, CC BY-SA, CC BY-ND: commercial use allowed under the terms of each license',
  noncommercial: 'CC BY-NC, CC BY-NC-SA, CC BY-NC-ND: non-commercial use only',
  other: 'no Creative Commons license or a custom one: read each article_license before any use',
} as const;

const q = (s: string) => JSON.stringify(s);

const HF_TYPE: Record<FieldKind, string> = { string: 'dtype: string', int: 'dtype: int64', 'string[]': 'list: string', 'int[]': 'list: int64' };

function sizeCategory(n: number): string {
  if (n < 1_000) return 'n<1K';
  if (n < 10_000) return '1K<n<10K';
  if (n < 100_000) return '10K<n<100K';
  if (n < 1_000_000) return '100K<n<1M';
  if (n < 10_000_000) return '1M<n<10M';
  return '10M<n<100M';
}

function featuresYaml(indent: string): string[] {
  const out = [
    `${indent}- name: __key__`,
    `${indent}  dtype: string`,
    `${indent}- name: __url__`,
    `${indent}  dtype: string`,
    `${indent}- name: jpg`,
    `${indent}  dtype: image`,
    `${indent}- name: json`,
    `${indent}  struct:`,
  ];
  for (const [name, kind] of Object.entries(fieldKinds(SampleJson)).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`${indent}  - name: ${name}`, `${indent}    ${HF_TYPE[kind]}`);
  }
  out.push(`${indent}- name: txt`, `${indent}  dtype: string`);
  return out;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const CLOUD_BUCKET_URL = 'https://pmc-oa-opendata.s3.amazonaws.com';

/** Where the articles were read, in words; a local folder's path says nothing to the card's readers. */
function sourceText(source: BuildScope['source']): string {
  switch (source.kind) {
    case 'cloud':
      return `read from the PMC Cloud Service bucket \`pmc-oa-opendata\`${source.url && source.url !== CLOUD_BUCKET_URL ? ` (through ${source.url})` : ''}`;
    case 'legacy-local':
      return "read from a local copy of PMC's legacy Open Access layout (`oa_file_list` and `oa_package/`)";
    case 'legacy-ftp':
    case 'legacy-http':
      return `read from PMC's legacy Open Access layout at ${source.url}`;
    default:
      return 'read from a source the build did not record';
  }
}

/** How the extract narrowed the source, each with the flag that did it; [] for the whole subset. */
function restrictions(sel: Selection): string[] {
  const out: string[] = [];
  if (sel.limit > 0) out.push(`only the first ${sel.limit} matching articles of the source's listing (\`--limit ${sel.limit}\`)`);
  if (sel.licenseGroups.length > 0 && sel.licenseGroups.length < 3) {
    out.push(`only the ${sel.licenseGroups.join(' and ')} license group${sel.licenseGroups.length > 1 ? 's' : ''} (\`--license ${sel.licenseGroups.join(',')}\`)`);
  }
  if (sel.pmcids > 0) out.push(`only the ${sel.pmcids} articles of a list of PMCIDs (\`--pmcids\`)`);
  if (sel.updatedFrom || sel.updatedTo) {
    const range = sel.updatedFrom && sel.updatedTo ? `from ${sel.updatedFrom} to ${sel.updatedTo}` : sel.updatedFrom ? `on or after ${sel.updatedFrom}` : `on or before ${sel.updatedTo}`;
    out.push(`only articles last updated ${range} (\`--updated-from\`/\`--updated-to\`)`);
  }
  return out;
}

/** A build that holds less than every figure of the subset, so far as the build recorded. */
function isPartial(scope: BuildScope): boolean {
  return scope.subsetWhere !== undefined || scope.selection === undefined || restrictions(scope.selection).length > 0;
}

function scopeText(scope: BuildScope, snapshot: string): string[] {
  const from = sourceText(scope.source);
  const parts: string[] = [];
  if (scope.subsetWhere !== undefined) {
    parts.push(
      `**A subset of another build of this dataset:** the samples whose index row matches \`${scope.subsetWhere.replaceAll('`', "'")}\`.`,
      'The build it was cut from:',
    );
  }
  const sel = scope.selection;
  const narrowed = sel ? restrictions(sel) : [];
  if (!sel) {
    parts.push(`Figures of the PubMed Central Open Access Subset, ${from}. The extract that made it did not record which articles it selected, so it may hold only part of the subset.`);
  } else if (narrowed.length > 0) {
    parts.push(`**A selection, not the whole PubMed Central Open Access Subset:** ${narrowed.join('; ')}; ${from}, as listed on ${snapshot}.`);
  } else {
    parts.push(`Every figure image of the PubMed Central Open Access Subset as listed on ${snapshot}, ${from}.`);
  }
  if (sel?.includeRetracted) parts.push('Retracted articles are included (`--include-retracted`); BIOMEDICA leaves them out.');
  return [parts.join(' ')];
}

/**
 * The sha256 manifest.json will have: it is written after the card, as writeJsonAtomic writes JSON
 * (stable key order, two-space indent, final newline). test/load-roundtrip.test.ts checks the two agree.
 */
function manifestSha256(manifest: LoadManifest): string {
  return sha256(stableStringify(manifest, 2) + '\n');
}

const BIOMEDICA_BIBTEX = [
  '@article{lozano2025biomedica,',
  '  title   = {{BIOMEDICA}: An Open Biomedical Image-Caption Archive, Dataset, and Vision-Language Models Derived from Scientific Literature},',
  '  author  = {Lozano, Alejandro and Sun, Min Woo and Burgess, James and Chen, Liangyu and Nirschl, Jeffrey J. and Gu, Jeffrey and',
  '             Lopez, Ivan and Aklilu, Josiah and Katzer, Austin Wolfgang and Chiu, Collin and Rau, Anita and Wang, Xiaohan and',
  '             Zhang, Yuhui and Song, Alfred Seunghoon and Tibshirani, Robert and Yeung-Levy, Serena},',
  '  journal = {arXiv preprint arXiv:2501.07171},',
  '  year    = {2025},',
  '  doi     = {10.48550/arXiv.2501.07171},',
  '}',
];

function citation(manifest: LoadManifest, scope: BuildScope, snapshot: string): string[] {
  const year = /^\d{4}/.exec(manifest.snapshotDate)?.[0];
  const partial = isPartial(scope) ? ', a selection' : '';
  return [
    '## Citation',
    '',
    `The dataset follows [BIOMEDICA](https://arxiv.org/abs/2501.07171) (Lozano et al., 2025); if you use it, cite BIOMEDICA:`,
    '',
    '```bibtex',
    ...BIOMEDICA_BIBTEX,
    '```',
    '',
    'and name this build, which is not BIOMEDICA\'s own release, by its snapshot date, its scope (above) and',
    'the sha256 of its `manifest.json`, which lists every file of the build with its own sha256:',
    '',
    '```bibtex',
    `@misc{pmc_oa_figures_${manifest.snapshotDate.replaceAll('-', '') || 'undated'},`,
    `  title        = {{PMC} Open Access figures in the {BIOMEDICA} format (snapshot ${snapshot}${partial})},`,
    `  howpublished = {Built with ${TOOL_NAME} ${TOOL_VERSION} from the PubMed Central Open Access Subset: ${manifest.totals.samples} samples from ${manifest.totals.articles} articles},`,
    `  note         = {manifest.json sha256 ${manifestSha256(manifest)}},`,
    ...(year ? [`  year         = {${year}},`] : []),
    '}',
    '```',
    '',
  ];
}

export function renderCard(manifest: LoadManifest, summary: DatasetSummary): string {
  const groups = manifest.groups;
  const snapshot = manifest.snapshotDate || 'unknown';
  const partial = isPartial(summary.scope) ? ', a selection' : '';
  const yaml: string[] = [
    '---',
    `pretty_name: ${q(`BIOMEDICA-format PMC Open Access figures (snapshot ${snapshot}${partial})`)}`,
    'license: other',
    'license_name: pmc-open-access-subset-per-article',
    'license_link: https://pmc.ncbi.nlm.nih.gov/tools/openftlist/',
    'language:',
    '- en',
    'tags:',
    '- biology',
    '- medical',
    '- webdataset',
    '- pubmed-central',
    'task_categories:',
    '- image-to-text',
    '- zero-shot-image-classification',
    'size_categories:',
    `- ${sizeCategory(manifest.totals.samples)}`,
  ];
  // An empty dataset has no config: an empty `configs:` would be a YAML null the Hub rejects.
  if (groups.length > 0) yaml.push('configs:');
  groups.forEach((g, i) => {
    yaml.push(`- config_name: ${g.group}`, '  data_files:', '  - split: train', `    path: ${g.group}/*.tar`);
    if (i === 0) yaml.push('  default: true');
  });
  if (groups.length > 0) yaml.push('dataset_info:');
  for (const g of groups) yaml.push(`- config_name: ${g.group}`, '  features:', ...featuresYaml('  '));
  yaml.push('---', '');

  const kinds = fieldKinds(SampleJson);
  const biomedica = new Set<string>(BIOMEDICA_FIELDS);
  const firstGroup = groups[0]?.group ?? 'commercial';
  const lastShard = (groups[0]?.shards.length ?? 1) - 1;
  const shardSpec = lastShard > 0 ? `{000000..${String(lastShard).padStart(6, '0')}}.tar` : '000000.tar';

  const body: string[] = [
    `# PMC Open Access figures in the BIOMEDICA format (snapshot ${snapshot}${partial})`,
    '',
    ...scopeText(summary.scope, snapshot),
    '',
    "Each figure comes with its caption, the paragraphs that cite it and its article's metadata, as",
    'WebDataset shards (one folder per license group), with a Parquet index of every sample and a',
    `Parquet table of article-level text. Built with the \`${TOOL_NAME}\` tool (${TOOL_VERSION}); the sample metadata keeps`,
    'the 25 field names of [BIOMEDICA](https://arxiv.org/abs/2501.07171) so that code written for it keeps working.',
    '',
    `**This is a snapshot.** It reflects PMC as listed on ${snapshot}. Articles added, corrected,`,
    'retracted or withdrawn after that date are not reflected here; rebuild from a newer snapshot for',
    'current content.',
    '',
    '## Contents',
    '',
    '| config (folder) | licenses | samples | articles | shards | size |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...groups.map(
      (g) => `| \`${g.group}\` | ${GROUP_TEXT[g.group]} | ${g.samples} | ${g.articles} | ${g.shards.length} | ${formatBytes(g.bytes)} |`,
    ),
    `| total | | ${manifest.totals.samples} | ${manifest.totals.articles} | ${manifest.totals.shards} | ${formatBytes(manifest.totals.bytes)} |`,
    '',
  ];
  const c = summary.clustering;
  if (c) {
    body.push(
      '## Clusters and labels',
      '',
      `Every image was embedded with \`${c.modelFile}\` (sha256 \`${c.modelSha256.slice(0, 16)}…\`, ${c.dim}-value`,
      `embeddings, preprocessing recipe \`${c.recipe}\`, on ${c.providers.join(', ')}), reduced to ${c.components} PCA components and`,
      `clustered with k-means into ${c.clusters} clusters fitted on ${c.sampleSize} images; \`image_cluster_id\` is the`,
      `cluster. ${c.clustersLabelled} of the ${c.clusters} clusters carry expert labels, which every image of the`,
      'cluster inherits (`image_panel_type`, `image_panel_subtype`, `image_primary_label`,',
      '`image_secondary_label`); an image of an unlabelled cluster has `image_label_id` \'\'.',
      '',
    );
    // The project's own demo model (scripts/make-models.ts) says so in its name; its clusters
    // are of image statistics, and a reader of the card must not take them for DINOv2's.
    if (/features/i.test(c.modelFile)) {
      body.push(
        `\`${c.modelFile}\` looks like biomedica's demo feature model (colour, intensity and gradient statistics,`,
        'made by `npm run models`), not DINOv2: its clusters group images that look alike and say nothing more.',
        '',
      );
    }
  }
  const concepts = Object.entries(summary.byPanelType).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (concepts.length > 0) {
    body.push('Samples by panel type:', '', '| image_panel_type | samples |', '| --- | ---: |');
    for (const [name, n] of concepts) body.push(`| ${name} | ${n} |`);
    body.push('');
  } else {
    body.push('The images are not clustered or labelled in this build: `image_cluster_id` is -1 and the label', 'fields are empty.', '');
  }
  body.push(
    '## Loading',
    '',
    'Run in this folder (once it is on the Hub, pass the repository id in place of `os.getcwd()`;',
    '`datasets` refuses a bare `"."`):',
    '',
    '```python',
    'import os',
    'from datasets import load_dataset',
    `ds = load_dataset(os.getcwd(), "${firstGroup}", split="train", streaming=True)`,
    '```',
    '',
    '```python',
    'import webdataset as wds',
    `ds = wds.WebDataset("${firstGroup}/${shardSpec}").decode("pil").to_tuple("jpg", "txt", "json")`,
    '```',
    '',
    `Filter without reading the shards: \`index/<group>.parquet\` has one row per sample (key, shard,`,
    'byte offset, caption, labels, article ids, license, sizes, hash), e.g. with DuckDB:',
    '',
    '```sql',
    `SELECT key, shard, "offset" FROM 'index/${firstGroup}.parquet' WHERE image_panel_type = 'Microscopy';`,
    '```',
    '',
    '## Sample layout',
    '',
    'Each sample is three tar members sharing a key (no dots; `__key__` in Hugging Face):',
    '`<key>.jpg` (the stored JPEG), `<key>.txt` (the caption, UTF-8) and `<key>.json` (the fields',
    'below; every sample has every field, never null, with typed empty values when unknown).',
    '',
    `Layout: **${manifest.layout}**. ` +
      (manifest.layout === 'normalized'
        ? 'Article-level text that is the same for every figure of an article (`article_text`, `image_set`, `article_reference_list`) is stored once per article in `articles/<group>.parquet` (join on `article_id`); in the samples these three fields are empty. (BIOMEDICA repeated them in every sample; `biomedica load --denormalized` builds that layout.)'
        : 'As in BIOMEDICA, `article_text`, `image_set` and `article_reference_list` are repeated in every sample of an article; `articles/<group>.parquet` holds them once per article as well.'),
    '',
    '| field | type | BIOMEDICA field | meaning |',
    '| --- | --- | --- | --- |',
    ...Object.entries(SAMPLE_FIELD_DOCS).map(
      ([name, doc]) => `| \`${name}\` | ${kinds[name]} | ${biomedica.has(name) ? 'yes' : ''} | ${doc.replaceAll('|', '\\|')} |`,
    ),
    '',
    'Differences from BIOMEDICA: `image_hash` is the sha256 of the stored bytes (not of a re-encoding),',
    "`article_date` is the XML's publication date (not parsed from the citation), `image_context` holds",
    'the paragraphs that cite the figure, `article_reference_list` holds the references (BIOMEDICA left it empty), shards are about ' +
      `${formatBytes(manifest.options.shardMaxBytes)} (at most ${manifest.options.shardMaxSamples} samples), and the normalized layout above.`,
    '',
    '## Files',
    '',
    '- `<group>/NNNNNN.tar`: shards, numbered from 000000 without gaps, in a fixed order (extract unit,',
    '  article, figure, image); the same inputs give byte-identical shards.',
    '- `index/<group>.parquet`: one row per sample; `offset` is the byte offset of its first tar header.',
    '- `articles/<group>.parquet`: one row per article with samples: full text, figure set, references.',
    '- `stats/<group>/NNNNNN.json`: per-shard counts and sha256; `stats/summary.json`: dataset counts,',
    '  what was left out and why; `manifest.json`: every file with its sha256.',
    '',
    '## Source, licenses and attribution',
    '',
    'The articles and images come from the PubMed Central® (PMC) Open Access Subset, provided by the',
    'U.S. National Library of Medicine (NLM), National Center for Biotechnology Information. PMC and',
    'NLM do not endorse this dataset. Each article keeps its own license (`article_license`,',
    '`article_license_url`); the three configs split the articles by license as PMC lists them, and',
    'the copyright and license terms of every article apply to its figures and text. Using the PMC',
    `data is subject to the terms of the PMC Open Access Subset${summary.scope.source.kind === 'cloud' ? ' and of the PMC Cloud Service bucket it was read from' : ''};`,
    'see https://pmc.ncbi.nlm.nih.gov/tools/openftlist/.',
    '',
    `Left out: ${summary.leftOut.tombstonedArticles} retracted or removed articles,`,
    `${summary.leftOut.articlesWithoutSamples} articles with no figure to keep,`,
    `${summary.leftOut.figuresFiltered} filtered figures (no caption or image too small),`,
    `${summary.leftOut.figuresFailed} figures whose image could not be read.`,
    '',
    ...citation(manifest, summary.scope, snapshot),
  );
  return yaml.join('\n') + '\n' + body.join('\n');
}
