// Every kernel through the JS API against a double-precision JS reference on seeded random
// inputs (CPU path; the CUDA path is compared with the CPU kernels by the C++ tests).
import { describe, expect, it } from 'vitest';

import * as native from '../../lib/index.js';
import {
  type Act, attentionRef, halfToNumber, layerNormRef, linearRef, randomF32, relError, rng,
  similarityRef, softmaxRef, activate,
} from './reference.js';

const TOL = 1e-5;
const acts: Act[] = ['none', 'quick_gelu', 'gelu'];

describe('hostArray', () => {
  // Small arrays come from the heap, from 2 MiB on from their own huge-page mapping.
  for (const length of [0, 1, 17, (2 << 20) / 4 - 3, (2 << 20) / 4, 3_000_001]) {
    it(`${length} zero-filled floats, usable as a kernel's output`, () => {
      const a = native.hostArray(length);
      expect(a).toBeInstanceOf(Float32Array);
      expect(a.length).toBe(length);
      expect(a.every((v) => v === 0)).toBe(true);
      if (length === 0) return;
      if (length > 1) a[length - 1] = 7;
      native.linear(Float32Array.of(2), Float32Array.of(1.5), null, a, { m: 1, n: 1, k: 1 });
      expect(a[0]).toBe(3);
      if (length > 1) expect(a[length - 1]).toBe(7);
    });
  }

  it("dtype 'f16' gives a zero-filled Uint16Array that top-k reads as half storage", () => {
    for (const length of [0, 6, (4 << 20) / 2 + 6]) {
      const h = native.hostArray(length, 'f16');
      expect(h).toBeInstanceOf(Uint16Array);
      expect(h.length).toBe(length);
      expect(h.every((v) => v === 0)).toBe(true);
    }
    const items = native.hostArray(3 * 2, 'f16');
    items.set(native.toFloat16(Float32Array.of(1, 0, 0, 1, 0.5, 0.5)));
    const top = native.similarityTopK(Float32Array.of(0, 1), items, { m: 1, n: 3, d: 2, k: 2 });
    expect(Array.from(top.indices)).toEqual([1, 2]);
    expect(native.hostArray(4, 'f32')).toBeInstanceOf(Float32Array);
  });

  it('frees its memory with the array: 1 GiB of short-lived 16 MiB arrays does not pile up', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    for (let i = 0; i < 64; i++) {
      native.hostArray(4 << 20).fill(1);
      peak = Math.max(peak, process.memoryUsage().rss);
      // Node-API finalizers run from the event loop after a collection, not inside it.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(peak - before).toBeLessThan(512 * 2 ** 20);
  });
});

