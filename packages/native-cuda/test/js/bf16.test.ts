// bf16 tensors: rounding, the linear kernel on every bf16 path this machine has (checked
// against a double reference over the same rounded operands), nativeInfo's bf16 fields, the
// once-only stderr note of the fp32 fallback, and bf16 tensors refused everywhere but linear's w.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import * as native from '../../lib/index.js';
import { linearRef, randomF32, relError, rng } from './reference.js';

const f = (n: number) => new Float32Array(n);

/** Round to nearest even bf16, the reference for the addon's rounding (NaN stays NaN). */
function bf16(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  const bits = new Uint32Array(out.buffer);
  const src = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const x = src[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      bits[i] = (x | 0x00400000) & 0xffff0000;
    } else {
      bits[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) << 16;
    }
  }
  return out;
}

const cpuFlags = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
})();

describe('bf16 tensors', () => {
  it('round f32 data to nearest even and widen on toArray', () => {
    const data = new Float32Array(new Uint32Array([
      0x3f800000, 0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0x80000000, 0x7fc00001, 0xff800001,
    ]).buffer);
    const t = native.tensor(data, [2, 4], { dtype: 'bf16' });
    expect(t.dtype).toBe('bf16');
    expect(t.size).toBe(8);
    const back = t.toArray();
    expect(new Uint32Array(back.buffer).slice(0, 6)).toEqual(
      new Uint32Array([0x3f800000, 0x3f800000, 0x3f820000, 0x3f810000, 0x7f800000, 0x80000000]),
    );
    expect(Number.isNaN(back[6])).toBe(true);
    expect(Number.isNaN(back[7])).toBe(true);
    const next = rng(1);
    const random = randomF32(next, 1000, -100, 100);
    expect(native.tensor(random, [1000], { dtype: 'bf16' }).toArray()).toEqual(bf16(random));
    t.dispose();
  });

  it('write() re-rounds and drops the pack', () => {
    const next = rng(2);
    const [m, n, k] = [3, 40, 70];
    const x = randomF32(next, m * k);
    const first = randomF32(next, n * k);
    const second = randomF32(next, n * k);
    const w = native.tensor(first, [n, k], { dtype: 'bf16' });
    const out = f(m * n);
    native.linear(x, w, null, out, { m, n, k });
    expect(relError(out, linearRef(bf16(x), bf16(first), null, null, m, n, k, 'none'))).toBeLessThan(1e-5);
    w.write(second);
    expect(w.toArray()).toEqual(bf16(second));
    native.linear(x, w, null, out, { m, n, k });
    expect(relError(out, linearRef(bf16(x), bf16(second), null, null, m, n, k, 'none'))).toBeLessThan(1e-5);
    w.dispose();
  });
});

describe('linear with a bf16 weight', () => {
  const bf16Path = native.nativeInfo().cpu.bf16;
  // Odd shapes (off 14/32-row, 32-column and 32-k tiles), m = 1, k = 1, and CLIP's.
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 33, 65], [7, 100, 1], [50, 96, 64], [65, 47, 300], [77, 512, 512], [130, 70, 513],
  ];
  for (const [m, n, k] of shapes) {
    it(`matches the fp64 reference on rounded operands, ${m}x${n}x${k}`, async () => {
      const next = rng(m * 1000 + n + k);
      const x = randomF32(next, m * k);
      const wf = randomF32(next, n * k, -0.5, 0.5);
      const bias = randomF32(next, n);
      const residual = randomF32(next, m * n);
      const w = native.tensor(wf, [n, k], { dtype: 'bf16' });
      const tol = 4e-6 * Math.sqrt(k / 64) + 2e-6;
      for (const act of ['none', 'quick_gelu', 'gelu'] as const) {
        const ref = linearRef(bf16(x), bf16(wf), bias, residual, m, n, k, act);
        const out = f(m * n);
        native.linear(x, w, bias, out, { m, n, k, activation: act, residual });
        expect(relError(out, ref)).toBeLessThan(tol);
        // Against unrounded operands: within bf16's 8-bit mantissa.
        expect(relError(out, linearRef(x, wf, bias, residual, m, n, k, act))).toBeLessThan(1e-2);
        const inPlace = residual.slice();
        await native.linearAsync(x, w, bias, inPlace, { m, n, k, activation: act, residual: inPlace });
        // The bf16 GEMMs add the residual in their epilogue, so in place is bit-identical; the
        // fp32 kernels (no bf16 path: CLIPKIT_ISA=avx512, CPUs without bf16) accumulate onto an
        // aliased residual, another summation order.
        if (bf16Path !== null) expect(inPlace).toEqual(out);
        else expect(relError(inPlace, ref)).toBeLessThan(tol);
      }
      const chained = f(m * n);
      await native.chainAsync([['linear', x, w, bias, chained, { m, n, k, activation: 'gelu' }]]);
      expect(relError(chained, linearRef(bf16(x), bf16(wf), bias, null, m, n, k, 'gelu'))).toBeLessThan(tol);
      w.dispose();
    });
  }

  it('rows are bit-identical whatever the batch size', () => {
    const next = rng(9);
    const [big, n, k] = [100, 64, 96];
    const x = randomF32(next, big * k);
    const w = native.tensor(randomF32(next, n * k), [n, k], { dtype: 'bf16' });
    const all = f(big * n);
    native.linear(x, w, null, all, { m: big, n, k });
    const one = f(n);
    native.linear(x.slice(37 * k, 38 * k), w, null, one, { m: 1, n, k });
    expect(one).toEqual(all.slice(37 * n, 38 * n));
    w.dispose();
  });
});

