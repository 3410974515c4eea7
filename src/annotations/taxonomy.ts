/**
 * The taxonomy expert labels are checked against: BIOMEDICA's shape, `{"<global class>": ["<local
 * class>", …]}` (config/taxonomy/, MIT, see PROVENANCE.md there). Local class names are unique
 * across global classes in the released file; a taxonomy where they are not is still accepted (a
 * local class then belongs to each global class that lists it).
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { sha256 } from '../storage/files.js';

/** Where relative `annotations.taxonomy` settings are resolved: the folder holding config/. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The panel values BIOMEDICA's released cluster labels use. Their taxonomy files do not list them,
 * so they live here; a misspelt panel type would otherwise split the dataset's counts silently.
 */
export const PANEL_TYPES = ['single', 'multiple'] as const;
export const PANEL_SUBTYPES = [
  'single panel',
  'multiple panels: images',
  'multiple panels: images & plots',
  'multiple panels: images & assays',
] as const;

const TaxonomyFile = z.record(z.string().min(1), z.array(z.string().min(1)).min(1));

export interface Taxonomy {
  path: string;
  sha256: string;
  /** Global classes in file order. */
  globals: string[];
  /** Every local class, with the global classes that list it. */
  localOwners: Map<string, string[]>;
  panelTypes: readonly string[];
  panelSubtypes: readonly string[];
}

/** Relative paths are taken from the package root (config/defaults.json ships one that way). */
export function resolveTaxonomyPath(setting: string): string {
  return isAbsolute(setting) ? setting : resolve(PACKAGE_ROOT, setting);
}

export async function readTaxonomy(path: string): Promise<Taxonomy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ManifestError('TAXONOMY_MISSING', `cannot read the taxonomy file ${path}`, {
      path,
      cause,
      hint: 'pass --taxonomy FILE, or leave it out to use the shipped BIOMEDICA taxonomy (config/taxonomy/)',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError('TAXONOMY_INVALID', `the taxonomy file ${path} is not JSON`, { path, cause, hint: taxonomyShapeHint });
  }
  const parsed = TaxonomyFile.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestError('TAXONOMY_INVALID', `the taxonomy file ${path} does not have BIOMEDICA's shape`, {
      path,
      issues: parsed.error.issues,
      hint: taxonomyShapeHint,
    });
  }
  return taxonomyOf(parsed.data, { path, sha256: sha256(text) });
}

const taxonomyShapeHint = 'a taxonomy is a JSON object {"<global class>": ["<local class>", ...]}, like config/taxonomy/taxonomy_collapsed_and_filtered.json';

export function taxonomyOf(classes: Record<string, string[]>, source: { path: string; sha256: string }): Taxonomy {
  const localOwners = new Map<string, string[]>();
  for (const [global, locals] of Object.entries(classes)) {
    for (const local of locals) {
      const owners = localOwners.get(local) ?? [];
      if (!owners.includes(global)) owners.push(global);
      localOwners.set(local, owners);
    }
  }
  return { ...source, globals: Object.keys(classes), localOwners, panelTypes: PANEL_TYPES, panelSubtypes: PANEL_SUBTYPES };
}

/**
 * The valid name closest to `name`, for "did you mean" in reports: case and spacing are ignored
 * first (the commonest slip: 'Bar Plot', 'bar  plot'), then the smallest edit distance wins, ties
 * going to the earlier candidate. Undefined when nothing is within half the name's length.
 */
export function nearestName(name: string, candidates: Iterable<string>): string | undefined {
  const folded = fold(name);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const other = fold(candidate);
    if (other === folded) return candidate;
    const d = editDistance(folded, other);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.ceil(folded.length / 2)) ? best : undefined;
}

const fold = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, ' ').trim();

/** Levenshtein distance, two rows: names are short, so this stays trivially cheap. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
