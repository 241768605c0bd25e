// One pre-LN transformer encoder (CLIP's vision and text towers alike) from the addon's kernels.
// Per layer: LN1 → fused QKV GEMM → attention on packed QKV → out-proj GEMM with the residual
// added in its epilogue → LN2 → fc1 GEMM with the activation fused → fc2 GEMM + residual.
// Only one token per sequence is pooled afterwards, so the last layer's out-projection and MLP
// (three quarters of its arithmetic) run on those rows alone; attention still sees every token.
// Each layer's kernels go to the addon as one chainAsync job. A pass allocates nothing: the
// buffers below are allocated once per batch size and reused (buffer-pool.ts).
import type { Activation, F32, KernelCall, NativeKernels } from '@clipkit/native-cuda';
import type { DeviceMemory } from './memory.js';
import type { EncoderLayerWeights, LayerNormWeights } from './weights.js';

export interface EncoderShape {
  batch: number;
  tokens: number;
  hidden: number;
  heads: number;
  mlp: number;
  activation: Activation;
  eps: number;
  causal: boolean;
}

/** Activation buffers for batch·tokens rows (views of exactly that size). */
export interface EncoderBuffers {
  x: F32; // [rows, hidden]: the input
  normed: F32; // [rows, hidden]: LN output, then attention output
  qkv: F32; // [rows, 3·hidden]
  mlp: F32; // [rows, mlp]
}

/** Buffers for the pooled rows, sized for the batch capacity (host mirrors per DeviceMemory.hostMirror). */
export interface PooledBuffers {
  x: F32; // [capacity, hidden]: receives the final hidden state of each pooled row
  xHost: Float32Array;
  attn: F32; // [capacity, hidden]
  attnHost: Float32Array;
  normed: F32; // [capacity, hidden]
  mlp: F32; // [capacity, mlp]
  embeds: F32; // [capacity, projectionDim]
}

export function allocateEncoder(memory: DeviceMemory, rows: number, hidden: number, mlp: number): EncoderBuffers {
  return {
    x: memory.alloc([rows, hidden]),
    normed: memory.alloc([rows, hidden]),
    qkv: memory.alloc([rows, 3 * hidden]),
    mlp: memory.alloc([rows, mlp]),
  };
}

/** The first `rows` rows of each buffer (DeviceMemory.prefix). */
export function encoderRows(memory: DeviceMemory, buf: EncoderBuffers, rows: number, hidden: number, mlp: number): EncoderBuffers {
  const view = (b: F32, width: number) => memory.prefix(b, rows * width);
  return { x: view(buf.x, hidden), normed: view(buf.normed, hidden), qkv: view(buf.qkv, 3 * hidden), mlp: view(buf.mlp, mlp) };
}

export function allocatePooled(memory: DeviceMemory, capacity: number, hidden: number, mlp: number, projectionDim: number): PooledBuffers {
  const x = memory.alloc([capacity, hidden]);
  const attn = memory.alloc([capacity, hidden]);
  return {
    x,
    xHost: memory.hostMirror(x),
    attn,
    attnHost: memory.hostMirror(attn),
    normed: memory.alloc([capacity, hidden]),
    mlp: memory.alloc([capacity, mlp]),
    embeds: memory.alloc([capacity, projectionDim]),
  };
}

/** Frees what allocateEncoder and allocatePooled returned. */
export function freeLayerBuffers(memory: DeviceMemory, encoder: EncoderBuffers, pooled: PooledBuffers): void {
  for (const buf of [encoder.x, encoder.normed, encoder.qkv, encoder.mlp, pooled.x, pooled.attn, pooled.normed, pooled.mlp, pooled.embeds]) memory.free(buf);
}

/**
 * Runs every layer; afterwards the first pooledRows.length rows of pooled.x hold the final hidden
 * states of rows pooledRows[i] (indices into the batch·tokens rows of buf). buf.x is clobbered.
 */
