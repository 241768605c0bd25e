// The CLIP text tower: token + position embeddings gathered in TypeScript, the causal encoder,
// final_layer_norm at each row's pooled token and the bias-free text projection. Causality means
// tokens after the last pooled position cannot change the result, so (where buffers allow views)
// the batch runs only up to that position instead of the full context.
import type { F32, NativeKernels } from '@clipkit/native-cuda';
import type { TextConfig } from '../../model/config.js';
import { BufferPool, type BufferSet } from './buffer-pool.js';
import { allocateEncoder, allocatePooled, encoderRows, freeLayerBuffers, projectPooled, runEncoder, type EncoderBuffers, type PooledBuffers } from './layers.js';
import type { DeviceMemory } from './memory.js';
import type { TextWeights } from './weights.js';

interface TextBuffers extends BufferSet {
  encoder: EncoderBuffers; // sized for n·contextLength rows
  xHost: Float32Array;
  pooled: PooledBuffers;
}

/**
 * The token each row is pooled at (Hugging Face CLIPTextTransformer): the first eos_token_id,
 * or for legacy configs (eos_token_id 2) and rows without one, the first maximum id.
 */
function pooledPosition(row: Int32Array, text: Pick<TextConfig, 'pooling' | 'eosTokenId'>): number {
  const eos = text.pooling === 'first-eos' ? row.indexOf(text.eosTokenId) : -1;
  if (eos >= 0) return eos;
  let best = 0;
  for (let p = 1; p < row.length; p++) if (row[p]! > row[best]!) best = p;
  return best;
}

/** Row indices ordered by pooled position (stable), so similar lengths share a batch. */
export function rowsByLength(ids: Int32Array, n: number, text: Pick<TextConfig, 'pooling' | 'eosTokenId' | 'contextLength'>): number[] {
  const L = text.contextLength;
  const length = Array.from({ length: n }, (_, r) => pooledPosition(ids.subarray(r * L, (r + 1) * L), text));
  return Array.from({ length: n }, (_, r) => r).sort((a, b) => length[a]! - length[b]! || a - b);
}

export class TextTower {
  private readonly pool: BufferPool<TextBuffers>;

  constructor(
    private readonly kernels: NativeKernels,
    private readonly memory: DeviceMemory,
    private readonly weights: TextWeights,
    private readonly cfg: TextConfig,
    private readonly projectionDim: number,
  ) {
    this.pool = new BufferPool(memory, (n) => this.allocate(n), (set) => this.release(set));
  }

  /** ids: [n, contextLength], every id in [0, vocabSize) (validated by the caller). */
  async encode(ids: Int32Array, n: number, out: Float32Array, offset: number): Promise<void> {
    const { kernels, memory, weights, cfg } = this;
    const h = cfg.hiddenSize;
    const len = cfg.contextLength;
    const positions = Array.from({ length: n }, (_, r) => pooledPosition(ids.subarray(r * len, (r + 1) * len), cfg));
    const tokens = memory.prefixViews ? Math.max(...positions) + 1 : len;
    const rows = n * tokens;
    const set = this.pool.acquire(n);

    const { tokenEmbedding: tok, positionEmbedding: pos } = weights;
    for (let r = 0; r < n; r++) {
      for (let p = 0; p < tokens; p++) {
        const id = ids[r * len + p]!;
        const dst = (r * tokens + p) * h;
        for (let j = 0; j < h; j++) set.xHost[dst + j] = tok[id * h + j]! + pos[p * h + j]!;
      }
    }
    memory.write(set.encoder.x, set.xHost);
    const encoder = encoderRows(memory, set.encoder, rows, h, cfg.intermediateSize);
    const pooledRows = positions.map((p, r) => r * tokens + p);
    await runEncoder(kernels, memory, weights.layers, encoder, set.pooled, pooledRows, {
      batch: n,
      tokens,
      hidden: h,
      heads: cfg.numHeads,
      mlp: cfg.intermediateSize,
      activation: cfg.hiddenAct,
      eps: cfg.layerNormEps,
      causal: true,
    });

    await projectPooled(kernels, memory, set.pooled, weights.finalLn, weights.projection, out, offset, {
      n,
      hidden: h,
      projectionDim: this.projectionDim,
      eps: cfg.layerNormEps,
    });
  }

  dispose(): void {
    this.pool.dispose();
  }

  private allocate(n: number): TextBuffers {
    const { memory, cfg } = this;
    const h = cfg.hiddenSize;
    const encoder = allocateEncoder(memory, n * cfg.contextLength, h, cfg.intermediateSize);
    return {
      capacity: n,
      encoder,
      xHost: memory.hostMirror(encoder.x),
      pooled: allocatePooled(memory, n, h, cfg.intermediateSize, this.projectionDim),
    };
  }

  private release(set: TextBuffers): void {
    freeLayerBuffers(this.memory, set.encoder, set.pooled);
  }
}