describe('chainAsync', () => {
  it('runs an encoder layer in order with the same bits as the kernels called one by one', async () => {
    const next = rng(99);
    const [rows, h, mlp] = [20, 24, 48];
    const heads = 4;
    const w = (n: number) => native.tensor(randomF32(next, n), [n]);
    const layer = {
      g1: w(h), b1: w(h), qkv: native.tensor(randomF32(next, 3 * h * h), [3 * h, h]), qkvB: w(3 * h),
      out: native.tensor(randomF32(next, h * h), [h, h]), outB: w(h), g2: w(h), b2: w(h),
      fc1: native.tensor(randomF32(next, mlp * h), [mlp, h]), fc1B: w(mlp),
      fc2: native.tensor(randomF32(next, h * mlp), [h, mlp]), fc2B: w(h),
    };
    const input = randomF32(next, rows * h);
    const buffers = () => ({ x: input.slice(), normed: new Float32Array(rows * h), qkv: new Float32Array(rows * 3 * h), mlp: new Float32Array(rows * mlp) });
    const attn = { batch: 2, tokens: 10, heads, headDim: h / heads, causal: true };
    const calls = (b: ReturnType<typeof buffers>): native.KernelCall[] => [
      ['layerNorm', b.x, layer.g1, layer.b1, b.normed, { rows, dim: h, eps: 1e-5 }],
      ['linear', b.normed, layer.qkv, layer.qkvB, b.qkv, { m: rows, n: 3 * h, k: h }],
      ['attention', b.qkv, b.normed, attn],
      ['linear', b.normed, layer.out, layer.outB, b.x, { m: rows, n: h, k: h, residual: b.x }],
      ['layerNorm', b.x, layer.g2, layer.b2, b.normed, { rows, dim: h, eps: 1e-5 }],
      ['linear', b.normed, layer.fc1, layer.fc1B, b.mlp, { m: rows, n: mlp, k: h, activation: 'quick_gelu' }],
      ['linear', b.mlp, layer.fc2, layer.fc2B, b.x, { m: rows, n: h, k: mlp, residual: b.x }],
    ];
    const one = buffers();
    for (const [kernel, ...args] of calls(one)) {
      (native[kernel] as (...a: unknown[]) => void)(...args);
    }
    const chained = buffers();
    await native.chainAsync(calls(chained));
    expect(Array.from(chained.x)).toEqual(Array.from(one.x));
    expect(Array.from(chained.x)).not.toEqual(Array.from(input));
  });

  it('runs nothing when any call is invalid', async () => {
    const out = new Float32Array(4).fill(7);
    const a = Float32Array.of(1, 2, 3, 4);
    await expect(native.chainAsync([
      ['add', a, a, out],
      ['linear', a, a, null, out, { m: 3, n: 2, k: 2 }],
    ])).rejects.toThrow(RangeError);
    expect(Array.from(out)).toEqual([7, 7, 7, 7]);
  });

  it('keeps a Tensor disposed while the chain is queued alive until the chain has run', async () => {
    const w = native.tensor(Float32Array.of(1, 0, 0, 1), [2, 2]);
    const out = new Float32Array(4);
    const done = native.chainAsync([['linear', Float32Array.of(1, 2, 3, 4), w, null, out, { m: 2, n: 2, k: 2 }]]);
    w.dispose();
    await done;
    expect(Array.from(out)).toEqual([1, 2, 3, 4]);
  });
});

describe('linear', () => {
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [3, 5, 7], [17, 33, 65], [50, 48, 96]];
  for (const [m, n, k] of shapes) {
    for (const act of acts) {
      it(`m=${m} n=${n} k=${k} ${act}, with and without bias/residual`, () => {
        const next = rng(m * 1000 + n * 10 + k);
        const x = randomF32(next, m * k);
        const w = randomF32(next, n * k);
        const bias = randomF32(next, n);
        const residual = randomF32(next, m * n);
        const out = new Float32Array(m * n);
        native.linear(x, w, bias, out, { m, n, k, activation: act, residual });
        expect(relError(out, linearRef(x, w, bias, residual, m, n, k, act))).toBeLessThan(TOL);
        native.linear(x, w, null, out, { m, n, k, activation: act });
        expect(relError(out, linearRef(x, w, null, null, m, n, k, act))).toBeLessThan(TOL);
      });
    }
  }

  it('accepts out === residual (in-place residual add)', () => {
    const next = rng(7);
    const [m, n, k] = [4, 6, 5];
    const x = randomF32(next, m * k);
    const w = randomF32(next, n * k);
    const residual = randomF32(next, m * n);
    const ref = linearRef(x, w, null, residual, m, n, k, 'gelu');
    native.linear(x, w, null, residual, { m, n, k, activation: 'gelu', residual });
    expect(relError(residual, ref)).toBeLessThan(TOL);
  });

  it('uses only the first m rows of larger activation buffers', () => {
    const next = rng(8);
    const [m, n, k] = [2, 3, 4];
    const x = randomF32(next, (m + 3) * k);
    const w = randomF32(next, n * k);
    const out = new Float32Array((m + 3) * n).fill(42);
    native.linear(x, w, null, out, { m, n, k });
    expect(relError(out.subarray(0, m * n), linearRef(x, w, null, null, m, n, k, 'none'))).toBeLessThan(TOL);
    expect(Array.from(out.subarray(m * n))).toEqual(new Array(3 * n).fill(42));
  });

  it('propagates NaN and Inf to the affected rows only', () => {
    const [m, n, k] = [3, 4, 5];
    const x = randomF32(rng(9), m * k);
    const w = randomF32(rng(10), n * k);
    x[0] = NaN;
    x[k] = Infinity;
    const out = new Float32Array(m * n);
    native.linear(x, w, null, out, { m, n, k });
    expect(Array.from(out.subarray(0, n)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.subarray(n, 2 * n)).every((v) => !Number.isFinite(v))).toBe(true);
    expect(Array.from(out.subarray(2 * n)).every(Number.isFinite)).toBe(true);
  });

  it('linearAsync gives the same result, on tensors too', async () => {
    const next = rng(11);
    const [m, n, k] = [9, 10, 11];
    const x = randomF32(next, m * k);
    const w = randomF32(next, n * k);
    const bias = randomF32(next, n);
    const ref = linearRef(x, w, bias, null, m, n, k, 'quick_gelu');
    const out = new Float32Array(m * n);
    await native.linearAsync(x, w, bias, out, { m, n, k, activation: 'quick_gelu' });
    expect(relError(out, ref)).toBeLessThan(TOL);
    const tw = native.tensor(w, [n, k]);
    const tout = native.tensor(new Float32Array(m * n), [m, n]);
    await native.linearAsync(native.tensor(x, [m, k]), tw, bias, tout, { m, n, k, activation: 'quick_gelu' });
    expect(relError(tout.toArray(), ref)).toBeLessThan(TOL);
    tw.dispose();
    tout.dispose();
  });
});

