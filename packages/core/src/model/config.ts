// Parses and validates a model directory's config.json (+ preprocessor_config.json) into one typed
// ClipConfig. Two layouts: Hugging Face CLIPConfig and the Immich/open_clip `embed_dim` config.
// Missing fields take Hugging Face's CLIPTextConfig/CLIPVisionConfig defaults; wrong ones throw a
// ModelFormatError naming the file and the field.
import { createHash } from 'node:crypto';
import { ModelFormatError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { fsReason, readRegularFileSync } from '../util/files.js';

export type HiddenAct = 'quick_gelu' | 'gelu';

/**
 * How the text encoder picks the pooled token. HF: eos_token_id 2 is the legacy config, which
 * pools at argmax(input_ids) (the highest id, 49407 in CLIP's vocab); otherwise the FIRST
 * occurrence of eos_token_id.
 */
export type TextPooling = 'argmax' | 'first-eos';

export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
}

export interface TextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  contextLength: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
  bosTokenId: number;
  eosTokenId: number;
  pooling: TextPooling;
}

export interface PreprocessConfig {
  /** Shorter side after resize. */
  resizeShortest: number;
  /** Square centre crop size (= vision imageSize for a consistent model). */
  cropSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** PIL resample filter id (3 = bicubic). */
  resample: number;
}

export interface ClipConfig {
  layout: 'hf' | 'open_clip';
  /** `_name_or_path` / `model_name` when the config carries one. */
  name: string | undefined;
  projectionDim: number;
  /** ln of the logit scale, used when the weights carry no `logit_scale` tensor. */
  logitScaleInit: number;
  vision: VisionConfig;
  text: TextConfig;
  preprocess: PreprocessConfig;
  /** sha256 (hex) of the canonical JSON of every field above that changes outputs. */
  configHash: string;
}

/**
 * Upper bounds of config values, far above any published CLIP (ViT-bigG: width 1664, 48 layers,
 * 16 heads, MLP 8192) and checked before anything is sized from them: a config asking for 10⁹
 * layers is a ModelFormatError, not a heap exhaustion. The weights file then has to hold every
 * tensor these shapes imply (validateClipTensors).
 */
const MAX = {
  hidden: 16384,
  intermediate: 131072,
  layers: 256,
  heads: 1024,
  vocab: 1 << 21,
  tokenId: 2 ** 31 - 1,
  channels: 4,
  mlpRatio: 64,
} as const;

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
const BICUBIC = 3;
const DEFAULT_LOGIT_SCALE_INIT = 2.6592;

type Json = Record<string, unknown>;

/** Reads `<dir>/config.json` and, if present, `<dir>/preprocessor_config.json`. */
export function loadClipConfig(configPath: string, preprocessorPath?: string): ClipConfig {
  const raw = readJsonObject(configPath);
  const pre = preprocessorPath === undefined ? undefined : readJsonObject(preprocessorPath);
  return parseClipConfig(raw, configPath, pre, preprocessorPath);
}

