// A software model of the AMX tile unit (palette 1), written from the instruction set
// reference's pseudo-code, for compiling the AMX GEMM (src/cpu/gemm_bf16_amx.cc) on CPUs without
// AMX: the kernel then runs unchanged except that each tile instruction updates this model.
// Every operand shape rule the hardware enforces (#UD / #GP on real tiles) throws here, so a
// configuration, stride or tile-shape mistake fails a test instead of waiting for an AMX CPU.
// Include before the kernel source; tile state is per thread, as on the hardware.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "clipkit/bf16.h"

namespace clipkit::test::amx {

struct Tiles {
  bool configured = false;
  uint8_t config[64] = {};
  uint8_t data[8][16][64] = {};  // 8 tiles of up to 16 rows x 64 bytes
};

inline Tiles& tiles() {
  thread_local Tiles t;
  return t;
}

inline void fail(const std::string& what) { throw std::logic_error("AMX model: " + what); }

inline int rows(int t) { return tiles().config[48 + t]; }
inline int colsb(int t) {
  uint16_t c;
  std::memcpy(&c, tiles().config + 16 + 2 * t, 2);
  return c;
}

inline void need_configured(const char* op, int t) {
  if (!tiles().configured) fail(std::string(op) + " before ldtilecfg");
  if (t < 0 || t > 7) fail(std::string(op) + ": no tile " + std::to_string(t));
  if (rows(t) == 0 || colsb(t) == 0) fail(std::string(op) + ": tile " + std::to_string(t) + " is not configured");
}

// ldtilecfg: palette 1 (8 tiles, 16 rows, 64 bytes per row); reserved bytes must be zero.
// Loading a configuration zeroes every tile.
inline void load_config(const void* cfg) {
  uint8_t c[64];
  std::memcpy(c, cfg, 64);
  Tiles& t = tiles();
  if (c[0] == 0) {  // palette 0: back to the initial state
    t = Tiles{};
    return;
  }
  if (c[0] != 1) fail("palette " + std::to_string(c[0]) + " is not supported");
  for (int i = 2; i < 16; ++i) {
    if (c[i] != 0) fail("reserved byte " + std::to_string(i) + " of the configuration is not zero");
  }
  for (int i = 8; i < 16; ++i) {
    if (c[16 + 2 * i] != 0 || c[17 + 2 * i] != 0 || c[48 + i] != 0) fail("tile " + std::to_string(i) + " configured, palette 1 has 8");
  }
  for (int i = 0; i < 8; ++i) {
    uint16_t cb;
    std::memcpy(&cb, c + 16 + 2 * i, 2);
    if (cb > 64 || c[48 + i] > 16) fail("tile " + std::to_string(i) + " larger than 16 rows x 64 bytes");
    if ((cb == 0) != (c[48 + i] == 0)) fail("tile " + std::to_string(i) + " has rows xor bytes set");
  }
  std::memcpy(t.config, c, 64);
  t.configured = true;
  std::memset(t.data, 0, sizeof t.data);
}

inline void store_config(void* cfg) {
  if (!tiles().configured) {
    std::memset(cfg, 0, 64);
  } else {
    std::memcpy(cfg, tiles().config, 64);
  }
}

inline void zero(int t) {
  need_configured("tilezero", t);
  std::memset(tiles().data[t], 0, sizeof tiles().data[t]);
}

// tileloadd: rows(t) rows of colsb(t) bytes, row r from base + r * stride; the rest zeroed.
inline void load(int t, const void* base, int64_t stride) {
  need_configured("tileloadd", t);
  std::memset(tiles().data[t], 0, sizeof tiles().data[t]);
  for (int r = 0; r < rows(t); ++r) {
    std::memcpy(tiles().data[t][r], static_cast<const uint8_t*>(base) + r * stride,
                static_cast<size_t>(colsb(t)));
  }
}

inline void store(int t, void* base, int64_t stride) {
  need_configured("tilestored", t);
  for (int r = 0; r < rows(t); ++r) {
    std::memcpy(static_cast<uint8_t*>(base) + r * stride, tiles().data[t][r],
                static_cast<size_t>(colsb(t)));
  }
}

// tdpbf16ps c, a, b:
//   for m < c.rows, k < a.colsb/4, n < c.colsb/4:
//     c.row[m].fp32[n] += fp32(a.row[m].bf16[2k]) * fp32(b.row[k].bf16[2n])
//                       + fp32(a.row[m].bf16[2k+1]) * fp32(b.row[k].bf16[2n+1])
inline void dpbf16ps(int c, int a, int b) {
  need_configured("tdpbf16ps", c);
  need_configured("tdpbf16ps", a);
  need_configured("tdpbf16ps", b);
  if (c == a || c == b || a == b) fail("tdpbf16ps operands must be three different tiles");
  if (rows(a) != rows(c)) fail("tdpbf16ps: a has " + std::to_string(rows(a)) + " rows, c " + std::to_string(rows(c)));
  if (colsb(b) != colsb(c)) fail("tdpbf16ps: b rows are " + std::to_string(colsb(b)) + " bytes, c rows " + std::to_string(colsb(c)));
  if (colsb(a) % 4 != 0 || rows(b) != colsb(a) / 4) fail("tdpbf16ps: b has " + std::to_string(rows(b)) + " rows, a rows hold " + std::to_string(colsb(a) / 4) + " pairs");
  Tiles& t = tiles();
  const auto bf = [&](int tile, int row, int index) {
    uint16_t h;
    std::memcpy(&h, t.data[tile][row] + 2 * index, 2);
    return bf16_to_float(h);
  };
  for (int m = 0; m < rows(c); ++m) {
    for (int n = 0; n < colsb(c) / 4; ++n) {
      float acc;
      std::memcpy(&acc, t.data[c][m] + 4 * n, 4);
      for (int k = 0; k < colsb(a) / 4; ++k) {
        acc += bf(a, m, 2 * k) * bf(b, k, 2 * n);
        acc += bf(a, m, 2 * k + 1) * bf(b, k, 2 * n + 1);
      }
      std::memcpy(t.data[c][m] + 4 * n, &acc, 4);
    }
  }
}

}  // namespace clipkit::test::amx

#define CLIPKIT_AMX_MODEL 1
#define CLIPKIT_AMX_NAMESPACE clipkit::cpu::bf16::model
#define CLIPKIT_TILE_LOADCONFIG(cfg) ::clipkit::test::amx::load_config(cfg)
#define CLIPKIT_TILE_STORECONFIG(cfg) ::clipkit::test::amx::store_config(cfg)
#define CLIPKIT_TILE_ZERO(t) ::clipkit::test::amx::zero(t)
#define CLIPKIT_TILE_LOAD(t, base, stride) ::clipkit::test::amx::load(t, base, stride)
#define CLIPKIT_TILE_STORE(t, base, stride) ::clipkit::test::amx::store(t, base, stride)
#define CLIPKIT_TILE_DPBF16PS(c, a, b) ::clipkit::test::amx::dpbf16ps(c, a, b)
