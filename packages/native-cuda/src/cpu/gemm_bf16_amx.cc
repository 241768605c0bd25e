// bf16 GEMM on AMX: tdpbf16ps multiplies a 16x32 bf16 A tile by a 16(pairs)x16(columns) B tile
// into a 16x16 fp32 C tile held in a tile register. One kernel step covers 32 rows x 32 columns
// x 32 k: A tiles tmm4 (rows 0-15) and tmm5 (rows 16-31), B tiles tmm6 (columns 0-15) and
// tmm7 (columns 16-31), sums in tmm0..tmm3. A is x rounded to bf16, row-major [rows][kp]
// (zero rows up to a multiple of 32, zero columns up to kp); B is the weight's packed panel
// [kp/2][32][2], whose left and right 64-byte halves are the two B tiles (rows 128 bytes
// apart). Sums cover all of k in the tiles; stored to one of two 32x32 buffers, they get the
// same fp32 epilogue as the AVX512_BF16 path, spread over the next block's k steps.
// Tile plumbing: amx_tiles.h.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "amx_tiles.h"
#include "gemm_bf16.h"
#include "scratch.h"

namespace CLIPKIT_AMX_NAMESPACE {
namespace {

constexpr int64_t kMr = 2 * kTileRows;  // rows per kernel step
constexpr int64_t kArchReqXcompPerm = 0x1023;
constexpr int64_t kArchGetXcompPerm = 0x1022;
constexpr int64_t kXfeatureXtiledata = 18;
// Rows of A converted per tile: the rows x kp bf16 stay in L2 next to one B panel.
constexpr int64_t kPackBytes = int64_t{512} << 10;

// A finished 32 x 32 block waiting for its epilogue: its sums in cbuf ([32][32] floats), for
// out rows [r0, r0 + rows) x columns [c0, c0 + cols).
struct Sums {
  const float* cbuf;
  int64_t r0, rows, c0, cols;
};

CLIPKIT_TARGET_AMX CLIPKIT_INLINE void finish(const Gemm& g, const Sums& s, int64_t r) {
  const int64_t row = s.r0 + r;
  finish_row(_mm512_load_ps(s.cbuf + r * kNr), _mm512_load_ps(s.cbuf + r * kNr + 16), s.cols,
             g.bias != nullptr ? g.bias + s.c0 : nullptr,
             g.residual != nullptr ? g.residual + row * g.n + s.c0 : nullptr,
             g.out + row * g.n + s.c0, g.act);
}

// The sums of one 32 x 32 block into cbuf. a: the block's first row of rounded x (rows lda bytes
// apart); bp: the column panel. The previous block's epilogue (prev, rows from *done on) is
// spread over the k steps: it is vector work the core does while the tiles multiply.
CLIPKIT_TARGET_AMX CLIPKIT_INLINE void block(const Gemm& g, const uint16_t* a, int64_t lda,
                                             const uint16_t* bp, float* cbuf, const Sums& prev,
                                             int64_t* done) {
  const uint16_t* a_lo = a;
  const uint16_t* a_hi = a + kTileRows * (lda / 2);
  constexpr int64_t kBStride = kNr * 2 * sizeof(uint16_t);  // one pair row of the panel: 128
  const int64_t per_step = (prev.rows * kKStep + g.kp - 1) / g.kp;
  CLIPKIT_TILE_ZERO(0);
  CLIPKIT_TILE_ZERO(1);
  CLIPKIT_TILE_ZERO(2);
  CLIPKIT_TILE_ZERO(3);
  for (int64_t k0 = 0; k0 < g.kp; k0 += kKStep) {
    const uint16_t* b = bp + k0 / 2 * kNr * 2;
    CLIPKIT_TILE_LOAD(4, a_lo + k0, lda);
    CLIPKIT_TILE_LOAD(5, a_hi + k0, lda);
    CLIPKIT_TILE_LOAD(6, b, kBStride);
    CLIPKIT_TILE_LOAD(7, b + kTileRows * 2, kBStride);
    CLIPKIT_TILE_DPBF16PS(0, 4, 6);
    CLIPKIT_TILE_DPBF16PS(1, 4, 7);
    CLIPKIT_TILE_DPBF16PS(2, 5, 6);
    CLIPKIT_TILE_DPBF16PS(3, 5, 7);
    for (const int64_t end = std::min(prev.rows, *done + per_step); *done < end; ++*done) {
      finish(g, prev, *done);
    }
  }
  constexpr int64_t kCStride = kNr * sizeof(float);
  CLIPKIT_TILE_STORE(0, cbuf, kCStride);
  CLIPKIT_TILE_STORE(1, cbuf + kTileRows, kCStride);
  CLIPKIT_TILE_STORE(2, cbuf + kTileRows * kNr, kCStride);
  CLIPKIT_TILE_STORE(3, cbuf + kTileRows * kNr + kTileRows, kCStride);
}

CLIPKIT_TARGET_AMX __attribute__((flatten)) void tile(const Gemm& g, int64_t i0, int64_t i1,
                                                      int64_t j0, int64_t j1) {
  thread_local Scratch a_scratch;
  thread_local Scratch c_scratch;
  const int64_t rows = (i1 - i0 + kMr - 1) / kMr * kMr;
  // Row-major rounded x, kp bf16 (= kp/2 pairs) per row; rows past i1 stay zero.
  auto* a = reinterpret_cast<uint32_t*>(a_scratch.floats(static_cast<size_t>(rows * g.kp / 2)));
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* dst = a + r * (g.kp / 2);
    if (i0 + r < i1) {
      round_row(g.x + (i0 + r) * g.k, g.k, g.kp, dst);
    } else {
      std::memset(dst, 0, static_cast<size_t>(g.kp) * sizeof(uint16_t));
    }
  }
  // Two blocks of sums: the tiles fill one while the other's epilogue runs.
  float* cbufs = c_scratch.floats(static_cast<size_t>(2 * kMr * kNr));
  configure_tiles();
  compiler_barrier();
  const auto* a16 = reinterpret_cast<const uint16_t*>(a);
  const int64_t lda = g.kp * static_cast<int64_t>(sizeof(uint16_t));
  Sums prev{cbufs, 0, 0, 0, 0};
  int cur = 0;
  for (int64_t j = j0; j < j1; j += kNr) {
    const uint16_t* bp = g.panels + j / kNr * panel_elems(g.kp);
    const int64_t cols = std::min(kNr, j1 - j);
    for (int64_t i = i0; i < i1; i += kMr) {
      float* cbuf = cbufs + cur * kMr * kNr;
      int64_t done = 0;
      block(g, a16 + (i - i0) * g.kp, lda, bp, cbuf, prev, &done);
      for (; done < prev.rows; ++done) finish(g, prev, done);
      // The tile stores above before the next epilogue's loads of cbuf, and this epilogue's
      // loads of the other buffer before the next block's tile stores into it.
      compiler_barrier();
      prev = Sums{cbuf, i, std::min(kMr, i1 - i), j, cols};
      cur = 1 - cur;
    }
  }
  for (int64_t r = 0; r < prev.rows; ++r) finish(g, prev, r);
}

}  // namespace

#ifndef CLIPKIT_AMX_MODEL
bool amx_enable(std::string* why) {
  static std::once_flag once;
  static bool ok = false;
  static std::string reason;
  std::call_once(once, [] {
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
      reason = std::string("the kernel refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM: ") +
               std::strerror(errno) + ")";
      return;
    }
    unsigned long granted = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &granted) != 0 ||
        (granted & (1ul << kXfeatureXtiledata)) == 0) {
      reason = "AMX tile data not granted after ARCH_REQ_XCOMP_PERM";
      return;
    }
    ok = true;
  });
  if (!ok && why != nullptr) *why = reason;
  return ok;
}
#endif

void gemm_amx(const Gemm& g) {
  const int64_t mc = std::clamp<int64_t>(kPackBytes / (g.kp * 2) / kMr * kMr, kMr, kMr * 8);
  for_each_tile(g.m, g.n, kMr, kNr, mc, is_serial(g.m, g.n, g.k),
                [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) { tile(g, i0, i1, j0, j1); });
}

}  // namespace CLIPKIT_AMX_NAMESPACE
