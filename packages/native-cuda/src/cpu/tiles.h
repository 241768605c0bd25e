// Output tiles of a GEMM on the compute pool (private to src/cpu): how the fp32 GEMM (gemm.cc)
// and the bf16 GEMMs (gemm_bf16_avx512.cc, gemm_bf16_amx.cc) share out[m,n] among the threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "clipkit/kernels.h"
#include "threadpool.h"

namespace clipkit::cpu {

// Below this much work a product runs on the calling thread alone: waking the pool costs
// tens of microseconds, more than such a product takes.
constexpr double kParallelMinFlops = 4e6;

inline bool is_serial(int64_t m, int64_t n, int64_t k) {
  return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) <
         kParallelMinFlops;
}

// Calls tile(i0, i1, j0, j1) on the pool (on the calling thread alone when serial) for output
// tiles covering [0,m) x [0,n): rows in blocks of up to mc (a multiple of mr), and columns split
// too, on whole nr panels, when there are too few row blocks for the threads (one image: m = 50).
// Tile counts are multiples of the thread count and tiles are cut on whole micro-panels as
// evenly as possible, so the threads get equal shares when none stalls.
template <typename Tile>
void for_each_tile(int64_t m, int64_t n, int64_t mr, int64_t nr, int64_t mc, bool serial,
                   const Tile& tile) {
  const int64_t threads = thread_count();
  const auto round_up = [](int64_t x, int64_t to) { return (x + to - 1) / to * to; };
  const int64_t row_panels = (m + mr - 1) / mr;
  const int64_t col_panels = (n + nr - 1) / nr;
  int64_t tiles_m = (row_panels * mr + mc - 1) / mc;
  int64_t tiles_n = 1;
  if (tiles_m >= threads) {
    tiles_m = std::min(round_up(tiles_m, threads), row_panels);
  } else {
    tiles_n = std::min(round_up((2 * threads + tiles_m - 1) / tiles_m, threads), col_panels);
  }
  const int64_t tiles = tiles_m * tiles_n;
  parallel_for(
      tiles,
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const int64_t tm = t % tiles_m;
          const int64_t tn = t / tiles_m;
          const int64_t i0 = row_panels * tm / tiles_m * mr;
          const int64_t i1 = std::min(m, row_panels * (tm + 1) / tiles_m * mr);
          const int64_t j0 = col_panels * tn / tiles_n * nr;
          const int64_t j1 = std::min(n, col_panels * (tn + 1) / tiles_n * nr);
          if (i0 < i1 && j0 < j1) tile(i0, i1, j0, j1);
        }
      },
      serial ? tiles : 1);
}

}  // namespace clipkit::cpu