describe('layerNorm, add, activation, softmax', () => {
  it.each([[1, 1], [3, 7], [50, 768]])('layerNorm rows=%i dim=%i, also in place', (rows, dim) => {
    const next = rng(rows * 31 + dim);
    const x = randomF32(next, rows * dim, -3, 5);
    const gamma = randomF32(next, dim);
    const beta = randomF32(next, dim);
    const ref = layerNormRef(x, gamma, beta, rows, dim, 1e-5);
    const out = new Float32Array(rows * dim);
    native.layerNorm(x, gamma, beta, out, { rows, dim, eps: 1e-5 });
    expect(relError(out, ref)).toBeLessThan(TOL);
    native.layerNorm(x, gamma, beta, x, { rows, dim, eps: 1e-5 });
    expect(relError(x, ref)).toBeLessThan(TOL);
  });

  it.each([1, 17, 1000])('add n=%i, also in place', (n) => {
    const next = rng(n);
    const a = randomF32(next, n);
    const b = randomF32(next, n);
    const ref = Array.from(a, (v, i) => Math.fround(v + b[i]!));
    const out = new Float32Array(n);
    native.add(a, b, out);
    expect(relError(out, ref)).toBe(0);
    native.add(a, b, b);
    expect(relError(b, ref)).toBe(0);
  });

  it.each(acts)('activation %s, also in place', (act) => {
    const x = randomF32(rng(5), 333, -6, 6);
    const ref = Array.from(x, (v) => activate(v, act));
    const out = new Float32Array(x.length);
    native.activation(x, out, act);
    expect(relError(out, ref)).toBeLessThan(TOL);
    native.activation(x, x, act);
    expect(relError(x, ref)).toBeLessThan(TOL);
  });

  it.each([[1, 1], [3, 17], [4, 77]])('softmax rows=%i cols=%i is stable for large logits', (rows, cols) => {
    const x = randomF32(rng(rows + cols), rows * cols, 990, 1010);
    const ref = softmaxRef(x, rows, cols);
    const out = new Float32Array(rows * cols);
    native.softmax(x, out, { rows, cols });
    expect(relError(out, ref)).toBeLessThan(TOL);
    native.softmax(x, x, { rows, cols });
    expect(relError(x, ref)).toBeLessThan(TOL);
  });
});

describe('attention', () => {
  const shapes: Array<[number, number, number, number]> = [[1, 1, 1, 1], [2, 5, 3, 4], [1, 50, 12, 64], [2, 77, 8, 64]];
  for (const [b, t, h, d] of shapes) {
    for (const causal of [false, true]) {
      it(`b=${b} t=${t} h=${h} d=${d} causal=${causal}`, () => {
        const qkv = randomF32(rng(b + t + h + d), b * t * 3 * h * d, -2, 2);
        const out = new Float32Array(b * t * h * d);
        native.attention(qkv, out, { batch: b, tokens: t, heads: h, headDim: d, causal });
        expect(relError(out, attentionRef(qkv, b, t, h, d, causal, 1 / Math.sqrt(d)))).toBeLessThan(TOL);
      });
    }
  }

  it('attentionAsync with an explicit scale matches the reference', async () => {
    const [b, t, h, d] = [2, 9, 2, 8];
    const qkv = randomF32(rng(3), b * t * 3 * h * d);
    const out = new Float32Array(b * t * h * d);
    await native.attentionAsync(qkv, out, { batch: b, tokens: t, heads: h, headDim: d, scale: 0.7 });
    expect(relError(out, attentionRef(qkv, b, t, h, d, false, 0.7))).toBeLessThan(TOL);
  });
});

