// GEMM, C = A·Bᵀ with a fused epilogue (scale, bias, activation, residual), fp32 throughout
// (half B is widened on load). Two paths:
//  - many rows: cache-blocked in the BLIS style. B is packed into panels of NR columns
//    ([k][NR], shared by all threads), A into per-thread panels of MR rows ([kc][MR]), and an
//    MR×NR register-tile micro-kernel broadcasts A and streams B. Tile shape and block sizes
//    are chosen per ISA.
//  - few rows (kGemmUnpackedMaxRows): 4×4 blocks of dot products straight from A and B, since
//    packing B would cost more than the product itself.
// A weight packed ahead of time (PackedLinearWeight) always takes the packed path: its cost is
// paid once, and every row then sums in the same order whatever the number of rows.
#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "activation.h"
#include "scratch.h"
#include "threadpool.h"
#include "tiles.h"

namespace clipkit::cpu {
namespace {

struct Blocking {
  int64_t mr;  // micro-tile rows (broadcast A values)
  int64_t nr;  // micro-tile columns (vector lanes × vectors)
  int64_t kc;  // depth of one packed block: A and B micro-panels stay in L1/L2
  int64_t mc;  // rows of A packed at once
  int64_t nc;  // columns of one tile: its kc × nc block of packed B stays in L2
};

// Register budget: AVX-512 14×2 zmm accumulators + 2 B vectors + 1 broadcast = 31 of 32;
// AVX2 6×2 ymm + 2 + 1 = 15 of 16; portable 4×8 floats = 8 of 16 xmm.
template <typename V>
struct Tile;
template <>
struct Tile<simd::VecAvx512> {
  static constexpr int MR = 14;
  static constexpr int NV = 2;
};
template <>
struct Tile<simd::VecAvx2> {
  static constexpr int MR = 6;
  static constexpr int NV = 2;
};
template <>
struct Tile<simd::VecPortable> {
  static constexpr int MR = 4;
  static constexpr int NV = 1;
};

template <typename V>
constexpr Blocking blocking_for() {
  constexpr int64_t kc = 256;
  constexpr int64_t nr = Tile<V>::NV * V::W;
  return {Tile<V>::MR, nr, kc, Tile<V>::MR * 12, (int64_t{1} << 17) / kc / nr * nr};
}

Blocking blocking(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return blocking_for<simd::VecAvx512>();
    case Isa::Avx2:
      return blocking_for<simd::VecAvx2>();
    case Isa::Generic:
      break;
  }
  return blocking_for<simd::VecPortable>();
}

// Largest packed-B chunk, in floats: bounds scratch for huge n (similarity over a catalogue).
constexpr int64_t kMaxPackedB = int64_t{1} << 22;

// How far ahead loops that stream many rows at once (packing, dot products) prefetch each row.
constexpr int64_t kPrefetchBytes = 1024;

// How many k-steps ahead the micro-kernel prefetches its B panel: about one DRAM latency of
// FMAs at 14 cycles a step (16-64 measured; 32 best).
constexpr int64_t kPrefetchSteps = 32;

template <typename V>
CLIPKIT_INLINE typename V::R load_as_float(const float* p) {
  return V::load(p);
}
template <typename V>
CLIPKIT_INLINE typename V::R load_as_float(const uint16_t* p) {
  return V::load_half(p);
}
template <typename V>
CLIPKIT_INLINE typename V::R load_as_float_partial(const float* p, int64_t n) {
  return V::load_partial(p, n);
}
template <typename V>
CLIPKIT_INLINE typename V::R load_as_float_partial(const uint16_t* p, int64_t n) {
  return V::load_half_partial(p, n);
}

// Panels [panel_begin, panel_end) of R rows of src (rows ld apart; rows [0, rows) exist, the
// rest read as zero) over depth [0, depth) → dst[panel][depth][R]. Works in R × W blocks:
// vector loads of each row (widening half) into an L1 staging block, then a transpose out of it
// with contiguous stores, so neither side strides through memory. Packs B into NR-wide panels
// and A into MR-wide ones.
template <typename V, int64_t R, typename T>
CLIPKIT_INLINE void pack_panels(const T* src, int64_t ld, int64_t panel_begin, int64_t panel_end,
                                int64_t rows, int64_t depth, float* dst) {
  alignas(64) float block[R][V::W];
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    float* panel = dst + p * depth * R;
    const int64_t valid = std::min(R, rows - p * R);
    for (int64_t k0 = 0; k0 < depth; k0 += V::W) {
      const int64_t width = std::min<int64_t>(V::W, depth - k0);
      for (int64_t c = 0; c < R; ++c) {
        const T* row = src + (p * R + c) * ld + k0;
        // R interleaved row streams are more than the hardware prefetcher follows.
        __builtin_prefetch(reinterpret_cast<const char*>(row) + kPrefetchBytes);
        const auto v = c >= valid ? V::zero()
                       : width == V::W ? load_as_float<V>(row)
                                       : load_as_float_partial<V>(row, width);
        V::store(block[c], v);
      }
      for (int64_t i = 0; i < width; ++i) {
        float* out = panel + (k0 + i) * R;
        for (int64_t c = 0; c < R; ++c) out[c] = block[c][i];
      }
    }
  }
}

