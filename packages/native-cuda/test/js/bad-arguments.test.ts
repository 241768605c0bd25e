// A table of bad arguments: each must throw TypeError/RangeError (or reject, for the async
// functions) naming the problem, and never crash the process (a crash fails the whole run).
import { describe, expect, it } from 'vitest';

import * as native from '../../lib/index.js';

type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;

const f = (n: number) => new Float32Array(n);
const detached = () => {
  const a = new Float32Array(12);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};
const disposed = () => {
  const t = native.tensor(f(12), [3, 4]);
  t.dispose();
  return t;
};
const img = (over: Record<string, unknown> = {}) => ({
  data: new Uint8Array(4 * 3 * 3), width: 4, height: 3, channels: 3, ...over,
});
const lin = { m: 3, n: 2, k: 4 };
const attn = { batch: 1, tokens: 2, heads: 2, headDim: 3 };
const sim = { m: 2, n: 3, d: 4 };
const MAX = 2 ** 31 - 1;

const cases: Array<[string, () => unknown, ErrorClass, RegExp]> = [
  // linear: lengths, dims, dtypes, options
  ['linear x too short', () => native.linear(f(11), f(8), null, f(6), lin), RangeError, /x has 11 elements, expected at least m\*k = 12/],
  ['linear w not exactly n*k', () => native.linear(f(12), f(9), null, f(6), lin), RangeError, /w has 9 elements, expected n\*k = 8/],
  ['linear bias wrong length', () => native.linear(f(12), f(8), f(3), f(6), lin), RangeError, /bias has 3/],
  ['linear out too short', () => native.linear(f(12), f(8), null, f(5), lin), RangeError, /out has 5/],
  ['linear residual too short', () => native.linear(f(12), f(8), null, f(6), { ...lin, residual: f(2) }), RangeError, /residual has 2/],
  ['linear negative m', () => native.linear(f(12), f(8), null, f(6), { ...lin, m: -3 }), RangeError, /m must be an integer/],
  ['linear zero k', () => native.linear(f(12), f(8), null, f(6), { ...lin, k: 0 }), RangeError, /k must be an integer/],
  ['linear NaN n', () => native.linear(f(12), f(8), null, f(6), { ...lin, n: NaN }), RangeError, /n must be an integer/],
  ['linear non-integer m', () => native.linear(f(12), f(8), null, f(6), { ...lin, m: 1.5 }), RangeError, /m must be an integer/],
  ['linear m > 2^31-1', () => native.linear(f(12), f(8), null, f(6), { ...lin, m: 2 ** 31 }), RangeError, /m must be an integer/],
  ['linear huge dims', () => native.linear(f(12), f(8), null, f(6), { m: MAX, n: MAX, k: MAX }), RangeError, /expected at least m\*k/],
  ['linear string m', () => native.linear(f(12), f(8), null, f(6), { ...lin, m: '3' as unknown as number }), TypeError, /m must be a number/],
  ['linear missing opts', () => (native.linear as (...a: unknown[]) => void)(f(12), f(8), null, f(6)), TypeError, /opts must be an options object/],
  ['linear missing m', () => native.linear(f(12), f(8), null, f(6), { n: 2, k: 4 } as typeof lin), TypeError, /m is required/],
  ['linear Float64Array x', () => native.linear(new Float64Array(12) as unknown as Float32Array, f(8), null, f(6), lin), TypeError, /x must be a Float32Array or f32 Tensor, got a Float64Array/],
  ['linear plain array w', () => native.linear(f(12), [1, 2] as unknown as Float32Array, null, f(6), lin), TypeError, /w must be a Float32Array/],
  ['linear detached x', () => native.linear(detached(), f(8), null, f(6), lin), TypeError, /x is backed by a detached ArrayBuffer/],
  ['linear disposed tensor', () => native.linear(disposed(), f(8), null, f(6), lin), TypeError, /x is a disposed Tensor/],
  ['linear unknown activation', () => native.linear(f(12), f(8), null, f(6), { ...lin, activation: 'relu' as 'none' }), RangeError, /activation must be one of/],
  ['linear out aliases x', () => { const x = f(12); return native.linear(x, f(8), null, x, lin); }, RangeError, /out overlaps x/],
  ['linear out overlaps residual partially', () => { const r = f(12); return native.linear(f(12), f(8), null, r.subarray(0, 6), { ...lin, residual: r.subarray(2, 8) }); }, RangeError, /out overlaps residual/],
  ['linear f16 tensor x', () => native.linear(native.tensor(f(12), [12], { dtype: 'f16' }), f(8), null, f(6), lin), TypeError, /x must be an f32 Tensor/],
  // layerNorm / add / activation / softmax
  ['layerNorm gamma wrong length', () => native.layerNorm(f(6), f(2), f(3), f(6), { rows: 2, dim: 3, eps: 1e-5 }), RangeError, /gamma has 2 elements, expected dim = 3/],
  ['layerNorm negative eps', () => native.layerNorm(f(6), f(3), f(3), f(6), { rows: 2, dim: 3, eps: -1 }), RangeError, /eps must be >= 0/],
  ['layerNorm NaN eps', () => native.layerNorm(f(6), f(3), f(3), f(6), { rows: 2, dim: 3, eps: NaN }), RangeError, /eps must be finite/],
  ['layerNorm missing eps', () => native.layerNorm(f(6), f(3), f(3), f(6), { rows: 2, dim: 3 } as { rows: number; dim: number; eps: number }), TypeError, /eps is required/],
  ['add length mismatch', () => native.add(f(4), f(5), f(4)), RangeError, /b has 5 elements, expected a.length = 4/],
  ['add Int32Array', () => native.add(new Int32Array(4) as unknown as Float32Array, f(4), f(4)), TypeError, /got an Int32Array/],
  ['add empty', () => native.add(f(0), f(0), f(0)), RangeError, /a is empty/],
  ['activation unknown kind', () => native.activation(f(4), f(4), 'tanh' as 'none'), RangeError, /kind must be one of/],
  ['activation numeric kind', () => native.activation(f(4), f(4), 1 as unknown as 'none'), TypeError, /kind must be one of/],
  ['softmax rows*cols too big', () => native.softmax(f(6), f(6), { rows: 3, cols: 3 }), RangeError, /x has 6 elements, expected at least rows\*cols = 9/],
  // attention
  ['attention qkv too short', () => native.attention(f(35), f(12), attn), RangeError, /qkv has 35 elements/],
  ['attention zero headDim', () => native.attention(f(36), f(12), { ...attn, headDim: 0 }), RangeError, /headDim must be an integer/],
  ['attention out overlaps qkv', () => { const q = f(48); return native.attention(q.subarray(0, 36), q.subarray(30), attn); }, RangeError, /out overlaps qkv/],
  ['attention overflowing dims', () => native.attention(f(36), f(12), { batch: MAX, tokens: MAX, heads: MAX, headDim: MAX }), RangeError, /too large/],
  ['attention Infinity scale', () => native.attention(f(36), f(12), { ...attn, scale: Infinity }), RangeError, /scale must be finite/],
  // similarity / top-k
  ['similarity out too short', () => native.similarity(f(8), f(12), f(5), sim), RangeError, /out has 5 elements, expected at least m\*n = 6/],
  ['similarity Int16Array b', () => native.similarity(f(8), new Int16Array(12) as unknown as Uint16Array, f(6), sim), TypeError, /b must be a Float32Array, Uint16Array/],
  ['similarity f16 b too short', () => native.similarity(f(8), new Uint16Array(11), f(6), sim), RangeError, /b has 11 elements/],
  ['similarity NaN scale', () => native.similarity(f(8), f(12), f(6), { ...sim, scale: NaN }), RangeError, /scale must be finite/],
  ['topK k = 0', () => native.similarityTopK(f(8), f(12), { ...sim, k: 0 }), RangeError, /k must be an integer in \[1, 3\]/],
  ['topK k > n', () => native.similarityTopK(f(8), f(12), { ...sim, k: 4 }), RangeError, /k must be an integer in \[1, 3\]/],
  ['topK k > 1024', () => native.similarityTopK(f(2), f(2000), { m: 1, n: 2000, d: 1, k: 1025 }), RangeError, /k must be an integer in \[1, 1024\]/],
  ['topK fractional k', () => native.similarityTopK(f(8), f(12), { ...sim, k: 1.5 }), RangeError, /k must be an integer/],
  ['topK missing k', () => native.similarityTopK(f(8), f(12), sim as typeof sim & { k: number }), TypeError, /k is required/],
  ['topK detached b', () => native.similarityTopK(f(8), detached(), { ...sim, k: 1 }), TypeError, /b is backed by a detached ArrayBuffer/],
  // preprocess
  ['preprocess images not an array', () => native.preprocess(img() as never, f(3 * 224 * 224)), TypeError, /images must be an array/],
  ['preprocess image is null', () => native.preprocess([null as never], f(3 * 224 * 224)), TypeError, /images\[0\] must be an object/],
  ['preprocess 5 channels', () => native.preprocess([img({ channels: 5 }) as never], f(3 * 224 * 224)), RangeError, /images\[0\].channels must be an integer in \[1, 4\]/],
  ['preprocess zero width', () => native.preprocess([img({ width: 0 }) as never], f(3 * 224 * 224)), RangeError, /images\[0\].width/],
  ['preprocess data too short', () => native.preprocess([img({ width: 5 }) as never], f(3 * 224 * 224)), RangeError, /images\[0\].data has 36 bytes, expected width\*height\*channels = 45/],
  ['preprocess huge width*height', () => native.preprocess([img({ width: 2 ** 24 - 1, height: 2 ** 24 - 1 }) as never], f(3 * 224 * 224)), RangeError, /data has 36 bytes/],
  ['preprocess width beyond 2^24', () => native.preprocess([img({ width: 2 ** 30 }) as never], f(3 * 224 * 224)), RangeError, /width must be an integer/],
  ['preprocess extreme aspect ratio', () => native.preprocess([{ data: new Uint8Array(200000), width: 200000, height: 1, channels: 1 }], f(3 * 224 * 224)), RangeError, /beyond the supported/],
  ['preprocess Float32Array data', () => native.preprocess([img({ data: f(36) }) as never], f(3 * 224 * 224)), TypeError, /images\[0\].data must be a Uint8Array/],
  ['preprocess detached data', () => { const d = new Uint8Array(36); structuredClone(d.buffer, { transfer: [d.buffer] }); return native.preprocess([img({ data: d }) as never], f(3 * 224 * 224)); }, TypeError, /detached/],
  ['preprocess out overlaps image data', () => { const ab = new ArrayBuffer(4 * 3 * 224 * 224); return native.preprocess([img({ data: new Uint8Array(ab, 4, 36) }) as never], new Float32Array(ab)); }, RangeError, /out overlaps images\[0\].data/],
  ['preprocess out too short', () => native.preprocess([img() as never], f(3 * 224 * 224 - 1)), RangeError, /out has/],
  ['preprocess offset past the end', () => native.preprocess([img() as never], f(3 * 224 * 224), { offset: 1 }), RangeError, /out has/],
  ['preprocess negative offset', () => native.preprocess([img() as never], f(3 * 224 * 224), { offset: -1 }), RangeError, /offset must be an integer/],
  ['preprocess resizeShortest 0', () => native.preprocess([img() as never], f(3), { resizeShortest: 0 }), RangeError, /resizeShortest/],
  ['preprocess cropSize too big', () => native.preprocess([img() as never], f(3), { cropSize: 10000 }), RangeError, /cropSize/],
  ['preprocess mean of 2', () => native.preprocess([img() as never], f(3 * 224 * 224), { mean: [0, 0] as never }), TypeError, /mean must be an array of 3 numbers/],
  ['preprocess zero std', () => native.preprocess([img() as never], f(3 * 224 * 224), { std: [1, 0, 1] }), RangeError, /std\[1\] must be finite and > 0/],
  ['preprocess unknown alpha', () => native.preprocess([img() as never], f(3 * 224 * 224), { alpha: 'grey' as 'white' }), RangeError, /alpha must be one of/],
  ['preprocess cmyk with 3 channels', () => native.preprocess([img({ cmyk: true }) as never], f(3 * 224 * 224)), RangeError, /cmyk needs 4 channels/],
  ['preprocess unknown resample', () => native.preprocess([img({ resample: 'lanczos' }) as never], f(3 * 224 * 224)), RangeError, /resample must be one of/],
  ['preprocessJpeg bytes not a Uint8Array', () => native.preprocessJpeg([0xff, 0xd8] as never, f(3 * 224 * 224)), TypeError, /bytes must be a Uint8Array/],
  ['preprocessJpeg Buffer-like Int8Array', () => native.preprocessJpeg(new Int8Array(4) as never, f(3 * 224 * 224)), TypeError, /bytes must be a Uint8Array/],
  ['preprocessJpeg out too short', () => native.preprocessJpeg(new Uint8Array(4), f(3 * 224 * 224 - 1)), RangeError, /out has/],
  ['preprocessJpeg offset past the end', () => native.preprocessJpeg(new Uint8Array(4), f(3 * 224 * 224), { offset: 1 }), RangeError, /out has/],
  ['preprocessJpeg huge offset', () => native.preprocessJpeg(new Uint8Array(4), f(3 * 224 * 224), { offset: MAX }), RangeError, /out has|offset is too large/],
  ['preprocessJpeg zero maxPixels', () => native.preprocessJpeg(new Uint8Array(4), f(3 * 224 * 224), { maxPixels: 0 }), RangeError, /maxPixels must be an integer/],
  ['preprocessJpeg unknown orientation', () => native.preprocessJpeg(new Uint8Array(4), f(3 * 224 * 224), { orientation: 'auto' as 'exif' }), RangeError, /orientation must be one of/],
  ['preprocessJpeg out overlaps bytes', () => { const ab = new ArrayBuffer(4 * 3 * 224 * 224); return native.preprocessJpeg(new Uint8Array(ab, 8, 64), new Float32Array(ab)); }, RangeError, /out overlaps bytes/],
  ['preprocessJpeg detached bytes', () => { const d = new Uint8Array(36); structuredClone(d.buffer, { transfer: [d.buffer] }); return native.preprocessJpeg(d, f(3 * 224 * 224)); }, TypeError, /detached/],
  ['preprocessCrop bad image', () => native.preprocessCrop(img({ height: -1 }) as never), RangeError, /image.height/],
  // tensors
  ['tensor shape mismatch', () => native.tensor(f(6), [2, 4]), RangeError, /expected the product of shape = 8/],
  ['tensor zero dim', () => native.tensor(f(6), [0, 6]), RangeError, /shape\[0\] must be an integer/],
  ['tensor negative dim', () => native.tensor(f(6), [-2, -3]), RangeError, /shape\[0\]/],
  ['tensor shape not an array', () => native.tensor(f(6), 6 as never), TypeError, /shape must be an array/],
  ['tensor Float64Array data', () => native.tensor(new Float64Array(6) as never, [6]), TypeError, /data must be a Float32Array or Uint16Array/],
  ['tensor unknown dtype', () => native.tensor(f(6), [6], { dtype: 'f64' as 'f32' }), RangeError, /dtype must be one of/],
  ['tensor unknown device', () => native.tensor(f(6), [6], { device: 'tpu' as 'cpu' }), RangeError, /device must be one of/],
  ['hostArray negative length', () => native.hostArray(-1), RangeError, /hostArray: length must be an integer/],
  ['hostArray fractional length', () => native.hostArray(2.5), RangeError, /length must be an integer/],
  ['hostArray huge length', () => native.hostArray(2 ** 40), RangeError, /length must be an integer/],
  ['hostArray unknown dtype', () => native.hostArray(4, 'f64' as 'f32'), RangeError, /hostArray: dtype must be one of 'f32', 'f16'/],
  ['hostArray string length', () => native.hostArray('8' as never), TypeError, /length must be a number/],
  ['tensor write wrong length', () => native.tensor(f(6), [6]).write(f(5)), RangeError, /data has 5 elements, expected size = 6/],
  ['tensor toArray after dispose', () => disposed().toArray(), Error, /disposed/],
  ['tensor write after dispose', () => disposed().write(f(12)), Error, /disposed/],
  ['Tensor constructed from JS', () => { const t = native.tensor(f(1), [1]); const C = Object.getPrototypeOf(t).constructor as new () => unknown; return new C(); }, TypeError, /use tensor\(data, shape\)/],
  ['spoofed tensor object', () => { const t = native.tensor(f(12), [12]); return native.add(Object.create(Object.getPrototypeOf(t)) as never, f(12), f(12)); }, TypeError, /a must be a Float32Array or f32 Tensor/],
  ['tensor getter on a foreign this', () => { const t = native.tensor(f(1), [1]); return Object.getOwnPropertyDescriptor(Object.getPrototypeOf(t), 'size')!.get!.call({}); }, Error, /./],
  // user getters that detach a buffer after it was validated
  ['linear opts getter detaches x', () => { const x = f(12); return native.linear(x, f(8), null, f(6), { n: 2, k: 4, get m() { structuredClone(x.buffer, { transfer: [x.buffer] }); return 3; } }); }, TypeError, /x was detached or resized/],
  ['preprocess image getter detaches an earlier image', () => { const first = img(); return native.preprocess([first as never, { ...img(), get width() { structuredClone(first.data.buffer, { transfer: [first.data.buffer] }); return 4; } } as never], f(2 * 3 * 224 * 224)); }, TypeError, /images\[0\].data was detached/],
  ['tensor opts getter detaches data', () => { const d = f(6); return native.tensor(d, [6], { get dtype() { structuredClone(d.buffer, { transfer: [d.buffer] }); return 'f32' as const; } }); }, TypeError, /data was detached/],
  ['tensor shape grown by its own getter', () => { const shape = [2]; Object.defineProperty(shape, 0, { get: () => { shape.push(1, 1, 1, 1, 1, 1, 1, 1, 1); return 2; } }); return native.tensor(f(2), shape); }, TypeError, /shape changed while being read/],
  ['preprocess images grown by a getter', () => { const images = [img()]; Object.defineProperty(images, 0, { get: () => { images.push(img()); return img(); } }); return native.preprocess(images as never, f(3 * 224 * 224)); }, TypeError, /images changed while being read/],
  // misc
  ['setThreads negative', () => native.setThreads(-1), RangeError, /n must be an integer in \[0, 1024\]/],
  ['setThreads fractional', () => native.setThreads(1.5), RangeError, /n must be an integer/],
  ['setThreads string', () => native.setThreads('2' as never), TypeError, /n must be a number/],
  ['toFloat16 of Uint16Array', () => native.toFloat16(new Uint16Array(2) as never), TypeError, /x must be a Float32Array/],
  ['fromFloat16 of Float32Array', () => native.fromFloat16(f(2) as never), TypeError, /x must be a Uint16Array/],
];

