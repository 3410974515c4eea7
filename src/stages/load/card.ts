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
import type { DatasetSummary } from './summary.js';

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

export function renderCard(manifest: LoadManifest, summary: DatasetSummary): string {
  const groups = manifest.groups;
  const snapshot = manifest.snapshotDate || 'unknown';
  const yaml: string[] = [
    '---',
    `pretty_name: ${q(`BIOMEDICA-format PMC Open Access figures (snapshot ${snapshot})`)}`,
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
    `# PMC Open Access figures in the BIOMEDICA format (snapshot ${snapshot})`,
    '',
    'Every figure image of the PubMed Central Open Access Subset with its caption, the paragraphs that',
    "cite it and its article's metadata, as WebDataset shards (one folder per license group), a Parquet",
    'index of every sample and a Parquet table of article-level text. Built with',
    'the `biomedica` tool from the PMC data; the sample metadata keeps the 25 field names',
    'of [BIOMEDICA](https://arxiv.org/abs/2501.07171) so that code written for it keeps working.',
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
    '```python',
    'from datasets import load_dataset',
    `ds = load_dataset("<this repo or folder>", "${firstGroup}", split="train", streaming=True)`,
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
    'data is subject to the terms of the PMC Open Access Subset and of the PMC Cloud Service bucket it',
    'was read from; see https://pmc.ncbi.nlm.nih.gov/tools/openftlist/.',
    '',
    `Left out: ${summary.leftOut.tombstonedArticles} retracted or removed articles, ${summary.leftOut.articlesWithoutSamples} articles`,
    `with no figure to keep, ${summary.leftOut.figuresFiltered} filtered figures (no caption or image too small),`,
    `${summary.leftOut.figuresFailed} figures whose image could not be read.`,
    '',
  );
  return yaml.join('\n') + '\n' + body.join('\n');
}
