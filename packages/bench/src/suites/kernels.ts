// Kernel microbenchmarks at CLIP shapes: the C++ program (kernels without the binding) and the
// same kernels through the JS API (binding included), each against a plain TypeScript kernel
// measured in the same run, with fractions of this machine's measured FMA peak / bandwidth.
import * as native from '@clipkit/native-cuda';
import { attentionJs, layerNormJs, linearJs, topKJs } from '../baselines.js';
import { measure, randomFloats } from '../harness.js';
import { runCppBench, type CppBench } from '../cpp-bench.js';
import type { BenchOptions, BenchRow, SuiteOutput } from '../types.js';

interface Gemm {
  label: string;
  m: number;
  n: number;
  k: number;
  activation: native.Activation;
  residual: boolean;
}

interface Shapes {
  gemm: Gemm[];
  /** Rows of the plain TS GEMM actually timed (it is ~100× slower; the flop rate does not depend on m). */
  gemmJsRows: number;
  layerNorm: { label: string; rows: number };
  attention: Array<{ label: string; b: number; t: number; h: number; d: number; causal: boolean }>;
  libraries: number[];
  queries: number;
}

// Labels and shapes are the C++ program's (bench/cpu_kernels.cc), so each JS API row can say how
// much of the C++ rate survives the binding.
function shapes(opts: BenchOptions): Shapes {
  if (opts.tiny) {
    return {
      gemm: [{ label: 'tiny', m: 16, n: 256, k: 128, activation: 'quick_gelu', residual: false }],
      gemmJsRows: 4,
      layerNorm: { label: 'tiny', rows: 16 },
      attention: [{ label: 'tiny', b: 2, t: 10, h: 2, d: 16, causal: false }],
      libraries: [10_000],
      queries: 4,
    };
  }
  // ViT-B/32 at batch 32: 32 images × 50 tokens = 1600 rows.
  const vitB: Gemm[] = [
    { label: 'ViT-B/32 qkv', m: 1600, n: 2304, k: 768, activation: 'none', residual: false },
    { label: 'ViT-B/32 fc1', m: 1600, n: 3072, k: 768, activation: 'quick_gelu', residual: false },
    { label: 'ViT-B/32 fc2', m: 1600, n: 768, k: 3072, activation: 'none', residual: true },
  ];
  const attention = [
    { label: 'ViT-B/32', b: 32, t: 50, h: 12, d: 64, causal: false },
    { label: 'text', b: 32, t: 77, h: 8, d: 64, causal: true },
  ];
  const layerNorm = { label: 'ViT-B/32', rows: 1600 };
  if (opts.quick) {
    return { gemm: vitB.slice(1, 2), gemmJsRows: 8, layerNorm, attention, libraries: [100_000], queries: 64 };
  }
  return {
    gemm: vitB,
    gemmJsRows: 32,
    layerNorm,
    attention: [...attention, { label: 'ViT-L/14', b: 8, t: 257, h: 16, d: 64, causal: false }],
    libraries: [100_000, 1_000_000],
    queries: 64,
  };
}

export async function benchKernels(opts: BenchOptions): Promise<SuiteOutput> {
  const cpp = await runCppBench(opts);
  const rows: BenchRow[] = [...cpp.rows, ...(await jsApiRows(opts, cpp))];
  return {
    rows,
    ...(cpp.unavailable !== undefined ? { notes: [`C++ rows and % of measured peak missing: ${cpp.unavailable}`] } : {}),
  };
}

/** The note of a JS API row: its share of a measured ceiling, and of the C++ program's rate for the same case. */
function note(cpp: CppBench, rate: number, ceiling: { value: number | undefined; what: string } | null, cppCase: string): { note?: string } {
  const parts: string[] = [];
  if (ceiling?.value !== undefined && ceiling.value > 0) parts.push(`${((100 * rate) / ceiling.value).toFixed(0)}% of measured ${ceiling.what}`);
  const same = cpp.rows.find((r) => r.name === `C++ ${cppCase}`);
  if (same !== undefined) parts.push(`${((100 * rate) / same.value).toFixed(0)}% of the C++ rate`);
  return parts.length > 0 ? { note: parts.join('; ') } : {};
}

