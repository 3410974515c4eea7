/**
 * What PubMed enrichment writes beside each extract unit, for the load stage to merge:
 *
 *   <out>/extract/units/<unit>/pubmed.jsonl       PubmedRecord per article of the unit, plan order
 *   <out>/extract/units/<unit>/pubmed.done.json   the unit's marker (src/pipeline/runner.ts, result
 *                                                 PubmedUnitResult), written last, atomically
 *   <out>/extract/pubmed.json                     PubmedManifest, when every unit is enriched
 *   <out>/cache/pubmed/<nnn>/<pmid>.xml           the raw <PubmedArticle> efetch returned
 *   <out>/cache/pubmed/<nnn>/<pmid>.none          efetch returned nothing for this PMID
 *
 * Merge rule for load: meshTerms go to article_mesh_terms; abstract and referencePmids fill the
 * article's only where the nXML had none (the publisher's own text wins).
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { StepIdentity, WorkUnit } from '../pipeline/runner.js';

export const MeshHeading = z.object({
  descriptor: z.string(),
  /** MeSH unique id, 'D006801'. */
  descriptorUi: z.string(),
  /** MajorTopicYN="Y" on the descriptor. */
  major: z.boolean(),
  qualifiers: z.array(z.object({ name: z.string(), ui: z.string(), major: z.boolean() })),
});
export type MeshHeading = z.infer<typeof MeshHeading>;

export const PubmedRecord = z.object({
  articleId: z.string(),
  /** '' when the article has no PMID. */
  pmid: z.string(),
  /** PubMed returned a record for the PMID. */
  found: z.boolean(),
  /**
   * Descriptor names in PubMed's order, once each ('Humans', 'Bacteria'): the form BIOMEDICA's
   * article_mesh_terms uses. Qualifiers and major-topic flags are in meshHeadings.
   */
  meshTerms: z.array(z.string()),
  meshHeadings: z.array(MeshHeading),
  /** AbstractText sections joined by '\n', each 'LABEL: text' when PubMed labels it. */
  abstract: z.string(),
  /** PMIDs of the references PubMed lists (PubmedData/ReferenceList), in order, once each. */
  referencePmids: z.array(z.string()),
});
export type PubmedRecord = z.infer<typeof PubmedRecord>;

export const PUBMED_VERSION = 1;

/** What a unit's enrichment marker records. */
export const PubmedUnitResult = z.object({
  records: z.number().int(),
  withPmid: z.number().int(),
  found: z.number().int(),
  withMesh: z.number().int(),
  /** sha256 of pubmed.jsonl. */
  sha256: z.string(),
});
export type PubmedUnitResult = z.infer<typeof PubmedUnitResult>;

export interface PubmedUnit extends WorkUnit {
  articlesSha256: string;
}

/** A unit is enriched for one articles.jsonl: a redone extract unit is enriched again. */
export function pubmedUnit(id: string, articlesSha256: string): PubmedUnit {
  return { id, key: articlesSha256, articlesSha256 };
}

/** The enrichment step's markers, as the stage writes them and load checks them. */
export function pubmedStep(outDir: string): StepIdentity<PubmedUnit, PubmedUnitResult> {
  const paths = pubmedPaths(outDir);
  return {
    name: 'enrich.pubmed',
    version: PUBMED_VERSION,
    result: PubmedUnitResult,
    markerPath: (u) => paths.unitMarker(u.id),
    outputRoot: (u) => join(outDir, 'extract', 'units', u.id),
  };
}

export const PubmedManifest = z.object({
  schema: z.literal('biomedica.enrich.pubmed'),
  version: z.literal(PUBMED_VERSION),
  /** sha256 of the extract manifest.json this enrichment covers. */
  extractManifestSha256: z.string(),
  units: z.array(z.object({ id: z.string(), records: z.number().int(), found: z.number().int(), sha256: z.string() })),
  totals: z.object({ articles: z.number().int(), withPmid: z.number().int(), found: z.number().int(), withMesh: z.number().int() }),
});
export type PubmedManifest = z.infer<typeof PubmedManifest>;

export const pubmedPaths = (outDir: string) => ({
  manifest: join(outDir, 'extract', 'pubmed.json'),
  unitRecords: (unit: string) => join(outDir, 'extract', 'units', unit, 'pubmed.jsonl'),
  unitMarker: (unit: string) => join(outDir, 'extract', 'units', unit, 'pubmed.done.json'),
  cache: (pmid: string, kind: 'xml' | 'none') =>
    join(outDir, 'cache', 'pubmed', String(Number(pmid) % 1000).padStart(3, '0'), `${pmid}.${kind}`),
});
