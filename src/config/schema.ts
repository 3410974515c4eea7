/**
 * The configuration, parsed once at the boundary. Layers, each overriding the one before:
 * config/defaults.json, a --config file, BIOMEDICA_<SECTION>_<KEY> environment variables, flags.
 * Every layer is checked against one strict schema: an unknown section or key is an error that
 * names the nearest valid one, and a bad value is reported as the user wrote it (the flag, the
 * environment variable, or the setting in the file), not as an internal path.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { machineDefaults } from './cores.js';
import { LicenseGroupSchema } from '../manifest/license.js';

const LicenseGroups = z.array(LicenseGroupSchema).min(1);

/** True for a real calendar day written YYYY-MM-DD (2025-02-30 and 2025-13-45 are not). */
export function isCalendarDay(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export const CalendarDay = z.string().refine(isCalendarDay, 'expected a calendar date YYYY-MM-DD');
const OptionalDay = z.union([z.literal(''), CalendarDay]);

export const Config = z.strictObject({
  source: z.strictObject({
    url: z.string().min(1),
    cloudBaseUrl: z.string().url(),
    keepDownloads: z.boolean(),
  }),
  filter: z
    .strictObject({
      licenseGroups: LicenseGroups,
      includeRetracted: z.boolean(),
      limit: z.number().int().min(0),
      updatedFrom: OptionalDay,
      updatedTo: OptionalDay,
      pmcidsFile: z.string(),
    })
    .refine((f) => !f.updatedFrom || !f.updatedTo || f.updatedFrom <= f.updatedTo, {
      message: 'the start of the date range (updatedFrom) is after its end (updatedTo): no article can match',
      path: ['updatedFrom'],
    }),
  network: z.strictObject({
    connections: z.number().int().min(1).max(256),
    requestsPerSecond: z.number().min(0),
    /** Cloud bucket: the rate per host rises from requestsPerSecond to this while answers come back, and drops on 503 SlowDown or 429. */
    maxRequestsPerSecond: z.number().min(0),
    retries: z.number().int().min(0).max(50),
    retryBaseMs: z.number().int().min(0),
    retryMaxMs: z.number().int().min(0),
    timeoutMs: z.number().int().min(100),
    userAgent: z.string().min(1),
  }),
  extract: z.strictObject({
    unitSize: z.number().int().min(1).max(100_000),
    articleConcurrency: z.number().int().min(1).max(256),
    imageConcurrency: z.number().int().min(1).max(64),
    maxFailureRate: z.number().min(0).max(1),
  }),
  images: z.strictObject({
    quality: z.number().int().min(1).max(100),
    maxSide: z.number().int().min(16),
    maxPixels: z.number().int().min(1),
    maxInputBytes: z.number().int().min(1),
  }),
  keep: z.strictObject({
    minCaptionChars: z.number().int().min(0),
    minSide: z.number().int().min(0),
  }),
  package: z.strictObject({
    maxEntryBytes: z.number().int().min(1),
    maxTotalBytes: z.number().int().min(1),
    maxEntries: z.number().int().min(1),
  }),
  cloud: z.strictObject({
    openAccessOnly: z.boolean(),
    metadataConcurrency: z.number().int().min(1).max(1024),
    inventoryPrefix: z.string().min(1).endsWith('/'),
    inventoryWindowDays: z.number().int().min(1),
    sortChunkRows: z.number().int().min(1000),
  }),
  pubmed: z.strictObject({
    baseUrl: z.string().url(),
    tool: z.string(),
    email: z.string(),
    apiKey: z.string(),
    batchSize: z.number().int().min(1).max(10_000),
    /** 0: NCBI's published limit, 3 requests/s, or 10 with an API key. */
    requestsPerSecond: z.number().min(0),
    concurrency: z.number().int().min(1).max(64),
  }),
  load: z.strictObject({
    /** Shards are cut before they pass this size (1 GB: what the Hub and webdataset like). */
    shardMaxBytes: z.number().int().min(4096),
    shardMaxSamples: z.number().int().min(1),
    shardConcurrency: z.number().int().min(1).max(64),
    denormalized: z.boolean(),
    includeSubArticles: z.boolean(),
  }),
  transform: z.strictObject({
    /** The ONNX embedding model file ('' : none configured; transform then needs --model). */
    model: z.string(),
    /** 'biomedica': the paper's 224×224 resize, [0,1]; 'dinov2': resize 256, crop 224, ImageNet mean/std. */
    recipe: z.enum(['biomedica', 'dinov2']),
    device: z.enum(['auto', 'cuda', 'webgpu', 'cpu']),
    batchSize: z.number().int().min(1).max(4096),
    /** CPU threads for onnxruntime; 0: the cores available. */
    threads: z.number().int().min(0),
    /** PCA components (the paper says 25; its released code used 45). */
    components: z.number().int().min(1),
    clusters: z.number().int().min(1),
    seed: z.number().int().min(0),
    sampleSize: z.number().int().min(1),
    maxIterations: z.number().int().min(1),
    maxFailureRate: z.number().min(0).max(1),
  }),
  annotations: z.strictObject({
    /** Taxonomy expert labels are checked against; a relative path is taken from the package root. */
    taxonomy: z.string().min(1),
  }),
});
export type Config = z.infer<typeof Config>;

type Plain = Record<string, unknown>;
export type ConfigOverrides = { [S in keyof Config]?: Partial<Config[S]> };
/** 'section.key', e.g. 'filter.licenseGroups'. */
export type SettingPath = { [S in keyof Config]: `${S & string}.${keyof Config[S] & string}` }[keyof Config];

/** A setting given on the command line: errors name `flag`, not the setting. */
export interface FlagSetting {
  setting: SettingPath;
  flag: string;
  value: unknown;
}

/** Where a layer came from, as the user would name it. */
type Origin = { kind: 'defaults' } | { kind: 'file'; path: string } | { kind: 'env'; env: NodeJS.ProcessEnv } | { kind: 'flags'; flags: FlagSetting[] } | { kind: 'overrides' };

const defaultsUrl = new URL('../../config/defaults.json', import.meta.url);

export function loadDefaults(): Plain {
  return JSON.parse(readFileSync(defaultsUrl, 'utf8')) as Plain;
}

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

function readConfigFile(path: string): Plain {
  const hint = 'pass a JSON object with the shape of config/defaults.json (any subset of its sections and keys)';
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError('CONFIG_FILE', `cannot read config file ${path}: ${(error as Error).message}`, { path, hint });
  }
  if (!isPlain(value)) {
    throw new UsageError('CONFIG_FILE', `config file ${path} holds ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}, not an object of sections`, { path, hint });
  }
  return value;
}

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
const envName = (section: string, key: string) => `BIOMEDICA_${snake(section)}_${snake(key)}`;

