// clipkit_bench --json → rows: the parser against documents shaped like bench/main.cc writes.
import { describe, expect, it } from 'vitest';
import { parseCppBenchJson } from '../src/cpp-bench.js';

const doc = {
  version: 1,
  machine: { isa: 'avx512', threads: 2 },
  peak: { fma_gflops: 400, fma_gflops_1thread: 205, copy_gbs: 25, read_gbs: 32, per_isa: { generic: { '1': 10, '2': 20 } } },
  results: [
    { kernel: 'linear', device: 'cpu', shape: 'ViT-B/32 fc1 1600x3072x768', isa: 'avx512', threads: 2, seconds: 0.03, gflops: 300, fraction_of_peak: 0.75 },
    { kernel: 'similarity_topk_f32', device: 'cpu', shape: '1q x 100000x512 top10', isa: 'avx512', threads: 2, seconds: 0.01, gbs: 16, fraction_of_peak: 0.5 },
    { kernel: 'linear', device: 'cuda', shape: 'ViT-B/32 fc1 1600x3072x768', seconds: 0.001, gflops: 9000 },
  ],
};

describe('parseCppBenchJson', () => {
  it('turns ceilings and results into rows with their fraction of the ceiling', () => {
    const r = parseCppBenchJson(JSON.stringify(doc), 'out.json');
    expect(r.peakGflops).toBe(400);
    expect(r.copyGBs).toBe(25);
    expect(r.readGBs).toBe(32);
    expect(r.rows).toEqual([
      { name: 'C++ measured FMA peak (all threads)', unit: 'GFLOP/s', value: 400 },
      { name: 'C++ measured copy bandwidth (read + write)', unit: 'GB/s', value: 25 },
      { name: 'C++ measured read bandwidth', unit: 'GB/s', value: 32 },
      { name: 'C++ linear ViT-B/32 fc1 1600x3072x768', unit: 'GFLOP/s', value: 300, note: '75% of measured FMA peak' },
      { name: 'C++ similarity_topk_f32 1q x 100000x512 top10', unit: 'GB/s', value: 16, note: '50% of measured bandwidth' },
      { name: 'C++ linear ViT-B/32 fc1 1600x3072x768 (cuda)', unit: 'GFLOP/s', value: 9000 },
    ]);
  });

  it('adds the bf16 peaks and rates bf16 GEMM rows against the peak they name', () => {
    const bf16 = {
      ...doc,
      peak: { ...doc.peak, bf16_dp_gflops: 800, amx_bf16_gflops: 6000, bf16_path: 'amx' },
      results: [{ kernel: 'linear_bf16', device: 'cpu', shape: 'ViT-B/32 fc1 1600x3072x768', isa: 'amx', threads: 2, seconds: 0.001, gflops: 3000, fraction_of_peak: 0.5, peak: 'AMX bf16 peak' }],
    };
    expect(parseCppBenchJson(JSON.stringify(bf16), 'out.json').rows.slice(3)).toEqual([
      { name: 'C++ measured AVX512_BF16 (vdpbf16ps) peak (all threads)', unit: 'GFLOP/s', value: 800 },
      { name: 'C++ measured AMX bf16 (tdpbf16ps) peak (all threads)', unit: 'GFLOP/s', value: 6000 },
      { name: 'C++ linear_bf16 ViT-B/32 fc1 1600x3072x768', unit: 'GFLOP/s', value: 3000, note: '50% of measured AMX bf16 peak' },
    ]);
  });

  it('tells rows of the same case on several ISAs apart (--all-isas)', () => {
    const twice = { ...doc, results: [doc.results[0], { ...doc.results[0], isa: 'avx2', gflops: 150 }] };
    const names = parseCppBenchJson(JSON.stringify(twice), 'out.json').rows.map((r) => r.name);
    expect(names.slice(3)).toEqual(['C++ linear ViT-B/32 fc1 1600x3072x768', 'C++ linear ViT-B/32 fc1 1600x3072x768 (avx2)']);
  });

  it.each([
    ['not JSON', '{"peak": ', /out\.json: unexpected clipkit_bench JSON/],
    ['no results', JSON.stringify({ peak: doc.peak }), /no "results" array/],
    ['no peak', JSON.stringify({ results: [] }), /peak\.fma_gflops/],
    ['a result without a rate', JSON.stringify({ ...doc, results: [{ kernel: 'add', device: 'cpu', shape: 's', seconds: 1 }] }), /results\[0\] \(C\+\+ add s\) has no positive gflops or gbs/],
    ['a result without a shape', JSON.stringify({ ...doc, results: [{ kernel: 'add', device: 'cpu', gbs: 1 }] }), /results\[0\] needs kernel, device and shape/],
    ['a negative rate', JSON.stringify({ ...doc, results: [{ kernel: 'add', device: 'cpu', shape: 's', gbs: -1 }] }), /has no positive/],
  ])('rejects %s, naming the file', (_label, text, message) => {
    expect(() => parseCppBenchJson(text, 'out.json')).toThrow(message);
  });
});
