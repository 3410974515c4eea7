/**
 * The configuration, parsed once at the boundary. Layers, each overriding the one before:
 * config/defaults.json, a --config file, BIOMEDICA_<SECTION>_<KEY> environment variables, flags.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { LicenseGroupSchema } from '../manifest/license.js';

const LicenseGroups = z.array(LicenseGroupSchema).min(1);
const IsoDay = z.union([z.literal(''), z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')]);

export const Config = z.object({
  source: z.object({
    url: z.string().min(1),
    cloudBaseUrl: z.string().url(),
    keepDownloads: z.boolean(),
  }),
  filter: z.object({
    licenseGroups: LicenseGroups,
    includeRetracted: z.boolean(),
    limit: z.number().int().min(0),
    updatedFrom: IsoDay,
    updatedTo: IsoDay,
    pmcidsFile: z.string(),
  }),
  network: z.object({
    connections: z.number().int().min(1).max(256),
    requestsPerSecond: z.number().min(0),
    retries: z.number().int().min(0).max(50),
    retryBaseMs: z.number().int().min(0),
    retryMaxMs: z.number().int().min(0),
    timeoutMs: z.number().int().min(100),
    userAgent: z.string().min(1),
  }),
  extract: z.object({
    unitSize: z.number().int().min(1).max(100_000),
    articleConcurrency: z.number().int().min(1).max(256),
    imageConcurrency: z.number().int().min(1).max(64),
    maxFailureRate: z.number().min(0).max(1),
  }),
  images: z.object({
    quality: z.number().int().min(1).max(100),
    maxSide: z.number().int().min(16),
    maxPixels: z.number().int().min(1),
    maxInputBytes: z.number().int().min(1),
  }),
  keep: z.object({
    minCaptionChars: z.number().int().min(0),
    minSide: z.number().int().min(0),
  }),
  package: z.object({
    maxEntryBytes: z.number().int().min(1),
    maxTotalBytes: z.number().int().min(1),
    maxEntries: z.number().int().min(1),
  }),
  cloud: z.object({
    openAccessOnly: z.boolean(),
    metadataConcurrency: z.number().int().min(1).max(1024),
    inventoryPrefix: z.string().min(1).endsWith('/'),
    inventoryWindowDays: z.number().int().min(1),
    sortChunkRows: z.number().int().min(1000),
  }),
  pubmed: z.object({
    baseUrl: z.string().url(),
    tool: z.string(),
    email: z.string(),
    apiKey: z.string(),
    batchSize: z.number().int().min(1).max(10_000),
    /** 0: NCBI's published limit, 3 requests/s, or 10 with an API key. */
    requestsPerSecond: z.number().min(0),
    concurrency: z.number().int().min(1).max(64),
  }),
});
export type Config = z.infer<typeof Config>;

type Plain = Record<string, unknown>;
export type ConfigOverrides = { [S in keyof Config]?: Partial<Config[S]> };

const defaultsUrl = new URL('../../config/defaults.json', import.meta.url);

export function loadDefaults(): Plain {
  return JSON.parse(readFileSync(defaultsUrl, 'utf8')) as Plain;
}

function readConfigFile(path: string): Plain {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Plain;
  } catch (error) {
    throw new UsageError('CONFIG_FILE', `cannot read config file ${path}: ${(error as Error).message}`, {
      path,
      hint: 'pass a JSON file with the shape of config/defaults.json',
    });
  }
}

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/** Environment values arrive as strings: coerce them to the type the default has. */
function fromEnv(defaults: Plain, env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  for (const [section, values] of Object.entries(defaults)) {
    for (const [key, def] of Object.entries(values as Plain)) {
      const raw = env[`BIOMEDICA_${snake(section)}_${snake(key)}`];
      if (raw === undefined) continue;
      let value: unknown = raw;
      if (typeof def === 'number') value = Number(raw);
      else if (typeof def === 'boolean') value = raw === '1' || raw.toLowerCase() === 'true';
      else if (Array.isArray(def)) value = raw.split(',').map((s) => s.trim()).filter(Boolean);
      ((out[section] ??= {}) as Plain)[key] = value;
    }
  }
  return out;
}

function merge(base: Plain, over: Plain | undefined): Plain {
  if (!over) return base;
  const out: Plain = { ...base };
  for (const [section, values] of Object.entries(over)) {
    if (values === undefined) continue;
    const defined = Object.fromEntries(Object.entries(values as Plain).filter(([, v]) => v !== undefined));
    out[section] = { ...(base[section] as Plain | undefined), ...defined };
  }
  return out;
}

export function resolveConfig(opts: {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
}): Config {
  const defaults = loadDefaults();
  let merged = defaults;
  if (opts.configFile) merged = merge(merged, readConfigFile(opts.configFile));
  merged = merge(merged, fromEnv(defaults, opts.env ?? process.env));
  merged = merge(merged, opts.overrides as Plain | undefined);
  const parsed = Config.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.');
    throw new UsageError('CONFIG_INVALID', `invalid setting ${where}: ${issue.message}`, {
      setting: where,
      hint: `see config/README.md; env var BIOMEDICA_${issue.path.map((p) => snake(String(p))).join('_')}`,
    });
  }
  return parsed.data;
}