/** Environment values arrive as strings: coerce them to the type the default has. */
function fromEnv(defaults: Plain, env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  for (const [section, values] of Object.entries(defaults)) {
    for (const [key, def] of Object.entries(values as Plain)) {
      const raw = env[envName(section, key)];
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

function fromFlags(flags: FlagSetting[]): Plain {
  const out: Plain = {};
  for (const { setting, value } of flags) {
    const [section, key] = setting.split('.') as [string, string];
    ((out[section] ??= {}) as Plain)[key] = value;
  }
  return out;
}

/** A section that is not an object is kept as it is, so that the schema reports it. */
function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [section, values] of Object.entries(over)) {
    if (values === undefined) continue;
    if (!isPlain(values) || !isPlain(base[section])) {
      out[section] = values;
      continue;
    }
    const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
    out[section] = { ...base[section], ...defined };
  }
  return out;
}

/**
 * The one place "auto" becomes a number: concurrency settings default to what the cores allow
 * (src/config/cores.ts). Numeric strings from the environment become numbers here too.
 */
function resolveAuto(merged: Plain): Plain {
  const out = { ...merged };
  for (const [section, auto] of Object.entries(AUTO_SETTINGS)) {
    const values = merged[section];
    // Anything but an object is left for the schema to refuse, in the words of the layer it came from.
    if (values === null || typeof values !== 'object' || Array.isArray(values)) continue;
    const resolved = { ...(values as Plain) };
    for (const [key, value] of Object.entries(auto)) {
      const given = resolved[key];
      if (given === 'auto') resolved[key] = value();
      else if (typeof given === 'string' && /^\d+$/.test(given.trim())) resolved[key] = Number(given);
    }
    out[section] = resolved;
  }
  return out;
}

/** Settings whose default is "auto": resolved from the cores this process may use (cores.ts). */
const AUTO_SETTINGS: Record<string, Record<string, () => number>> = {
  extract: { articleConcurrency: () => machineDefaults().articles, imageConcurrency: () => machineDefaults().images },
  load: { shardConcurrency: () => machineDefaults().shards },
};

export function resolveConfig(opts: {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Settings from command-line flags: the last layer. */
  flags?: FlagSetting[];
  /** Settings from code (tests, library callers), applied last. */
  overrides?: ConfigOverrides;
}): Config {
  const defaults = loadDefaults();
  const layers: { origin: Origin; values: Plain }[] = [{ origin: { kind: 'defaults' }, values: defaults }];
  if (opts.configFile !== undefined) layers.push({ origin: { kind: 'file', path: opts.configFile }, values: readConfigFile(opts.configFile) });
  const env = opts.env ?? process.env;
  layers.push({ origin: { kind: 'env', env }, values: fromEnv(defaults, env) });
  if (opts.flags) layers.push({ origin: { kind: 'flags', flags: opts.flags }, values: fromFlags(opts.flags) });
  if (opts.overrides) layers.push({ origin: { kind: 'overrides' }, values: opts.overrides as Plain });
  const merged = layers.reduce((acc, layer) => merge(acc, layer.values), {} as Plain);
  const parsed = Config.safeParse(resolveAuto(merged));
  if (!parsed.success) throw configError(parsed.error.issues[0]!, layers, defaults);
  return parsed.data;
}

/** The error for one schema issue, in the words of the layer the offending value came from. */
function configError(issue: z.core.$ZodIssue, layers: { origin: Origin; values: Plain }[], defaults: Plain): UsageError {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    // Only a file can hold unknown names: env and flags are read by known names.
    const file = layers.find((l) => l.origin.kind === 'file')?.origin as { path: string } | undefined;
    const where = file ? ` in ${file.path}` : '';
    const unknown = [...path, issue.keys[0]!].join('.');
    const near =
      path.length === 0
        ? nearest(unknown, Object.keys(defaults))
        : nearest(unknown, settingPaths(defaults).filter((p) => p.startsWith(`${path[0]}.`)), settingPaths(defaults), issue.keys[0]!);
    const what = path.length === 0 ? 'section' : 'setting';
    return new UsageError('CONFIG_UNKNOWN', `unknown ${what} ${unknown}${where}; did you mean ${near}?`, {
      setting: unknown,
      suggestion: near,
      hint: `the ${what}s and their meaning: config/README.md`,
    });
  }
  const section = path[0] ?? '';
  const key = path[1] ?? '';
  const setting = key ? `${section}.${key}` : section;
  const layer = [...layers].reverse().find((l) => {
    const values = l.values[section];
    return key ? isPlain(values) && values[key] !== undefined : values !== undefined;
  });
  const origin = layer?.origin ?? { kind: 'defaults' };
  const offending = path.reduce<unknown>((v, p) => (isPlain(v) || Array.isArray(v) ? (v as Plain)[p] : undefined), layer?.values);
  const shown = offending === undefined ? '' : ` ${JSON.stringify(offending)}`;
  switch (origin.kind) {
    case 'flags': {
      const flag = origin.flags.find((f) => f.setting === setting)?.flag ?? setting;
      return new UsageError('FLAG_INVALID', `${flag}${shown}: ${issue.message}`, { setting, hint: `${flag} sets ${setting}: its values are in config/README.md` });
    }
    case 'env':
      // The text as set, not its coercion ("lots", not NaN).
      return new UsageError('CONFIG_INVALID', `${envName(section, key)}=${JSON.stringify(origin.env[envName(section, key)])}: ${issue.message}`, {
        setting,
        hint: `fix or unset the environment variable ${envName(section, key)} (setting ${setting}, see config/README.md)`,
      });
    case 'file':
      return new UsageError('CONFIG_INVALID', `invalid setting ${setting}${shown} in ${origin.path}: ${issue.message}`, {
        setting,
        path: origin.path,
        hint: 'see config/README.md for the settings and their values',
      });
    default:
      return new UsageError('CONFIG_INVALID', `invalid setting ${setting}${shown}: ${issue.message}`, { setting, hint: 'see config/README.md' });
  }
}

function settingPaths(defaults: Plain): string[] {
  return Object.entries(defaults).flatMap(([section, values]) => Object.keys(values as Plain).map((k) => `${section}.${k}`));
}

/**
 * The candidate closest to `name` by edit distance. A key that exists as it is in another section
 * (`extract.limit` → `filter.limit`) wins over a near spelling in its own section.
 */
export function nearest(name: string, candidates: string[], everywhere: string[] = [], key?: string): string {
  const moved = key === undefined ? undefined : everywhere.find((c) => c.endsWith(`.${key}`));
  if (moved) return moved;
  let best = candidates[0] ?? '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}
