// Public types of @clipkit/core: the contracts between the model, backend, image and library
// modules. Implementations live in model/, backends/, image/, library/ and clip.ts.
import type { RawImage } from '@clipkit/native-cuda';

export type BackendName = 'auto' | 'onnx' | 'native';
export type DeviceName = 'cpu' | 'cuda';
/** The arithmetic of a loaded model: fp32, or bf16 GEMMs (fp32 accumulation) on the native backend. */
export type Precision = 'fp32' | 'bf16';
/** auto: bf16 where the native backend has a bf16 path on this machine (nativeInfo().cpu.bf16), else fp32. */
export type PrecisionOption = Precision | 'auto';

export interface ClipLoadOptions {
  backend?: BackendName; // default 'auto': native when model.safetensors exists, else onnx
  device?: DeviceName; // default 'cpu'
  threads?: number; // compute threads (default: all cores)
  batchSize?: number; // largest batch sent to a backend at once (default 32)
  precision?: PrecisionOption; // default 'fp32'; 'bf16' needs the native backend
  image?: ImageOptions; // how Clip decodes and preprocesses image files and buffers
}

/** What a model directory says about itself (from config.json + preprocessor_config.json). */
export interface ModelInfo {
  dir: string;
  /** Stable id for catalogs: name from config (`_name_or_path`) or the directory name. */
  id: string;
  /** sha256 of the canonical config, so catalogs refuse to mix models. */
  configHash: string;
  projectionDim: number;
  imageSize: number; // vision input size (e.g. 224)
  contextLength: number; // text max_position_embeddings (77)
  logitScale: number; // exp(logit_scale) as used for logits
}

/** Preprocessed pixels: float32 [n, 3, size, size], CHW per image, normalised. */
export interface PixelBatch {
  data: Float32Array;
  n: number;
  size: number;
}

/**
 * An encoder backend. Inputs are already preprocessed / tokenized; outputs are the projected
 * (not normalised) embeddings [n, projectionDim]. onnx and native are interchangeable.
 */
export interface Backend {
  readonly name: 'onnx' | 'native';
  readonly device: DeviceName;
  readonly precision: Precision;
  encodeImages(pixels: PixelBatch): Promise<Float32Array>;
  /** ids: [n, contextLength] int32, rows [49406, ..., 49407, pad...] (pad 0 or 49407). */
  encodeTexts(ids: Int32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

/** An image as a path, encoded file bytes, or decoded pixels. */
export type ImageInput = string | Uint8Array | RawImage;

export interface EncodeOptions {
  /** L2-normalise each row (default false, like the reference's image_embeds/text_embeds). */
  normalize?: boolean;
}

export type TemplateSet = 'simple' | 'imagenet80' | readonly string[];

export interface ClassifyOptions {
  templates?: TemplateSet; // default 'simple' ("a photo of a {}.")
}

export interface LabelScore {
  label: string;
  probability: number; // softmax over labels of logitScale · cos
  logit: number;
}

/** Image decoding + preprocessing options (the image pipeline). */
export interface ImageOptions {
  mode?: 'exact' | 'fast'; // exact: full decode (Pillow parity); fast: shrink-on-load first
  orientation?: 'exif' | 'ignore'; // default 'exif'
  alpha?: 'reference' | 'white' | 'black'; // default 'reference'
  crop?: 'round' | 'floor'; // default 'round' (OpenAI); 'floor' = Hugging Face
  maxPixels?: number; // default 268_402_689 (sharp's default limit)
}
