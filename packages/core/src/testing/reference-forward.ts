// A plain float64 TypeScript forward pass of Hugging Face's CLIPModel, written for clarity, not
// speed: the yardstick the fast backends are tested against. Every step mirrors modeling_clip.py
// (pre-LN encoder blocks, q/k/v/out projections with bias, class token + position embeddings,
// pre_layrnorm, post_layernorm on CLS, causal text attention, EOT pooling, bias-free projections).
// Use it with tiny models only: it is O(everything) in float64 on one JS thread.
import type { ClipConfig, HiddenAct, TextConfig, VisionConfig } from '../model/config.js';

/** Returns the HF CLIPModel parameter `name` as float32, checked against `shape`. */
export type WeightLookup = (name: string, shape: readonly number[]) => Float32Array;

export interface ReferenceOutput {
  /** [n, hidden]: post_layernorm(CLS) for images, final_layer_norm at the pooled token for texts. */
  pooled: Float64Array;
  /** [n, projectionDim]: pooled · projectionᵀ (not normalised). */
  embeds: Float64Array;
}

/** pixels: float32 [n, channels, imageSize, imageSize], already normalised. */
export function referenceEncodeImages(config: ClipConfig, weights: WeightLookup, pixels: Float32Array, n: number): ReferenceOutput {
  const v = config.vision;
  const side = v.imageSize;
  const perImage = v.numChannels * side * side;
  if (pixels.length !== n * perImage) {
    throw new RangeError(`pixels has ${pixels.length} values, expected n*${v.numChannels}*${side}*${side} = ${n * perImage}`);
  }
  const grid = Math.floor(side / v.patchSize);
  const tokens = grid * grid + 1;
  const h = v.hiddenSize;
  const patchW = weights('vision_model.embeddings.patch_embedding.weight', [h, v.numChannels, v.patchSize, v.patchSize]);
  const classEmb = weights('vision_model.embeddings.class_embedding', [h]);
  const posEmb = weights('vision_model.embeddings.position_embedding.weight', [tokens, h]);
  const projection = weights('visual_projection.weight', [config.projectionDim, h]);

  const pooled = new Float64Array(n * h);
  for (let img = 0; img < n; img++) {
    let x = patchEmbed(pixels.subarray(img * perImage, (img + 1) * perImage), patchW, v, grid);
    for (let j = 0; j < h; j++) x[j] = (classEmb[j] ?? 0) + (posEmb[j] ?? 0);
    for (let i = h; i < tokens * h; i++) x[i] = (x[i] ?? 0) + (posEmb[i] ?? 0);
    x = layerNorm(x, tokens, h, lnWeights(weights, 'vision_model.pre_layrnorm', h), v.layerNormEps);
    x = encoder(x, tokens, v, 'vision_model.encoder', weights, false);
    const cls = layerNorm(x.subarray(0, h), 1, h, lnWeights(weights, 'vision_model.post_layernorm', h), v.layerNormEps);
    pooled.set(cls, img * h);
  }
  return { pooled, embeds: linear(pooled, n, h, projection, config.projectionDim, null) };
}

/** ids: int32 [n, contextLength], rows [bos, ..., eos, pad...]. */
export function referenceEncodeTexts(config: ClipConfig, weights: WeightLookup, ids: Int32Array, n: number): ReferenceOutput {
  const t = config.text;
  const len = t.contextLength;
  if (ids.length !== n * len) throw new RangeError(`ids has ${ids.length} values, expected n*${len} = ${n * len}`);
  const h = t.hiddenSize;
  const tokenEmb = weights('text_model.embeddings.token_embedding.weight', [t.vocabSize, h]);
  const posEmb = weights('text_model.embeddings.position_embedding.weight', [len, h]);
  const projection = weights('text_projection.weight', [config.projectionDim, h]);

  const pooled = new Float64Array(n * h);
  for (let row = 0; row < n; row++) {
    const rowIds = ids.subarray(row * len, (row + 1) * len);
    const x = new Float64Array(len * h);
    for (let p = 0; p < len; p++) {
      const id = rowIds[p] ?? -1;
      if (!(id >= 0 && id < t.vocabSize)) throw new RangeError(`ids[${row}][${p}] = ${id} is outside the vocabulary [0, ${t.vocabSize})`);
      for (let j = 0; j < h; j++) x[p * h + j] = (tokenEmb[id * h + j] ?? 0) + (posEmb[p * h + j] ?? 0);
    }
    const out = encoder(x, len, t, 'text_model.encoder', weights, true);
    const at = pooledTokenIndex(rowIds, t);
    const final = layerNorm(out.subarray(at * h, (at + 1) * h), 1, h, lnWeights(weights, 'text_model.final_layer_norm', h), t.layerNormEps);
    pooled.set(final, row * h);
  }
  return { pooled, embeds: linear(pooled, n, h, projection, config.projectionDim, null) };
}

