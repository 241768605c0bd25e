// The onnx backend: the exported vision and text encoders run by onnxruntime-node. Input and
// output names come from the sessions' metadata, so the Hugging Face/Xenova export
// (pixel_values → image_embeds, input_ids int64 → text_embeds) and the Immich/open_clip export
// (image, text int32) both work; anything else is refused before the first run.
import { closeSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { ModelFormatError, UsageError } from '../errors.js';
import type { ModelDir } from '../model/model-dir.js';
import { requireFiles } from '../model/model-dir.js';
import type { Backend, DeviceName, PixelBatch } from '../types.js';
import { fsReason, openRegularFileSync } from '../util/files.js';
import { checkBatchOptions, checkInputIds, checkPixelBatch, DEFAULT_BATCH_SIZE } from './inputs.js';

export interface OnnxBackendOptions {
  device?: DeviceName;
  /** Intra-op threads (default: onnxruntime's choice, all cores). */
  threads?: number;
  /** Largest batch per session.run (default 32). */
  batchSize?: number;
}

type Meta = ort.InferenceSession.ValueMetadata;

interface VisionIO {
  input: string;
  output: string;
}

interface TextIO {
  input: string;
  idType: 'int64' | 'int32';
  /** Xenova/optimum exports may also take an attention mask (1 up to the EOT, 0 after). */
  mask: string | undefined;
  output: string;
}

export async function createOnnxBackend(model: ModelDir, opts: OnnxBackendOptions = {}): Promise<Backend> {
  requireFiles(model.files, { onnx: true });
  checkBatchOptions(opts);
  const device = opts.device ?? 'cpu';
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [device === 'cuda' ? 'cuda' : 'cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // One compute pool: inter-op parallelism would add a second pool fighting for the same cores.
    interOpNumThreads: 1,
    ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
    // onnxruntime's idle workers spin by default: beside image decoding (sharp's libuv threads
    // on the same cores, as in every import) a spinning pool steals the decoders' time. The
    // native backend's pool sleeps when idle for the same reason.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  const visionPath = model.files.visionOnnx as string;
  const textPath = model.files.textOnnx as string;
  const vision = await openSession(visionPath, sessionOptions, device);
  let text: ort.InferenceSession;
  try {
    text = await openSession(textPath, sessionOptions, device);
  } catch (err) {
    await vision.release();
    throw err;
  }
  try {
    const visionIO = visionSignature(vision, model, visionPath);
    const textIO = textSignature(text, model, textPath);
    return new OnnxBackend(model, vision, text, visionIO, textIO, device, batchSize);
  } catch (err) {
    await Promise.all([vision.release(), text.release()]);
    throw err;
  }
}

async function openSession(file: string, options: ort.InferenceSession.SessionOptions, device: DeviceName): Promise<ort.InferenceSession> {
  // onnxruntime opens the path itself, and a FIFO there would block it forever.
  try {
    closeSync(openRegularFileSync(file));
  } catch (err) {
    throw new ModelFormatError(`cannot open (${fsReason(err)})`, file, { cause: err });
  }
  try {
    return await ort.InferenceSession.create(file, options);
  } catch (err) {
    const msg = (err as Error).message;
    // Blame CUDA only when the same file loads on the CPU; otherwise the file is at fault.
    if (device === 'cuda' && (await loadsOnCpu(file, options))) {
      throw new UsageError(`device 'cuda': onnxruntime-node could not start its CUDA execution provider for ${file} (${msg}); use device 'cpu'`, { cause: err });
    }
    throw new ModelFormatError(`onnxruntime cannot load this model: ${msg}`, file, { cause: err });
  }
}

async function loadsOnCpu(file: string, options: ort.InferenceSession.SessionOptions): Promise<boolean> {
  try {
    await (await ort.InferenceSession.create(file, { ...options, executionProviders: ['cpu'] })).release();
    return true;
  } catch {
    return false;
  }
}

function tensorMeta(list: readonly Meta[], file: string, what: string): Array<Meta & { isTensor: true }> {
  for (const m of list) {
    if (!m.isTensor) throw new ModelFormatError(`${what} "${m.name}" is not a tensor`, file);
  }
  return list as Array<Meta & { isTensor: true }>;
}

function pickOutput(session: ort.InferenceSession, preferred: string, file: string, projectionDim: number): string {
  const outputs = tensorMeta(session.outputMetadata, file, 'output');
  const chosen = outputs.find((o) => o.name === preferred) ?? outputs[0];
  if (chosen === undefined) throw new ModelFormatError('model has no outputs', file);
  const last = chosen.shape[chosen.shape.length - 1];
  if (chosen.type !== 'float32' || chosen.shape.length !== 2 || (typeof last === 'number' && last !== projectionDim)) {
    throw new ModelFormatError(
      `output "${chosen.name}" is ${chosen.type} [${chosen.shape.join(', ')}], expected float32 [batch, ${projectionDim}]`,
      file,
    );
  }
  return chosen.name;
}

function describe(list: readonly Meta[]): string {
  return list.map((m) => (m.isTensor ? `${m.name}: ${m.type} [${m.shape.join(', ')}]` : m.name)).join(', ');
}

function visionSignature(session: ort.InferenceSession, model: ModelDir, file: string): VisionIO {
  const inputs = tensorMeta(session.inputMetadata, file, 'input');
  const s = model.config.vision.imageSize;
  const c = model.config.vision.numChannels;
  const [only] = inputs;
  const dimsOk = (shape: ReadonlyArray<number | string>) =>
    shape.length === 4 && [undefined, c, s, s].every((want, i) => want === undefined || typeof shape[i] !== 'number' || shape[i] === want);
  if (inputs.length !== 1 || only === undefined || only.type !== 'float32' || !dimsOk(only.shape)) {
    throw new ModelFormatError(
      `unexpected vision inputs (${describe(inputs)}); expected one float32 [batch, ${c}, ${s}, ${s}] input such as pixel_values or image`,
      file,
    );
  }
  return { input: only.name, output: pickOutput(session, 'image_embeds', file, model.config.projectionDim) };
}

function textSignature(session: ort.InferenceSession, model: ModelDir, file: string): TextIO {
  const inputs = tensorMeta(session.inputMetadata, file, 'input');
  const L = model.config.text.contextLength;
  const isIds = (m: Meta & { isTensor: true }) =>
    (m.type === 'int64' || m.type === 'int32') && m.shape.length === 2 && (typeof m.shape[1] !== 'number' || m.shape[1] === L);
  const ids = inputs.find((m) => m.name !== 'attention_mask' && isIds(m));
  const mask = inputs.find((m) => m.name === 'attention_mask' && isIds(m));
  const expectedCount = 1 + (mask === undefined ? 0 : 1);
  if (ids === undefined || inputs.length !== expectedCount) {
    throw new ModelFormatError(
      `unexpected text inputs (${describe(inputs)}); expected int64/int32 [batch, ${L}] token ids (input_ids or text), optionally attention_mask`,
      file,
    );
  }
  if (mask !== undefined && mask.type !== ids.type) {
    throw new ModelFormatError(`attention_mask is ${mask.type} but ${ids.name} is ${ids.type}`, file);
  }
  return {
    input: ids.name,
    idType: ids.type as 'int64' | 'int32',
    mask: mask?.name,
    output: pickOutput(session, 'text_embeds', file, model.config.projectionDim),
  };
}

class OnnxBackend implements Backend {
  readonly name = 'onnx' as const;
  readonly precision = 'fp32' as const;
  private disposed = false;

  constructor(
    private readonly model: ModelDir,
    private readonly vision: ort.InferenceSession,
    private readonly text: ort.InferenceSession,
    private readonly visionIO: VisionIO,
    private readonly textIO: TextIO,
    readonly device: DeviceName,
    private readonly batchSize: number,
  ) {}

  async encodeImages(pixels: PixelBatch): Promise<Float32Array> {
    this.checkLive();
    checkPixelBatch(pixels, this.model.config);
    const { imageSize: s, numChannels: c } = this.model.config.vision;
    const per = c * s * s;
    const dim = this.model.config.projectionDim;
    const out = new Float32Array(pixels.n * dim);
    for (let start = 0; start < pixels.n; start += this.batchSize) {
      const m = Math.min(this.batchSize, pixels.n - start);
      const input = new ort.Tensor('float32', pixels.data.subarray(start * per, (start + m) * per), [m, c, s, s]);
      const result = await this.vision.run({ [this.visionIO.input]: input });
      out.set(this.embeddings(result, this.visionIO.output, m), start * dim);
    }
    return out;
  }

  async encodeTexts(ids: Int32Array, n: number): Promise<Float32Array> {
    this.checkLive();
    checkInputIds(ids, n, this.model.config);
    const L = this.model.config.text.contextLength;
    const dim = this.model.config.projectionDim;
    const out = new Float32Array(n * dim);
    for (let start = 0; start < n; start += this.batchSize) {
      const m = Math.min(this.batchSize, n - start);
      const chunk = ids.subarray(start * L, (start + m) * L);
      const feeds: Record<string, ort.Tensor> = { [this.textIO.input]: this.idTensor(chunk, m) };
      if (this.textIO.mask !== undefined) feeds[this.textIO.mask] = this.idTensor(this.maskFor(chunk, m), m);
      const result = await this.text.run(feeds);
      out.set(this.embeddings(result, this.textIO.output, m), start * dim);
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // release() only frees native memory; nothing to wait for.
    void this.vision.release().catch(() => undefined);
    void this.text.release().catch(() => undefined);
  }

  private checkLive(): void {
    if (this.disposed) throw new UsageError('the onnx backend was disposed');
  }

  private idTensor(values: Int32Array, m: number): ort.Tensor {
    const L = this.model.config.text.contextLength;
    if (this.textIO.idType === 'int32') return new ort.Tensor('int32', values, [m, L]);
    const wide = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) wide[i] = BigInt(values[i] as number);
    return new ort.Tensor('int64', wide, [m, L]);
  }

  /** 1 up to and including each row's first EOT, 0 after: causal attention makes the rest irrelevant. */
  private maskFor(ids: Int32Array, m: number): Int32Array {
    const { contextLength: L, eosTokenId } = this.model.config.text;
    const mask = new Int32Array(m * L);
    for (let r = 0; r < m; r++) {
      const row = ids.subarray(r * L, (r + 1) * L);
      const eot = row.indexOf(eosTokenId);
      mask.fill(1, r * L, r * L + (eot < 0 ? L : eot + 1));
    }
    return mask;
  }

  private embeddings(result: ort.InferenceSession.ReturnType, name: string, m: number): Float32Array {
    const t = result[name];
    const dim = this.model.config.projectionDim;
    if (t === undefined || t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== m || t.dims[1] !== dim) {
      const got = t === undefined ? 'nothing' : `${t.type} [${t.dims.join(', ')}]`;
      throw new ModelFormatError(`output "${name}" gave ${got}, expected float32 [${m}, ${dim}]`, this.model.files.dir);
    }
    return t.data as Float32Array;
  }
}
