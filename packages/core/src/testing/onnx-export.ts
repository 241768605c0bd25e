// Writes ONNX vision and text encoders for a CLIP model's weights, node by node, in the I/O layout
// of the Hugging Face/Xenova export (onnx/vision_model.onnx: pixel_values f32 [n,3,S,S] →
// image_embeds; onnx/text_model.onnx: input_ids i64 [n,L] → text_embeds) or of Immich's open_clip
// export (visual/model.onnx: image → embedding; textual/model.onnx: text i32 → embedding).
// The graphs follow modeling_clip.py op for op, so onnxruntime running them is an independent
// check of the native backend on any generated model.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ClipConfig, HiddenAct } from '../model/config.js';
import { OnnxGraph } from './onnx-graph.js';

/** Returns a parameter of HF CLIPModel as float32 with the given shape. */
export type Weights = (name: string, shape: readonly number[]) => Float32Array;

/** HF masks future tokens with float32's most negative value, not -inf. */
const MASK_VALUE = -3.4028234663852886e38;

export type OnnxLayout = 'hf' | 'immich';

interface LayoutIO {
  visionFile: string[];
  textFile: string[];
  image: string;
  imageOut: string;
  text: string;
  textType: 'int64' | 'int32';
  textOut: string;
}

const LAYOUTS: Record<OnnxLayout, LayoutIO> = {
  hf: {
    visionFile: ['onnx', 'vision_model.onnx'],
    textFile: ['onnx', 'text_model.onnx'],
    image: 'pixel_values',
    imageOut: 'image_embeds',
    text: 'input_ids',
    textType: 'int64',
    textOut: 'text_embeds',
  },
  immich: {
    visionFile: ['visual', 'model.onnx'],
    textFile: ['textual', 'model.onnx'],
    image: 'image',
    imageOut: 'embedding',
    text: 'text',
    textType: 'int32',
    textOut: 'embedding',
  },
};

export function writeClipOnnx(dir: string, config: ClipConfig, weights: Weights, layout: OnnxLayout = 'hf'): void {
  const io = LAYOUTS[layout];
  for (const file of [io.visionFile, io.textFile]) mkdirSync(path.join(dir, ...file.slice(0, -1)), { recursive: true });
  visionGraph(config, weights, io).write(path.join(dir, ...io.visionFile));
  textGraph(config, weights, io).write(path.join(dir, ...io.textFile));
}

/** Linear weights are [out, in] in PyTorch; MatMul wants [in, out]. */
function transposed(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c] as number;
  return out;
}

class ClipGraph extends OnnxGraph {
  constructor(
    name: string,
    private readonly weights: Weights,
  ) {
    super(name);
  }

  param(name: string, shape: number[]): string {
    return this.floats(name, shape, this.weights(name, shape));
  }

  /** x·Wᵀ (+ b) for a PyTorch Linear named `prefix`. */
  linear(x: string, prefix: string, out: number, inp: number, bias: boolean): string {
    const w = this.floats(`${prefix}.weight.T`, [inp, out], transposed(this.weights(`${prefix}.weight`, [out, inp]), out, inp));
    const y = this.node('MatMul', [x, w]);
    return bias ? this.node('Add', [y, this.param(`${prefix}.bias`, [out])]) : y;
  }

  layerNorm(x: string, prefix: string, dim: number, eps: number): string {
    return this.node('LayerNormalization', [x, this.param(`${prefix}.weight`, [dim]), this.param(`${prefix}.bias`, [dim])], {
      axis: -1,
      epsilon: { float: eps },
    });
  }

  activation(x: string, act: HiddenAct): string {
    if (act === 'quick_gelu') {
      const k = this.floats(`quick_gelu_k_${x}`, [], Float32Array.of(1.702));
      return this.node('Mul', [x, this.node('Sigmoid', [this.node('Mul', [x, k])])]);
    }
    const invSqrt2 = this.floats(`gelu_a_${x}`, [], Float32Array.of(Math.SQRT1_2));
    const one = this.floats(`gelu_one_${x}`, [], Float32Array.of(1));
    const half = this.floats(`gelu_half_${x}`, [], Float32Array.of(0.5));
    const erf = this.node('Erf', [this.node('Mul', [x, invSqrt2])]);
    return this.node('Mul', [this.node('Mul', [x, half]), this.node('Add', [erf, one])]);
  }

