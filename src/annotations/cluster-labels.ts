/**
 * Cluster labels in BIOMEDICA's released format (annotations/cluster_labels.json of
 * minwoosun/biomedica-etl), read and checked against a taxonomy:
 *
 *   {"0": {"panel_type": "multiple", "panel_subtype": "single panel",
 *          "global_class": ["Immuno Assays"], "local_class": ["immunoblot"]}, "1": {…}, …}
 *
 * Keys are cluster ids ("0" … "K-1"). `global_class` and `local_class` are not paired by position
 * (the released file has 1 global with 2 locals, 2 with 3, …), and a local class does not always
 * sit under one of its cluster's global classes (91 of the 2,000 released clusters): both are
 * reported as notes, not errors, or the released labels themselves would not import.
 *
 * A cluster is unlabelled when it is missing from the file or all four fields are empty (what
 * `annotate export` writes for experts to fill in); it is incomplete when some fields are filled
 * and others are not. Neither stops an import: both are counted and listed.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { sha256 } from '../storage/files.js';
import { nearestName, type Taxonomy } from './taxonomy.js';

export const ClusterLabel = z.strictObject({
  panel_type: z.string(),
  panel_subtype: z.string(),
  global_class: z.array(z.string()),
  local_class: z.array(z.string()),
});
export type ClusterLabel = z.infer<typeof ClusterLabel>;

const CLUSTER_ID = /^(0|[1-9][0-9]{0,8})$/;

export const ClusterLabels = z.record(
  z.string().regex(CLUSTER_ID, 'cluster ids are non-negative integers written without leading zeros ("0", "17")'),
  ClusterLabel,
);
export type ClusterLabels = z.infer<typeof ClusterLabels>;

export const EMPTY_CLUSTER_LABEL: ClusterLabel = { panel_type: '', panel_subtype: '', global_class: [], local_class: [] };

export const isUnlabelled = (label: ClusterLabel | undefined): boolean =>
  label === undefined ||
  (label.panel_type === '' && label.panel_subtype === '' && label.global_class.length === 0 && label.local_class.length === 0);

/** The fields a labelled cluster left empty. */
export function missingFields(label: ClusterLabel): (keyof ClusterLabel)[] {
  return (Object.keys(EMPTY_CLUSTER_LABEL) as (keyof ClusterLabel)[]).filter((f) => label[f].length === 0);
}

export interface ReadLabels {
  labels: ClusterLabels;
  sha256: string;
  path: string;
}

export async function readClusterLabels(path: string): Promise<ReadLabels> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ManifestError('LABELS_MISSING', `cannot read the cluster labels file ${path}`, { path, cause, hint: 'check the path given to --labels' });
  }
  return { labels: parseClusterLabels(text, path), sha256: sha256(text), path };
}

export function parseClusterLabels(text: string, path: string): ClusterLabels {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError('LABELS_INVALID', `${path} is not JSON: ${(cause as Error).message}`, { path, hint: labelsShapeHint });
  }
  const parsed = ClusterLabels.safeParse(raw);
  if (!parsed.success) {
    // A bad key's own message (why the id is wrong) sits one level down in zod's issue.
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((i) => `${i.path.join('.') || '(top)'}: ${i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message}`);
    throw new ManifestError('LABELS_INVALID', `${path} is not in BIOMEDICA's cluster labels format: ${issues.join('; ')}`, {
      path,
      issues: parsed.error.issues.slice(0, 50),
      hint: labelsShapeHint,
    });
  }
  // JSON.parse keeps the last of two equal keys: a cluster pasted twice would lose a label silently.
  const repeated = repeatedTopLevelKeys(text);
  if (repeated.length > 0) {
    throw new ManifestError('LABELS_INVALID', `${path} gives clusters ${repeated.slice(0, 10).join(', ')} more than once`, {
      path,
      clusters: repeated,
      hint: 'keep one entry per cluster id',
    });
  }
  return parsed.data;
}

const labelsShapeHint =
  'cluster labels are {"<cluster id>": {"panel_type": "", "panel_subtype": "", "global_class": [], "local_class": []}, ...}: `biomedica annotate export` writes one to fill in';

/** Keys that occur more than once in the outermost object of a JSON text (already known valid). */
export function repeatedTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) repeated.add(key);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return [...repeated];
}

type Field = keyof ClusterLabel;

export interface UnknownName {
  field: Field;
  value: string;
  /** The closest valid name, when one is close enough to be a likely slip. */
  nearest: string;
  clusters: number;
  examples: string[];
}

export interface Listed {
  count: number;
  /** The first cluster ids, in numeric order. */
  examples: string[];
}

export interface LabelsReport {
  /** Clusters the fit has (K): every id in [0, K) is expected. */
  clusters: number;
  clustersFrom: 'flag' | 'model' | 'labels';
  labelled: number;
  /** Missing from the file, or present with every field empty. */
  unlabelled: Listed;
  /** Labelled but with some fields empty; `examples` name the fields. */
  incomplete: { count: number; examples: { cluster: string; missing: Field[] }[] };
  /** Names not in the taxonomy (errors): grouped by field and name, most frequent first. */
  unknown: { count: number; names: UnknownName[] };
  /** Ids ≥ K (errors): labels for clusters the fit does not have. */
  outOfRange: Listed;
  /** Notes: a local class none of the cluster's global classes lists; a class given twice. */
  localOutsideGlobal: Listed;
  repeatedClass: Listed;
  ok: boolean;
}

const EXAMPLES = 10;