/** Buffers as the native backend and the library hold them (and the C++ program's operands): hostArray()s. */
function hostFloats(n: number, seed?: number): Float32Array {
  const a = native.hostArray(n);
  if (seed !== undefined) a.set(randomFloats(n, seed));
  return a;
}

async function jsApiRows(opts: BenchOptions, cpp: CppBench): Promise<BenchRow[]> {
  const s = shapes(opts);
  const repeats = opts.quick ? 3 : 7;
  const rows: BenchRow[] = [];
  const fma = { value: cpp.peakGflops, what: 'FMA peak' };

  for (const g of s.gemm) {
    const { m, n, k } = g;
    const x = hostFloats(m * k, 1);
    const w = hostFloats(n * k, 2);
    const bias = hostFloats(n, 3);
    const residual = g.residual ? hostFloats(m * n, 4) : null;
    const out = hostFloats(m * n);
    const t = await measure(() => native.linearAsync(x, w, bias, out, { m, n, k, activation: g.activation, residual }), { repeats });
    const gf = (2 * m * n * k) / t / 1e9;
    const shape = `${g.label} ${m}x${n}x${k}`;
    const baseName = `plain TS linear ${shape}`;
    rows.push({ name: `js api linear ${shape}`, unit: 'GFLOP/s', value: gf, baseline: baseName, ...note(cpp, gf, fma, `linear ${shape}`) });
    // The plain TS kernel has no fused epilogue; it times the product alone, which is most of the work.
    const mJs = Math.min(m, s.gemmJsRows);
    const tJs = await measure(() => linearJs(x, w, bias, out, mJs, n, k), { warmup: 1, repeats: 2 });
    rows.push({ name: baseName, unit: 'GFLOP/s', value: (2 * mJs * n * k) / tJs / 1e9, note: `timed on ${mJs} rows, no epilogue` });
  }

  // Binding overhead: a 1×1×1 linear is all call cost.
  {
    const a = new Float32Array(1);
    const w = new Float32Array(1);
    const o = new Float32Array(1);
    const calls = opts.tiny ? 1000 : 10_000;
    const t = await measure(() => {
      for (let i = 0; i < calls; i++) native.linear(a, w, null, o, { m: 1, n: 1, k: 1 });
    }, { repeats: 3 });
    rows.push({ name: 'js api call overhead (sync linear 1x1x1)', unit: 'us', value: (t / calls) * 1e6 });
    const asyncCalls = opts.tiny ? 50 : 200;
    const ta = await measure(async () => {
      for (let i = 0; i < asyncCalls; i++) await native.linearAsync(a, w, null, o, { m: 1, n: 1, k: 1 });
    }, { repeats: 3 });
    rows.push({ name: 'js api call overhead (async linear 1x1x1)', unit: 'us', value: (ta / asyncCalls) * 1e6 });
  }

  // Layer norm over a batch of activations (memory-bound: read + write).
  {
    const r = s.layerNorm.rows;
    const dim = 768;
    const x = hostFloats(r * dim, 4);
    const g = hostFloats(dim, 5);
    const b = hostFloats(dim, 6);
    const out = hostFloats(r * dim);
    const bytes = 2 * r * dim * 4;
    const t = await measure(() => native.layerNorm(x, g, b, out, { rows: r, dim, eps: 1e-5 }), { repeats: repeats * 3 });
    const tJs = await measure(() => layerNormJs(x, g, b, out, r, dim, 1e-5), { repeats });
    const shape = `${s.layerNorm.label} ${r}x${dim}`;
    const base = `plain TS layer_norm ${shape}`;
    const gbs = bytes / t / 1e9;
    rows.push({ name: `js api layer_norm ${shape}`, unit: 'GB/s', value: gbs, baseline: base, ...note(cpp, gbs, { value: cpp.copyGBs, what: 'copy bandwidth' }, `layer_norm ${shape}`) });
    rows.push({ name: base, unit: 'GB/s', value: bytes / tJs / 1e9 });
  }

  for (const a of s.attention) {
    const qkv = hostFloats(a.b * a.t * 3 * a.h * a.d, 7);
    const out = hostFloats(a.b * a.t * a.h * a.d);
    // q·kᵀ and p·v, 2 flop per multiply-add each; a causal mask visits (t+1)/2t of the keys.
    const flop = 4 * a.b * a.h * a.t * a.t * a.d * (a.causal ? (a.t + 1) / (2 * a.t) : 1);
    const opt = { batch: a.b, tokens: a.t, heads: a.h, headDim: a.d, causal: a.causal };
    const t = await measure(() => native.attentionAsync(qkv, out, opt), { repeats: repeats * 2 });
    const tJs = await measure(() => attentionJs(qkv, out, a.b, a.t, a.h, a.d, a.causal), { repeats: 2 });
    const shape = `${a.label} b${a.b} t${a.t} h${a.h} d${a.d}${a.causal ? ' causal' : ''}`;
    const gf = flop / t / 1e9;
    rows.push({ name: `js api attention ${shape}`, unit: 'GFLOP/s', value: gf, baseline: `plain TS attention ${shape}`, ...note(cpp, gf, fma, `attention ${shape}`) });
    rows.push({ name: `plain TS attention ${shape}`, unit: 'GFLOP/s', value: flop / tJs / 1e9 });
  }

  // Similarity + top-10 against a library of n × 512 embeddings (one query: memory-bound).
  for (const n of s.libraries) {
    const d = 512;
    // The library's search matrix is a hostArray too.
    const items = hostFloats(n * d, 8);
    const q = randomFloats(d, 9);
    const read = { value: cpp.readGBs, what: 'read bandwidth' };
    const t = await measure(() => native.similarityTopKAsync(q, items, { m: 1, n, d, k: 10 }), { repeats });
    const tJs = await measure(() => topKJs(q, items, n, d, 10), { repeats: 2 });
    const base = `plain TS top-10 1 query over ${n}x${d} f32`;
    const gbs = (n * d * 4) / t / 1e9;
    const cppCase = (dtype: string, queries: number) => `similarity_topk_${dtype} ${queries}q x ${n}x${d} top10`;
    const bw = note(cpp, gbs, read, cppCase('f32', 1)).note;
    rows.push({ name: `js api top-10 1 query over ${n}x${d} f32`, unit: 'ms', value: t * 1e3, baseline: base, note: `${gbs.toFixed(1)} GB/s${bw ? `; ${bw}` : ''}` });
    rows.push({ name: base, unit: 'ms', value: tJs * 1e3 });

    const m = s.queries;
    const qs = randomFloats(m * d, 10);
    const tm = await measure(() => native.similarityTopKAsync(qs, items, { m, n, d, k: 10 }), { repeats: Math.max(2, repeats >> 1) });
    const gf = (2 * m * n * d) / tm / 1e9;
    const peak = note(cpp, gf, fma, cppCase('f32', m)).note;
    rows.push({ name: `js api top-10 ${m} queries over ${n}x${d} f32`, unit: 'ms', value: tm * 1e3, note: `${gf.toFixed(0)} GFLOP/s${peak ? `; ${peak}` : ''}` });

    const f16 = native.hostArray(n * d, 'f16');
    f16.set(native.toFloat16(items));
    const th = await measure(() => native.similarityTopKAsync(q, f16, { m: 1, n, d, k: 10 }), { repeats });
    const gbs16 = (n * d * 2) / th / 1e9;
    const bw16 = note(cpp, gbs16, read, cppCase('f16', 1)).note;
    rows.push({
      name: `js api top-10 1 query over ${n}x${d} f16`,
      unit: 'ms',
      value: th * 1e3,
      baseline: `js api top-10 1 query over ${n}x${d} f32`,
      note: `${gbs16.toFixed(1)} GB/s of f16${bw16 ? `; ${bw16}` : ''}`,
    });
    // Many queries over the f16 matrix: the catalog's search shape (on AMX, the bf16 first pass).
    const tmh = await measure(() => native.similarityTopKAsync(qs, f16, { m, n, d, k: 10 }), { repeats: Math.max(2, repeats >> 1) });
    const gfh = (2 * m * n * d) / tmh / 1e9;
    const peakh = note(cpp, gfh, fma, cppCase('f16', m)).note;
    rows.push({
      name: `js api top-10 ${m} queries over ${n}x${d} f16`,
      unit: 'ms',
      value: tmh * 1e3,
      baseline: `js api top-10 ${m} queries over ${n}x${d} f32`,
      note: `${gfh.toFixed(0)} GFLOP/s${peakh ? `; ${peakh}` : ''}`,
    });
  }
  return rows;
}
