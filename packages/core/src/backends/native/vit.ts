// The CLIP vision tower: patch embedding as im2col + one GEMM whose residual input carries the
// class and position embeddings (each image's class-token row of the im2col matrix is zero, so
// that row comes out as class + position 0), pre_layrnorm, the encoder, post_layernorm on the
// class token and the bias-free visual projection.
import type { F32, NativeKernels } from '@clipkit/native-cuda';
import type { VisionConfig } from '../../model/config.js';
import { BufferPool, type BufferSet } from './buffer-pool.js';
import { allocateEncoder, allocatePooled, encoderRows, freeLayerBuffers, layerNorm, projectPooled, runEncoder, type EncoderBuffers, type EncoderShape, type PooledBuffers } from './layers.js';
import type { DeviceMemory } from './memory.js';
import type { VisionWeights } from './weights.js';

interface VisionBuffers extends BufferSet {
  patches: F32; // [n·tokens, c·p·p]
  patchesHost: Float32Array;
  tokenBias: F32; // [n·tokens, h]: weights.tokenBias repeated per image
  encoder: EncoderBuffers;
  cls: PooledBuffers;
}

export class VisionTower {
  private readonly grid: number;
  private readonly tokens: number;
  private readonly patchDim: number;
  private readonly pool: BufferPool<VisionBuffers>;

  constructor(
    private readonly kernels: NativeKernels,
    private readonly memory: DeviceMemory,
    private readonly weights: VisionWeights,
    private readonly cfg: VisionConfig,
    private readonly projectionDim: number,
  ) {
    this.grid = Math.floor(cfg.imageSize / cfg.patchSize);
    this.tokens = this.grid * this.grid + 1;
    this.patchDim = cfg.numChannels * cfg.patchSize * cfg.patchSize;
    this.pool = new BufferPool(memory, (n) => this.allocate(n), (set) => this.release(set));
  }

  /** pixels: [n, c, size, size] (validated by the caller); writes [n, projectionDim] at out[offset]. */
  async encode(pixels: Float32Array, n: number, out: Float32Array, offset: number): Promise<void> {
    const { kernels, memory, weights, cfg } = this;
    const h = cfg.hiddenSize;
    const rows = n * this.tokens;
    const set = this.pool.acquire(n);
    const encoder = encoderRows(memory, set.encoder, rows, h, cfg.intermediateSize);
    const x = encoder.x;

    this.im2col(pixels, n, set.patchesHost);
    memory.write(set.patches, set.patchesHost);
    await kernels.linearAsync(memory.prefix(set.patches, rows * this.patchDim), weights.patchWeight, null, x, {
      m: rows,
      n: h,
      k: this.patchDim,
      residual: memory.prefix(set.tokenBias, rows * h),
    });
    layerNorm(kernels, x, weights.preLn, x, rows, h, cfg.layerNormEps);
    const shape: EncoderShape = {
      batch: n,
      tokens: this.tokens,
      hidden: h,
      heads: cfg.numHeads,
      mlp: cfg.intermediateSize,
      activation: cfg.hiddenAct,
      eps: cfg.layerNormEps,
      causal: false,
    };
    const clsRows = Array.from({ length: n }, (_, i) => i * this.tokens);
    await runEncoder(kernels, memory, weights.layers, encoder, set.cls, clsRows, shape);

    await projectPooled(kernels, memory, set.cls, weights.postLn, weights.projection, out, offset, {
      n,
      hidden: h,
      projectionDim: this.projectionDim,
      eps: cfg.layerNormEps,
    });
  }

  dispose(): void {
    this.pool.dispose();
  }

  /** Row 1 + gy·grid + gx of image i = patch (gy, gx) flattened (channel, row, column). */
  private im2col(pixels: Float32Array, n: number, dst: Float32Array): void {
    const { patchSize: p, imageSize: side, numChannels: c } = this.cfg;
    const plane = side * side;
    for (let img = 0; img < n; img++) {
      const src = img * c * plane;
      for (let gy = 0; gy < this.grid; gy++) {
        for (let gx = 0; gx < this.grid; gx++) {
          let d = (img * this.tokens + 1 + gy * this.grid + gx) * this.patchDim;
          for (let ch = 0; ch < c; ch++) {
            for (let i = 0; i < p; i++) {
              const s = src + ch * plane + (gy * p + i) * side + gx * p;
              dst.set(pixels.subarray(s, s + p), d);
              d += p;
            }
          }
        }
      }
    }
  }

  private allocate(n: number): VisionBuffers {
    const { memory, cfg } = this;
    const h = cfg.hiddenSize;
    const rows = n * this.tokens;
    const patches = memory.alloc([rows, this.patchDim]);
    const tokenBias = memory.alloc([rows, h]);
    const bias = memory.hostMirror(tokenBias);
    for (let i = 0; i < n; i++) bias.set(this.weights.tokenBias, i * this.tokens * h);
    memory.write(tokenBias, bias);
    return {
      capacity: n,
      patches,
      patchesHost: memory.hostMirror(patches),
      tokenBias,
      encoder: allocateEncoder(memory, rows, h, cfg.intermediateSize),
      cls: allocatePooled(memory, n, h, cfg.intermediateSize, this.projectionDim),
    };
  }

  private release(set: VisionBuffers): void {
    freeLayerBuffers(this.memory, set.encoder, set.cls);
    for (const buf of [set.patches, set.tokenBias]) this.memory.free(buf);
  }
}
