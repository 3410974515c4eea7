/**
 * How load folds PubMed enrichment into article records. Records are only trusted when the unit's
 * marker says they were made from the articles.jsonl load is reading (a redone unit must be
 * enriched again); a unit without enrichment loads with meshTerms [] as before. Records changed
 * since their marker stop the load: merging them silently, or silently not, would both be wrong.
 */
import { ManifestError } from '../errors.js';
import { readMarker } from '../pipeline/runner.js';
import { readJsonl } from '../storage/files.js';
import type { ArticleRecord } from '../manifest/records.js';
import { PubmedRecord, pubmedPaths, pubmedStep, pubmedUnit } from './records.js';

export async function readPubmedForUnit(
  outDir: string,
  unit: string,
  articlesSha256: string,
): Promise<Map<string, PubmedRecord> | undefined> {
  const paths = pubmedPaths(outDir);
  const found = await readMarker(pubmedStep(outDir), pubmedUnit(unit, articlesSha256), 'fast');
  if (found.state === 'changed') {
    throw new ManifestError('MANIFEST_MISMATCH', `PubMed records of unit ${unit} changed since enrichment: ${found.why}`, {
      path: paths.unitRecords(unit),
      hint: 'rerun biomedica enrich: it redoes that unit (from its cache, no new requests)',
    });
  }
  if (found.state !== 'done') return undefined;
  const out = new Map<string, PubmedRecord>();
  for await (const raw of readJsonl(paths.unitRecords(unit))) {
    const record = PubmedRecord.safeParse(raw);
    if (record.success) out.set(record.data.articleId, record.data);
  }
  return out;
}

/** MeSH terms come from PubMed; abstract and reference PMIDs only where the nXML had none. */
export function mergePubmed(article: ArticleRecord, pubmed: PubmedRecord | undefined): ArticleRecord {
  if (!pubmed || !pubmed.found) return article;
  return {
    ...article,
    meshTerms: pubmed.meshTerms,
    abstract: article.abstract || pubmed.abstract,
    referencePmids: article.referencePmids.length > 0 ? article.referencePmids : pubmed.referencePmids,
  };
}
