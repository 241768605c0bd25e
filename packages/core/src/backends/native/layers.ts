// One pre-LN transformer encoder (CLIP's vision and text towers alike) from the addon's kernels.
// Per layer: LN1 → fused QKV GEMM → attention on packed QKV → out-proj GEMM with the residual
// added in its epilogue → LN2 → fc1 GEMM with the activation fused → fc2 GEMM + residual.
// The residual stream `x` is updated in place; nothing is allocated here.
import type { Activation, F32, NativeKernels } from '@clipkit/native-cuda';
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

/** Activation buffers sized for batch·tokens rows. */
export interface EncoderBuffers {
  x: F32; // [rows, hidden]: input and output
  normed: F32; // [rows, hidden]: LN output, then attention output
  qkv: F32; // [rows, 3·hidden]
  mlp: F32; // [rows, mlp]
}

export async function runEncoder(
  kernels: NativeKernels,
  layers: readonly EncoderLayerWeights[],
  buf: EncoderBuffers,
  s: EncoderShape,
): Promise<void> {
  const rows = s.batch * s.tokens;
  const h = s.hidden;
  const attention = { batch: s.batch, tokens: s.tokens, heads: s.heads, headDim: h / s.heads, causal: s.causal };
  for (const layer of layers) {
    layerNorm(kernels, buf.x, layer.ln1, buf.normed, rows, h, s.eps);
    await kernels.linearAsync(buf.normed, layer.qkvWeight, layer.qkvBias, buf.qkv, { m: rows, n: 3 * h, k: h });
    await kernels.attentionAsync(buf.qkv, buf.normed, attention);
    await kernels.linearAsync(buf.normed, layer.outWeight, layer.outBias, buf.x, { m: rows, n: h, k: h, residual: buf.x });
    layerNorm(kernels, buf.x, layer.ln2, buf.normed, rows, h, s.eps);
    await kernels.linearAsync(buf.normed, layer.fc1Weight, layer.fc1Bias, buf.mlp, { m: rows, n: s.mlp, k: h, activation: s.activation });
    await kernels.linearAsync(buf.mlp, layer.fc2Weight, layer.fc2Bias, buf.x, { m: rows, n: h, k: s.mlp, residual: buf.x });
  }
}

export function layerNorm(kernels: NativeKernels, x: F32, w: LayerNormWeights, out: F32, rows: number, dim: number, eps: number): void {
  kernels.layerNorm(x, w.gamma, w.beta, out, { rows, dim, eps });
}
