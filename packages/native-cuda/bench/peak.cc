// FMA throughput and memory bandwidth with every thread of the compute pool's size busy.
#include "peak.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "cpu/gemm_bf16.h"
#include "cpu/reduce.h"
#include "cpu/scratch.h"
#include "cpu/vec.h"

namespace clipkit::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Results land here so the compiler cannot drop the measured loops as dead code.
volatile float g_sink = 0.0f;

// Twelve independent chains x = x * m + c per thread: enough to cover FMA latency × pipes on
// current x86 cores. m ≈ 1 keeps values finite. Named variables (not an array) so they live in
// registers; the empty asm hides them from the optimiser, which would otherwise fold the whole
// recurrence at compile time.
#define CLIPKIT_PEAK_CHAINS(STEP) \
  STEP(x0) STEP(x1) STEP(x2) STEP(x3) STEP(x4) STEP(x5) STEP(x6) STEP(x7) STEP(x8) STEP(x9) \
  STEP(x10) STEP(x11)
constexpr int kChains = 12;

// The portable kernels' ceiling: SSE2 multiply + add (baseline x86-64 has no FMA). Four lanes,
// not VecPortable's eight, so the twelve chains fit the sixteen xmm registers.
struct Sse {
  using R = __m128;
  static constexpr int W = 4;
  static R set1(float x) { return _mm_set1_ps(x); }
  static R zero() { return _mm_setzero_ps(); }
  static R add(R a, R b) { return _mm_add_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static float reduce_add(R a) { return _mm_cvtss_f32(a); }  // one lane is enough for a sink
};

template <typename V>
CLIPKIT_INLINE void fma_chains(int64_t iters, float* sink) {
  const auto m = V::set1(0.9999999f);
  const auto c = V::set1(1e-7f);
#define CLIPKIT_INIT(x) auto x = V::set1(1.0f);
  CLIPKIT_PEAK_CHAINS(CLIPKIT_INIT)
#undef CLIPKIT_INIT
  for (int64_t it = 0; it < iters; ++it) {
#define CLIPKIT_STEP(x) \
  x = V::fma(x, m, c);  \
  asm volatile("" : "+v"(x));
    CLIPKIT_PEAK_CHAINS(CLIPKIT_STEP)
#undef CLIPKIT_STEP
  }
  auto s = V::zero();
#define CLIPKIT_SUM(x) s = V::add(s, x);
  CLIPKIT_PEAK_CHAINS(CLIPKIT_SUM)
#undef CLIPKIT_SUM
  *sink = V::reduce_add(s);
}

CLIPKIT_TARGET_AVX512 __attribute__((flatten)) void fma_avx512(int64_t iters, float* sink) {
  fma_chains<cpu::simd::VecAvx512>(iters, sink);
}
CLIPKIT_TARGET_AVX2 __attribute__((flatten)) void fma_avx2(int64_t iters, float* sink) {
  fma_chains<cpu::simd::VecAvx2>(iters, sink);
}
__attribute__((flatten)) void mul_add_sse(int64_t iters, float* sink) {
  fma_chains<Sse>(iters, sink);
}

// vdpbf16ps: 64 flops each (16 lanes x 2 products x multiply-add), twelve chains as above.
CLIPKIT_TARGET_AVX512_BF16 void dpbf16_chains(int64_t iters, float* sink) {
  const auto a = (__m512bh)_mm512_set1_epi32(0x3f803f80);  // (1, 1)
  const auto b = (__m512bh)_mm512_set1_epi32(0x33d633d6);  // (1e-7, 1e-7)
#define CLIPKIT_INIT(x) __m512 x = _mm512_set1_ps(1.0f);
  CLIPKIT_PEAK_CHAINS(CLIPKIT_INIT)
#undef CLIPKIT_INIT
  for (int64_t it = 0; it < iters; ++it) {
#define CLIPKIT_STEP(x)            \
  x = _mm512_dpbf16_ps(x, a, b);   \
  asm volatile("" : "+v"(x));
    CLIPKIT_PEAK_CHAINS(CLIPKIT_STEP)
#undef CLIPKIT_STEP
  }
  __m512 s = _mm512_setzero_ps();
#define CLIPKIT_SUM(x) s = _mm512_add_ps(s, x);
  CLIPKIT_PEAK_CHAINS(CLIPKIT_SUM)
#undef CLIPKIT_SUM
  *sink = _mm512_reduce_add_ps(s);
}

constexpr double kDpFlops = 16 * 2 * 2;
constexpr double kTileFlops = 16.0 * 16 * 32 * 2;  // one tdpbf16ps: 16x16 outputs, 32 k
constexpr int kTileSteps = 4;                      // tdpbf16ps per loop iteration

// tdpbf16ps into four accumulator tiles from two A and two B tiles that stay loaded: the tile
// unit's own rate, no memory traffic. Operands are zeros (no denormal or overflow effects).
__attribute__((target("amx-tile,amx-bf16,avx512f"))) void amx_chains(int64_t iters, float* sink) {
  struct alignas(64) Config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
  } cfg{};
  cfg.palette = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  alignas(64) static const uint16_t zeros[16 * 32] = {};
  alignas(64) float out[16 * 16];
  _tile_loadconfig(&cfg);
  _tile_loadd(4, zeros, 64);
  _tile_loadd(5, zeros, 64);
  _tile_loadd(6, zeros, 64);
  _tile_loadd(7, zeros, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t it = 0; it < iters; ++it) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  __asm__ __volatile__("" ::: "memory");
  *sink = out[0];
}