export async function runEncoder(
  kernels: NativeKernels,
  memory: DeviceMemory,
  layers: readonly EncoderLayerWeights[],
  buf: EncoderBuffers,
  pooled: PooledBuffers,
  pooledRows: readonly number[],
  s: EncoderShape,
): Promise<void> {
  const rows = s.batch * s.tokens;
  const h = s.hidden;
  const attention = { batch: s.batch, tokens: s.tokens, heads: s.heads, headDim: h / s.heads, causal: s.causal };
  const last = layers[layers.length - 1];
  // One chain per layer: a thread hop per kernel would cost a tenth of a batch-1 pass.
  for (const layer of layers.slice(0, -1)) {
    await kernels.chainAsync([
      ...attentionCalls(layer, buf.x, buf.normed, buf.qkv, rows, h, s.eps, attention),
      ['linear', buf.normed, layer.outWeight, layer.outBias, buf.x, { m: rows, n: h, k: h, residual: buf.x }],
      ...mlpCalls(layer, buf.x, buf.normed, buf.mlp, rows, h, s),
    ]);
  }
  if (last === undefined) {
    gatherRows(memory, buf.x, pooled.x, pooled.xHost, pooledRows, h);
    return;
  }
  await kernels.chainAsync(attentionCalls(last, buf.x, buf.normed, buf.qkv, rows, h, s.eps, attention));
  gatherRows(memory, buf.x, pooled.x, pooled.xHost, pooledRows, h);
  gatherRows(memory, buf.normed, pooled.attn, pooled.attnHost, pooledRows, h);
  const m = pooledRows.length;
  const view = (b: F32, width: number) => memory.prefix(b, m * width);
  const x = view(pooled.x, h);
  await kernels.chainAsync([
    ['linear', view(pooled.attn, h), last.outWeight, last.outBias, x, { m, n: h, k: h, residual: x }],
    ...mlpCalls(last, x, view(pooled.normed, h), view(pooled.mlp, s.mlp), m, h, s),
  ]);
}

/** normed ← attention(QKV(LN1(x))) */
function attentionCalls(
  layer: EncoderLayerWeights,
  x: F32,
  normed: F32,
  qkv: F32,
  rows: number,
  h: number,
  eps: number,
  shape: { batch: number; tokens: number; heads: number; headDim: number; causal: boolean },
): KernelCall[] {
  return [
    ['layerNorm', x, layer.ln1.gamma, layer.ln1.beta, normed, { rows, dim: h, eps }],
    ['linear', normed, layer.qkvWeight, layer.qkvBias, qkv, { m: rows, n: 3 * h, k: h }],
    ['attention', qkv, normed, shape],
  ];
}

/** x ← x + fc2(act(fc1(LN2(x)))) */
function mlpCalls(layer: EncoderLayerWeights, x: F32, normed: F32, mlp: F32, rows: number, h: number, s: EncoderShape): KernelCall[] {
  return [
    ['layerNorm', x, layer.ln2.gamma, layer.ln2.beta, normed, { rows, dim: h, eps: s.eps }],
    ['linear', normed, layer.fc1Weight, layer.fc1Bias, mlp, { m: rows, n: s.mlp, k: h, activation: s.activation }],
    ['linear', mlp, layer.fc2Weight, layer.fc2Bias, x, { m: rows, n: h, k: s.mlp, residual: x }],
  ];
}

/**
 * The head both towers share: the final layer norm on the n pooled rows (pooled.x), the
 * projection without bias into pooled.embeds, then the n embeddings copied to out at offset.
 */
export async function projectPooled(
  kernels: NativeKernels,
  memory: DeviceMemory,
  pooled: PooledBuffers,
  ln: LayerNormWeights,
  projection: F32,
  out: Float32Array,
  offset: number,
  s: { n: number; hidden: number; projectionDim: number; eps: number },
): Promise<void> {
  const normed = memory.prefix(pooled.normed, s.n * s.hidden);
  layerNorm(kernels, memory.prefix(pooled.x, s.n * s.hidden), ln, normed, s.n, s.hidden, s.eps);
  const projected = memory.prefix(pooled.embeds, s.n * s.projectionDim);
  await kernels.linearAsync(normed, projection, null, projected, { m: s.n, n: s.projectionDim, k: s.hidden });
  out.set(memory.read(projected).subarray(0, s.n * s.projectionDim), offset);
}

export function layerNorm(kernels: NativeKernels, x: F32, w: LayerNormWeights, out: F32, rows: number, dim: number, eps: number): void {
  kernels.layerNorm(x, w.gamma, w.beta, out, { rows, dim, eps });
}

/** dst[i] ← src[rows[i]] for rows of `width`, through host memory (free on the CPU). */
function gatherRows(memory: DeviceMemory, src: F32, dst: F32, dstHost: Float32Array, rows: readonly number[], width: number): void {
  const host = memory.read(src);
  rows.forEach((r, i) => dstHost.set(host.subarray(r * width, (r + 1) * width), i * width));
  memory.write(dst, dstHost);
}
