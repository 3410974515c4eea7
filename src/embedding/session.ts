/**
 * The main thread's side of the inference worker: opens the model on a device (with `auto`'s
 * fallback, logged), then runs batches and hands back float32 [count, dim] embeddings.
 */
import { Worker } from 'node:worker_threads';
import { BiomedicaError, UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ModelContract } from './contract.js';
import { deviceUnavailable, providersToTry, type Device, type Provider, type ProviderAttempt } from './devices.js';
import { float16ToFloat32 } from './float16.js';
import type { FromWorker, Opened, OpenRequest, ToWorker } from './protocol.js';
import { pixelTable, writePixels, type InputType, type Recipe } from './recipes.js';

export interface InferenceOptions {
  model: string;
  device: Device;
  threads: number;
  deviceId: number;
  recipe: Recipe;
}

export interface Inference {
  provider: Provider;
  attempts: ProviderAttempt[];
  contract: ModelContract;
  source: Opened['source'];
  tokens: number;
  dim: number;
  /** Embeds `count` images laid out [count, 3, size, size] in the model's input type. */
  run(input: Float32Array | Uint16Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * In a source checkout (no build) this module is TypeScript loaded through tsx, and a worker does
 * not inherit tsx's loader when the CLI registered it through its API: the worker then registers
 * it itself before importing its entry.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./inference-worker.js', import.meta.url));
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./inference-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

/** A fixed synthetic image (colour ramps), so the probe run is the same on every open. */
function probeImage(recipe: Recipe): OpenRequest['probe'] {
  const rgb = new Uint8Array(recipe.size * recipe.size * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + Math.floor(i / (recipe.size * 3)) * 13) & 255;
  const buffer = (type: InputType) => {
    const table = pixelTable(recipe, type);
    const out = type === 'float16' ? new Uint16Array(rgb.length) : new Float32Array(rgb.length);
    writePixels(rgb, table, out, 0);
    return out.buffer as ArrayBuffer;
  };
  return { float32: buffer('float32'), float16: buffer('float16') };
}

function ortLogLevel(log: Logger): OpenRequest['ortLogLevel'] {
  // Provider failures arrive as exceptions and are logged once, through pino, with the reason;
  // ONNX Runtime's own copy of them on stderr would only break the JSON log stream.
  return log.isLevelEnabled('debug') ? 'warning' : 'fatal';
}

export async function openInference(options: InferenceOptions, log: Logger): Promise<Inference> {
  const worker = startWorker();
  let nextId = 0;
  const pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  let opening: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  let dead: Error | undefined;

  const fail = (error: Error) => {
    dead ??= error;
    opening?.reject(error);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on('message', (message: FromWorker) => {
    if (message.type === 'opened' || message.type === 'open-failed') {
      opening?.resolve(message);
      opening = undefined;
    } else {
      const p = pending.get(message.id);
      pending.delete(message.id);
      p?.resolve(message);
    }
  });
  worker.on('error', (error) => fail(new BiomedicaError('INFERENCE_FAILED', `the inference worker failed: ${error.message}`, { cause: error })));
  worker.on('exit', (code) => fail(new BiomedicaError('INFERENCE_FAILED', `the inference worker exited (code ${code})`)));
  const post = (message: ToWorker, transfer: ArrayBuffer[] = []) => worker.postMessage(message, transfer);

  const request: OpenRequest = {
    type: 'open',
    model: options.model,
    providers: providersToTry(options.device),
    threads: options.threads,
    deviceId: options.deviceId,
    imageSize: options.recipe.size,
    probe: probeImage(options.recipe),
    ortLogLevel: ortLogLevel(log),
  };
  const reply = await new Promise<FromWorker>((resolve, reject) => {
    opening = { resolve, reject };
    post(request);
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });

  if (reply.type !== 'opened') {
    await worker.terminate();
    if (reply.type === 'open-failed' && reply.error) {
      throw reply.error.code === 'MODEL_CONTRACT'
        ? new UsageError(reply.error.code, reply.error.message, { hint: reply.error.hint, model: options.model })
        : new BiomedicaError(reply.error.code, reply.error.message, { model: options.model });
    }
    const attempts = reply.type === 'open-failed' ? reply.attempts : [];
    // The CPU provider is always there: when it cannot load the file, the file is the problem.
    const cpu = attempts.find((a) => a.provider === 'cpu');
    if (cpu) {
      throw new UsageError('MODEL_INVALID', `ONNX Runtime cannot run ${options.model}: ${cpu.error}`, {
        hint: 'pass a DINOv2 ONNX export (README "Embeddings"), or regenerate the project\'s models with npm run models',
        attempts,
      });
    }
    throw deviceUnavailable(attempts, options.device);
  }

  if (reply.attempts.length > 0) {
    log.warn(
      { provider: reply.provider, device: options.device, failed: reply.attempts },
      reply.provider === 'cpu' ? 'embedding on the CPU: no GPU execution provider could run the model' : `embedding on ${reply.provider} after other providers failed`,
    );
  } else {
    log.info({ provider: reply.provider, device: options.device }, 'embedding execution provider');
  }

  return {
    provider: reply.provider,
    attempts: reply.attempts,
    contract: reply.contract,
    source: reply.source,
    tokens: reply.tokens,
    dim: reply.dim,
    async run(input, count) {
      if (dead) throw dead;
      const id = nextId++;
      const done = await new Promise<FromWorker>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        post({ type: 'run', id, input: input.buffer as ArrayBuffer, count }, [input.buffer as ArrayBuffer]);
      });
      if (done.type === 'run-failed') throw new BiomedicaError('INFERENCE_FAILED', `the model failed on a batch of ${count}: ${done.message}`, { model: options.model });
      if (done.type !== 'ran') throw new BiomedicaError('INTERNAL', `unexpected reply ${done.type} from the inference worker`);
      return done.outputType === 'float16' ? float16ToFloat32(new Uint16Array(done.output)) : new Float32Array(done.output);
    },
    async close() {
      if (dead) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      post({ type: 'close' });
      await exited;
    },
  };
}
