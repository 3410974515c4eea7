/**
 * The card states what the build is: its scope as the extract selected it (a --limit 5 build from a
 * local mirror is not "every figure of PMC-OA read from the cloud bucket"), how to cite BIOMEDICA
 * and this build, and loading snippets that run as written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Selection } from '../../manifest/extract-manifest.js';
import type { LoadManifest } from '../../manifest/load-manifest.js';
import { renderCard } from './card.js';
import type { BuildScope, DatasetSummary } from './summary.js';

const WHOLE: Selection = { licenseGroups: ['commercial', 'noncommercial', 'other'], limit: 0, pmcids: 0, updatedFrom: '', updatedTo: '', includeRetracted: false };

function card(scope: BuildScope): string {
  const manifest: LoadManifest = {
    schema: 'biomedica.load',
    version: 1,
    layout: 'normalized',
    snapshotDate: '2025-12-08',
    options: { shardMaxBytes: 1e9, shardMaxSamples: 10_000, includeSubArticles: true },
    upstream: { kind: 'extract', manifestSha256: 'a'.repeat(64), transformSha256: '' },
    groups: [
      {
        group: 'commercial',
        samples: 3,
        articles: 2,
        bytes: 3000,
        shards: [{ shard: 'commercial/000000.tar', samples: 3, bytes: 3000, sha256: 'b'.repeat(64) }],
        index: { file: 'index/commercial.parquet', sha256: 'c'.repeat(64), rows: 3 },
        articlesTable: { file: 'articles/commercial.parquet', sha256: 'd'.repeat(64), rows: 2 },
      },
    ],
    totals: { samples: 3, articles: 2, shards: 1, bytes: 3000 },
  } as LoadManifest;
  const summary = {
    scope,
    layout: 'normalized',
    snapshotDate: '2025-12-08',
    samples: 3,
    articles: 2,
    shards: 1,
    bytes: 3000,
    groups: [],
    labelled: false,
    unlabelled: 0,
    byPanelType: {},
    leftOut: { tombstonedArticles: 0, articlesWithoutSamples: 1, figuresFiltered: 0, figuresFailed: 0, subArticleFigures: 0, samplesFailed: 0 },
    filteredByReason: {},
    failures: { extract: {}, load: {} },
  } as DatasetSummary;
  return renderCard(manifest, summary);
}

const codeBlocks = (text: string) => [...text.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]!);

test('a whole build from the cloud bucket says so', () => {
  const text = card({ source: { kind: 'cloud', url: 'https://pmc-oa-opendata.s3.amazonaws.com', snapshotDate: '2025-12-08' }, selection: WHOLE });
  assert.match(text, /Every figure image of the PubMed Central Open Access Subset as listed on 2025-12-08, read from the PMC Cloud Service bucket `pmc-oa-opendata`\./);
  assert.match(text, /and of the PMC Cloud Service bucket it was read from/);
  assert.doesNotMatch(text, /a selection/i);
});

test('a --limit 5 build from a local mirror is a selection, read from a local copy (whose path is not published)', () => {
  const text = card({
    source: { kind: 'legacy-local', url: '/home/someone/pmc-mirror', snapshotDate: '2025-12-08' },
    selection: { ...WHOLE, limit: 5, licenseGroups: ['commercial'] },
  });
  assert.match(text, /^pretty_name: "BIOMEDICA-format PMC Open Access figures \(snapshot 2025-12-08, a selection\)"$/m);
  assert.match(text, /^# PMC Open Access figures in the BIOMEDICA format \(snapshot 2025-12-08, a selection\)$/m);
  assert.match(text, /\*\*A selection, not the whole PubMed Central Open Access Subset:\*\* only the first 5 matching articles .*\(`--limit 5`\); only the commercial license group \(`--license commercial`\); read from a local copy/);
  assert.doesNotMatch(text, /Every figure image/);
  assert.doesNotMatch(text, /Cloud Service bucket/);
  assert.doesNotMatch(text, /someone/);
});

test('an extract that did not record its selection, and a query subset, do not claim the whole subset', () => {
  const unknown = card({ source: { kind: 'legacy-ftp', url: 'ftp://mirror.example.org/pub/pmc', snapshotDate: '' } });
  assert.match(unknown, /did not record which articles it selected, so it may hold only part of the subset/);
  assert.match(unknown, /at ftp:\/\/mirror\.example\.org\/pub\/pmc/);
  const subset = card({ source: { kind: 'cloud', url: 'https://pmc-oa-opendata.s3.amazonaws.com', snapshotDate: '' }, selection: WHOLE, subsetWhere: "image_panel_type = 'Microscopy'" });
  assert.match(subset, /A subset of another build of this dataset:\*\* the samples whose index row matches `image_panel_type = 'Microscopy'`\. The build it was cut from: Every figure image/);
  assert.match(subset, /snapshot 2025-12-08, a selection/);
});

test("a citation section: BIOMEDICA's BibTeX, and this build named by snapshot, tool and manifest sha256", () => {
  const text = card({ source: { kind: 'cloud', url: 'https://pmc-oa-opendata.s3.amazonaws.com', snapshotDate: '2025-12-08' }, selection: WHOLE });
  const citation = text.slice(text.indexOf('## Citation'));
  assert.ok(citation.length > 0);
  const [biomedica, build] = codeBlocks(citation);
  assert.match(biomedica!, /^@article\{lozano2025biomedica,/);
  assert.match(biomedica!, /title += \{\{BIOMEDICA\}: An Open Biomedical Image-Caption Archive, Dataset, and Vision-Language Models Derived from Scientific Literature\}/);
  assert.match(biomedica!, /author += \{Lozano, Alejandro and Sun, Min Woo/);
  assert.match(biomedica!, /arXiv:2501\.07171/);
  assert.match(build!, /^@misc\{pmc_oa_figures_20251208,/);
  assert.match(build!, /Built with biomedica \d+\.\d+\.\d+ from the PubMed Central Open Access Subset: 3 samples from 2 articles/);
  assert.match(build!, /manifest\.json sha256 [0-9a-f]{64}\}/);
  assert.match(build!, /year += \{2025\}/);
});

test('no placeholder in any code block: each runs as written from the dataset folder', () => {
  const text = card({ source: { kind: 'cloud', url: 'https://pmc-oa-opendata.s3.amazonaws.com', snapshotDate: '2025-12-08' }, selection: WHOLE });
  const blocks = codeBlocks(text);
  assert.ok(blocks.length >= 4);
  for (const block of blocks) assert.doesNotMatch(block, /<[^>\n]*>|\.\.\.|\bTODO\b|your[-_ ]/i, block);
  assert.ok(blocks.some((b) => b.includes('load_dataset(os.getcwd(), "commercial", split="train", streaming=True)')));
});