template <typename V, typename T>
CLIPKIT_INLINE void pack_b(const T* b, int64_t ldb, int64_t panel_begin, int64_t panel_end,
                           int64_t nb, int64_t k, float* dst) {
  pack_panels<V, Tile<V>::NV * V::W>(b, ldb, panel_begin, panel_end, nb, k, dst);
}
CLIPKIT_DISPATCH(pack_b_dispatch, pack_b)

// The epilogue of one micro-tile, applied in registers as its last k-block completes.
struct TileEpilogue {
  const float* bias;      // at the tile's first column, or null
  const float* residual;  // at the tile's first element (rows ldc apart), or null
  Activation act;
  float scale;
};

// c[rows, cols] = act(scale * c + bias) + residual, rows ldc apart (residual too).
template <typename V>
CLIPKIT_INLINE void apply_epilogue(float* c, int64_t ldc, int64_t rows, int64_t cols,
                                   const float* bias, const float* residual, Activation act,
                                   float scale) {
  if (bias == nullptr && residual == nullptr && act == Activation::None && scale == 1.0f) return;
  const auto vs = V::set1(scale);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    if (scale != 1.0f) {
      int64_t j = 0;
      for (; j + V::W <= cols; j += V::W) V::store(row + j, V::mul(V::load(row + j), vs));
      for (; j < cols; ++j) row[j] *= scale;
    }
    activate_row<V>(row, bias, residual != nullptr ? residual + r * ldc : nullptr, row, cols, act);
  }
}

// c[mr, nr] (+)= ap[kc][MR] · bp[kc][NR], then the epilogue if `epi` is set (last k-block).
// A full tile goes straight to c, an edge tile through a local buffer.
template <typename V>
CLIPKIT_INLINE void micro_kernel(int64_t kc, const float* ap, const float* bp, float* c,
                                 int64_t ldc, int64_t mr, int64_t nr, bool accumulate,
                                 const TileEpilogue* epi) {
  constexpr int MR = Tile<V>::MR;
  constexpr int NV = Tile<V>::NV;
  constexpr int NR = NV * V::W;
  typename V::R acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
  }
  constexpr int kLinesPerStep = (NR * static_cast<int>(sizeof(float)) + 63) / 64;
  for (int64_t kk = 0; kk < kc; ++kk) {
    typename V::R bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = V::load(bp + kk * NR + v * V::W);
    // B comes from DRAM on its first pass (a cold weight at batch 1: +20-30%) and from L2 on
    // later ones (+2-4%). Prefetches never fault, so running past the panel's end is harmless.
#pragma GCC unroll 4
    for (int l = 0; l < kLinesPerStep; ++l) {
      __builtin_prefetch(bp + (kk + kPrefetchSteps) * NR + l * 16);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const auto av = V::set1(ap[kk * MR + r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
    }
  }
  if (mr == MR && nr == NR) {
    typename V::R bias[NV];
    const bool with_bias = epi != nullptr && epi->bias != nullptr;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bias[v] = with_bias ? V::load(epi->bias + v * V::W) : V::zero();
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * V::W;
        auto x = accumulate ? V::add(V::load(p), acc[r][v]) : acc[r][v];
        if (epi != nullptr) {
          x = activate<V>(V::fma(x, V::set1(epi->scale), bias[v]), epi->act);
          if (epi->residual != nullptr) x = V::add(x, V::load(epi->residual + r * ldc + v * V::W));
        }
        V::store(p, x);
      }
    }
    return;
  }
  alignas(64) float tmp[MR * NR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) V::store(tmp + r * NR + v * V::W, acc[r][v]);
  }
  for (int64_t r = 0; r < mr; ++r) {
    for (int64_t j = 0; j < nr; ++j) {
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + tmp[r * NR + j] : tmp[r * NR + j];
    }
  }
  if (epi != nullptr) {
    apply_epilogue<V>(c, ldc, mr, nr, epi->bias, epi->residual, epi->act, epi->scale);
  }
}