/**
 * HF CLIPTextTransformer pooling: legacy configs (eos_token_id 2) take argmax(ids), the first
 * maximum; otherwise the first occurrence of eos_token_id, falling back to argmax when absent.
 */
export function pooledTokenIndex(rowIds: Int32Array, text: Pick<TextConfig, 'pooling' | 'eosTokenId'>): number {
  if (text.pooling === 'first-eos') {
    const at = rowIds.indexOf(text.eosTokenId);
    if (at >= 0) return at;
  }
  let best = 0;
  for (let p = 1; p < rowIds.length; p++) if ((rowIds[p] ?? 0) > (rowIds[best] ?? 0)) best = p;
  return best;
}

type EncoderConfig = Pick<VisionConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'hiddenAct' | 'layerNormEps'>;

function encoder(x: Float64Array, tokens: number, cfg: EncoderConfig, prefix: string, weights: WeightLookup, causal: boolean): Float64Array {
  const h = cfg.hiddenSize;
  const mlp = cfg.intermediateSize;
  let state = x;
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `${prefix}.layers.${l}`;
    const w = (name: string, shape: readonly number[]) => weights(`${p}.${name}`, shape);
    // Attention sub-block: x + out_proj(attn(LN1(x)))
    const a = layerNorm(state, tokens, h, lnWeights(weights, `${p}.layer_norm1`, h), cfg.layerNormEps);
    const q = linear(a, tokens, h, w('self_attn.q_proj.weight', [h, h]), h, w('self_attn.q_proj.bias', [h]));
    const k = linear(a, tokens, h, w('self_attn.k_proj.weight', [h, h]), h, w('self_attn.k_proj.bias', [h]));
    const v = linear(a, tokens, h, w('self_attn.v_proj.weight', [h, h]), h, w('self_attn.v_proj.bias', [h]));
    const attn = attention(q, k, v, tokens, cfg.numHeads, h / cfg.numHeads, causal);
    const o = linear(attn, tokens, h, w('self_attn.out_proj.weight', [h, h]), h, w('self_attn.out_proj.bias', [h]));
    const afterAttn = addInto(o, state);
    // MLP sub-block: x + fc2(act(fc1(LN2(x))))
    const b = layerNorm(afterAttn, tokens, h, lnWeights(weights, `${p}.layer_norm2`, h), cfg.layerNormEps);
    const f1 = linear(b, tokens, h, w('mlp.fc1.weight', [mlp, h]), mlp, w('mlp.fc1.bias', [mlp]));
    for (let i = 0; i < f1.length; i++) f1[i] = activate(f1[i] ?? 0, cfg.hiddenAct);
    const f2 = linear(f1, tokens, mlp, w('mlp.fc2.weight', [h, mlp]), h, w('mlp.fc2.bias', [h]));
    state = addInto(f2, afterAttn);
  }
  return state;
}

