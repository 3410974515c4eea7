/**
 * The one manifest reader. Every stage, `verify` and `query` read manifests and plans through it,
 * so the same damage gives the same code and exit everywhere:
 *
 *   MANIFEST_MISSING   no file                                 (exit 3)
 *   MANIFEST_INVALID   not JSON, or not the schema's shape     (exit 3)
 *   MANIFEST_VERSION   another schema name or version          (exit 3)
 *
 * The schema must have literal `schema` and `version` fields (all of ours do); the version is
 * checked before the shape, so an older manifest says "version", not "invalid".
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ManifestError } from '../errors.js';
import { storageFault } from '../storage/faults.js';
import { sha256 } from '../storage/files.js';

type Versioned = z.ZodObject<{ schema: z.ZodLiteral<string>; version: z.ZodLiteral<number> } & z.ZodRawShape>;

export interface ManifestHints {
  /** What to do when there is no manifest (usually: run the stage that writes it). */
  missing: string;
  /** What to do when it is damaged or of another version (usually: rerun that stage). */
  invalid: string;
}

export interface ManifestRead<T> {
  value: T;
  /** sha256 of the file's bytes: what a downstream manifest records as its upstream. */
  sha256: string;
  text: string;
}

export async function readManifest<S extends Versioned>(path: string, schema: S, hint: string | ManifestHints): Promise<ManifestRead<z.infer<S>>> {
  const hints = typeof hint === 'string' ? { missing: hint, invalid: hint } : hint;
  const name = schema.shape.schema.value;
  const version = schema.shape.version.value;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ManifestError('MANIFEST_MISSING', `no ${name} manifest at ${path}`, { path, hint: hints.missing });
    }
    throw storageFault(error) ?? error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError('MANIFEST_INVALID', `${path} is not JSON (${(cause as Error).message})`, { path, cause, hint: hints.invalid });
  }
  const head = (raw ?? {}) as { schema?: unknown; version?: unknown };
  if (typeof raw !== 'object' || head.schema !== name || head.version !== version) {
    throw new ManifestError('MANIFEST_VERSION', `${path}: expected ${name} v${version}, got ${String(head.schema)} v${String(head.version)}`, {
      path,
      hint: hints.invalid,
    });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ManifestError('MANIFEST_INVALID', `${path} does not match the ${name} schema${issue ? ` (${issue.path.join('.') || '(root)'}: ${issue.message})` : ''}`, {
      path,
      issues: parsed.error.issues,
      hint: hints.invalid,
    });
  }
  return { value: parsed.data, sha256: sha256(text), text };
}
