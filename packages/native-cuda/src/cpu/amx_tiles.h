// AMX plumbing shared by the tile kernels (private to src/cpu): the target attribute, the tile
// instructions behind macros, and the per-thread tile configuration (palette 1, tiles 0-7 all
// 16 rows x 64 bytes).
//
// Linux hands out tile state only after arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA),
// once per process (bf16::amx_enable); each thread must load a tile configuration before its
// first tile instruction. The tile intrinsics are asm statements that do not tell the compiler
// they read memory, so compiler barriers order them after the stores that fill their operands
// and before the loads that read their results.
#pragma once

#include <cstdint>
#include <cstring>

#include "vec.h"  // immintrin.h, with GCC 12's false warnings silenced

#define CLIPKIT_TARGET_AMX                                                              \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma,f16c,amx-tile," \
                        "amx-bf16")))

// The tile instructions, through macros so that the C++ tests can compile a kernel file once
// more over a software model of the tiles (test/cpp/amx_model.h): that checks the kernel's
// layouts, strides and edges on CPUs without AMX. Tile numbers must be literals (the intrinsics paste
// them into the instruction).
#ifndef CLIPKIT_AMX_MODEL
#define CLIPKIT_TILE_LOADCONFIG(cfg) _tile_loadconfig(cfg)
#define CLIPKIT_TILE_STORECONFIG(cfg) _tile_storeconfig(cfg)
#define CLIPKIT_TILE_ZERO(t) _tile_zero(t)
#define CLIPKIT_TILE_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define CLIPKIT_TILE_STORE(t, base, stride) _tile_stored(t, base, stride)
#define CLIPKIT_TILE_DPBF16PS(c, a, b) _tile_dpbf16ps(c, a, b)
#define CLIPKIT_AMX_NAMESPACE clipkit::cpu::bf16
#endif

namespace CLIPKIT_AMX_NAMESPACE {
namespace {

constexpr int64_t kTileRows = 16;

// The 64-byte operand of ldtilecfg: palette 1, tiles 0-7 all 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

TileConfig wanted_config() {
  TileConfig c;
  std::memset(&c, 0, sizeof c);
  c.palette = 1;
  for (int t = 0; t < 8; ++t) {
    c.colsb[t] = 64;
    c.rows[t] = static_cast<uint8_t>(kTileRows);
  }
  return c;
}

// Loads the configuration on this thread's first use. Later calls compare it with what the
// thread holds (sttilecfg), since other code on a shared thread (a libuv worker) may have
// configured tiles its own way, and reload only then.
CLIPKIT_TARGET_AMX void configure_tiles() {
  static const TileConfig wanted = wanted_config();
  thread_local bool loaded = false;
  if (loaded) {
    TileConfig now;
    CLIPKIT_TILE_STORECONFIG(&now);
    if (std::memcmp(&now, &wanted, sizeof now) == 0) return;
  }
  CLIPKIT_TILE_LOADCONFIG(&wanted);
  loaded = true;
}

inline void compiler_barrier() { __asm__ __volatile__("" ::: "memory"); }

}  // namespace
}  // namespace CLIPKIT_AMX_NAMESPACE