/** Conv2d(kernel = stride = patch, no bias) as one dot product per (patch, output channel). */
function patchEmbed(pixels: Float32Array, w: Float32Array, v: VisionConfig, grid: number): Float64Array {
  const h = v.hiddenSize;
  const p = v.patchSize;
  const side = v.imageSize;
  const c = v.numChannels;
  const out = new Float64Array((grid * grid + 1) * h); // row 0 is the class token slot
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const row = 1 + gy * grid + gx;
      for (let o = 0; o < h; o++) {
        let acc = 0;
        for (let ch = 0; ch < c; ch++) {
          for (let i = 0; i < p; i++) {
            for (let j = 0; j < p; j++) {
              const pix = pixels[ch * side * side + (gy * p + i) * side + gx * p + j] ?? 0;
              acc += (w[((o * c + ch) * p + i) * p + j] ?? 0) * pix;
            }
          }
        }
        out[row * h + o] = acc;
      }
    }
  }
  return out;
}

/** out[m, n] = x[m, k] · w[n, k]ᵀ + bias[n] */
function linear(x: Float64Array, m: number, k: number, w: Float32Array, n: number, bias: Float32Array | null): Float64Array {
  const out = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let o = 0; o < n; o++) {
      let acc = bias === null ? 0 : bias[o] ?? 0;
      for (let i = 0; i < k; i++) acc += (x[r * k + i] ?? 0) * (w[o * k + i] ?? 0);
      out[r * n + o] = acc;
    }
  }
  return out;
}

interface LnWeights {
  gamma: Float32Array;
  beta: Float32Array;
}

function lnWeights(weights: WeightLookup, prefix: string, dim: number): LnWeights {
  return { gamma: weights(`${prefix}.weight`, [dim]), beta: weights(`${prefix}.bias`, [dim]) };
}

/** torch.nn.LayerNorm: biased variance, eps inside the square root. */
function layerNorm(x: Float64Array, rows: number, dim: number, ln: LnWeights, eps: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < dim; j++) mean += x[r * dim + j] ?? 0;
    mean /= dim;
    let variance = 0;
    for (let j = 0; j < dim; j++) variance += ((x[r * dim + j] ?? 0) - mean) ** 2;
    variance /= dim;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < dim; j++) {
      out[r * dim + j] = ((x[r * dim + j] ?? 0) - mean) * inv * (ln.gamma[j] ?? 0) + (ln.beta[j] ?? 0);
    }
  }
  return out;
}

/** Scaled dot-product attention per head; q, k, v and the result are [tokens, heads·headDim]. */
function attention(q: Float64Array, k: Float64Array, v: Float64Array, tokens: number, heads: number, headDim: number, causal: boolean): Float64Array {
  const h = heads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float64Array(tokens * h);
  const scores = new Float64Array(tokens);
  for (let hd = 0; hd < heads; hd++) {
    const off = hd * headDim;
    for (let i = 0; i < tokens; i++) {
      const keys = causal ? i + 1 : tokens;
      let max = -Infinity;
      for (let j = 0; j < keys; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += (q[i * h + off + d] ?? 0) * (k[j * h + off + d] ?? 0);
        scores[j] = dot * scale;
        max = Math.max(max, dot * scale);
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) {
        const e = Math.exp((scores[j] ?? 0) - max);
        scores[j] = e;
        sum += e;
      }
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let j = 0; j < keys; j++) acc += (scores[j] ?? 0) * (v[j * h + off + d] ?? 0);
        out[i * h + off + d] = acc / sum;
      }
    }
  }
  return out;
}

function addInto(target: Float64Array, other: Float64Array): Float64Array {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) + (other[i] ?? 0);
  return target;
}

function activate(x: number, act: HiddenAct): number {
  // quick_gelu: x·σ(1.702x) (OpenAI's CLIP); gelu: the exact erf form (torch's default GELU).
  return act === 'quick_gelu' ? x / (1 + Math.exp(-1.702 * x)) : 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** erf to ~1e-15: Maclaurin series near 0, Lentz continued fraction for erfc in the tails. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated bottom-up.
  let frac = ax;
  for (let n = 120; n >= 1; n--) frac = ax + n / 2 / frac;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / frac;
  return Math.sign(x) * (1 - erfc);
}
