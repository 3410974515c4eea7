/**
 * The inference worker: owns the ONNX Runtime session. It opens the model on the first provider
 * that can run it (creation and a probe run both have to succeed: a GPU provider can load and
 * still fail on its first run), checks the model's contract, then runs batches in order.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { BiomedicaError } from '../errors.js';
import { clsRows, resolveContract, sameVectors, type ModelContract } from './contract.js';
import { cudaProviderMissing, type Provider, type ProviderAttempt } from './devices.js';
import type { FromWorker, OpenRequest, RunRequest, ToWorker } from './protocol.js';

type Vectors = Float32Array | Uint16Array;

interface Ready {
  session: ort.InferenceSession;
  contract: ModelContract;
  outputName: string;
  source: 'pooler_output' | 'token0';
  imageSize: number;
}

let ready: Ready | undefined;
const port = parentPort!;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).trim();

function sessionOptions(provider: Provider, request: OpenRequest): ort.InferenceSession.SessionOptions {
  const executionProvider: ort.InferenceSession.ExecutionProviderConfig = provider === 'cuda' ? { name: 'cuda', deviceId: request.deviceId } : provider;
  return {
    executionProviders: [executionProvider],
    // The CPU provider's default here was one thread; every core is what a batch job wants. GPU
    // sessions keep the same setting for the nodes a GPU provider hands back to the CPU.
    intraOpNumThreads: request.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Idle intra-op threads would otherwise spin waiting for the next batch, on the cores that
    // are decoding it.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

function tensorData(type: 'float32' | 'float16', buffer: ArrayBuffer): Vectors {
  return type === 'float16' ? new Uint16Array(buffer) : new Float32Array(buffer);
}

function outputData(value: ort.OnnxValue | undefined, name: string): { data: Vectors; dims: readonly number[] } {
  const tensor = value as ort.Tensor | undefined;
  if (!tensor || (tensor.type !== 'float32' && tensor.type !== 'float16')) throw new Error(`output ${name} is missing or not float`);
  return { data: tensor.data as Vectors, dims: tensor.dims };
}

async function probe(session: ort.InferenceSession, contract: ModelContract, request: OpenRequest) {
  const batch = contract.fixedBatch ?? 1;
  const one = tensorData(contract.inputType, contract.inputType === 'float16' ? request.probe.float16 : request.probe.float32);
  const input = new (one.constructor as new (n: number) => Vectors)(one.length * batch);
  for (let b = 0; b < batch; b++) input.set(one, b * one.length);
  const fetches = contract.pooledName ? [contract.tokensName, contract.pooledName] : [contract.tokensName];
  const out = await session.run({ [contract.inputName]: new ort.Tensor(contract.inputType, input, [batch, 3, request.imageSize, request.imageSize]) }, fetches);
  const tokens = outputData(out[contract.tokensName], contract.tokensName);
  const [, count, dim] = tokens.dims;
  if (!count || !dim) throw new Error(`${contract.tokensName} has dims [${tokens.dims.join(', ')}]`);
  const cls = clsRows(tokens.data, batch, count, dim);
  let source: Ready['source'] = 'token0';
  if (contract.pooledName) {
    const pooled = outputData(out[contract.pooledName], contract.pooledName);
    if (sameVectors(pooled.data, cls)) source = 'pooler_output';
  }
  for (const v of cls) if (!Number.isFinite(v)) throw new Error('the probe image gave a non-finite embedding');
  return { source, tokens: count, dim };
}

async function open(request: OpenRequest): Promise<void> {
  ort.env.logLevel = request.ortLogLevel;
  const attempts: ProviderAttempt[] = [];
  for (const provider of request.providers) {
    if (provider === 'cuda') {
      const missing = cudaProviderMissing();
      if (missing) {
        attempts.push({ provider, error: missing });
        continue;
      }
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(request.model, sessionOptions(provider, request));
    } catch (error) {
      attempts.push({ provider, error: messageOf(error) });
      continue;
    }
    let contract: ModelContract;
    try {
      contract = resolveContract(session.inputMetadata, session.outputMetadata, request.imageSize);
    } catch (error) {
      await session.release();
      const e = error as BiomedicaError;
      send({ type: 'open-failed', attempts, error: { code: e.code, message: e.message, hint: e.hint } });
      return;
    }
    try {
      const probed = await probe(session, contract, request);
      ready = { session, contract, outputName: probed.source === 'pooler_output' ? contract.pooledName! : contract.tokensName, source: probed.source, imageSize: request.imageSize };
      send({ type: 'opened', provider, attempts, contract, ...probed });
      return;
    } catch (error) {
      attempts.push({ provider, error: `probe run failed: ${messageOf(error)}` });
      await session.release();
    }
  }
  send({ type: 'open-failed', attempts });
}

async function run(request: RunRequest): Promise<void> {
  const r = ready!;
  const { contract } = r;
  let input = tensorData(contract.inputType, request.input);
  const batch = contract.fixedBatch ?? request.count;
  if (batch > request.count) {
    // A model exported with a fixed batch: pad the last, short batch and drop the padding's rows.
    const padded = new (input.constructor as new (n: number) => Vectors)((input.length / request.count) * batch);
    padded.set(input);
    input = padded;
  }
  const out = await r.session.run({ [contract.inputName]: new ort.Tensor(contract.inputType, input, [batch, 3, r.imageSize, r.imageSize]) }, [r.outputName]);
  const { data, dims } = outputData(out[r.outputName], r.outputName);
  const rows = r.source === 'token0' ? clsRows(data, batch, dims[1]!, dims[2]!) : data;
  // A copy of exactly the rows asked for, in a buffer of its own to hand over.
  const dim = rows.length / batch;
  const vectors = rows.slice(0, request.count * dim);
  send({ type: 'ran', id: request.id, output: vectors.buffer as ArrayBuffer, outputType: contract.outputType }, [vectors.buffer as ArrayBuffer]);
}

// One message at a time, in order: runs must come back in the order they were sent.
let queue = Promise.resolve();
port.on('message', (message: ToWorker) => {
  queue = queue.then(async () => {
    if (message.type === 'open') {
      await open(message).catch((error: unknown) => send({ type: 'open-failed', attempts: [], error: { code: 'INTERNAL', message: messageOf(error) } }));
    } else if (message.type === 'run') {
      await run(message).catch((error: unknown) => send({ type: 'run-failed', id: message.id, message: messageOf(error) }));
    } else {
      await ready?.session.release();
      ready = undefined;
      port.close();
    }
  });
});
