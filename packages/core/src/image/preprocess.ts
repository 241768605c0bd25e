// Images -> the float32 [n, 3, S, S] batch the vision encoder takes. Decoding runs concurrently
// on sharp's (libuv) pool, each decoded image goes straight through the addon's fused kernel into
// its slot of a reused batch buffer and is then dropped, so memory stays at `concurrency` decoded
// images plus the batch. In fast mode a JPEG is decoded by the addon itself, shrunk on load by
// DCT scaling, into a per-thread buffer the kernel reads (addon preprocessJpeg); whatever that
// declines (other formats, CMYK, damaged data) goes through sharp as in exact mode.
import { availableParallelism } from 'node:os';
import * as addon from '@clipkit/native-cuda';
import type { JpegPreprocessOptions, NativeKernels, PreprocessOptions as KernelOptions, RawImage } from '@clipkit/native-cuda';
import { ClipkitError, UnsupportedImageError, UsageError } from '../errors.js';
import { checkIntRange, LIMITS } from '../limits.js';
import type { PreprocessConfig } from '../model/config.js';
import { openModelDir } from '../model/model-dir.js';
import type { ImageInput, ImageOptions, PixelBatch } from '../types.js';
import type { PreprocessClocks } from '../library/stage-clock.js';
import { decodeEncoded, decodeImage, describeInput, readImageFile, type DecodedImage, type DecodeOptions } from './decode.js';
import { resizeGray16LikePillow } from './pillow-int32.js';
import { toRgbFirst } from './rgb-first.js';

const kernels: NativeKernels = addon;

export interface ImagePreprocessorOptions extends ImageOptions {
  /**
   * Convert to RGB before resizing, as Hugging Face's CLIPImageProcessor does (alpha dropped
   * without premultiplying, palette and CMYK expanded first). Default false: OpenAI's order.
   * Combine with crop 'floor' to reproduce Hugging Face.
   */
  rgbFirst?: boolean;
  /** Images decoded at once (default: one per core, at least 2). */
  concurrency?: number;
  /** Batch buffers reused in turn (default 2: one being filled while the previous one encodes). */
  buffers?: number;
}

export interface PreprocessResult {
  /** Slot i holds input i; a failed slot is zero-filled. */
  pixels: PixelBatch;
  /** errors[i] is the typed error of input i, or null when it was preprocessed. */
  errors: Array<ClipkitError | null>;
}

/** The four numbers of a preprocessor_config.json the pipeline uses. */
export type ImageSizeConfig = Pick<PreprocessConfig, 'resizeShortest' | 'cropSize' | 'mean' | 'std'>;

/** OpenAI CLIP's ViT-B/32 preprocessing: 224, and the ImageNet-like mean/std CLIP was trained with. */
export function defaultImageConfig(size = 224): ImageSizeConfig {
  return {
    resizeShortest: size,
    cropSize: size,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  };
}

export class ImagePreprocessor {
  readonly config: ImageSizeConfig;
  private readonly opts: ImagePreprocessorOptions;
  private readonly ring: Float32Array[] = [];
  private turn = 0;

  constructor(config: ImageSizeConfig, opts: ImagePreprocessorOptions = {}) {
    checkOptions(config, opts);
    this.config = config;
    this.opts = { ...opts };
  }

  /** Reads size, crop, mean and std from a model directory's preprocessor_config.json. */
  static fromModelDir(dir: string, opts: ImagePreprocessorOptions = {}): ImagePreprocessor {
    return new ImagePreprocessor(openModelDir(dir).config.preprocess, opts);
  }

  /** Side of the square crop each image becomes. */
  get size(): number {
    return this.config.cropSize;
  }

  /**
   * Decodes and preprocesses every input; a bad input is reported in `errors`, never thrown.
   * Without `out`, pixels.data is one of this instance's reused buffers: the `buffers`-th call
   * after this one (default 2) overwrites it. Pass `out` (n*3*size*size floats or more) to own it.
   * `clocks` (the import pipeline's stage timing) is credited with each image's decode and kernel.
   */
  async preprocess(inputs: readonly ImageInput[], out?: Float32Array, clocks?: PreprocessClocks): Promise<PreprocessResult> {
    if (!Array.isArray(inputs)) throw new UsageError('preprocess: inputs must be an array of paths, buffers or raw images');
    const n = inputs.length;
    const slot = 3 * this.size * this.size;
    if (out !== undefined && (!(out instanceof Float32Array) || out.length < n * slot)) {
      throw new UsageError(`preprocess: out must be a Float32Array of at least ${n * slot} floats`);
    }
    const data = (out ?? this.nextBuffer(n * slot)).subarray(0, n * slot);
    const errors: Array<ClipkitError | null> = new Array<ClipkitError | null>(n).fill(null);
    const decodeOpts: DecodeOptions = { orientation: this.opts.orientation ?? 'exif' };
    if (this.opts.maxPixels !== undefined) decodeOpts.maxPixels = this.opts.maxPixels;
    if (this.opts.mode === 'fast') decodeOpts.shrinkTo = this.config.resizeShortest;
    const kernelOpts: KernelOptions = {
      resizeShortest: this.config.resizeShortest,
      cropSize: this.config.cropSize,
      mean: this.config.mean,
      std: this.config.std,
      alpha: this.opts.alpha ?? 'reference',
      crop: this.opts.crop ?? 'round',
    };

    const nativeJpeg = this.opts.mode === 'fast' && !this.opts.rgbFirst;
    const jpegOpts: JpegPreprocessOptions = { ...kernelOpts, orientation: decodeOpts.orientation ?? 'exif' };
    if (decodeOpts.maxPixels !== undefined) jpegOpts.maxPixels = decodeOpts.maxPixels;

    await forEachBounded(n, this.concurrency(), async (i) => {
      const input = inputs[i] as ImageInput;
      try {
        let source: ImageInput = input;
        if (nativeJpeg && (typeof input === 'string' || input instanceof Uint8Array)) {
          const bytes = typeof input === 'string' ? await readImageFile(input) : input;
          // One fused call: its time is the decode stage's, its kernel seconds the preprocess
          // stage's; a declined file counts once, where sharp decodes it.
          const endDecode = clocks?.decode.begin();
          const shrunk = await jpegIntoSlot(bytes, data, jpegOpts, i);
          endDecode?.(shrunk === null ? 0 : 1);
          if (shrunk !== null) {
            clocks?.preprocess.credit(shrunk.preprocessSeconds);
            return;
          }
          source = bytes;
        }
        const decode = () => (source === input ? decodeImage(input, decodeOpts) : decodeEncoded(source as Uint8Array, describeInput(input), decodeOpts));
        const decoded = clocks ? await clocks.decode.time(decode) : await decode();
        const endKernel = clocks?.preprocess.begin();
        try {
          await runKernel(this.kernelInput(decoded), data, kernelOpts, i, describeInput(input));
        } finally {
          endKernel?.();
        }
      } catch (err) {
        if (!(err instanceof ClipkitError)) throw err;
        errors[i] = err;
        data.fill(0, i * slot, (i + 1) * slot);
      }
    });
    return { pixels: { data, n, size: this.size }, errors };
  }