struct TileJob {
  const float* a;
  int64_t lda;
  const float* bpack;  // packed chunk of b: columns [0, nb)
  int64_t nb;
  int64_t k;
  float* c;  // already offset to the chunk's first column
  int64_t ldc;
  const float* residual;  // offset like c, rows ldc apart; null when none
  const float* bias;      // offset like c; null when none
  Activation act;
  float scale;
  bool accumulate_first;  // c already holds the residual (out aliases residual, plain add)
};

// One output tile: rows [i0, i0+mb) × columns [j0, j0+nbt) of the chunk, all of k. A is
// packed once for the whole tile ([panel][k][MR]); the columns go in L2-sized blocks of nc.
template <typename V>
CLIPKIT_INLINE void compute_tile(const TileJob* job, int64_t i0, int64_t mb, int64_t j0,
                                 int64_t nbt, float* apack) {
  constexpr int64_t MR = Tile<V>::MR;
  constexpr int64_t NR = Tile<V>::NV * V::W;
  const Blocking blk = blocking_for<V>();
  const int64_t k = job->k;
  float* c = job->c + i0 * job->ldc + j0;
  const bool has_epilogue = job->bias != nullptr || job->residual != nullptr ||
                            job->act != Activation::None || job->scale != 1.0f;
  pack_panels<V, MR>(job->a + i0 * job->lda, job->lda, 0, (mb + MR - 1) / MR, mb, k, apack);
  for (int64_t jc = 0; jc < nbt; jc += blk.nc) {
    const int64_t jc1 = std::min(nbt, jc + blk.nc);
    for (int64_t p0 = 0; p0 < k; p0 += blk.kc) {
      const int64_t kc = std::min(blk.kc, k - p0);
      const bool accumulate = p0 > 0 || job->accumulate_first;
      const bool last = p0 + kc >= k;
      // The A micro-panel (broadcast side, MR × kc) stays in L1 while the block's B panels
      // (kc × nc, sized for L2) stream past it.
      for (int64_t ir = 0; ir < mb; ir += MR) {
        for (int64_t jr = jc; jr < jc1; jr += NR) {
          const float* bp = job->bpack + (j0 + jr) / NR * k * NR + p0 * NR;
          const int64_t nr = std::min(NR, jc1 - jr);
          TileEpilogue epi{job->bias != nullptr ? job->bias + j0 + jr : nullptr,
                           job->residual != nullptr
                               ? job->residual + (i0 + ir) * job->ldc + j0 + jr
                               : nullptr,
                           job->act, job->scale};
          micro_kernel<V>(kc, apack + ir * k + p0 * MR, bp, c + ir * job->ldc + jr, job->ldc,
                          std::min(MR, mb - ir), nr, accumulate,
                          last && has_epilogue ? &epi : nullptr);
        }
      }
    }
  }
  if (k <= 0 && has_epilogue) {
    apply_epilogue<V>(c, job->ldc, mb, nbt, job->bias != nullptr ? job->bias + j0 : nullptr,
                      job->residual != nullptr ? job->residual + i0 * job->ldc + j0 : nullptr,
                      job->act, job->scale);
  }
}
CLIPKIT_DISPATCH(compute_tile_dispatch, compute_tile)

bool overlaps(const float* a, const float* b, int64_t count) {
  const auto pa = reinterpret_cast<uintptr_t>(a);
  const auto pb = reinterpret_cast<uintptr_t>(b);
  const auto bytes = static_cast<uintptr_t>(count) * sizeof(float);
  return pa < pb + bytes && pb < pa + bytes;
}

