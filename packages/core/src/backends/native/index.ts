// The native backend: CLIP's two towers composed in TypeScript from @clipkit/native-cuda's
// kernels, weights read once from model.safetensors into native (or device) memory. Calls are
// serialised because activation buffers are shared between calls of the same batch size.
import { loadNative, type NativeKernels } from '@clipkit/native-cuda';
import { UsageError } from '../../errors.js';
import { openWeights, type ModelDir } from '../../model/model-dir.js';
import type { SafetensorsFile } from '../../model/safetensors.js';
import type { Backend, DeviceName, PixelBatch, Precision, PrecisionOption } from '../../types.js';
import { checkBatchOptions, checkInputIds, checkPixelBatch, DEFAULT_BATCH_SIZE } from '../inputs.js';
import { checkPrecision, nativePrecision } from '../precision.js';
import { createDeviceMemory, type DeviceMemory } from './memory.js';
import { rowsByLength, TextTower } from './text.js';
import { VisionTower } from './vit.js';
import { loadTextWeights, loadVisionWeights } from './weights.js';

export interface NativeBackendOptions {
  device?: DeviceName;
  /** Compute threads of the addon's pool (default: one per core). */
  threads?: number;
  /** Largest batch run through the towers at once (default 32). */
  batchSize?: number;
  /** fp32 (default), bf16, or auto: bf16 where this machine has a bf16 path (precision.ts). */
  precision?: PrecisionOption;
}

export async function createNativeBackend(model: ModelDir, opts: NativeBackendOptions = {}): Promise<Backend> {
  checkBatchOptions(opts);
  const requested = checkPrecision(opts.precision ?? 'fp32');
  // Throws a plain Error saying how to build the addon when it is missing.
  const kernels = loadNative();
  const device = opts.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`device must be 'cpu' or 'cuda', got ${JSON.stringify(device)}`);
  if (device === 'cuda') {
    const cuda = kernels.nativeInfo().cuda;
    if (!cuda.available) {
      const why = cuda.compiled ? (cuda.error ?? 'no usable device') : 'this build of @clipkit/native-cuda has no CUDA support';
      throw new UsageError(`device 'cuda' is not available to the native backend: ${why}; use device 'cpu'`);
    }
  }
  if (opts.threads !== undefined) kernels.setThreads(opts.threads);
  // The header is checked against config.json now; each tower's weights are read on its first
  // use, so a text-only search never reads the vision tower (about 60% of the file).
  const file = openWeights(model);
  const precision = nativePrecision(requested, kernels.nativeInfo(), device);
  return new NativeBackend(kernels, model, createDeviceMemory(kernels, device), file, opts.batchSize ?? DEFAULT_BATCH_SIZE, precision);
}

class NativeBackend implements Backend {
  readonly name = 'native' as const;
  readonly device: DeviceName;
  private visionTower: VisionTower | null = null;
  private textTower: TextTower | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly kernels: NativeKernels,
    private readonly model: ModelDir,
    private readonly memory: DeviceMemory,
    private readonly file: SafetensorsFile,
    private readonly batchSize: number,
    readonly precision: Precision,
  ) {
    this.device = memory.device;
  }

  private get vision(): VisionTower {
    const { config } = this.model;
    this.visionTower ??= new VisionTower(this.kernels, this.memory, loadVisionWeights(this.file, config, this.memory, this.precision), config.vision, config.projectionDim);
    return this.visionTower;
  }

  private get text(): TextTower {
    const { config } = this.model;
    this.textTower ??= new TextTower(this.kernels, this.memory, loadTextWeights(this.file, config, this.memory, this.precision), config.text, config.projectionDim);
    return this.textTower;
  }

  async encodeImages(pixels: PixelBatch): Promise<Float32Array> {
    this.checkLive();
    checkPixelBatch(pixels, this.model.config);
    const { numChannels: c, imageSize: s } = this.model.config.vision;
    const per = c * s * s;
    const vision = this.vision;
    return this.chunked(pixels.n, (start, m, out, offset) => vision.encode(pixels.data.subarray(start * per, (start + m) * per), m, out, offset));
  }

  async encodeTexts(ids: Int32Array, n: number): Promise<Float32Array> {
    this.checkLive();
    checkInputIds(ids, n, this.model.config);
    const { text, projectionDim: dim } = this.model.config;
    const L = text.contextLength;
    const tower = this.text;
    const run = (rows: Int32Array) => this.chunked(n, (start, m, out, offset) => tower.encode(rows.subarray(start * L, (start + m) * L), m, out, offset));
    if (n <= this.batchSize || !this.memory.prefixViews) return run(ids);
    // Batches of rows of similar length: each batch only runs up to its own longest row.
    const order = rowsByLength(ids, n, text);
    const sorted = new Int32Array(n * L);
    order.forEach((row, i) => sorted.set(ids.subarray(row * L, (row + 1) * L), i * L));
    const embeds = await run(sorted);
    const out = new Float32Array(n * dim);
    order.forEach((row, i) => out.set(embeds.subarray(i * dim, (i + 1) * dim), row * dim));
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Wait for a running batch: its kernels still read these buffers.
    void this.queue.finally(() => {
      this.visionTower?.dispose();
      this.textTower?.dispose();
      this.memory.dispose();
    });
  }

  /** Runs `run` per chunk of at most batchSize rows, after any call still in flight. */
  private chunked(n: number, run: (start: number, m: number, out: Float32Array, offset: number) => Promise<void>): Promise<Float32Array> {
    const dim = this.model.config.projectionDim;
    const job = this.queue.then(async () => {
      const out = new Float32Array(n * dim);
      for (let start = 0; start < n; start += this.batchSize) {
        if (this.disposed) throw new UsageError('the native backend was disposed');
        await run(start, Math.min(this.batchSize, n - start), out, start * dim);
      }
      return out;
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  private checkLive(): void {
    if (this.disposed) throw new UsageError('the native backend was disposed');
  }
}
