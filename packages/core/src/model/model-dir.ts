// Finds a model directory's files (Hugging Face layout or the Immich/open_clip ONNX layout),
// parses its config, and says precisely what is missing when a backend needs more than is there.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ModelFormatError } from '../errors.js';
import type { ModelInfo } from '../types.js';
import { parseClipConfig, readJsonObject, type ClipConfig } from './config.js';
import { validateClipTensors } from './clip-tensors.js';
import { readSafetensorsScalar, SafetensorsFile } from './safetensors.js';

export type TokenizerFiles =
  | { kind: 'vocab+merges'; vocab: string; merges: string }
  | { kind: 'tokenizer.json'; path: string };

export interface ModelFiles {
  dir: string;
  layout: 'hf' | 'open_clip';
  config: string;
  /** preprocessor_config.json (HF) or visual/preprocess_cfg.json (Immich), when present. */
  preprocessor: string | undefined;
  safetensors: string | undefined;
  visionOnnx: string | undefined;
  textOnnx: string | undefined;
  tokenizer: TokenizerFiles | undefined;
}

export interface ModelDir {
  files: ModelFiles;
  config: ClipConfig;
  info: ModelInfo;
}

/** What a caller is about to use; requireFiles() checks exactly that. */
export interface ModelNeeds {
  weights?: boolean;
  onnx?: boolean;
  tokenizer?: boolean;
}

/**
 * Every published CLIP checkpoint learned logit_scale up to its clamp, ln(100); ONNX-only
 * directories carry no weights to read it from, and the config's logit_scale_init_value is the
 * pre-training init (1/0.07), not the trained value.
 */
const TRAINED_LOGIT_SCALE = 100;

export function discoverModelFiles(dir: string): ModelFiles {
  const abs = path.resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new ModelFormatError('model directory not found (expected a folder with config.json)', abs);
  }
  const at = (...parts: string[]) => {
    const p = path.join(abs, ...parts);
    return existsSync(p) ? p : undefined;
  };
  const config = at('config.json');
  if (config === undefined) {
    throw new ModelFormatError(`config.json is missing; found: ${listing(abs)}`, abs);
  }
  const layout = 'embed_dim' in readJsonObject(config) ? 'open_clip' : 'hf';
  if (layout === 'open_clip') {
    const tokenizerJson = at('textual', 'tokenizer.json') ?? at('tokenizer.json');
    return {
      dir: abs,
      layout,
      config,
      preprocessor: at('visual', 'preprocess_cfg.json'),
      safetensors: undefined,
      visionOnnx: at('visual', 'model.onnx'),
      textOnnx: at('textual', 'model.onnx'),
      tokenizer: tokenizerJson === undefined ? undefined : { kind: 'tokenizer.json', path: tokenizerJson },
    };
  }
  const vocab = at('vocab.json');
  const merges = at('merges.txt');
  const tokenizerJson = at('tokenizer.json');
  return {
    dir: abs,
    layout,
    config,
    preprocessor: at('preprocessor_config.json'),
    safetensors: at('model.safetensors'),
    visionOnnx: at('onnx', 'vision_model.onnx'),
    textOnnx: at('onnx', 'text_model.onnx'),
    tokenizer:
      vocab !== undefined && merges !== undefined
        ? { kind: 'vocab+merges', vocab, merges }
        : tokenizerJson !== undefined
          ? { kind: 'tokenizer.json', path: tokenizerJson }
          : undefined,
  };
}

/** Throws one ModelFormatError listing every needed file that is absent, and what the folder holds. */
export function requireFiles(files: ModelFiles, needs: ModelNeeds): void {
  const missing: string[] = [];
  const hf = files.layout === 'hf';
  if (needs.weights && files.safetensors === undefined) {
    missing.push(hf ? 'model.safetensors' : 'model.safetensors (the open_clip/Immich layout has ONNX files only)');
  }
  if (needs.onnx) {
    if (files.visionOnnx === undefined) missing.push(hf ? 'onnx/vision_model.onnx' : 'visual/model.onnx');
    if (files.textOnnx === undefined) missing.push(hf ? 'onnx/text_model.onnx' : 'textual/model.onnx');
  }
  if (needs.tokenizer && files.tokenizer === undefined) {
    missing.push(hf ? 'vocab.json + merges.txt (or tokenizer.json)' : 'textual/tokenizer.json');
  }
  if (missing.length > 0) {
    throw new ModelFormatError(`model directory lacks ${missing.join(', ')}; found: ${listing(files.dir)}`, files.dir);
  }
}

/** Discovers the files, parses config.json (+ preprocessing), and checks `needs`. */
export function openModelDir(dir: string, needs: ModelNeeds = {}): ModelDir {
  const files = discoverModelFiles(dir);
  requireFiles(files, needs);
  const config = readConfig(files);
  const logitScale = readLogitScale(files, config);
  const info: ModelInfo = {
    dir: files.dir,
    id: config.name ?? path.basename(files.dir),
    configHash: config.configHash,
    projectionDim: config.projectionDim,
    imageSize: config.vision.imageSize,
    contextLength: config.text.contextLength,
    logitScale,
  };
  return { files, config, info };
}

/** model.safetensors opened (header only; tensors are read when asked for) and checked against every tensor the config implies. */
export function openWeights(model: ModelDir): SafetensorsFile {
  requireFiles(model.files, { weights: true });
  const file = SafetensorsFile.open(model.files.safetensors as string);
  validateClipTensors(file, model.config);
  return file;
}

function readConfig(files: ModelFiles): ClipConfig {
  const raw = readJsonObject(files.config);
  if (files.preprocessor === undefined) return parseClipConfig(raw, files.config);
  const pre = readJsonObject(files.preprocessor);
  const hfPre = files.layout === 'open_clip' ? immichPreprocessToHf(pre, files.preprocessor) : pre;
  return parseClipConfig(raw, files.config, hfPre, files.preprocessor);
}

/** Immich's preprocess_cfg.json {size: n | [h, w], mean, std, interpolation} in HF's terms. */
function immichPreprocessToHf(pre: Record<string, unknown>, file: string): Record<string, unknown> {
  const size = Array.isArray(pre.size) ? pre.size[0] : pre.size;
  if (Array.isArray(pre.size) && pre.size.some((s) => s !== size)) {
    throw new ModelFormatError(`size ${JSON.stringify(pre.size)} is not square`, file);
  }
  const resample = { bicubic: 3, bilinear: 2, nearest: 0 }[String(pre.interpolation ?? 'bicubic')];
  if (resample === undefined) throw new ModelFormatError(`unsupported interpolation ${JSON.stringify(pre.interpolation)}`, file);
  return { size, crop_size: size, image_mean: pre.mean, image_std: pre.std, resample };
}

function readLogitScale(files: ModelFiles, config: ClipConfig): number {
  if (files.safetensors === undefined) return TRAINED_LOGIT_SCALE;
  const ln = readSafetensorsScalar(files.safetensors, 'logit_scale') ?? config.logitScaleInit;
  if (!Number.isFinite(ln)) throw new ModelFormatError('tensor "logit_scale" is not finite', files.safetensors);
  return Math.exp(ln);
}

function listing(dir: string): string {
  const names = readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
  return names.length === 0 ? '(empty)' : names.sort().join(', ');
}