void peak_job(Isa isa, int64_t iters, float* sink) {
  switch (isa) {
    case Isa::Avx512:
      fma_avx512(iters, sink);
      return;
    case Isa::Avx2:
      fma_avx2(iters, sink);
      return;
    case Isa::Generic:
      break;
  }
  mul_add_sse(iters, sink);
}

int lanes(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return cpu::simd::VecAvx512::W;
    case Isa::Avx2:
      return cpu::simd::VecAvx2::W;
    case Isa::Generic:
      break;
  }
  return Sse::W;
}

// fn(t) for t in [0, threads), each on its own thread at the same time (the caller runs t = 0).
// Plain threads rather than the compute pool: a ceiling needs exactly one share per thread,
// whatever the pool's scheduling policy does with small jobs.
template <typename Fn>
void on_threads(int threads, const Fn& fn) {
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back([&fn, t] { fn(t); });
  fn(0);
  for (auto& th : others) th.join();
}

// GFLOP/s of `threads` threads running the chains at once (best of a few tries).
// GFLOP/s of `threads` threads running `job` (flops_per_iter each iteration) at once.
template <typename Job>
double peak_of(const Job& job, int threads, int64_t iters, double flops_per_iter) {
  double best = 0.0;
  std::vector<float> sink(static_cast<size_t>(threads));
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto t0 = Clock::now();
    on_threads(threads, [&](int t) { job(iters, &sink[static_cast<size_t>(t)]); });
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, static_cast<double>(iters) * flops_per_iter * threads / s / 1e9);
    for (const float x : sink) g_sink = g_sink + x;
  }
  return best;
}

double fma_peak(Isa isa, int threads, int64_t iters) {
  const double flops_per_thread = static_cast<double>(iters) * kChains * lanes(isa) * 2;
  double best = 0.0;
  std::vector<float> sink(static_cast<size_t>(threads));
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto t0 = Clock::now();
    on_threads(threads, [&](int t) { peak_job(isa, iters, &sink[static_cast<size_t>(t)]); });
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, flops_per_thread * threads / s / 1e9);
    for (const float x : sink) g_sink = g_sink + x;
  }
  return best;
}

// The streaming read the row-wise kernels do: their own row_sum over one thread's share.
template <typename V>
CLIPKIT_INLINE void sum_job(const float* x, int64_t n, float* sink) {
  *sink = cpu::row_sum<V>(x, n);
}
CLIPKIT_DISPATCH(sum_dispatch, sum_job)

