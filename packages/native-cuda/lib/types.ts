// The public surface of @clipkit/native-cuda. Core and bench code against these types only.
// Every function validates its arguments (lengths, shapes, dtypes, k, indices) and throws
// TypeError / RangeError naming the argument before any native memory is touched.

export type Activation = 'none' | 'quick_gelu' | 'gelu';
export type Device = 'cpu' | 'cuda';
export type Isa = 'avx512' | 'avx2' | 'generic';
/** The GEMM a bf16 weight runs on (null: the fp32 kernels on its bf16-rounded values). */
export type Bf16Path = 'amx' | 'avx512_bf16';
export type DType = 'f32' | 'f16' | 'bf16';

export interface CudaDeviceInfo {
  name: string;
  computeCapability: string; // "9.0"
  memoryBytes: number;
}

export interface NativeInfo {
  version: string;
  cpu: {
    isa: Isa;
    threads: number;
    /**
     * The path a bf16 weight runs on now, once its known-answer self-test has passed (the first
     * nativeInfo() or bf16 linear runs it): 'amx', 'avx512_bf16', or null when neither is usable
     * (bf16 weights then run the fp32 kernels on their rounded values: same numbers within
     * tolerance, no speed-up). CLIPKIT_ISA=avx512 (or lower) disables both, avx512_bf16 AMX.
     */
    bf16: Bf16Path | null;
    /** Why a faster bf16 path is not taken (CPU lacks it, CLIPKIT_ISA, a failed self-test). */
    bf16Note: string | null;
  };
  cuda: { compiled: boolean; available: boolean; devices: CudaDeviceInfo[]; error: string | null };
  /**
   * preprocessJpeg's decoders: the DC-only 1/8 decoder is always there; `libjpeg` says whether
   * the build linked libjpeg for the other scales and progressive files.
   */
  jpeg: { libjpeg: boolean };
}

/** What preprocessJpeg did with one file. */
export type JpegPreprocessResult =
  | {
      decoded: true;
      /** 'dc': the 1/8 image from DC coefficients alone; 'libjpeg': libjpeg's scaled decode. */
      path: 'dc' | 'libjpeg';
      /** The DCT scale denominator used: 8, 4, 2 or 1. */
      scale: 1 | 2 | 4 | 8;
      /** The image as displayed (EXIF orientation applied unless ignored). */
      width: number;
      height: number;
      /** Seconds of the call spent in resize + crop + normalise (the rest decoded). */
      preprocessSeconds: number;
    }
  /** Not decoded (slot untouched): another JPEG process, CMYK, corrupt data, too many pixels... */
  | { decoded: false; reason: string };

export interface JpegPreprocessOptions extends PreprocessOptions {
  /** The slot of `out` to fill (default 0). */
  offset?: number;
  /** Files with more pixels are not decoded (default 268402689, sharp's limit). */
  maxPixels?: number;
  /** 'exif' (default) applies the EXIF Orientation tag; 'ignore' keeps the stored pixels. */
  orientation?: 'exif' | 'ignore';
}

/**
 * Memory owned by the addon (aligned host memory, or device memory when device is 'cuda').
 * Kernels accept a Tensor wherever they accept a Float32Array. A kernel whose tensor
 * arguments are all on 'cuda' runs on the GPU; mixing devices throws.
 * dispose() frees at once; the GC frees a forgotten one eventually.
 */
export interface Tensor {
  readonly shape: readonly number[];
  /**
   * 'bf16' tensors hold f32 data rounded to bfloat16 (nearest even; NaN stays NaN) and are
   * accepted only as the weight `w` of linear, linearAsync and chainAsync's linear: anywhere
   * else they are a TypeError naming the argument.
   */
  readonly dtype: DType;
  readonly device: Device;
  readonly size: number; // element count
  readonly disposed: boolean;
  /** Copy out to a new Float32Array (f16 and bf16 are widened). */
  toArray(): Float32Array;
  /** Copy in from a host array of exactly `size` elements (rounded for f16 / bf16). */
  write(data: Float32Array): void;
  dispose(): void;
}

