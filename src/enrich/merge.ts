/**
 * How load folds PubMed enrichment into article records. Records are only trusted when the unit's
 * marker says they were made from the articles.jsonl load is reading (a redone unit must be
 * enriched again); a unit without enrichment loads with meshTerms [] as before.
 */
import { readJsonIfExists, readJsonl } from '../storage/files.js';
import type { ArticleRecord } from '../manifest/records.js';
import { PubmedRecord, PubmedUnitMarker, pubmedPaths } from './records.js';

export async function readPubmedForUnit(
  outDir: string,
  unit: string,
  articlesSha256: string,
): Promise<Map<string, PubmedRecord> | undefined> {
  const paths = pubmedPaths(outDir);
  const marker = PubmedUnitMarker.safeParse(await readJsonIfExists(paths.unitMarker(unit)));
  if (!marker.success || marker.data.articlesSha256 !== articlesSha256) return undefined;
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
