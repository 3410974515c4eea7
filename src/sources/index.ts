/**
 * Picks the source for a URL. Legacy mirrors: a directory or file:// URL, ftp://…/pub/pmc,
 * http(s)://…/pub/pmc. The PMC cloud bucket: `cloud`, `cloud:`, `s3://pmc-oa-opendata`, or its
 * https endpoint (source.cloudBaseUrl says where the bucket is read from).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config, resolveConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { HttpClient } from '../transport/http.js';
import { createLegacySource, type NetworkOptions } from './legacy/source.js';
import type { PackageLimits } from './package.js';
import type { Source, SourceDescriptor } from './types.js';

export type { NetworkOptions } from './legacy/source.js';

export interface SourceOptions {
  /** Force a kind; 'auto' (default) decides from the URL. */
  kind?: 'auto' | 'legacy' | 'cloud';
  /** Download folder. Default: `<outDir>/downloads` when outDir is given, else a temp folder. */
  workDir?: string;
  outDir?: string;
  keepDownloads?: boolean;
  network?: NetworkOptions;
  package?: Partial<PackageLimits>;
  /** Share one HTTP client (pool and rate limiter) with other components. */
  httpClient?: HttpClient;
  log?: Logger;
  /** Cloud: list the inventory this earlier listing used, not the newest (see CloudSourceOptions.pin). */
  pin?: SourceDescriptor | undefined;
}

/** The slice of the config (src/config/schema.ts) a source is built from. */
export interface SourceConfig {
  source: { url: string; keepDownloads?: boolean; cloudBaseUrl?: string };
  network?: NetworkOptions;
  package?: Partial<PackageLimits>;
}

const CLOUD_HOSTS = new Set(['pmc-oa-opendata.s3.amazonaws.com', 'pmc-oa-opendata.s3.us-east-1.amazonaws.com']);

export function sourceKindOf(url: string): SourceDescriptor['kind'] {
  const text = url.trim();
  if (text === 'cloud' || /^(cloud|s3):/i.test(text)) return 'cloud';
  if (/^https?:\/\//i.test(text)) return CLOUD_HOSTS.has(new URL(text).hostname.toLowerCase()) ? 'cloud' : 'legacy-http';
  if (/^ftps?:\/\//i.test(text)) return 'legacy-ftp';
  return 'legacy-local';
}

/**
 * `createSource('https://mirror.example.org/pub/pmc', { outDir })` or `createSource(config, { outDir, log })`.
 * Throws UsageError for an unknown scheme or a missing local mirror.
 */
export async function createSource(target: string | SourceConfig, options: SourceOptions = {}): Promise<Source> {
  const url = typeof target === 'string' ? target : target.source.url;
  const merged: SourceOptions =
    typeof target === 'string'
      ? options
      : {
          keepDownloads: target.source.keepDownloads,
          network: target.network,
          package: target.package,
          ...options,
        };
  const kind = merged.kind === 'cloud' ? 'cloud' : merged.kind === 'legacy' ? 'legacy' : sourceKindOf(url);

  if (kind === 'cloud') {
    // The cloud source reads its own config sections (cloud.*, filter, network); a bare URL gets
    // the defaults.
    const full = Config.safeParse(target);
    const config = full.success ? full.data : resolveConfig({ env: {}, overrides: { source: { url } } });
    if (/^https?:\/\//i.test(url)) config.source.cloudBaseUrl = url;
    const { createCloudSource } = await import('./cloud/index.js');
    return createCloudSource(config, {
      outDir: merged.outDir ?? (await mkdtemp(join(tmpdir(), 'biomedica-cloud-'))),
      log: merged.log ?? silentLogger(),
      pin: merged.pin,
    });
  }

  return createLegacySource({
    url,
    workDir: merged.workDir ?? (merged.outDir !== undefined ? join(merged.outDir, 'downloads') : undefined),
    keepDownloads: merged.keepDownloads,
    network: merged.network,
    package: merged.package,
    httpClient: merged.httpClient,
    log: merged.log,
  });
}
