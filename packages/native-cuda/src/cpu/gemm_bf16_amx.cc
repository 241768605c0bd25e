// bf16 GEMM on AMX: tdpbf16ps multiplies a 16x32 bf16 A tile by a 16(pairs)x16(columns) B tile
// into a 16x16 fp32 C tile held in a tile register. One kernel step covers 32 rows x 32 columns
// x 32 k: A tiles tmm4 (rows 0-15) and tmm5 (rows 16-31), B tiles tmm6 (columns 0-15) and
// tmm7 (columns 16-31), sums in tmm0..tmm3. A is x rounded to bf16, row-major [rows][kp]
// (zero rows up to a multiple of 32, zero columns up to kp); B is the weight's packed panel
// [kp/2][32][2], whose left and right 64-byte halves are the two B tiles (rows 128 bytes
// apart). Sums cover all of k in the tiles; stored to a 32x32 buffer, they get the same fp32
// epilogue as the AVX512_BF16 path. Tile plumbing: amx_tiles.h.
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

// out rows [r0, r0 + rows) x columns [c0, c0 + cols) of one 32 x 32 block. a: the block's first
// row of rounded x (rows lda bytes apart); bp: the column panel.
CLIPKIT_TARGET_AMX __attribute__((flatten)) void block(const Gemm& g, const uint16_t* a,
                                                       int64_t lda, const uint16_t* bp, int64_t r0,
                                                       int64_t rows, int64_t c0, int64_t cols,
                                                       float* cbuf) {
  const uint16_t* a_lo = a;
  const uint16_t* a_hi = a + kTileRows * (lda / 2);
  constexpr int64_t kBStride = kNr * 2 * sizeof(uint16_t);  // one pair row of the panel: 128
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
  }
  constexpr int64_t kCStride = kNr * sizeof(float);  // cbuf is [32][32] floats
  CLIPKIT_TILE_STORE(0, cbuf, kCStride);
  CLIPKIT_TILE_STORE(1, cbuf + kTileRows, kCStride);
  CLIPKIT_TILE_STORE(2, cbuf + kTileRows * kNr, kCStride);
  CLIPKIT_TILE_STORE(3, cbuf + kTileRows * kNr + kTileRows, kCStride);
  compiler_barrier();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = r0 + r;
    finish_row(_mm512_load_ps(cbuf + r * kNr), _mm512_load_ps(cbuf + r * kNr + 16), cols,
               g.bias != nullptr ? g.bias + c0 : nullptr,
               g.residual != nullptr ? g.residual + row * g.n + c0 : nullptr,
               g.out + row * g.n + c0, g.act);
  }
}

CLIPKIT_TARGET_AMX void tile(const Gemm& g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
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
  float* cbuf = c_scratch.floats(static_cast<size_t>(kMr * kNr));
  configure_tiles();
  compiler_barrier();
  const auto* a16 = reinterpret_cast<const uint16_t*>(a);
  const int64_t lda = g.kp * static_cast<int64_t>(sizeof(uint16_t));
  for (int64_t j = j0; j < j1; j += kNr) {
    const uint16_t* bp = g.panels + j / kNr * panel_elems(g.kp);
    const int64_t cols = std::min(kNr, j1 - j);
    for (int64_t i = i0; i < i1; i += kMr) {
      block(g, a16 + (i - i0) * g.kp, lda, bp, i, std::min(kMr, i1 - i), j, cols, cbuf);
    }
  }
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