// Small integers keep every dot product exact, so ordering and ties are exact too.
function intMatrix(next: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.floor(next() * 5) - 2);
}

function topKRef(scores: Float64Array, m: number, n: number, k: number) {
  const indices: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < m; i++) {
    const order = Array.from({ length: n }, (_, j) => j).sort(
      (x, y) => scores[i * n + y]! - scores[i * n + x]! || x - y,
    );
    for (const j of order.slice(0, k)) {
      indices.push(j);
      values.push(scores[i * n + j]!);
    }
  }
  return { indices, values };
}

describe('similarity and top-k', () => {
  it('similarity f32 and f16 storage (Uint16Array and f16 tensor)', () => {
    const next = rng(21);
    const [m, n, d] = [5, 37, 19];
    const a = randomF32(next, m * d);
    const b = randomF32(next, n * d);
    const out = new Float32Array(m * n);
    native.similarity(a, b, out, { m, n, d, scale: 2.5 });
    expect(relError(out, similarityRef(a, b, m, n, d, 2.5))).toBeLessThan(TOL);

    const b16 = native.toFloat16(b);
    const decoded = Array.from(b16, halfToNumber);
    native.similarity(a, b16, out, { m, n, d });
    expect(relError(out, similarityRef(a, decoded, m, n, d, 1))).toBeLessThan(TOL);
    const t16 = native.tensor(b16, [n, d]);
    expect(t16.dtype).toBe('f16');
    out.fill(0);
    native.similarity(a, t16, out, { m, n, d });
    expect(relError(out, similarityRef(a, decoded, m, n, d, 1))).toBeLessThan(TOL);
    t16.dispose();
  });

  for (const k of [1, 5, 50]) {
    it(`top-${k} of 50 equals a full sort (ties: lower index first), f32 and f16`, () => {
      const next = rng(100 + k);
      const [m, n, d] = [3, 50, 8];
      const a = intMatrix(next, m * d);
      const b = intMatrix(next, n * d);
      const ref = topKRef(similarityRef(a, b, m, n, d, 0.5), m, n, k);
      const r = native.similarityTopK(a, b, { m, n, d, k, scale: 0.5 });
      expect(Array.from(r.indices)).toEqual(ref.indices);
      expect(Array.from(r.scores)).toEqual(ref.values);
      const r16 = native.similarityTopK(a, native.toFloat16(b), { m, n, d, k, scale: 0.5 });
      expect(Array.from(r16.indices)).toEqual(ref.indices);
    });
  }

  it('top-1024 of 2000 and the async variant agree with a full sort', async () => {
    const next = rng(1024);
    const [m, n, d, k] = [2, 2000, 4, 1024];
    const a = intMatrix(next, m * d);
    const b = intMatrix(next, n * d);
    const ref = topKRef(similarityRef(a, b, m, n, d, 1), m, n, k);
    const r = await native.similarityTopKAsync(a, b, { m, n, d, k });
    expect(Array.from(r.indices)).toEqual(ref.indices);
    expect(Array.from(r.scores)).toEqual(ref.values);
  });

  it('NaN rows in b never crash and never produce out-of-range indices', () => {
    const [m, n, d, k] = [2, 20, 3, 20];
    const a = randomF32(rng(1), m * d);
    const b = randomF32(rng(2), n * d);
    b[4 * d] = NaN;
    const r = native.similarityTopK(a, b, { m, n, d, k });
    for (let i = 0; i < m; i++) {
      const row = Array.from(r.indices.subarray(i * k, (i + 1) * k));
      expect(new Set(row).size).toBe(n);
      expect(row.every((j) => j >= 0 && j < n)).toBe(true);
    }
  });
});

