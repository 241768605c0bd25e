// Writes a complete Hugging Face-layout CLIP model directory with seeded random weights, so tests
// and benchmarks need no downloads: config.json, model.safetensors, preprocessor_config.json and a
// small byte-level BPE vocabulary whose two special tokens are the last ids.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseClipConfig, type ClipConfig, type HiddenAct } from '../model/config.js';
import { expectedClipTensors, type TensorSpec } from '../model/clip-tensors.js';
import { SafetensorsFile, writeSafetensors, type FloatDType, type TensorToWrite } from '../model/safetensors.js';
import { writeClipOnnx } from './onnx-export.js';
import { byteLevelAlphabet, writeTinyVocab } from './vocab.js';
import { Prng } from './prng.js';

export interface RandomVisionOptions {
  imageSize: number;
  patchSize: number;
  hidden: number;
  layers: number;
  heads: number;
  mlp: number;
}

export interface RandomTextOptions {
  /** ≥ 515: 512 byte-level tokens + at least one merge + the two special tokens. */
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  mlp: number;
  contextLength: number;
}

export interface RandomClipModelOptions {
  seed?: number;
  vision?: Partial<RandomVisionOptions>;
  text?: Partial<RandomTextOptions>;
  projectionDim?: number;
  hiddenAct?: HiddenAct;
  dtype?: FloatDType;
  /** Also write onnx/vision_model.onnx + onnx/text_model.onnx (HF/Xenova I/O layout). */
  onnx?: boolean;
  /**
   * Std of the random weights (default HF's 0.02). At 0.02 a tiny model maps all images to
   * nearly one direction (cosine > 0.99); ~0.1 spreads them, for tests that rank images.
   */
  initStd?: number;
}

export interface RandomClipModel {
  dir: string;
  config: ClipConfig;
}

/** HF CLIP's init std. Biases and LayerNorm shifts get it too (not 0), so tests notice a dropped one. */
const INIT_STD = 0.02;
const LOGIT_SCALE_INIT = Math.log(1 / 0.07);

export const TINY_VISION: RandomVisionOptions = { imageSize: 32, patchSize: 8, hidden: 64, layers: 2, heads: 4, mlp: 256 };
export const TINY_TEXT: RandomTextOptions = { vocabSize: 1000, hidden: 64, layers: 2, heads: 4, mlp: 256, contextLength: 77 };
/** ViT-B/32 shapes (OpenAI's clip-vit-base-patch32) for benchmarks. */
export const VIT_B32_VISION: RandomVisionOptions = { imageSize: 224, patchSize: 32, hidden: 768, layers: 12, heads: 12, mlp: 3072 };
export const VIT_B32_TEXT: RandomTextOptions = { vocabSize: 49408, hidden: 512, layers: 12, heads: 8, mlp: 2048, contextLength: 77 };

