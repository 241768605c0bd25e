// Kernel microbenchmarks at CLIP shapes: the C++ program (kernels without the binding) and the
// same kernels through the JS API (binding included), each against a plain TypeScript kernel
// measured in the same run, with fractions of this machine's measured FMA peak / bandwidth.
import * as native from '@clipkit/native-cuda';
import { attentionJs, layerNormJs, linearJs, topKJs } from '../baselines.js';
import { measure, randomFloats } from '../harness.js';
import { runCppBench, type CppBench } from '../cpp-bench.js';
import type { BenchOptions, BenchRow, SuiteOutput } from '../types.js';

interface Shapes {
  gemm: Array<{ label: string; m: number; n: number; k: number }>;
  /** Rows of the plain TS GEMM actually timed (it is ~100× slower; the flop rate does not depend on m). */
  gemmJsRows: number;
  layerNormRows: number;
  attention: Array<{ label: string; b: number; t: number; h: number; d: number; causal: boolean }>;
  libraries: number[];
  queries: number;
}

function shapes(opts: BenchOptions): Shapes {
  if (opts.tiny) {
    return {
      gemm: [{ label: 'tiny', m: 16, n: 256, k: 128 }],
      gemmJsRows: 4,
      layerNormRows: 16,
      attention: [{ label: 'tiny', b: 2, t: 10, h: 2, d: 16, causal: false }],
      libraries: [10_000],
      queries: 4,
    };
  }
  // ViT-B/32 at batch 32: 32 images × 50 tokens = 1600 rows.
  const vitB = [
    { label: 'ViT-B/32 qkv', m: 1600, n: 2304, k: 768 },
    { label: 'ViT-B/32 fc1', m: 1600, n: 3072, k: 768 },
    { label: 'ViT-B/32 fc2', m: 1600, n: 768, k: 3072 },
  ];
  const attention = [
    { label: 'ViT-B/32', b: 32, t: 50, h: 12, d: 64, causal: false },
    { label: 'text causal', b: 32, t: 77, h: 8, d: 64, causal: true },
  ];
  if (opts.quick) {
    return { gemm: vitB.slice(1, 2), gemmJsRows: 8, layerNormRows: 1600, attention, libraries: [100_000], queries: 64 };
  }
  return {
    gemm: vitB,
    gemmJsRows: 32,
    layerNormRows: 1600,
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

/** `{ note: "N% of measured …" }` when the C++ program measured that ceiling. */
function pct(value: number, peak: number | undefined, what: string): { note?: string } {
  return peak !== undefined && peak > 0 ? { note: `${((100 * value) / peak).toFixed(0)}% of measured ${what}` } : {};
}

async function jsApiRows(opts: BenchOptions, cpp: CppBench): Promise<BenchRow[]> {
  const s = shapes(opts);
  const repeats = opts.quick ? 3 : 7;
  const rows: BenchRow[] = [];

  for (const g of s.gemm) {
    const { m, n, k } = g;
    const x = randomFloats(m * k, 1);
    const w = randomFloats(n * k, 2);
    const bias = randomFloats(n, 3);
    const out = new Float32Array(m * n);
    const t = await measure(() => native.linearAsync(x, w, bias, out, { m, n, k }), { repeats });
    const gf = (2 * m * n * k) / t / 1e9;
    const name = `js api linear ${g.label} ${m}x${n}x${k}`;
    const baseName = `plain TS linear ${g.label} ${m}x${n}x${k}`;
    rows.push({ name, unit: 'GFLOP/s', value: gf, baseline: baseName, ...pct(gf, cpp.peakGflops, 'FMA peak') });
    const mJs = Math.min(m, s.gemmJsRows);
    const tJs = await measure(() => linearJs(x, w, bias, out, mJs, n, k), { warmup: 1, repeats: 2 });
    rows.push({ name: baseName, unit: 'GFLOP/s', value: (2 * mJs * n * k) / tJs / 1e9, note: `timed on ${mJs} rows` });
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
    const r = s.layerNormRows;
    const dim = 768;
    const x = randomFloats(r * dim, 4);
    const g = randomFloats(dim, 5);
    const b = randomFloats(dim, 6);
    const out = new Float32Array(r * dim);
    const bytes = 2 * r * dim * 4;
    const t = await measure(() => native.layerNorm(x, g, b, out, { rows: r, dim, eps: 1e-5 }), { repeats: repeats * 3 });
    const tJs = await measure(() => layerNormJs(x, g, b, out, r, dim, 1e-5), { repeats });
    const base = `plain TS layerNorm ${r}x${dim}`;
    rows.push({ name: `js api layerNorm ${r}x${dim}`, unit: 'GB/s', value: bytes / t / 1e9, baseline: base, ...pct(bytes / t / 1e9, cpp.copyGBs, 'copy bandwidth') });
    rows.push({ name: base, unit: 'GB/s', value: bytes / tJs / 1e9 });
  }

  for (const a of s.attention) {
    const qkv = randomFloats(a.b * a.t * 3 * a.h * a.d, 7);
    const out = new Float32Array(a.b * a.t * a.h * a.d);
    // q·kᵀ and p·v, 2 flop per multiply-add each; a causal mask skips about half.
    const flop = 4 * a.b * a.h * a.t * a.t * a.d * (a.causal ? 0.5 : 1);
    const opt = { batch: a.b, tokens: a.t, heads: a.h, headDim: a.d, causal: a.causal };
    const t = await measure(() => native.attentionAsync(qkv, out, opt), { repeats: repeats * 2 });
    const tJs = await measure(() => attentionJs(qkv, out, a.b, a.t, a.h, a.d, a.causal), { repeats: 2 });
    const shape = `${a.label} b${a.b} t${a.t} h${a.h}`;
    rows.push({ name: `js api attention ${shape}`, unit: 'GFLOP/s', value: flop / t / 1e9, baseline: `plain TS attention ${shape}` });
    rows.push({ name: `plain TS attention ${shape}`, unit: 'GFLOP/s', value: flop / tJs / 1e9 });
  }

  // Similarity + top-10 against a library of n × 512 embeddings (one query: memory-bound).
  for (const n of s.libraries) {
    const d = 512;
    const items = randomFloats(n * d, 8);
    const q = randomFloats(d, 9);
    const gbs = (seconds: number) => (n * d * 4) / seconds / 1e9;
    const t = await measure(() => native.similarityTopKAsync(q, items, { m: 1, n, d, k: 10 }), { repeats });
    const tJs = await measure(() => topKJs(q, items, n, d, 10), { repeats: 2 });
    const base = `plain TS top-10 1 query over ${n}x${d} f32`;
    const bw = pct(gbs(t), cpp.readGBs, 'read bandwidth').note;
    rows.push({ name: `js api top-10 1 query over ${n}x${d} f32`, unit: 'ms', value: t * 1e3, baseline: base, note: `${gbs(t).toFixed(1)} GB/s${bw ? `, ${bw}` : ''}` });
    rows.push({ name: base, unit: 'ms', value: tJs * 1e3 });
    const m = s.queries;
    const qs = randomFloats(m * d, 10);
    const tm = await measure(() => native.similarityTopKAsync(qs, items, { m, n, d, k: 10 }), { repeats: Math.max(2, repeats >> 1) });
    const gf = (2 * m * n * d) / tm / 1e9;
    const peak = pct(gf, cpp.peakGflops, 'FMA peak').note;
    rows.push({ name: `js api top-10 ${m} queries over ${n}x${d} f32`, unit: 'ms', value: tm * 1e3, note: `${gf.toFixed(0)} GFLOP/s${peak ? `, ${peak}` : ''}` });
    const f16 = native.toFloat16(items);
    const th = await measure(() => native.similarityTopKAsync(q, f16, { m: 1, n, d, k: 10 }), { repeats });
    rows.push({ name: `js api top-10 1 query over ${n}x${d} f16`, unit: 'ms', value: th * 1e3, baseline: `js api top-10 1 query over ${n}x${d} f32`, note: `${((n * d * 2) / th / 1e9).toFixed(1)} GB/s of f16` });
  }
  return rows;
}