export type F32 = Float32Array | Tensor;

/** A decoded image, uint8 interleaved HWC (what sharp's raw output gives). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** Pillow resizes palette ("P") and bilevel ("1") images with 'nearest'. Default 'bicubic'. */
  resample?: 'bicubic' | 'nearest';
  /** Only with 4 channels: they hold CMYK, not RGBA (resized as-is, then Pillow's naive cmyk2rgb). */
  cmyk?: boolean;
}

export interface PreprocessOptions {
  /** Shorter side after resize (Pillow BICUBIC, antialiased). Default 224. */
  resizeShortest?: number;
  /** Square centre crop. Default = resizeShortest. */
  cropSize?: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  alpha?: 'reference' | 'white' | 'black';
  crop?: 'round' | 'floor';
}

export interface LinearOptions {
  m: number;
  n: number;
  k: number;
  activation?: Activation;
  /** Added after the activation: out = act(x·wᵀ + bias) + residual. May be the same as out. */
  residual?: F32 | null;
}

export interface AttentionOptions {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
  causal?: boolean;
  /** Default 1/sqrt(headDim). */
  scale?: number;
}

/** One kernel call for chainAsync: the kernel's name, then the arguments its own function takes. */
export type KernelCall =
  | readonly ['linear', F32, F32, F32 | null, F32, LinearOptions]
  | readonly ['attention', F32, F32, AttentionOptions]
  | readonly ['layerNorm', F32, F32, F32, F32, { rows: number; dim: number; eps: number }]
  | readonly ['add', F32, F32, F32]
  | readonly ['activation', F32, F32, Activation]
  | readonly ['softmax', F32, F32, { rows: number; cols: number }];

export interface TopK {
  /** [m, k] row-major, best first. */
  indices: Int32Array;
  scores: Float32Array;
}

/**
 * Buffer sizes: weights and parameters (w, bias, gamma, beta) must have exactly the elements
 * their shape needs; activations (x, out, residual, qkv, a, b) may be larger buffers reused
 * across batch sizes, of which only the leading elements are used. Outputs never overlap
 * inputs, except being the very same buffer where a kernel says "in place".
 * The *Async functions keep their arguments referenced until they settle; don't transfer,
 * detach or shrink (resizable ArrayBuffer) a buffer passed to one before then: the addon cannot
 * pin an ArrayBuffer's memory. The synchronous functions re-check every array before use.
 */
export interface NativeKernels {
  nativeInfo(): NativeInfo;
  setThreads(n: number): void;

  /**
   * Uint16Array data is f16 bits (dtype 'f16' by default, or widened to 'f32'); dtype 'bf16'
   * takes a Float32Array and rounds it. A CPU bf16 tensor is packed on its first use as a
   * linear weight into the layout of the bf16 GEMM the CPU runs (kept with it, like an f32
   * weight's pack); a CUDA one runs cuBLAS's bf16 GEMM with fp32 compute.
   */
  tensor(data: Float32Array | Uint16Array, shape: readonly number[], opts?: { dtype?: DType; device?: Device }): Tensor;
  /**
   * A zero-filled Float32Array (dtype 'f16': a Uint16Array of half bits) in addon memory, for
   * buffers the kernels stream through: activations, a search catalogue. 64-byte aligned, and
   * from 2 MiB on backed by transparent huge pages where the OS allows: on these VMs the GEMM
   * runs about a fifth slower over 4 KiB pages, and a top-k over an f16 catalogue 1.8× slower.
   * Freed after the GC collects the array, by a finalizer that runs on the event loop: a
   * synchronous loop that allocates many holds them all until it yields, so this is meant for
   * long-lived, reused buffers. Falls back to a plain typed array where external memory is not
   * allowed.
   */
  hostArray(length: number, dtype?: 'f32'): Float32Array;
  hostArray(length: number, dtype: 'f16'): Uint16Array;

