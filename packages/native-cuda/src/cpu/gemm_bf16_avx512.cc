// bf16 GEMM on AVX512_BF16: vdpbf16ps multiplies 32 bf16 pairs and adds them into 16 fp32 sums,
// twice the work of an fp32 FMA per instruction. Register tile of 14 rows x 32 columns (28 zmm
// sums + 2 B vectors + 1 broadcast = 31 of 32); A is packed per tile as rounded bf16 pairs
// [k/2][14] (one 32-bit broadcast per row and pair), B is the weight's packed panel
// [k/2][32][2] (two zmm loads per pair). Every sum runs over all of k in registers, so the
// epilogue (bias, activation, residual) is applied as the tile is stored: no partial sums
// in memory, and out may be the residual itself.
#include <algorithm>
#include <cstring>

#include "gemm_bf16.h"
#include "scratch.h"

namespace clipkit::cpu::bf16 {
namespace {

constexpr int MR = 14;
// Rows of A packed per tile: the pack (rows x k x 2 bytes) stays in L2 next to one B panel.
constexpr int64_t kPackBytes = int64_t{256} << 10;

int64_t rows_per_tile(int64_t kp) {
  const int64_t rows = kPackBytes / (kp * 2) / MR * MR;
  return std::clamp<int64_t>(rows, MR, MR * 12);
}

// How many pairs ahead the kernel prefetches its B panel (B comes from L2, or from memory on
// the first row block of a cold weight).
constexpr int64_t kPrefetchPairs = 16;

// Rows [i0, i1) of x → [ceil(rows / MR)][kp/2][MR] pairs, zero rows past i1.
CLIPKIT_TARGET_AVX512_BF16 void pack_a(const Gemm& g, int64_t i0, int64_t i1, uint32_t* dst,
                                       uint32_t* row_buf) {
  const int64_t kq = g.kp / 2;
  for (int64_t r0 = i0; r0 < i1; r0 += MR) {
    uint32_t* panel = dst + (r0 - i0) / MR * kq * MR;
    for (int64_t r = 0; r < MR; ++r) {
      if (r0 + r < i1) {
        round_row(g.x + (r0 + r) * g.k, g.k, g.kp, row_buf);
        for (int64_t q = 0; q < kq; ++q) panel[q * MR + r] = row_buf[q];
      } else {
        for (int64_t q = 0; q < kq; ++q) panel[q * MR + r] = 0;
      }
    }
  }
}

// out rows [r0, r0 + rows) x columns [c0, c0 + cols) of one MR x 32 tile.
CLIPKIT_TARGET_AVX512_BF16 __attribute__((flatten)) void micro_kernel(
    const Gemm& g, const uint32_t* ap, const uint16_t* bp, int64_t r0, int64_t rows, int64_t c0,
    int64_t cols) {
  const int64_t kq = g.kp / 2;
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kq; ++q) {
    const uint16_t* brow = bp + q * kNr * 2;
    const auto b0 = (__m512bh)_mm512_load_si512(brow);
    const auto b1 = (__m512bh)_mm512_load_si512(brow + 32);
    __builtin_prefetch(brow + kPrefetchPairs * kNr * 2);
    __builtin_prefetch(brow + kPrefetchPairs * kNr * 2 + 32);
    const uint32_t* arow = ap + q * MR;
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      const auto a = (__m512bh)_mm512_set1_epi32(static_cast<int>(arow[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    if (r >= rows) break;
    const int64_t row = r0 + r;
    finish_row(acc[r][0], acc[r][1], cols, g.bias != nullptr ? g.bias + c0 : nullptr,
               g.residual != nullptr ? g.residual + row * g.n + c0 : nullptr,
               g.out + row * g.n + c0, g.act);
  }
}

}  // namespace

void gemm_avx512_bf16(const Gemm& g) {
  const int64_t kq = g.kp / 2;
  const int64_t mc = rows_per_tile(g.kp);
  const auto run = [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    thread_local Scratch a_scratch;
    thread_local Scratch row_scratch;
    const int64_t panels = (i1 - i0 + MR - 1) / MR;
    auto* apack = reinterpret_cast<uint32_t*>(a_scratch.floats(static_cast<size_t>(panels * kq * MR)));
    auto* row = reinterpret_cast<uint32_t*>(row_scratch.floats(static_cast<size_t>(kq)));
    pack_a(g, i0, i1, apack, row);
    // One B panel (k x 32) at a time stays in L1/L2 while the tile's A panels pass over it.
    for (int64_t j = j0; j < j1; j += kNr) {
      const uint16_t* bp = g.panels + j / kNr * panel_elems(g.kp);
      const int64_t cols = std::min(kNr, j1 - j);
      for (int64_t i = i0; i < i1; i += MR) {
        micro_kernel(g, apack + (i - i0) / MR * kq * MR, bp, i, std::min<int64_t>(MR, i1 - i), j,
                     cols);
      }
    }
  };
  for_each_tile(g.m, g.n, MR, kNr, mc, is_serial(g.m, g.n, g.k), run);
}

}  // namespace clipkit::cpu::bf16