export function writeRandomClipModel(dir: string, opts: RandomClipModelOptions = {}): RandomClipModel {
  const vision = { ...TINY_VISION, ...opts.vision };
  const text = { ...TINY_TEXT, ...opts.text };
  if (text.vocabSize < byteLevelAlphabet().length * 2 + 3) {
    throw new RangeError(`writeRandomClipModel: text.vocabSize must be ≥ 515 (a tokenizer needs a merge), got ${text.vocabSize}`);
  }
  const hiddenAct = opts.hiddenAct ?? 'quick_gelu';
  const projectionDim = opts.projectionDim ?? 32;
  const eos = text.vocabSize - 1;
  const bos = text.vocabSize - 2;

  const rawConfig = {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: projectionDim,
    logit_scale_init_value: LOGIT_SCALE_INIT,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[opts.dtype ?? 'F32'],
    text_config: {
      vocab_size: text.vocabSize,
      hidden_size: text.hidden,
      intermediate_size: text.mlp,
      num_hidden_layers: text.layers,
      num_attention_heads: text.heads,
      max_position_embeddings: text.contextLength,
      hidden_act: hiddenAct,
      layer_norm_eps: 1e-5,
      bos_token_id: bos,
      eos_token_id: eos,
      pad_token_id: 1,
      projection_dim: projectionDim,
    },
    vision_config: {
      hidden_size: vision.hidden,
      intermediate_size: vision.mlp,
      num_hidden_layers: vision.layers,
      num_attention_heads: vision.heads,
      image_size: vision.imageSize,
      patch_size: vision.patchSize,
      num_channels: 3,
      hidden_act: hiddenAct,
      layer_norm_eps: 1e-5,
      projection_dim: projectionDim,
    },
  };
  const rawPre = {
    do_resize: true,
    size: { shortest_edge: vision.imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: vision.imageSize, width: vision.imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
    do_convert_rgb: true,
    image_processor_type: 'CLIPImageProcessor',
  };
  const configPath = path.join(dir, 'config.json');
  const config = parseClipConfig(rawConfig, configPath, rawPre, path.join(dir, 'preprocessor_config.json'));

  mkdirSync(dir, { recursive: true });
  writeFileSync(configPath, JSON.stringify(rawConfig, null, 2));
  writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(rawPre, null, 2));
  writeTinyVocab(dir, text.vocabSize);
  const weightsPath = path.join(dir, 'model.safetensors');
  writeSafetensors(weightsPath, randomWeights(config, opts.seed ?? 0, opts.dtype ?? 'F32', opts.initStd ?? INIT_STD));
  if (opts.onnx) {
    // From the written file, so F16/BF16 models get exactly the widened weights every backend sees.
    const st = SafetensorsFile.open(weightsPath);
    writeClipOnnx(dir, config, (name, shape) => st.getTensor(name, shape));
  }
  return { dir, config };
}

/** Tensors are generated lazily in file order, so only one is in memory at a time. */
function randomWeights(config: ClipConfig, seed: number, dtype: FloatDType, std: number): Record<string, TensorToWrite> {
  const rng = new Prng(seed);
  const out: Record<string, TensorToWrite> = {};
  for (const spec of expectedClipTensors(config)) {
    out[spec.name] = { dtype, shape: spec.shape, data: () => initTensor(spec, rng, std) };
  }
  return out;
}

function initTensor(spec: TensorSpec, rng: Prng, std: number): Float32Array {
  const t = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
  switch (spec.init) {
    case 'normal':
      return rng.fillNormal(t, std);
    case 'norm-scale':
      // Near 1 rather than exactly 1, so a skipped LayerNorm scale changes the outputs.
      return rng.fillNormal(t, std, 1);
    case 'logit_scale':
      return t.fill(LOGIT_SCALE_INIT);
  }
}

/** Preprocessed-looking pixels: float32 [n, 3, size, size], roughly CLIP-normalised range. */
export function randomPixels(n: number, size: number, seed: number): Float32Array {
  const rng = new Prng(seed);
  const out = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < out.length; i++) out[i] = (rng.next() - 0.45) / 0.27;
  return out;
}

export interface RandomIdsOptions {
  contextLength: number;
  vocabSize: number;
  seed: number;
  /** Defaults: the last two ids (bos = vocabSize-2, eos = vocabSize-1). */
  bos?: number;
  eos?: number;
  /** Padding after eos (default 0). */
  pad?: number;
  /** Row lengths including bos/eos; default random in [2, contextLength]. */
  lengths?: readonly number[];
}

/** Rows [bos, random ids..., eos, pad...] as int32 [n, contextLength]. */
export function randomInputIds(n: number, opts: RandomIdsOptions): Int32Array {
  const rng = new Prng(opts.seed);
  const eos = opts.eos ?? opts.vocabSize - 1;
  const bos = opts.bos ?? opts.vocabSize - 2;
  const pad = opts.pad ?? 0;
  const L = opts.contextLength;
  const out = new Int32Array(n * L);
  for (let r = 0; r < n; r++) {
    const len = opts.lengths?.[r] ?? rng.int(2, L + 1);
    if (len < 2 || len > L) throw new RangeError(`randomInputIds: length ${len} outside [2, ${L}]`);
    const row = out.subarray(r * L, (r + 1) * L);
    row.fill(pad);
    row[0] = bos;
    // Ordinary tokens only: below both special ids.
    for (let i = 1; i < len - 1; i++) row[i] = rng.int(0, Math.min(bos, eos));
    row[len - 1] = eos;
  }
  return out;
}