  /** Batch: image i -> out[i*3*c*c ...]; out is [n,3,c,c] float32 (or larger; `offset` is the first slot). */
  preprocess(images: RawImage[], out: F32, opts?: PreprocessOptions & { offset?: number }): void;
  preprocessAsync(images: RawImage[], out: F32, opts?: PreprocessOptions & { offset?: number }): Promise<void>;
  /**
   * Fast mode's shrink-on-load for one JPEG file's bytes: decoded at the largest DCT scale
   * (1/8, 1/4, 1/2) that keeps the shorter side >= resizeShortest, straight into slot `offset`
   * of out through the same resize + crop + normalise as preprocess. Never throws for the
   * file's content: { decoded: false, reason } says to decode it another way (sharp).
   */
  preprocessJpeg(bytes: Uint8Array, out: F32, opts?: JpegPreprocessOptions): JpegPreprocessResult;
  preprocessJpegAsync(bytes: Uint8Array, out: F32, opts?: JpegPreprocessOptions): Promise<JpegPreprocessResult>;
  /** The uint8 RGB crop [c,c,3] before normalisation (what Pillow's pipeline shows as the crop). */
  preprocessCrop(image: RawImage, opts?: PreprocessOptions): Uint8Array;

  /**
   * out[m,n] = act(x[m,k]·w[n,k]ᵀ + bias[n]) + residual[m,n]
   * A CPU Tensor `w` is packed on first use and the pack cached with it (as much memory again;
   * write() or using it as a kernel's output drops it): no per-call packing, and each row of out
   * is bit-identical whatever m is. A Float32Array `w` may round differently for m <= 64.
   * A bf16 Tensor `w`: x is rounded to bf16, products are summed in fp32 and bias, activation
   * and residual applied in fp32; the GEMM is nativeInfo().cpu.bf16's (the first call without
   * one says so once on stderr).
   */
  linear(x: F32, w: F32, bias: F32 | null, out: F32, opts: LinearOptions): void;
  linearAsync(x: F32, w: F32, bias: F32 | null, out: F32, opts: LinearOptions): Promise<void>;
  /** In place allowed (out === x). */
  layerNorm(x: F32, gamma: F32, beta: F32, out: F32, opts: { rows: number; dim: number; eps: number }): void;
  /** a, b and out have equal lengths; in place allowed (out === a or out === b). */
  add(a: F32, b: F32, out: F32): void;
  /** x and out have equal lengths; in place allowed (out === x). */
  activation(x: F32, out: F32, kind: Activation): void;
  /** Row-wise, stable; in place allowed (out === x). */
  softmax(x: F32, out: F32, opts: { rows: number; cols: number }): void;
  /**
   * qkv: packed projection output [batch, tokens, 3*heads*headDim] (q | k | v blocks per token).
   * out: [batch, tokens, heads*headDim].
   */
  attention(qkv: F32, out: F32, opts: AttentionOptions): void;
  attentionAsync(qkv: F32, out: F32, opts: AttentionOptions): Promise<void>;
  /**
   * Runs the calls in order as one job off the JS thread: one thread hop for the chain instead
   * of one per kernel (~80 µs each here; an encoder layer is six or seven kernels). Every call is
   * validated before any runs, with the same errors as the kernel's own function, prefixed by
   * its place in the list ("chainAsync calls[2] (linear): ...").
   */
  chainAsync(calls: readonly KernelCall[]): Promise<void>;

  /** scores[m,n] = scale·a[m,d]·b[n,d]; b float32 or float16 (Uint16Array bits). */
  similarity(a: F32, b: F32 | Uint16Array, out: F32, opts: { m: number; n: number; d: number; scale?: number }): void;
  similarityTopK(a: F32, b: F32 | Uint16Array, opts: { m: number; n: number; d: number; k: number; scale?: number }): TopK;
  similarityTopKAsync(a: F32, b: F32 | Uint16Array, opts: { m: number; n: number; d: number; k: number; scale?: number }): Promise<TopK>;

  /** float32 <-> float16 (IEEE half, round to nearest even) conversions for storage. */
  toFloat16(x: Float32Array): Uint16Array;
  fromFloat16(x: Uint16Array): Float32Array;
}
