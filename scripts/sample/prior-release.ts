// A stand-in for an earlier labelled BIOMEDICA release, for the demo: the bundled sample's ground
// truth (sample/sample-truth.jsonl: every figure's kind, as the generator drew it) written as a
// BIOMEDICA-style index, one row per figure image with the expert fields an earlier release would
// carry. `biomedica annotate transfer` bootstraps the demo's cluster labels from it by majority
// vote, as it would from the real release on a full build (README "Expert labels").
//
//   tsx scripts/sample/prior-release.ts [--truth sample/sample-truth.jsonl] --out FILE.jsonl
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { FigureKind } from './figures.js';

interface Labels {
  image_panel_type: string;
  image_panel_subtype: string;
  image_primary_label: string[];
  image_secondary_label: string[];
}

const single = (global: string, local: string): Labels => ({
  image_panel_type: 'single',
  image_panel_subtype: 'single panel',
  image_primary_label: [global],
  image_secondary_label: [local],
});

/** Each drawn kind, in the class names of BIOMEDICA's taxonomy (config/taxonomy/). */
export const KIND_LABELS: Readonly<Record<FigureKind, Labels>> = {
  line: single('Plots and Charts', 'line plot'),
  bar: single('Plots and Charts', 'bar plot'),
  scatter: single('Plots and Charts', 'scatter plot'),
  boxplot: single('Plots and Charts', 'box plot'),
  survival: single('Plots and Charts', 'survival curve'),
  heatmap: single('Plots and Charts', 'heatmap plot'),
  blot: single('Immuno Assays', 'immunoblot'),
  microscopy: single('Microscopy', 'fluorescence microscopy'),
  histology: single('Microscopy', 'light microscopy'),
  radiograph: single('Clinical Imaging', 'x-ray radiography'),
  flowchart: single('Illustrative Diagrams', 'flowchart'),
  panels: {
    image_panel_type: 'multiple',
    image_panel_subtype: 'multiple panels: images & plots',
    image_primary_label: ['Microscopy', 'Plots and Charts'],
    image_secondary_label: ['fluorescence microscopy', 'bar plot'],
  },
};

interface TruthArticle {
  pmcid: string;
  figures: { kind: FigureKind; files: string[] }[];
}

const { values } = parseArgs({ options: { truth: { type: 'string', default: 'sample/sample-truth.jsonl' }, out: { type: 'string' } } });
if (!values.out) throw new Error('--out FILE.jsonl is required');
const rows: string[] = [];
for (const line of (await readFile(values.truth!, 'utf8')).split('\n')) {
  if (!line.trim()) continue;
  const article = JSON.parse(line) as TruthArticle;
  for (const figure of article.figures) {
    // The full-size file extract stores; the .gif beside it is PMC's thumbnail.
    const file = figure.files.find((f) => !f.endsWith('.gif'));
    if (file) rows.push(JSON.stringify({ pmcid: article.pmcid, image_file_name: file, ...KIND_LABELS[figure.kind] }));
  }
}
await writeFile(values.out, rows.join('\n') + '\n');
console.log(JSON.stringify({ out: values.out, rows: rows.length }));