// ---- Few rows (one image, a handful of queries): no packing at all. -----------------------
// Both operands are k-contiguous, so 4×4 blocks of dot products run along k with vector loads
// straight from a and b; the 4 rows of b stay in L1 while all rows of a pass over them. This
// avoids transposing all of b for a product that uses each of its values only m times.

struct DotJob {
  const float* a;
  int64_t lda;
  const void* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
  int64_t m;
  int64_t k;
  const float* bias;
  const float* residual;  // never aliases c on this path
  Activation act;
  float scale;
};

// c[i..i+RB, j..j+cols) = a rows · the four b rows bq (sums of the repeated missing columns are
// not stored).
template <typename V, typename T, int RB>
CLIPKIT_INLINE void dot_block(const DotJob* job, const T* const* bq, int64_t i, int64_t j,
                              int64_t cols) {
  const int64_t k = job->k;
  const float* ar[RB];
  for (int r = 0; r < RB; ++r) ar[r] = job->a + (i + r) * job->lda;
  typename V::R acc[RB][4];
#pragma GCC unroll 4
  for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) acc[r][q] = V::zero();
  }
  int64_t p = 0;
  for (; p + V::W <= k; p += V::W) {
    typename V::R av[RB];
    typename V::R bv[4];
#pragma GCC unroll 4
    for (int r = 0; r < RB; ++r) av[r] = V::load(ar[r] + p);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      // Four short streams (one per row of b) are too many for the hardware prefetcher to
      // run far enough ahead on its own when b comes from memory.
      __builtin_prefetch(reinterpret_cast<const char*>(bq[q] + p) + kPrefetchBytes);
      bv[q] = load_as_float<V>(bq[q] + p);
    }
#pragma GCC unroll 4
    for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) acc[r][q] = V::fma(av[r], bv[q], acc[r][q]);
    }
  }
  if (p < k) {
    typename V::R av[RB];
    typename V::R bv[4];
    for (int r = 0; r < RB; ++r) av[r] = V::load_partial(ar[r] + p, k - p);
    for (int q = 0; q < 4; ++q) bv[q] = load_as_float_partial<V>(bq[q] + p, k - p);
    for (int r = 0; r < RB; ++r) {
      for (int q = 0; q < 4; ++q) acc[r][q] = V::fma(av[r], bv[q], acc[r][q]);
    }
  }
  for (int r = 0; r < RB; ++r) {
    for (int64_t q = 0; q < cols; ++q) job->c[(i + r) * job->ldc + j + q] = V::reduce_add(acc[r][q]);
  }
}

// Columns [j0, j1) of c, all rows (four at a time, then one at a time); the epilogue runs per
// block of columns while it is hot in cache.
template <typename V, typename T>
CLIPKIT_INLINE void dot_columns(const DotJob* job, int64_t j0, int64_t j1) {
  const T* b = static_cast<const T*>(job->b);
  constexpr int64_t kEpilogueCols = 64;
  for (int64_t jb = j0; jb < j1; jb += kEpilogueCols) {
    const int64_t jb1 = std::min(j1, jb + kEpilogueCols);
    for (int64_t j = jb; j < jb1; j += 4) {
      const int64_t cols = std::min<int64_t>(4, jb1 - j);
      const T* bq[4];
      // Missing columns repeat the last real one.
      for (int q = 0; q < 4; ++q) bq[q] = b + (j + std::min<int64_t>(q, cols - 1)) * job->ldb;
      int64_t i = 0;
      for (; i + 4 <= job->m; i += 4) dot_block<V, T, 4>(job, bq, i, j, cols);
      for (; i < job->m; ++i) dot_block<V, T, 1>(job, bq, i, j, cols);
    }
    apply_epilogue<V>(job->c + jb, job->ldc, job->m, jb1 - jb,
                      job->bias != nullptr ? job->bias + jb : nullptr,
                      job->residual != nullptr ? job->residual + jb : nullptr, job->act,
                      job->scale);
  }
}
template <typename V>
CLIPKIT_INLINE void dot_columns_f32(const DotJob* job, int64_t j0, int64_t j1) {
  dot_columns<V, float>(job, j0, j1);
}
template <typename V>
CLIPKIT_INLINE void dot_columns_f16(const DotJob* job, int64_t j0, int64_t j1) {
  dot_columns<V, uint16_t>(job, j0, j1);
}
CLIPKIT_DISPATCH(dot_columns_f32_dispatch, dot_columns_f32)
CLIPKIT_DISPATCH(dot_columns_f16_dispatch, dot_columns_f16)