describe('nativeInfo bf16 fields', () => {
  const info = native.nativeInfo();
  const hasAvx512Bf16 = /\bavx512_bf16\b/.test(cpuFlags);
  const hasAmx = /\bamx_bf16\b/.test(cpuFlags) && /\bamx_tile\b/.test(cpuFlags);
  const isaCap = process.env['CLIPKIT_ISA'];

  it('reports the path and why a faster one is not taken', () => {
    expect([null, 'amx', 'avx512_bf16']).toContain(info.cpu.bf16);
    expect(info.cpu.bf16Note === null || typeof info.cpu.bf16Note === 'string').toBe(true);
    if (info.cpu.bf16 === null) expect(info.cpu.bf16Note).toMatch(/\w/);
  });

  const flagsSkip = isaCap !== undefined ? `CLIPKIT_ISA=${isaCap} is set` : !cpuFlags ? 'no CPU flags in /proc/cpuinfo' : null;
  if (flagsSkip) console.warn(`[bf16] "follows the CPU flags" skipped: ${flagsSkip}`);
  it.skipIf(flagsSkip !== null)('follows the CPU flags when CLIPKIT_ISA is unset', () => {
    if (hasAmx) {
      // Only a failed self-test or a refused arch_prctl may lower it, and the note says which.
      if (info.cpu.bf16 !== 'amx') expect(info.cpu.bf16Note).toMatch(/AMX|amx/);
    } else if (hasAvx512Bf16) {
      expect(info.cpu.bf16).toBe('avx512_bf16');
    } else {
      expect(info.cpu.bf16).toBeNull();
    }
  });
});

describe('bf16 in a fresh process', () => {
  const addon = native.nativeAddonPath();
  // Two bf16 linears, then nativeInfo's bf16 fields on stdout.
  const script = `
    const n = require(${JSON.stringify(addon)});
    const w = n.tensor(new Float32Array(12).fill(0.5), [3, 4], { dtype: 'bf16' });
    const out = new Float32Array(6);
    n.linear(new Float32Array(8).fill(1), w, null, out, { m: 2, n: 3, k: 4 });
    n.linear(new Float32Array(8).fill(1), w, null, out, { m: 2, n: 3, k: 4 });
    if (out[5] !== 2) throw new Error('wrong result ' + out[5]);
    const c = n.nativeInfo().cpu;
    console.log(JSON.stringify({ bf16: c.bf16, note: c.bf16Note }));`;
  const run = (isa: string) =>
    spawnSync(process.execPath, ['-e', script], { env: { ...process.env, CLIPKIT_ISA: isa }, encoding: 'utf8' });

  it('CLIPKIT_ISA=avx512 disables the bf16 paths, and the fp32 fallback says so once on stderr', () => {
    const r = run('avx512');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ bf16: null, note: expect.stringMatching(/CLIPKIT_ISA=avx512 lowers it|neither AMX nor AVX512_BF16/) });
    expect(r.stderr.match(/no bf16 GEMM usable here/g)).toHaveLength(1);
  });

  const noAvx512Bf16 = !/\bavx512_bf16\b/.test(cpuFlags);
  if (noAvx512Bf16) console.warn('[bf16] CLIPKIT_ISA=avx512_bf16 case skipped: this CPU has no avx512_bf16 flag');
  it.skipIf(noAvx512Bf16)('CLIPKIT_ISA=avx512_bf16 keeps AVX512_BF16 and prints nothing', () => {
    const r = run('avx512_bf16');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ bf16: 'avx512_bf16', note: /\bamx_bf16\b/.test(cpuFlags) ? expect.stringMatching(/CLIPKIT_ISA/) : null });
    expect(r.stderr).not.toMatch(/bf16/);
  });
});

