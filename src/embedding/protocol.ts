/**
 * Messages between the embedder (main thread) and the inference worker. The session runs in a
 * worker because onnxruntime-node's run() is synchronous under its promise: on the main thread it
 * would stall reading files and handing finished decodes back for the whole of every batch.
 */
import type { ModelContract } from './contract.js';
import type { Provider, ProviderAttempt } from './devices.js';
import type { InputType } from './recipes.js';

export interface OpenRequest {
  type: 'open';
  model: string;
  providers: Provider[];
  threads: number;
  deviceId: number;
  imageSize: number;
  /** Probe input: one image in the model's input type, [1, 3, size, size]. */
  probe: { float32: ArrayBuffer; float16: ArrayBuffer };
  /** ONNX Runtime's own log level: its failures reach us as exceptions, logged through pino. */
  ortLogLevel: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

export interface Opened {
  type: 'opened';
  provider: Provider;
  attempts: ProviderAttempt[];
  contract: ModelContract;
  /** Where the embedding is read: pooler_output (checked equal to token 0) or token 0 itself. */
  source: 'pooler_output' | 'token0';
  tokens: number;
  dim: number;
}

export interface OpenFailed {
  type: 'open-failed';
  attempts: ProviderAttempt[];
  /** Set when the model itself is the problem (unreadable, wrong contract), not a device. */
  error?: { code: string; message: string; hint?: string };
}

export interface RunRequest {
  type: 'run';
  id: number;
  /** [count, 3, size, size] values of the model's input type. */
  input: ArrayBuffer;
  count: number;
}

export interface RunDone {
  type: 'ran';
  id: number;
  /** [count, dim] embeddings in the model's output type (float16 as bits). */
  output: ArrayBuffer;
  outputType: InputType;
}

export interface RunFailed {
  type: 'run-failed';
  id: number;
  message: string;
}

export interface CloseRequest {
  type: 'close';
}

export type ToWorker = OpenRequest | RunRequest | CloseRequest;
export type FromWorker = Opened | OpenFailed | RunDone | RunFailed;