const byNumber = (a: string, b: string) => Number(a) - Number(b);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function listed(ids: string[]): Listed {
  const sorted = [...ids].sort(byNumber);
  return { count: sorted.length, examples: sorted.slice(0, EXAMPLES) };
}

/**
 * Check labels against a taxonomy and the fit's cluster count. Pure: the caller decides what an
 * error means (import refuses to write; transfer's output is checked the same way by its tests).
 */
export function validateClusterLabels(
  labels: ClusterLabels,
  taxonomy: Taxonomy,
  clusters: { count: number; from: LabelsReport['clustersFrom'] },
): LabelsReport {
  const unknown = new Map<string, UnknownName>();
  const note = (field: Field, value: string, cluster: string, candidates: Iterable<string>) => {
    const id = `${field}\u0000${value}`;
    const entry = unknown.get(id) ?? { field, value, nearest: nearestName(value, candidates) ?? '', clusters: 0, examples: [] };
    entry.clusters++;
    if (entry.examples.length < EXAMPLES) entry.examples.push(cluster);
    unknown.set(id, entry);
  };
  const unlabelled: string[] = [];
  const incomplete: LabelsReport['incomplete']['examples'] = [];
  let incompleteCount = 0;
  const outOfRange: string[] = [];
  const outside: string[] = [];
  const repeated: string[] = [];
  let labelled = 0;
  const globals = new Set(taxonomy.globals);

  for (let k = 0; k < clusters.count; k++) if (!(String(k) in labels)) unlabelled.push(String(k));
  for (const id of Object.keys(labels).sort(byNumber)) {
    const label = labels[id]!;
    if (Number(id) >= clusters.count) outOfRange.push(id);
    if (isUnlabelled(label)) {
      if (Number(id) < clusters.count) unlabelled.push(id);
      continue;
    }
    labelled++;
    const missing = missingFields(label);
    if (missing.length > 0) {
      incompleteCount++;
      if (incomplete.length < EXAMPLES) incomplete.push({ cluster: id, missing });
    }
    if (label.panel_type !== '' && !taxonomy.panelTypes.includes(label.panel_type)) note('panel_type', label.panel_type, id, taxonomy.panelTypes);
    if (label.panel_subtype !== '' && !taxonomy.panelSubtypes.includes(label.panel_subtype)) {
      note('panel_subtype', label.panel_subtype, id, taxonomy.panelSubtypes);
    }
    for (const g of label.global_class) if (!globals.has(g)) note('global_class', g, id, taxonomy.globals);
    let isOutside = false;
    for (const l of label.local_class) {
      const owners = taxonomy.localOwners.get(l);
      if (!owners) note('local_class', l, id, taxonomy.localOwners.keys());
      else if (!owners.some((o) => label.global_class.includes(o))) isOutside = true;
    }
    if (isOutside) outside.push(id);
    if (new Set(label.global_class).size < label.global_class.length || new Set(label.local_class).size < label.local_class.length) {
      repeated.push(id);
    }
  }
  // Code-point order, not localeCompare: the report must not depend on the machine's locale.
  const names = [...unknown.values()].sort((a, b) => b.clusters - a.clusters || cmp(a.field, b.field) || cmp(a.value, b.value));
  return {
    clusters: clusters.count,
    clustersFrom: clusters.from,
    labelled,
    unlabelled: listed(unlabelled),
    incomplete: { count: incompleteCount, examples: incomplete },
    unknown: { count: names.reduce((n, u) => n + u.clusters, 0), names },
    outOfRange: listed(outOfRange),
    localOutsideGlobal: listed(outside),
    repeatedClass: listed(repeated),
    ok: names.length === 0 && outOfRange.length === 0,
  };
}

/** K when nothing else says it: one past the largest id in the file. */
export function clustersInLabels(labels: ClusterLabels): number {
  let max = -1;
  for (const id of Object.keys(labels)) max = Math.max(max, Number(id));
  return max + 1;
}

export function formatLabelsReport(report: LabelsReport, source: string): string {
  const lines = [
    `labels ${source}: ${report.labelled} of ${report.clusters} clusters labelled (K from ${report.clustersFrom})`,
    `  unlabelled          ${report.unlabelled.count}${examples(report.unlabelled)}`,
    `  incomplete          ${report.incomplete.count}${report.incomplete.examples.length ? ` (e.g. ${report.incomplete.examples.map((e) => `${e.cluster}: no ${e.missing.join(', ')}`).join('; ')})` : ''}`,
    `  unknown names       ${report.unknown.count} uses of ${report.unknown.names.length} names`,
  ];
  for (const u of report.unknown.names.slice(0, 20)) {
    const hint = u.nearest ? ` (did you mean "${u.nearest}"?)` : ' (no close valid name)';
    lines.push(`    ${u.field} "${u.value}"${hint} in ${u.clusters} clusters: ${u.examples.join(', ')}${u.clusters > u.examples.length ? ', …' : ''}`);
  }
  if (report.unknown.names.length > 20) lines.push(`    … ${report.unknown.names.length - 20} more names (--json lists them all)`);
  lines.push(
    `  ids out of range    ${report.outOfRange.count}${examples(report.outOfRange)}`,
    `  note: local class outside its cluster's global classes ${report.localOutsideGlobal.count}${examples(report.localOutsideGlobal)}`,
    `  note: class repeated within a cluster ${report.repeatedClass.count}${examples(report.repeatedClass)}`,
  );
  return lines.join('\n');
}

function examples(l: Listed): string {
  return l.count === 0 ? '' : ` (${l.examples.join(', ')}${l.count > l.examples.length ? ', …' : ''})`;
}