describe('float16 conversion', () => {
  it('converts known values with round-to-nearest-even', () => {
    const x = new Float32Array([1, -2, 65504, 65520, 2 ** -24, 2 ** -26, Infinity, -0, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    expect(Array.from(native.toFloat16(x))).toEqual(
      [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x7c00, 0x8000, 0x3c00, 0x3c02]);
    expect(Number.isNaN(native.fromFloat16(native.toFloat16(new Float32Array([NaN])))[0])).toBe(true);
  });

  it('round-trips every non-NaN half exactly and decodes it exactly', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const wide = native.fromFloat16(all);
    const back = native.toFloat16(wide);
    const wrong: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const v = halfToNumber(i);
      const ok = Number.isNaN(v) ? Number.isNaN(wide[i]) : wide[i] === v && back[i] === i;
      if (!ok) wrong.push(i);
    }
    expect(wrong).toEqual([]);
  });
});

describe('tensors', () => {
  it('expose shape, dtype, device and size, and copy in and out', () => {
    const t = native.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect([t.shape, t.dtype, t.device, t.size, t.disposed]).toEqual([[2, 3], 'f32', 'cpu', 6, false]);
    expect(Array.from(t.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    t.write(new Float32Array([6, 5, 4, 3, 2, 1]));
    expect(Array.from(t.toArray())).toEqual([6, 5, 4, 3, 2, 1]);
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
  });

  it('f16 tensors round on write and widen on read', () => {
    const t = native.tensor(new Float32Array([1 / 3, 70000]), [2], { dtype: 'f16' });
    expect(t.dtype).toBe('f16');
    expect(Array.from(t.toArray())).toEqual([halfToNumber(0x3555), Infinity]);
    const wide = native.tensor(new Uint16Array([0x3c00, 0xc000]), [2], { dtype: 'f32' });
    expect(Array.from(wide.toArray())).toEqual([1, -2]);
  });

  it('a tensor being used by an async job survives dispose() until the job ends', async () => {
    const [m, n, k] = [64, 64, 64];
    const x = randomF32(rng(77), m * k);
    const w = native.tensor(randomF32(rng(78), n * k), [n, k]);
    const ref = linearRef(x, w.toArray(), null, null, m, n, k, 'none');
    const out = new Float32Array(m * n);
    const done = native.linearAsync(x, w, null, out, { m, n, k });
    w.dispose();
    await done;
    expect(relError(out, ref)).toBeLessThan(TOL);
  });
});

describe('preprocess', () => {
  const mean = [0.48145466, 0.4578275, 0.40821073];
  const std = [0.26862954, 0.26130258, 0.27577711];
  const normalise = (v: number, c: number) => (Math.fround(v / 255) - Math.fround(mean[c]!)) / Math.fround(std[c]!);

  function image(width: number, height: number, channels: 1 | 2 | 3 | 4, seed: number) {
    const next = rng(seed);
    const data = Uint8Array.from({ length: width * height * channels }, () => Math.floor(next() * 256));
    return { data, width, height, channels };
  }

  it('an image already at the crop size passes through unchanged, then is normalised', () => {
    const img = image(8, 8, 3, 1);
    expect(Array.from(native.preprocessCrop(img, { resizeShortest: 8 }))).toEqual(Array.from(img.data));
    const out = new Float32Array(3 * 64);
    native.preprocess([img], out, { resizeShortest: 8 });
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 64; i++) expect(out[c * 64 + i]).toBeCloseTo(normalise(img.data[i * 3 + c]!, c), 5);
    }
  });

  it('grey images are replicated into three channels; RGBA drops alpha (reference mode)', () => {
    const grey = image(6, 6, 1, 2);
    const crop = native.preprocessCrop(grey, { resizeShortest: 6 });
    expect(Array.from(crop)).toEqual(Array.from(grey.data).flatMap((v) => [v, v, v]));
    const rgba = image(6, 6, 4, 3);
    const cropA = native.preprocessCrop(rgba, { resizeShortest: 6 });
    expect(Array.from(cropA)).toEqual(Array.from(rgba.data).filter((_, i) => i % 4 !== 3));
  });

  it('a constant image stays constant through the bicubic resize', () => {
    const img = { data: new Uint8Array(40 * 30 * 3).fill(200), width: 40, height: 30, channels: 3 as const };
    const crop = native.preprocessCrop(img, { resizeShortest: 16 });
    expect(crop.length).toBe(16 * 16 * 3);
    expect(crop.every((v) => v === 200)).toBe(true);
  });

  it('batch slots at an offset equal the normalised crops; other slots stay untouched', async () => {
    const imgs = [image(37, 23, 3, 4), image(5, 300, 3, 5), image(1, 1, 3, 6)];
    const s = 12;
    const slot = 3 * s * s;
    const out = new Float32Array(slot * 5).fill(-7);
    native.preprocess(imgs, out, { resizeShortest: s, offset: 1 });
    expect(out.subarray(0, slot).every((v) => v === -7)).toBe(true);
    expect(out.subarray(4 * slot).every((v) => v === -7)).toBe(true);
    imgs.forEach((img, i) => {
      const crop = native.preprocessCrop(img, { resizeShortest: s });
      const got = out.subarray((i + 1) * slot, (i + 2) * slot);
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < s * s; p++) expect(got[c * s * s + p]).toBeCloseTo(normalise(crop[p * 3 + c]!, c), 5);
      }
    });
    const again = new Float32Array(slot * 5).fill(-7);
    await native.preprocessAsync(imgs, again, { resizeShortest: s, offset: 1 });
    expect(Array.from(again)).toEqual(Array.from(out));
  });
});