void dot_columns_on(Isa isa, const DotJob* job, const float*, int64_t j0, int64_t j1) {
  dot_columns_f32_dispatch_on(isa, job, j0, j1);
}
void dot_columns_on(Isa isa, const DotJob* job, const uint16_t*, int64_t j0, int64_t j1) {
  dot_columns_f16_dispatch_on(isa, job, j0, j1);
}

// ---- Many rows: packed panels and the register-tiled micro-kernel. ------------------------

// The tiles of one packed chunk (for_each_tile), each packing its rows of a into this thread's
// scratch.
void run_tiles(Isa isa, const Blocking& blk, const TileJob& job, int64_t m, bool serial) {
  for_each_tile(m, job.nb, blk.mr, blk.nr, blk.mc, serial,
                [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
                  thread_local Scratch apack_scratch;
                  float* apack = apack_scratch.floats(
                      static_cast<size_t>(blk.mc * std::max<int64_t>(job.k, 1)));
                  compute_tile_dispatch_on(isa, &job, i0, i1 - i0, j0, j1 - j0, apack);
                });
}

struct ResidualPlan {
  const float* residual;  // what the epilogue adds, or null
  bool accumulate_first;  // c already holds the residual
};

// out aliasing residual: a plain residual add accumulates onto c in place (packed path);
// anything else first copies the residual away (into this thread's scratch) so c can hold
// partial sums.
ResidualPlan plan_residual(const GemmEpilogue& epi, const float* c, int64_t ldc, int64_t m,
                           int64_t n, bool packed) {
  thread_local Scratch residual_copy;
  if (epi.residual == nullptr || !overlaps(epi.residual, c, (m - 1) * ldc + n))
    return {epi.residual, false};
  if (packed && epi.act == Activation::None && epi.scale == 1.0f) return {nullptr, true};
  float* copy = residual_copy.floats(static_cast<size_t>(m * ldc));
  std::memcpy(copy, epi.residual, static_cast<size_t>((m - 1) * ldc + n) * sizeof(float));
  return {copy, false};
}

// Empty sum (k = 0): zeros, then the epilogue alone.
void zero_rows(float* c, int64_t ldc, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
}

template <typename T>
void gemm_nt_any(const float* a, int64_t lda, const T* b, int64_t ldb, float* c, int64_t ldc,
                 int64_t m, int64_t n, int64_t k, const GemmEpilogue& epi) {
  if (m <= 0 || n <= 0) return;
  const Isa isa = detected_isa();
  const Blocking blk = blocking(isa);
  const bool unpacked = m <= kGemmUnpackedMaxRows;
  const bool serial = is_serial(m, n, k);
  const auto grain = [serial](int64_t items, int64_t normal) { return serial ? items : normal; };
  const ResidualPlan plan = plan_residual(epi, c, ldc, m, n, !unpacked);
  const float* residual = plan.residual;
  const bool accumulate_first = plan.accumulate_first;
  if (unpacked) {
    const DotJob job{a, lda, b, ldb, c, ldc, m, k, epi.bias, residual, epi.act, epi.scale};
    const int64_t groups = (n + 3) / 4;
    parallel_for(
        groups,
        [&](int64_t begin, int64_t end) {
          dot_columns_on(isa, &job, b, begin * 4, std::min(n, end * 4));
        },
        grain(groups, 4));
    return;
  }
  if (k <= 0 && !accumulate_first) zero_rows(c, ldc, m, n);
  thread_local Scratch bpack_scratch;
  const int64_t kk = std::max<int64_t>(k, 1);
  const int64_t chunk = std::max(blk.nr, kMaxPackedB / kk / blk.nr * blk.nr);
  for (int64_t j0 = 0; j0 < n; j0 += chunk) {
    const int64_t nb = std::min(chunk, n - j0);
    const int64_t panels = (nb + blk.nr - 1) / blk.nr;
    float* bpack = bpack_scratch.floats(static_cast<size_t>(panels * blk.nr * kk));
    if (k > 0) {
      parallel_for(
          panels,
          [&](int64_t begin, int64_t end) {
            pack_b_dispatch_on(isa, b + j0 * ldb, ldb, begin, end, nb, k, bpack);
          },
          grain(panels, 1));
    }
    TileJob job{a,
                lda,
                bpack,
                nb,
                k,
                c + j0,
                ldc,
                residual != nullptr ? residual + j0 : nullptr,
                epi.bias != nullptr ? epi.bias + j0 : nullptr,
                epi.act,
                epi.scale,
                accumulate_first};
    run_tiles(isa, blk, job, m, serial);
  }
}

}  // namespace