  /** Like preprocess(), but the first bad input throws its typed error. */
  async preprocessOrThrow(inputs: readonly ImageInput[], out?: Float32Array): Promise<PixelBatch> {
    const { pixels, errors } = await this.preprocess(inputs, out);
    const failed = errors.find((e) => e !== null);
    if (failed) throw failed;
    return pixels;
  }

  /** The kernel's input: Hugging Face's RGB-first conversion, or Pillow's int32 resize of 16-bit gray. */
  private kernelInput(decoded: DecodedImage): RawImage {
    if (this.opts.rgbFirst) return toRgbFirst(decoded, this.opts.alpha);
    if (decoded.gray16 !== undefined) {
      return resizeGray16LikePillow(decoded.gray16, decoded.width, decoded.height, this.config.resizeShortest);
    }
    return decoded;
  }

  private concurrency(): number {
    return this.opts.concurrency ?? Math.max(2, availableParallelism());
  }

  private nextBuffer(floats: number): Float32Array {
    const count = this.opts.buffers ?? 2;
    const i = this.turn;
    this.turn = (this.turn + 1) % count;
    const current = this.ring[i];
    if (current !== undefined && current.length >= floats) return current;
    const fresh = new Float32Array(floats);
    this.ring[i] = fresh;
    return fresh;
  }
}

const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/**
 * Fast mode's JPEG path: the addon decodes at the largest DCT scale that keeps the shorter side
 * >= the target, straight into slot `slot`. Null when it declined (not a JPEG, CMYK, damaged,
 * over maxPixels, out of memory): the caller decodes with sharp, which names the problem.
 */
async function jpegIntoSlot(bytes: Uint8Array, out: Float32Array, opts: JpegPreprocessOptions, slot: number): Promise<{ preprocessSeconds: number } | null> {
  if (bytes.byteLength < 4 || JPEG_MAGIC.some((b, i) => bytes[i] !== b)) return null;
  try {
    const r = await kernels.preprocessJpegAsync(bytes, out, { ...opts, offset: slot });
    return r.decoded ? r : null;
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err; // our arguments: a bug
    return null; // a failure while decoding (e.g. a CUDA error): sharp gets its turn
  }
}

// The addon validates sizes (e.g. a 1x100000 strip whose resize would exceed its limits) with
// RangeError/TypeError; for an image that is a property of the input, so it becomes a typed error.
async function runKernel(image: RawImage, out: Float32Array, opts: KernelOptions, slot: number, name: string): Promise<void> {
  try {
    await kernels.preprocessAsync([image], out, { ...opts, offset: slot });
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) {
      throw new UnsupportedImageError(`cannot preprocess: ${err.message}`, name, { cause: err });
    }
    throw err;
  }
}

/** Runs task(0..n-1) with at most `limit` in flight; rejects with the first unexpected error. */
async function forEachBounded(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

function checkOptions(config: ImageSizeConfig, opts: ImagePreprocessorOptions): void {
  const positive = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  checkIntRange('image size', config.resizeShortest, LIMITS.imageSize);
  checkIntRange('crop size', config.cropSize, LIMITS.imageSize);
  const oneOf = (key: keyof ImagePreprocessorOptions, allowed: readonly string[]) => {
    const v = opts[key];
    if (v !== undefined && !allowed.includes(v as string)) {
      throw new UsageError(`${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    }
  };
  oneOf('mode', ['exact', 'fast']);
  oneOf('orientation', ['exif', 'ignore']);
  oneOf('alpha', ['reference', 'white', 'black']);
  oneOf('crop', ['round', 'floor']);
  for (const key of ['concurrency', 'buffers', 'maxPixels'] as const) {
    if (opts[key] !== undefined && !positive(opts[key])) throw new UsageError(`${key} must be a positive integer`);
  }
}
