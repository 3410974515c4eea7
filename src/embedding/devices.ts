/**
 * Execution devices. onnxruntime-node 1.30 bundles the CPU and WebGPU providers; CUDA's libraries
 * are not in the npm package (its install script fetches them from NuGet, and this project skips
 * that script so `npm ci` works offline). Asking ONNX Runtime for CUDA without them throws at
 * session creation, even with `cpu` listed after it, so falling back is done here: `auto` tries
 * CUDA, then WebGPU, then the CPU, one session at a time, and reports why each one failed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';

export const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];
export type Provider = Exclude<Device, 'auto'>;

export function providersToTry(device: Device): Provider[] {
  return device === 'auto' ? ['cuda', 'webgpu', 'cpu'] : [device];
}

/** Why one provider could not run the model. */
export interface ProviderAttempt {
  provider: Provider;
  error: string;
}

export function onnxruntimeDir(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
}

/** The folder onnxruntime-node loads its native libraries from (where install.js puts CUDA's). */
export function onnxruntimeBinDir(): string {
  return join(onnxruntimeDir(), 'bin', 'napi-v6', process.platform, process.arch);
}

const CUDA_LIBRARY: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'libonnxruntime_providers_cuda.so',
  win32: 'onnxruntime_providers_cuda.dll',
};

/** The CUDA provider library, or why there is none: checked before ONNX Runtime is asked. */
export function cudaProviderMissing(): string | undefined {
  const library = CUDA_LIBRARY[process.platform];
  if (library === undefined) return `onnxruntime-node has no CUDA provider for ${process.platform}`;
  const path = join(onnxruntimeBinDir(), library);
  return existsSync(path) ? undefined : `the CUDA provider is not installed (${path} is missing: npm's onnxruntime-node ships without it)`;
}

/** A command that installs the CUDA provider, runnable as printed. */
export function cudaInstallCommand(): string {
  const dir = onnxruntimeDir();
  const quoted = /^[\w./-]+$/.test(dir) ? dir : `'${dir.replaceAll("'", `'\\''`)}'`;
  return `(cd ${quoted} && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js)`;
}

const HINTS: Record<Provider, () => string> = {
  cuda: () =>
    `install the CUDA provider (needs internet; CUDA 12 and cuDNN 9 on the machine): ${cudaInstallCommand()}; ` +
    'or run with --device auto, which falls back to WebGPU or the CPU',
  webgpu: () => 'WebGPU needs a Vulkan driver (libvulkan.so.1 and a GPU ICD such as NVIDIA\'s); or run with --device auto or --device cpu',
  cpu: () => 'the CPU provider is part of onnxruntime-node: reinstall it with npm ci',
};

/** An explicitly chosen device that cannot run, or `auto` with nothing left to try. */
export function deviceUnavailable(attempts: ProviderAttempt[], device: Device): UsageError {
  const last = attempts.at(-1);
  const provider = last?.provider ?? 'cpu';
  const reasons = attempts.map((a) => `${a.provider}: ${a.error}`).join('; ');
  return new UsageError('DEVICE_UNAVAILABLE', device === 'auto' ? `no execution provider could run the model (${reasons})` : `--device ${device} cannot run: ${last?.error ?? 'unknown error'}`, {
    hint: HINTS[provider](),
    device,
    attempts,
  });
}