describe('nativeInfo and setThreads', () => {
  it('reports version, CPU ISA and threads, and CUDA status', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const info = native.nativeInfo();
    expect(info.version).toBe(pkg.version);
    expect(['avx512', 'avx2', 'generic']).toContain(info.cpu.isa);
    expect(info.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cuda.compiled).toBe('boolean');
    if (info.cuda.available) {
      expect(info.cuda.devices.length).toBeGreaterThan(0);
      expect(info.cuda.error).toBeNull();
    } else {
      expect(info.cuda.devices).toEqual([]);
      expect(info.cuda.error).toMatch(/\S/);
    }
  });

  it('setThreads changes the pool size; 0 restores one per hardware thread', () => {
    const before = native.nativeInfo().cpu.threads;
    native.setThreads(1);
    expect(native.nativeInfo().cpu.threads).toBe(1);
    native.setThreads(0);
    expect(native.nativeInfo().cpu.threads).toBe(before);
  });
});

describe('concurrency', () => {
  it('async jobs on the libuv pool and sync calls on the JS thread give sequential results', async () => {
    const next = rng(600);
    const [m, n, k] = [48, 64, 96];
    const x = randomF32(next, m * k);
    const w = randomF32(next, n * k);
    const ref = new Float32Array(m * n);
    native.linear(x, w, null, ref, { m, n, k });
    const qkv = randomF32(next, 2 * 20 * 3 * 4 * 16);
    const shape = { batch: 2, tokens: 20, heads: 4, headDim: 16 };
    const aref = new Float32Array(2 * 20 * 4 * 16);
    native.attention(qkv, aref, shape);

    const outs: Array<[Float32Array, Float32Array]> = [];
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < 6; i++) {
      const o = new Float32Array(m * n);
      const a = new Float32Array(aref.length);
      jobs.push(native.linearAsync(x, w, null, o, { m, n, k }), native.attentionAsync(qkv, a, shape));
      const s = new Float32Array(m * n);
      native.linear(x, w, null, s, { m, n, k });
      outs.push([o, ref], [a, aref], [s, ref]);
    }
    await Promise.all(jobs);
    for (const [got, want] of outs) expect(Array.from(got)).toEqual(Array.from(want));
  });
});

// With a usable GPU, every kernel on all-'cuda' tensors must match the CPU kernel.
const cuda = native.nativeInfo().cuda;
if (!cuda.available) console.warn(`CUDA kernel tests skipped: ${cuda.error ?? 'CUDA not available'}`);

