// Checks of encoder inputs shared by every backend: a wrong shape or an out-of-vocabulary id is
// the caller's mistake and becomes a UsageError naming the value, before any kernel runs.
// Non-finite pixels are refused as well: they would come back as NaN embeddings, not an error.
import { UsageError } from '../errors.js';
import type { ClipConfig } from '../model/config.js';
import type { PixelBatch } from '../types.js';

export function checkPixelBatch(pixels: PixelBatch, config: ClipConfig): void {
  const { imageSize: s, numChannels: c } = config.vision;
  if (typeof pixels !== 'object' || pixels === null) throw new UsageError(`pixels must be a { data, n, size } batch, got ${typeName(pixels)}`);
  if (!Number.isSafeInteger(pixels.n) || pixels.n < 0) throw new UsageError(`pixels.n must be a non-negative integer, got ${pixels.n}`);
  if (pixels.size !== s) throw new UsageError(`pixels.size is ${pixels.size}, this model takes ${s}x${s} images`);
  const per = c * s * s;
  if (!(pixels.data instanceof Float32Array)) throw new UsageError(`pixels.data must be a Float32Array, got ${typeName(pixels.data)}`);
  if (pixels.data.length !== pixels.n * per) {
    throw new UsageError(`pixels.data has ${pixels.data.length} values, expected n·${c}·${s}·${s} = ${pixels.n * per}`);
  }
  // A NaN or ±Inf spreads through attention to every value of the image's embedding.
  const data = pixels.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      const x = i % s;
      const y = Math.floor(i / s) % s;
      const ch = Math.floor(i / (s * s)) % c;
      throw new UsageError(`pixels[${Math.floor(i / per)}][${ch}][${y}][${x}] is ${v}: pixel values must be finite`);
    }
  }
}

export function checkInputIds(ids: Int32Array, n: number, config: ClipConfig): void {
  const { contextLength: L, vocabSize } = config.text;
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`n must be a non-negative integer, got ${n}`);
  if (!(ids instanceof Int32Array)) throw new UsageError(`ids must be an Int32Array, got ${typeName(ids)}`);
  if (ids.length !== n * L) throw new UsageError(`ids has ${ids.length} values, expected n·${L} = ${n * L}`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= vocabSize) {
      throw new UsageError(`ids[${Math.floor(i / L)}][${i % L}] = ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

/** Rows a backend (and Clip, per preprocessed batch) runs at once unless told otherwise. */
export const DEFAULT_BATCH_SIZE = 32;

export function checkBatchOptions(opts: { batchSize?: number; threads?: number }): void {
  if (opts.batchSize !== undefined && (!Number.isSafeInteger(opts.batchSize) || opts.batchSize < 1)) {
    throw new UsageError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  }
  if (opts.threads !== undefined && (!Number.isSafeInteger(opts.threads) || opts.threads < 1)) {
    throw new UsageError(`threads must be a positive integer, got ${opts.threads}`);
  }
}

function typeName(v: unknown): string {
  return v === null || v === undefined ? String(v) : (v.constructor?.name ?? typeof v);
}