struct PackedLinearWeight {
  PackedLinearWeight(Isa isa_, int64_t n_, int64_t k_, size_t bytes_)
      : isa(isa_), n(n_), k(k_), bytes(bytes_),
        panels(static_cast<float*>(alloc_host_memory(bytes_))) {}
  PackedLinearWeight(const PackedLinearWeight&) = delete;
  PackedLinearWeight& operator=(const PackedLinearWeight&) = delete;
  ~PackedLinearWeight() { free_host_memory(panels, bytes); }
  Isa isa;
  int64_t n;
  int64_t k;
  size_t bytes;
  // pack_b's layout over all of w: [ceil(n / NR)][max(k, 1)][NR], zero-padded past n.
  float* panels;
};

std::shared_ptr<const PackedLinearWeight> pack_linear_weight(const float* w, int64_t n, int64_t k,
                                                            Isa isa) {
  isa = std::min(isa, hardware_isa());
  const Blocking blk = blocking(isa);
  const int64_t kk = std::max<int64_t>(k, 1);
  const int64_t panels = (std::max<int64_t>(n, 0) + blk.nr - 1) / blk.nr;
  const size_t bytes =
      static_cast<size_t>(std::max<int64_t>(panels, 1) * blk.nr * kk) * sizeof(float);
  auto packed = std::make_shared<PackedLinearWeight>(isa, n, k, bytes);
  float* dst = packed->panels;
  if (k > 0 && panels > 0) {
    parallel_for(
        panels,
        [&](int64_t begin, int64_t end) {
          pack_b_dispatch_on(isa, w, k, begin, end, n, k, dst);
        },
        is_serial(1, n, k) ? panels : 1);
  }
  return packed;
}

void check_packed_shape(const char* fn, int64_t packed_n, int64_t packed_k, int64_t n, int64_t k) {
  if (n != packed_n || k != packed_k) {
    throw std::invalid_argument(std::string(fn) + ": weight was packed as " +
                                std::to_string(packed_n) + "x" + std::to_string(packed_k) +
                                ", called with n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
}

void linear_packed(const float* x, const PackedLinearWeight& w, const float* bias,
                   const float* residual, float* out, int64_t m, int64_t n, int64_t k,
                   Activation act) {
  check_packed_shape("linear_packed", w.n, w.k, n, k);
  if (m <= 0 || n <= 0) return;
  GemmEpilogue epi;
  epi.bias = bias;
  epi.residual = residual;
  epi.act = act;
  const ResidualPlan plan = plan_residual(epi, out, n, m, n, true);
  if (k <= 0 && !plan.accumulate_first) zero_rows(out, n, m, n);
  const TileJob job{x,    k,   w.panels, n,   k, out, n, plan.residual,
                    bias, act, 1.0f,     plan.accumulate_first};
  run_tiles(w.isa, blocking(w.isa), job, m, is_serial(m, n, k));
}

void gemm_nt(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
             int64_t m, int64_t n, int64_t k, const GemmEpilogue& epi) {
  gemm_nt_any(a, lda, b, ldb, c, ldc, m, n, k, epi);
}

void gemm_nt(const float* a, int64_t lda, const uint16_t* b, int64_t ldb, float* c, int64_t ldc,
             int64_t m, int64_t n, int64_t k, const GemmEpilogue& epi) {
  gemm_nt_any(a, lda, b, ldb, c, ldc, m, n, k, epi);
}

void linear(const float* x, const float* w, const float* bias, const float* residual, float* out,
            int64_t m, int64_t n, int64_t k, Activation act) {
  GemmEpilogue epi;
  epi.bias = bias;
  epi.residual = residual;
  epi.act = act;
  gemm_nt(x, k, w, k, out, n, m, n, k, epi);
}

}  // namespace clipkit::cpu