describe('bad arguments throw typed errors naming the problem', () => {
  it.each(cases)('%s', (_name, call, type, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('async functions reject (never throw synchronously) with the same errors', () => {
  const asyncCases: Array<[string, () => Promise<unknown>, ErrorClass, RegExp]> = [
    ['linearAsync x too short', () => native.linearAsync(f(11), f(8), null, f(6), lin), RangeError, /linearAsync: x has 11 elements/],
    ['linearAsync detached out', () => native.linearAsync(f(12), f(8), null, detached(), lin), TypeError, /out is backed by a detached/],
    ['attentionAsync out too short', () => native.attentionAsync(f(36), f(11), attn), RangeError, /attentionAsync: out has 11/],
    ['similarityTopKAsync k > n', () => native.similarityTopKAsync(f(8), f(12), { ...sim, k: 9 }), RangeError, /k must be an integer in \[1, 3\]/],
    ['preprocessJpegAsync out too short', () => native.preprocessJpegAsync(new Uint8Array(4), f(10)), RangeError, /out has/],
    ['preprocessAsync 0 channels', () => native.preprocessAsync([img({ channels: 0 }) as never], f(3 * 224 * 224)), RangeError, /channels/],
    ['chainAsync not an array', () => native.chainAsync(5 as never), TypeError, /chainAsync: calls must be an array/],
    ['chainAsync empty', () => native.chainAsync([]), RangeError, /calls must hold 1 to 4096 calls, got 0/],
    ['chainAsync call not an array', () => native.chainAsync([{} as never]), TypeError, /calls\[0\] must be a \[kernel, \.\.\.arguments\] array/],
    ['chainAsync unknown kernel', () => native.chainAsync([['add', f(2), f(2), f(2)], ['similarity'] as never]), RangeError, /calls\[1\]\[0\] must be one of 'linear', 'attention'/],
    ['chainAsync bad linear', () => native.chainAsync([['add', f(2), f(2), f(2)], ['linear', f(11), f(8), null, f(6), lin]]), RangeError, /chainAsync calls\[1\] \(linear\): x has 11 elements/],
    ['chainAsync bad layerNorm', () => native.chainAsync([['layerNorm', f(6), f(3), f(3), f(6), { rows: 2, dim: 3, eps: -1 }]]), RangeError, /calls\[0\] \(layerNorm\): eps must be >= 0/],
    ['chainAsync bad attention', () => native.chainAsync([['attention', f(36), f(11), attn]]), RangeError, /calls\[0\] \(attention\): out has 11/],
    ['chainAsync bad activation', () => native.chainAsync([['activation', f(3), f(3), 'relu' as never]]), RangeError, /calls\[0\] \(activation\): kind must be one of/],
    ['chainAsync bad softmax', () => native.chainAsync([['softmax', f(3), f(3), { rows: 2, cols: 2 }]]), RangeError, /calls\[0\] \(softmax\): x has 3 elements/],
    ['chainAsync later getter detaches an earlier call\'s array', () => {
      const a = f(4);
      return native.chainAsync([
        ['add', a, f(4), f(4)],
        ['softmax', f(4), f(4), { cols: 2, get rows() { structuredClone(a.buffer, { transfer: [a.buffer] }); return 2; } }],
      ]);
    }, TypeError, /chainAsync calls\[0\] \(add\): a was detached or resized/],
  ];
  it.each(asyncCases)('%s', async (_name, call, type, message) => {
    let promise: Promise<unknown> | undefined;
    expect(() => { promise = call(); }).not.toThrow();
    await expect(promise).rejects.toBeInstanceOf(type);
    await expect(promise).rejects.toThrow(message);
  });
});

describe('devices', () => {
  const cudaAvailable = native.nativeInfo().cuda.available;
  if (!cudaAvailable) console.warn(`CUDA tests skipped: ${native.nativeInfo().cuda.error ?? 'CUDA not available'}`);

  it.skipIf(cudaAvailable)('asking for a cuda tensor without CUDA is a clear Error', () => {
    expect(() => native.tensor(f(4), [4], { device: 'cuda' })).toThrow(/CUDA is not available/);
  });

  it.skipIf(!cudaAvailable)('mixing cpu and cuda arguments is a TypeError', () => {
    const a = native.tensor(f(4), [4], { device: 'cuda' });
    expect(() => native.add(a, f(4), f(4))).toThrow(TypeError);
    a.dispose();
  });
});