template <typename Fn>
double best_seconds(int tries, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < tries; ++i) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

Ceilings measure_ceilings(bool quick) {
  Ceilings c;
  const int64_t iters = quick ? 4'000'000 : 20'000'000;
  const int threads = cpu::thread_count();
  for (int level = 0; level <= static_cast<int>(cpu::hardware_isa()); ++level) {
    const Isa isa = static_cast<Isa>(level);
    c.fma_1thread[isa] = fma_peak(isa, 1, iters);
    c.fma_all[isa] = threads == 1 ? c.fma_1thread[isa] : fma_peak(isa, threads, iters);
  }
  if (cpu::bf16::cpu_has_avx512_bf16()) {
    c.bf16_dp_1thread = peak_of(dpbf16_chains, 1, iters, kChains * kDpFlops);
    c.bf16_dp_all = threads == 1 ? c.bf16_dp_1thread
                                 : peak_of(dpbf16_chains, threads, iters, kChains * kDpFlops);
  }
  std::string why;
  if (cpu::bf16::cpu_has_amx() && cpu::bf16::amx_enable(&why)) {
    const int64_t tile_iters = iters / 16;
    c.amx_1thread = peak_of(amx_chains, 1, tile_iters, kTileSteps * kTileFlops);
    c.amx_all = threads == 1 ? c.amx_1thread
                             : peak_of(amx_chains, threads, tile_iters, kTileSteps * kTileFlops);
  }

  // Far larger than any cache; touched once first so page faults are not measured.
  const int64_t n = (quick ? 64 : 256) * (int64_t{1} << 20) / 4 * 4;
  cpu::Scratch src_buf, dst_buf;
  float* src = src_buf.floats(static_cast<size_t>(n));
  float* dst = dst_buf.floats(static_cast<size_t>(n));
  fill_random(src, static_cast<size_t>(n), 7);
  std::memset(dst, 0, static_cast<size_t>(n) * sizeof(float));
  const auto copy = [&] {
    on_threads(threads, [&](int t) {
      const int64_t lo = n * t / threads;
      const int64_t hi = n * (t + 1) / threads;
      std::memcpy(dst + lo, src + lo, static_cast<size_t>(hi - lo) * sizeof(float));
    });
  };
  c.copy_gbs = 2.0 * static_cast<double>(n) * 4 / best_seconds(quick ? 3 : 5, copy) / 1e9;
  std::vector<float> sink(static_cast<size_t>(threads));
  const Isa isa = cpu::detected_isa();
  const auto read = [&] {
    on_threads(threads, [&](int t) {
      const int64_t lo = n * t / threads;
      const int64_t hi = n * (t + 1) / threads;
      sum_dispatch_on(isa, src + lo, hi - lo, &sink[static_cast<size_t>(t)]);
    });
  };
  c.read_gbs = static_cast<double>(n) * 4 / best_seconds(quick ? 3 : 5, read) / 1e9;
  for (const float x : sink) g_sink = g_sink + x;
  return c;
}

Ceilings best_of(const Ceilings& a, const Ceilings& b) {
  Ceilings c = a;
  for (auto& [isa, v] : c.fma_1thread) v = std::max(v, b.fma_1thread.at(isa));
  for (auto& [isa, v] : c.fma_all) v = std::max(v, b.fma_all.at(isa));
  c.bf16_dp_1thread = std::max(a.bf16_dp_1thread, b.bf16_dp_1thread);
  c.bf16_dp_all = std::max(a.bf16_dp_all, b.bf16_dp_all);
  c.amx_1thread = std::max(a.amx_1thread, b.amx_1thread);
  c.amx_all = std::max(a.amx_all, b.amx_all);
  c.copy_gbs = std::max(a.copy_gbs, b.copy_gbs);
  c.read_gbs = std::max(a.read_gbs, b.read_gbs);
  return c;
}

}  // namespace clipkit::bench