  /** Pre-LN transformer block of modeling_clip.py (CLIPEncoderLayer). */
  encoderLayer(x: string, prefix: string, dims: LayerDims, mask: string | undefined): string {
    const { hidden: h, heads, mlp, eps, act } = dims;
    const d = h / heads;
    const n = this.layerNorm(x, `${prefix}.layer_norm1`, h, eps);
    const split = this.int64s(`${prefix}.split_shape`, [0, 0, heads, d]);
    const merge = this.int64s(`${prefix}.merge_shape`, [0, 0, h]);
    const heads4 = (p: string, perm: number[]) =>
      this.node('Transpose', [this.node('Reshape', [this.linear(n, `${prefix}.self_attn.${p}`, h, h, true), split])], { perm });
    const q = heads4('q_proj', [0, 2, 1, 3]);
    const kT = heads4('k_proj', [0, 2, 3, 1]);
    const v = heads4('v_proj', [0, 2, 1, 3]);
    const scale = this.floats(`${prefix}.scale`, [], Float32Array.of(d ** -0.5));
    let scores = this.node('Mul', [this.node('MatMul', [q, kT]), scale]);
    if (mask !== undefined) scores = this.node('Add', [scores, mask]);
    const probs = this.node('Softmax', [scores], { axis: -1 });
    const ctx = this.node('Reshape', [this.node('Transpose', [this.node('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), merge]);
    const attnOut = this.node('Add', [x, this.linear(ctx, `${prefix}.self_attn.out_proj`, h, h, true)]);
    const m = this.layerNorm(attnOut, `${prefix}.layer_norm2`, h, eps);
    const hidden = this.activation(this.linear(m, `${prefix}.mlp.fc1`, mlp, h, true), act);
    return this.node('Add', [attnOut, this.linear(hidden, `${prefix}.mlp.fc2`, h, mlp, true)]);
  }
}

interface LayerDims {
  hidden: number;
  heads: number;
  mlp: number;
  eps: number;
  act: HiddenAct;
}

function visionGraph(config: ClipConfig, weights: Weights, io: LayoutIO): ClipGraph {
  const v = config.vision;
  const h = v.hiddenSize;
  const grid = v.imageSize / v.patchSize;
  const tokens = grid * grid + 1;
  const g = new ClipGraph('clip_vision', weights);
  const pixels = g.input(io.image, 'float32', ['batch_size', v.numChannels, v.imageSize, v.imageSize]);
  const patchW = g.param('vision_model.embeddings.patch_embedding.weight', [h, v.numChannels, v.patchSize, v.patchSize]);
  const conv = g.node('Conv', [pixels, patchW], { kernel_shape: [v.patchSize, v.patchSize], strides: [v.patchSize, v.patchSize] });
  const flat = g.node('Reshape', [conv, g.int64s('patch_flat_shape', [0, h, -1])]);
  const patches = g.node('Transpose', [flat], { perm: [0, 2, 1] });
  // A zero row in front of the patches plus (class + pos[0], pos[1..]) equals cat(class, patches) + pos.
  const padded = g.node('Pad', [patches, g.int64s('class_slot_pads', [0, 1, 0, 0, 0, 0])]);
  const cls = weights('vision_model.embeddings.class_embedding', [h]);
  const pos = weights('vision_model.embeddings.position_embedding.weight', [tokens, h]);
  const bias = Float32Array.from(pos);
  for (let j = 0; j < h; j++) bias[j] = (cls[j] as number) + (pos[j] as number);
  let x = g.node('Add', [padded, g.floats('class_and_position_embedding', [tokens, h], bias)]);
  x = g.layerNorm(x, 'vision_model.pre_layrnorm', h, v.layerNormEps);
  const dims: LayerDims = { hidden: h, heads: v.numHeads, mlp: v.intermediateSize, eps: v.layerNormEps, act: v.hiddenAct };
  for (let i = 0; i < v.numLayers; i++) x = g.encoderLayer(x, `vision_model.encoder.layers.${i}`, dims, undefined);
  const first = g.node('Gather', [x, g.int64s('cls_index', [0])], { axis: 1 });
  const clsToken = g.node('Reshape', [first, g.int64s('cls_shape', [0, h])]);
  const pooled = g.layerNorm(clsToken, 'vision_model.post_layernorm', h, v.layerNormEps);
  g.node('MatMul', [pooled, g.floats('visual_projection.weight.T', [h, config.projectionDim], transposed(weights('visual_projection.weight', [config.projectionDim, h]), config.projectionDim, h))], {}, io.imageOut);
  g.output(io.imageOut, 'float32', ['batch_size', config.projectionDim]);
  return g;
}

function textGraph(config: ClipConfig, weights: Weights, io: LayoutIO): ClipGraph {
  const t = config.text;
  const h = t.hiddenSize;
  const L = t.contextLength;
  const g = new ClipGraph('clip_text', weights);
  const ids = g.input(io.text, io.textType, ['batch_size', L]);
  const tok = g.param('text_model.embeddings.token_embedding.weight', [t.vocabSize, h]);
  let x = g.node('Add', [g.node('Gather', [tok, ids], { axis: 0 }), g.param('text_model.embeddings.position_embedding.weight', [L, h])]);
  const causal = new Float32Array(L * L);
  for (let r = 0; r < L; r++) causal.fill(MASK_VALUE, r * L + r + 1, (r + 1) * L);
  const mask = g.floats('causal_mask', [L, L], causal);
  const dims: LayerDims = { hidden: h, heads: t.numHeads, mlp: t.intermediateSize, eps: t.layerNormEps, act: t.hiddenAct };
  for (let i = 0; i < t.numLayers; i++) x = g.encoderLayer(x, `text_model.encoder.layers.${i}`, dims, mask);
  x = g.layerNorm(x, 'text_model.final_layer_norm', h, t.layerNormEps);
  // Pool at the first EOT (or, for legacy configs, at the largest id): ArgMax picks the first maximum.
  const key =
    t.pooling === 'first-eos'
      ? g.node('Cast', [g.node('Equal', [ids, io.textType === 'int64' ? g.int64s('eos_id', [t.eosTokenId]) : g.int32s('eos_id', [t.eosTokenId])])], { to: 1 })
      : g.node('Cast', [ids], { to: 1 });
  const at = g.node('ArgMax', [key], { axis: 1, keepdims: 1 });
  const pooled = g.node('GatherND', [x, at], { batch_dims: 1 });
  g.node('MatMul', [pooled, g.floats('text_projection.weight.T', [h, config.projectionDim], transposed(weights('text_projection.weight', [config.projectionDim, h]), config.projectionDim, h))], {}, io.textOut);
  g.output(io.textOut, 'float32', ['batch_size', config.projectionDim]);
  return g;
}