describe('bf16 tensors outside linear w are refused', () => {
  const b = () => native.tensor(f(12), [12], { dtype: 'bf16' });
  const lin = { m: 3, n: 2, k: 4 };
  const sim = { m: 2, n: 3, d: 4 };
  const cases: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['linear x', () => native.linear(b(), f(8), null, f(6), lin), TypeError, /linear: x must be an f32 Tensor, got a bf16 Tensor/],
    ['linear out', () => native.linear(f(12), f(8), null, b(), lin), TypeError, /linear: out must be an f32 Tensor, got a bf16 Tensor/],
    ['linear bias', () => native.linear(f(12), f(8), b(), f(6), lin), TypeError, /bias must be an f32 Tensor/],
    ['linear residual', () => native.linear(f(12), f(8), null, f(6), { ...lin, residual: b() }), TypeError, /residual must be an f32 Tensor/],
    ['linear f16 w', () => native.linear(f(12), native.tensor(f(8), [8], { dtype: 'f16' }), null, f(6), lin), TypeError, /w must be an f32 or bf16 Tensor, got an f16 Tensor/],
    ['linear bf16 w of wrong size', () => native.linear(f(12), b(), null, f(6), lin), RangeError, /w has 12 elements, expected n\*k = 8/],
    ['layerNorm gamma', () => native.layerNorm(f(6), b(), f(3), f(6), { rows: 2, dim: 3, eps: 1e-5 }), TypeError, /gamma must be an f32 Tensor, got a bf16 Tensor/],
    ['add a', () => native.add(b(), f(12), f(12)), TypeError, /add: a must be an f32 Tensor/],
    ['activation x', () => native.activation(b(), f(12), 'gelu'), TypeError, /x must be an f32 Tensor/],
    ['softmax x', () => native.softmax(b(), f(12), { rows: 3, cols: 4 }), TypeError, /x must be an f32 Tensor/],
    ['attention qkv', () => native.attention(b(), f(12), { batch: 1, tokens: 2, heads: 1, headDim: 2 }), TypeError, /qkv must be an f32 Tensor/],
    ['similarity b', () => native.similarity(f(8), b(), f(6), sim), TypeError, /similarity: b must be an f32 or f16 Tensor, got a bf16 Tensor/],
    ['similarityTopK b', () => native.similarityTopK(f(8), b(), { ...sim, k: 1 }), TypeError, /b must be an f32 or f16 Tensor, got a bf16 Tensor/],
    ['preprocess out', () => native.preprocess([], b()), TypeError, /out must be an f32 Tensor/],
    ['tensor bf16 from Uint16Array', () => native.tensor(new Uint16Array(4), [4], { dtype: 'bf16' }), TypeError, /data must be a Float32Array for dtype 'bf16'/],
    ['tensor unknown dtype', () => native.tensor(f(4), [4], { dtype: 'bf8' as 'bf16' }), RangeError, /dtype must be one of 'f32', 'f16', 'bf16', got 'bf8'/],
    ['bf16 write of wrong length', () => b().write(f(3)), RangeError, /data has 3 elements, expected size = 12/],
  ];
  it.each(cases)('%s', (_name, call, type, message) => {
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });

  it('chainAsync refuses a bf16 tensor outside linear w, naming the call', async () => {
    await expect(native.chainAsync([['add', f(2), f(2), f(2)], ['add', b(), f(12), f(12)]])).rejects.toThrow(
      /chainAsync calls\[1\] \(add\): a must be an f32 Tensor, got a bf16 Tensor/,
    );
  });
});

// A bf16 weight on 'cuda' runs cuBLAS's bf16 GEMM (fp32 compute): the same numbers as the CPU's.
const cuda = native.nativeInfo().cuda;
if (!cuda.available) console.warn(`CUDA bf16 tests skipped: ${cuda.error ?? 'CUDA not available'}`);

describe.skipIf(!cuda.available)('bf16 on cuda', () => {
  it('linear with a cuda bf16 weight matches the cpu bf16 linear', () => {
    const next = rng(700);
    const [m, n, k] = [33, 65, 129];
    const x = randomF32(next, m * k);
    const wf = randomF32(next, n * k, -0.5, 0.5);
    const bias = randomF32(next, n);
    const cpuOut = f(m * n);
    native.linear(x, native.tensor(wf, [n, k], { dtype: 'bf16' }), bias, cpuOut, { m, n, k, activation: 'quick_gelu' });
    const w = native.tensor(wf, [n, k], { dtype: 'bf16', device: 'cuda' });
    expect(w.dtype).toBe('bf16');
    expect(w.toArray()).toEqual(bf16(wf));
    const dev = (a: Float32Array, shape: number[]) => native.tensor(a, shape, { device: 'cuda' });
    const out = dev(f(m * n), [m, n]);
    native.linear(dev(x, [m, k]), w, dev(bias, [n]), out, { m, n, k, activation: 'quick_gelu' });
    expect(relError(out.toArray(), cpuOut)).toBeLessThan(1e-5);
  });
});
