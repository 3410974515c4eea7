/**
 * The license groups: BIOMEDICA's split of PMC-OA by what the license allows (SOURCES.md §1). One
 * definition for the whole tool: the config's filter, the sources' refs, the records and the
 * dataset's shard folders all use this type (the other modules re-export it).
 */
import { z } from 'zod';

export const LicenseGroupSchema = z.enum(['commercial', 'noncommercial', 'other']);
export type LicenseGroup = z.infer<typeof LicenseGroupSchema>;
export const LICENSE_GROUPS = LicenseGroupSchema.options;

/** A license code as PMC lists it ('CC BY', 'CC BY-NC', 'NO-CC CODE'…) → its group. Legacy file lists use the same codes. */
export function licenseGroupOf(code: string): LicenseGroup {
  const c = code.trim().toUpperCase().replace(/\s+/g, ' ');
  if (c === 'CC0' || c === 'CC BY' || c === 'CC BY-SA' || c === 'CC BY-ND') return 'commercial';
  if (c.startsWith('CC BY-NC')) return 'noncommercial';
  return 'other';
}
