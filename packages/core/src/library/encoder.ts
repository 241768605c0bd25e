// What the library needs from a model, and nothing more: decode+preprocess a batch of files,
// encode pixels, encode texts. Keeping this seam narrow lets the import pipeline overlap
// decoding (libuv / sharp threads) with encoding (the backend's compute pool).
import type { ClipkitError } from '../errors.js';
import type { PixelBatch, Precision } from '../types.js';
import type { PreprocessClocks } from './stage-clock.js';
import type { ModelIdentity } from './catalog/index.js';

export interface PreparedBatch {
  /** One slot per input, in input order (a failed input's slot holds no image). */
  pixels: PixelBatch;
  /** For each input: its row in `pixels`, or the error that kept it out. */
  rows: Array<number | ClipkitError>;
}

export interface LibraryEncoder {
  readonly identity: ModelIdentity;
  /** The precision the encoders run in, recorded with each embedding. */
  readonly precision: Precision;
  /** The model's learned temperature for zero-shot logits (CLIP's exp(logit_scale)). */
  readonly logitScale: number;
  /**
   * Decodes and preprocesses encoded image files (fast mode); never throws for a bad image.
   * `clocks`, when given, is credited with each image's decode and preprocessing time.
   */
  prepare(files: ReadonlyArray<{ path: string; bytes: Uint8Array }>, clocks?: PreprocessClocks): Promise<PreparedBatch>;
  /** L2-normalised image embeddings, [n, projectionDim]. */
  encodeImages(pixels: PixelBatch): Promise<Float32Array>;
  /** L2-normalised text embeddings, [n, projectionDim]. */
  encodeTexts(texts: readonly string[]): Promise<Float32Array>;
  /** Reads and prepares the weights now (Clip.warm) rather than in the first call. */
  warm(): Promise<void>;
  dispose(): void;
}