export function readJsonObject(file: string): Json {
  let text: string;
  try {
    text = readRegularFileSync(file).toString('utf8');
  } catch (err) {
    throw new ModelFormatError(`cannot read (${fsReason(err)})`, file, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(`not valid JSON: ${(err as Error).message}`, file, { cause: err });
  }
  if (!isObject(value)) throw new ModelFormatError('expected a JSON object at the top level', file);
  return value;
}

export function parseClipConfig(raw: Json, file: string, pre?: Json, preFile?: string): ClipConfig {
  const body = 'embed_dim' in raw ? parseOpenClip(raw, file) : parseHf(raw, file);
  const preprocess = parsePreprocess(pre, preFile ?? file, body.vision.imageSize);
  const withPre = { ...body, preprocess };
  return { ...withPre, configHash: hashConfig(withPre) };
}

type ConfigBody = Omit<ClipConfig, 'configHash' | 'preprocess'>;

function parseHf(raw: Json, file: string): ConfigBody {
  const r = new Fields(raw, file, '');
  // Configs saved by old transformers versions carry the sub-configs as *_config_dict.
  const sub = (key: string) => (raw[key] == null && raw[`${key}_dict`] != null ? `${key}_dict` : key);
  const tc = new Fields(r.object(sub('text_config')), file, `${sub('text_config')}.`);
  const vc = new Fields(r.object(sub('vision_config')), file, `${sub('vision_config')}.`);
  const eosTokenId = tc.int('eos_token_id', 49407, 0, MAX.tokenId);
  const text: TextConfig = {
    vocabSize: tc.int('vocab_size', 49408, 1, MAX.vocab),
    hiddenSize: tc.int('hidden_size', 512, 1, MAX.hidden),
    intermediateSize: tc.int('intermediate_size', 2048, 1, MAX.intermediate),
    numLayers: tc.int('num_hidden_layers', 12, 0, MAX.layers),
    numHeads: tc.int('num_attention_heads', 8, 1, MAX.heads),
    contextLength: tc.int('max_position_embeddings', 77, 1, LIMITS.contextLength.max),
    hiddenAct: tc.act('hidden_act', 'quick_gelu'),
    layerNormEps: tc.positive('layer_norm_eps', 1e-5),
    bosTokenId: tc.int('bos_token_id', 49406, 0, MAX.tokenId),
    eosTokenId,
    pooling: eosTokenId === 2 ? 'argmax' : 'first-eos',
  };
  const vision: VisionConfig = {
    hiddenSize: vc.int('hidden_size', 768, 1, MAX.hidden),
    intermediateSize: vc.int('intermediate_size', 3072, 1, MAX.intermediate),
    numLayers: vc.int('num_hidden_layers', 12, 0, MAX.layers),
    numHeads: vc.int('num_attention_heads', 12, 1, MAX.heads),
    imageSize: vc.int('image_size', 224, 1, LIMITS.imageSize.max),
    patchSize: vc.int('patch_size', 32, 1, LIMITS.imageSize.max),
    numChannels: vc.int('num_channels', 3, 1, MAX.channels),
    hiddenAct: vc.act('hidden_act', 'quick_gelu'),
    layerNormEps: vc.positive('layer_norm_eps', 1e-5),
  };
  const body: ConfigBody = {
    layout: 'hf',
    name: r.optionalString('_name_or_path'),
    projectionDim: r.int('projection_dim', 512, 1, MAX.hidden),
    logitScaleInit: r.number('logit_scale_init_value', DEFAULT_LOGIT_SCALE_INIT),
    vision,
    text,
  };
  checkShapes(body, file);
  return body;
}

/** open_clip / Immich: {embed_dim, vision_cfg: {width, layers, patch_size, image_size}, text_cfg}. */
function parseOpenClip(raw: Json, file: string): ConfigBody {
  const r = new Fields(raw, file, '');
  const vc = new Fields(r.object('vision_cfg'), file, 'vision_cfg.');
  const tc = new Fields(r.object('text_cfg'), file, 'text_cfg.');
  // open_clip uses nn.GELU unless the config asks for QuickGELU (OpenAI's weights do).
  const act: HiddenAct = r.bool('quick_gelu', false) ? 'quick_gelu' : 'gelu';
  const vWidth = vc.int('width', 768, 1, MAX.hidden);
  const tWidth = tc.int('width', 512, 1, MAX.hidden);
  const vMlp = vc.positive('mlp_ratio', 4, MAX.mlpRatio);
  const tMlp = tc.positive('mlp_ratio', 4, MAX.mlpRatio);
  const body: ConfigBody = {
    layout: 'open_clip',
    name: r.optionalString('model_name'),
    projectionDim: r.int('embed_dim', 512, 1, MAX.hidden),
    logitScaleInit: Math.log(1 / 0.07),
    vision: {
      hiddenSize: vWidth,
      intermediateSize: Math.round(vWidth * vMlp),
      numLayers: vc.int('layers', 12, 0, MAX.layers),
      numHeads: Math.max(1, Math.floor(vWidth / vc.int('head_width', 64, 1, MAX.hidden))),
      imageSize: vc.int('image_size', 224, 1, LIMITS.imageSize.max),
      patchSize: vc.int('patch_size', 32, 1, LIMITS.imageSize.max),
      numChannels: 3,
      hiddenAct: act,
      layerNormEps: 1e-5,
    },
    text: {
      vocabSize: tc.int('vocab_size', 49408, 1, MAX.vocab),
      hiddenSize: tWidth,
      intermediateSize: Math.round(tWidth * tMlp),
      numLayers: tc.int('layers', 12, 0, MAX.layers),
      numHeads: tc.int('heads', 8, 1, MAX.heads),
      contextLength: tc.int('context_length', 77, 1, LIMITS.contextLength.max),
      hiddenAct: act,
      layerNormEps: 1e-5,
      bosTokenId: 49406,
      eosTokenId: 49407,
      pooling: 'argmax',
    },
  };
  checkShapes(body, file);
  return body;
}

function checkShapes(c: ConfigBody, file: string): void {
  const { vision: v, text: t } = c;
  if (v.hiddenSize % v.numHeads !== 0) {
    throw new ModelFormatError(`vision hidden size ${v.hiddenSize} is not divisible by ${v.numHeads} heads`, file);
  }
  if (t.hiddenSize % t.numHeads !== 0) {
    throw new ModelFormatError(`text hidden size ${t.hiddenSize} is not divisible by ${t.numHeads} heads`, file);
  }
  if (v.imageSize % v.patchSize !== 0) {
    throw new ModelFormatError(`vision image_size ${v.imageSize} is not a multiple of patch_size ${v.patchSize}`, file);
  }
  if (t.eosTokenId >= t.vocabSize && t.pooling === 'first-eos') {
    throw new ModelFormatError(`text eos_token_id ${t.eosTokenId} is outside the vocabulary (${t.vocabSize})`, file);
  }
}

/** preprocessor_config.json: size {shortest_edge} | int, crop_size {height,width} | int. */
function parsePreprocess(pre: Json | undefined, file: string, imageSize: number): PreprocessConfig {
  if (pre === undefined) {
    return { resizeShortest: imageSize, cropSize: imageSize, mean: CLIP_MEAN, std: CLIP_STD, resample: BICUBIC };
  }
  const f = new Fields(pre, file, '');
  const resizeShortest = sizeField(pre, 'size', file, imageSize, ['shortest_edge']);
  const cropSize = sizeField(pre, 'crop_size', file, resizeShortest, ['height', 'width']);
  if (cropSize !== imageSize) {
    throw new ModelFormatError(`crop_size ${cropSize} differs from the vision image_size ${imageSize}`, file);
  }
  if (cropSize > resizeShortest) {
    throw new ModelFormatError(`crop_size ${cropSize} is larger than size ${resizeShortest}`, file);
  }
  return {
    resizeShortest,
    cropSize,
    mean: f.triple('image_mean', CLIP_MEAN, false),
    std: f.triple('image_std', CLIP_STD, true),
    resample: f.int('resample', BICUBIC, 0, 5),
  };
}

function sizeField(pre: Json, key: string, file: string, fallback: number, keys: string[]): number {
  const v = pre[key];
  if (v === undefined || v === null) return fallback;
  const ok = (x: unknown): x is number => isPositiveInt(x) && x <= LIMITS.imageSize.max;
  if (ok(v)) return v;
  if (isObject(v)) {
    const values = keys.map((k) => v[k]).filter((x) => x !== undefined);
    const first = values[0];
    if (values.length > 0 && ok(first) && values.every((x) => x === first)) return first;
  }
  throw new ModelFormatError(
    `${key} must be an integer from 1 to ${LIMITS.imageSize.max} or {${keys.join(', ')}} with equal such integers, got ${JSON.stringify(v)}`,
    file,
  );
}

/** Typed field access with defaults; every error names the file and the dotted field. */
class Fields {
  constructor(
    private readonly raw: Json,
    private readonly file: string,
    private readonly prefix: string,
  ) {}

  private fail(key: string, want: string, got: unknown): never {
    throw new ModelFormatError(`${this.prefix}${key} must be ${want}, got ${JSON.stringify(got)}`, this.file);
  }

  object(key: string): Json {
    const v = this.raw[key];
    if (v === undefined || v === null) return {};
    return isObject(v) ? v : this.fail(key, 'an object', v);
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.raw[key] ?? fallback;
    return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
      ? (v as number)
      : this.fail(key, `an integer from ${min} to ${max}`, v);
  }

  number(key: string, fallback: number): number {
    const v = this.raw[key] ?? fallback;
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, 'a finite number', v);
  }

  positive(key: string, fallback: number, max = Number.MAX_VALUE): number {
    const v = this.number(key, fallback);
    return v > 0 && v <= max ? v : this.fail(key, max === Number.MAX_VALUE ? 'a positive number' : `a positive number ≤ ${max}`, v);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key] ?? fallback;
    return typeof v === 'boolean' ? v : this.fail(key, 'true or false', v);
  }

  optionalString(key: string): string | undefined {
    const v = this.raw[key];
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  }

  act(key: string, fallback: HiddenAct): HiddenAct {
    const v = this.raw[key] ?? fallback;
    if (v === 'quick_gelu' || v === 'gelu') return v;
    throw new ModelFormatError(
      `${this.prefix}${key}: unsupported activation ${JSON.stringify(v)} (supported: quick_gelu, gelu)`,
      this.file,
    );
  }

  triple(key: string, fallback: [number, number, number], positive: boolean): [number, number, number] {
    const v = this.raw[key] ?? fallback;
    const ok =
      Array.isArray(v) &&
      v.length === 3 &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
    return ok ? [v[0], v[1], v[2]] : this.fail(key, `an array of 3 ${positive ? 'positive ' : ''}numbers`, v);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositiveInt(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) > 0;
}

/** Canonical JSON: object keys sorted at every level, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The name and layout do not change outputs, so they stay out of the hash. */
function hashConfig(c: Omit<ClipConfig, 'configHash'>): string {
  const { projectionDim, logitScaleInit, vision, text, preprocess } = c;
  const canonical = canonicalJson({ projectionDim, logitScaleInit, vision, text, preprocess });
  return createHash('sha256').update(canonical).digest('hex');
}
