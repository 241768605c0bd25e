// Reads the HF CLIPModel parameters the native encoders need, once, into native memory: F16/BF16
// are already widened by the safetensors reader; q/k/v projections are fused into one [3h, h]
// matrix (+ [3h] bias) so a single GEMM produces the packed QKV layout the attention kernel reads.
// In bf16 precision the GEMMs' weights (patch embedding, QKV, out-proj, fc1, fc2, projections)
// become bf16 tensors; biases, layer norms and embeddings stay f32. The patch embedding is 3% of
// the arithmetic but, left in fp32, 15% of a ViT-B/32 batch's time on AMX.
import type { F32 } from '@clipkit/native-cuda';
import type { ClipConfig, TextConfig, VisionConfig } from '../../model/config.js';
import type { SafetensorsFile } from '../../model/safetensors.js';
import type { Precision } from '../../types.js';
import type { DeviceMemory, WeightDtype } from './memory.js';

export interface LayerNormWeights {
  gamma: F32;
  beta: F32;
}

export interface EncoderLayerWeights {
  ln1: LayerNormWeights;
  qkvWeight: F32; // [3h, h]: q rows, then k, then v
  qkvBias: F32; // [3h]
  outWeight: F32; // [h, h]
  outBias: F32;
  ln2: LayerNormWeights;
  fc1Weight: F32; // [mlp, h]
  fc1Bias: F32;
  fc2Weight: F32; // [h, mlp]
  fc2Bias: F32;
}

export interface VisionWeights {
  patchWeight: F32; // [h, c·p·p]: the conv kernel flattened in (channel, row, column) order
  /** Host [tokens, h]: row 0 = class embedding + position 0, row k = position k. */
  tokenBias: Float32Array;
  preLn: LayerNormWeights;
  layers: EncoderLayerWeights[];
  postLn: LayerNormWeights;
  projection: F32; // [projectionDim, h]
}

export interface TextWeights {
  /** Host [vocab, h] and [contextLength, h]: embeddings are gathered in TypeScript. */
  tokenEmbedding: Float32Array;
  positionEmbedding: Float32Array;
  layers: EncoderLayerWeights[];
  finalLn: LayerNormWeights;
  projection: F32; // [projectionDim, h]
}

export function loadVisionWeights(file: SafetensorsFile, config: ClipConfig, memory: DeviceMemory, precision: Precision = 'fp32'): VisionWeights {
  return loadVision(readers(file, memory, precision), config.vision, config.projectionDim);
}

export function loadTextWeights(file: SafetensorsFile, config: ClipConfig, memory: DeviceMemory, precision: Precision = 'fp32'): TextWeights {
  return loadText(readers(file, memory, precision), config.text, config.projectionDim);
}

interface Readers {
  /** Host values of a tensor. */
  get: (name: string, shape: readonly number[]) => Float32Array;
  /** A parameter uploaded as f32. */
  up: (name: string, shape: readonly number[]) => F32;
  /** A GEMM weight uploaded in the model's precision. */
  upWeight: (data: Float32Array, shape: readonly number[]) => F32;
  memory: DeviceMemory;
}

function readers(file: SafetensorsFile, memory: DeviceMemory, precision: Precision): Readers {
  const weightDtype: WeightDtype = precision === 'bf16' ? 'bf16' : 'f32';
  const get = (name: string, shape: readonly number[]) => file.getTensor(name, shape);
  return {
    get,
    up: (name, shape) => memory.upload(get(name, shape), shape),
    upWeight: (data, shape) => memory.upload(data, shape, weightDtype),
    memory,
  };
}

function loadVision(r: Readers, v: VisionConfig, projectionDim: number): VisionWeights {
  const { get, up, upWeight, memory } = r;
  const h = v.hiddenSize;
  const patchDim = v.numChannels * v.patchSize * v.patchSize;
  const grid = Math.floor(v.imageSize / v.patchSize);
  const tokens = grid * grid + 1;
  const patch = get('vision_model.embeddings.patch_embedding.weight', [h, v.numChannels, v.patchSize, v.patchSize]);
  const cls = get('vision_model.embeddings.class_embedding', [h]);
  const tokenBias = get('vision_model.embeddings.position_embedding.weight', [tokens, h]).slice();
  for (let j = 0; j < h; j++) tokenBias[j]! += cls[j]!;
  return {
    patchWeight: upWeight(patch, [h, patchDim]),
    tokenBias,
    preLn: layerNorm(up, 'vision_model.pre_layrnorm', h),
    layers: encoderLayers(r, 'vision_model.encoder', v),
    postLn: layerNorm(up, 'vision_model.post_layernorm', h),
    projection: upWeight(get('visual_projection.weight', [projectionDim, h]), [projectionDim, h]),
  };
}

function loadText(r: Readers, t: TextConfig, projectionDim: number): TextWeights {
  const { get, up, upWeight } = r;
  const h = t.hiddenSize;
  return {
    tokenEmbedding: ownArray(get('text_model.embeddings.token_embedding.weight', [t.vocabSize, h])),
    positionEmbedding: ownArray(get('text_model.embeddings.position_embedding.weight', [t.contextLength, h])),
    layers: encoderLayers(r, 'text_model.encoder', t),
    finalLn: layerNorm(up, 'text_model.final_layer_norm', h),
    projection: upWeight(get('text_projection.weight', [projectionDim, h]), [projectionDim, h]),
  };
}

type EncoderDims = Pick<VisionConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers'>;

function encoderLayers(r: Readers, prefix: string, dims: EncoderDims): EncoderLayerWeights[] {
  const { get, up, upWeight, memory } = r;
  const weight = (name: string, shape: readonly number[]) => upWeight(get(name, shape), shape);
  const h = dims.hiddenSize;
  const mlp = dims.intermediateSize;
  const layers: EncoderLayerWeights[] = [];
  for (let l = 0; l < dims.numLayers; l++) {
    const p = `${prefix}.layers.${l}`;
    const qkvWeight = new Float32Array(3 * h * h);
    const qkvBias = new Float32Array(3 * h);
    ['q_proj', 'k_proj', 'v_proj'].forEach((proj, i) => {
      qkvWeight.set(get(`${p}.self_attn.${proj}.weight`, [h, h]), i * h * h);
      qkvBias.set(get(`${p}.self_attn.${proj}.bias`, [h]), i * h);
    });
    layers.push({
      ln1: layerNorm(up, `${p}.layer_norm1`, h),
      qkvWeight: upWeight(qkvWeight, [3 * h, h]),
      qkvBias: memory.upload(qkvBias, [3 * h]),
      outWeight: weight(`${p}.self_attn.out_proj.weight`, [h, h]),
      outBias: up(`${p}.self_attn.out_proj.bias`, [h]),
      ln2: layerNorm(up, `${p}.layer_norm2`, h),
      fc1Weight: weight(`${p}.mlp.fc1.weight`, [mlp, h]),
      fc1Bias: up(`${p}.mlp.fc1.bias`, [mlp]),
      fc2Weight: weight(`${p}.mlp.fc2.weight`, [h, mlp]),
      fc2Bias: up(`${p}.mlp.fc2.bias`, [h]),
    });
  }
  return layers;
}

function layerNorm(up: Readers['up'], prefix: string, dim: number): LayerNormWeights {
  return { gamma: up(`${prefix}.weight`, [dim]), beta: up(`${prefix}.bias`, [dim]) };
}

/** A view into the whole safetensors buffer would keep all of it alive; copy unless it owns its buffer. */
function ownArray(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}