describe.skipIf(!cuda.available)('cuda kernels match the cpu kernels', () => {
  const dev = (a: Float32Array | Uint16Array, shape: number[]) => native.tensor(a, shape, { device: 'cuda' });

  it('linear, layerNorm, add, activation, softmax', () => {
    const next = rng(500);
    const [m, n, k] = [33, 65, 129];
    const x = randomF32(next, m * k);
    const w = randomF32(next, n * k);
    const bias = randomF32(next, n);
    const cpuOut = new Float32Array(m * n);
    native.linear(x, w, bias, cpuOut, { m, n, k, activation: 'gelu' });
    const gOut = dev(new Float32Array(m * n), [m, n]);
    native.linear(dev(x, [m, k]), dev(w, [n, k]), dev(bias, [n]), gOut, { m, n, k, activation: 'gelu' });
    expect(relError(gOut.toArray(), cpuOut)).toBeLessThan(TOL);

    const gamma = randomF32(next, n);
    const beta = randomF32(next, n);
    const ln = new Float32Array(m * n);
    native.layerNorm(cpuOut, gamma, beta, ln, { rows: m, dim: n, eps: 1e-5 });
    native.layerNorm(gOut, dev(gamma, [n]), dev(beta, [n]), gOut, { rows: m, dim: n, eps: 1e-5 });
    expect(relError(gOut.toArray(), ln)).toBeLessThan(TOL);

    const sum = new Float32Array(m * n);
    native.add(ln, cpuOut, sum);
    const gSum = dev(new Float32Array(m * n), [m * n]);
    native.add(gOut, dev(cpuOut, [m * n]), gSum);
    expect(relError(gSum.toArray(), sum)).toBeLessThan(TOL);

    native.activation(sum, sum, 'quick_gelu');
    native.activation(gSum, gSum, 'quick_gelu');
    expect(relError(gSum.toArray(), sum)).toBeLessThan(TOL);

    native.softmax(sum, sum, { rows: m, cols: n });
    native.softmax(gSum, gSum, { rows: m, cols: n });
    expect(relError(gSum.toArray(), sum)).toBeLessThan(TOL);
  });

  it('attention, similarity and top-k', () => {
    const [b, t, h, d] = [2, 77, 8, 64];
    const qkv = randomF32(rng(501), b * t * 3 * h * d);
    const out = new Float32Array(b * t * h * d);
    native.attention(qkv, out, { batch: b, tokens: t, heads: h, headDim: d, causal: true });
    const gOut = dev(new Float32Array(out.length), [out.length]);
    native.attention(dev(qkv, [qkv.length]), gOut, { batch: b, tokens: t, heads: h, headDim: d, causal: true });
    expect(relError(gOut.toArray(), out)).toBeLessThan(TOL);

    const [m, n, dd] = [4, 3000, 32];
    const a = intMatrix(rng(502), m * dd);
    const bm = intMatrix(rng(503), n * dd);
    const scores = new Float32Array(m * n);
    native.similarity(a, bm, scores, { m, n, d: dd });
    const gScores = dev(new Float32Array(m * n), [m, n]);
    native.similarity(dev(a, [m, dd]), dev(native.toFloat16(bm), [n, dd]), gScores, { m, n, d: dd });
    expect(Array.from(gScores.toArray())).toEqual(Array.from(scores));
    const top = native.similarityTopK(a, bm, { m, n, d: dd, k: 100 });
    const gTop = native.similarityTopK(dev(a, [m, dd]), dev(bm, [n, dd]), { m, n, d: dd, k: 100 });
    expect(Array.from(gTop.indices)).toEqual(Array.from(top.indices));
    expect(Array.from(gTop.scores)).toEqual(Array.from(top.scores));
  });

  it('preprocess into a cuda tensor is bit-exact with the cpu', () => {
    const next = rng(504);
    const img = { data: Uint8Array.from({ length: 97 * 61 * 3 }, () => Math.floor(next() * 256)), width: 97, height: 61, channels: 3 as const };
    const out = new Float32Array(3 * 32 * 32);
    native.preprocess([img], out, { resizeShortest: 32 });
    const gOut = dev(new Float32Array(out.length), [out.length]);
    native.preprocess([img], gOut, { resizeShortest: 32 });
    expect(Array.from(gOut.toArray())).toEqual(Array.from(out));
  });
});
