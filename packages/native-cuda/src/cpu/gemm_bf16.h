// The bf16 GEMM kernels behind linear_bf16() (private to src/cpu): the packed weight layout
// both fast paths share and their entry points. gemm_bf16.cc chooses the path and packs;
// gemm_bf16_avx512.cc (vdpbf16ps) and gemm_bf16_amx.cc (tiles) compute.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "activation.h"
#include "clipkit/kernels.h"
#include "tiles.h"

// vdpbf16ps and vcvtne2ps2bf16 on top of the AVX-512 kernels' set.
#define CLIPKIT_TARGET_AVX512_BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma,f16c")))

namespace clipkit::cpu::bf16 {

// Columns per packed panel: two zmm of fp32 sums (AVX512_BF16), or two AMX B tiles side by side.
constexpr int64_t kNr = 32;
// k is zero-padded to whole steps of 32: one AMX tile row holds 32 bf16 (64 bytes).
constexpr int64_t kKStep = 32;
inline int64_t padded_k(int64_t k) { return (k + kKStep - 1) / kKStep * kKStep; }

// Packed weight: panel p (columns [32p, 32p+32)) is [kp/2][kNr][2] bf16: for each pair of k
// (2q, 2q+1), each column's two values side by side ("VNNI" order). That is the B operand of
// vdpbf16ps (one 64-byte row = 32 columns' pairs: two zmm) and of tdpbf16ps (a tile row =
// 16 columns' pairs: the left and right tiles are the panel's two 64-byte halves, rows 128
// bytes apart). Zero past n and past k.
inline int64_t panel_elems(int64_t kp) { return kp * kNr; }
inline int64_t panel_count(int64_t n) { return std::max<int64_t>((n + kNr - 1) / kNr, 1); }

// w [n,k] (bf16 bits) → panel_count(n) panels of kp = padded_k(k) (gemm_bf16.cc). dst must
// be zero-filled.
void pack_panels(const uint16_t* w, int64_t n, int64_t k, int64_t kp, uint16_t* dst);

// One product: out[m,n] = act(bf16(x)[m,k] · w[n,k]^T + bias[n]) + residual[m,n]. x rows are
// k apart, out and residual rows n apart; residual may be out itself (each element is read
// before it is written, by the same thread).
struct Gemm {
  const float* x;
  const uint16_t* panels;
  const float* bias;
  const float* residual;
  float* out;
  int64_t m;
  int64_t n;
  int64_t k;
  int64_t kp;
  Activation act;
};

// One finished row of a tile: out[0, cols) = act(sum + bias) + residual, cols <= 32, as the fp32
// GEMM's epilogue computes it. residual may be out (read before written).
CLIPKIT_TARGET_AVX512_BF16 CLIPKIT_INLINE void finish_row(__m512 s0, __m512 s1, int64_t cols,
                                                          const float* bias,
                                                          const float* residual, float* out,
                                                          Activation act) {
  using V = simd::VecAvx512;
  const __m512 sums[2] = {s0, s1};
  for (int v = 0; v < 2; ++v) {
    const int64_t c = std::min<int64_t>(16, cols - 16 * v);
    if (c <= 0) break;
    const __mmask16 mask = c == 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << c) - 1u);
    __m512 x = sums[v];
    if (bias != nullptr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, bias + 16 * v));
    x = activate<V>(x, act);
    if (residual != nullptr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, residual + 16 * v));
    _mm512_mask_storeu_ps(out + 16 * v, mask, x);
  }
}

// Rounds x[0, k) to bf16 pairs: dst[q] holds (x[2q], x[2q+1]) (low half first), zero past k, for
// q < kp/2.
CLIPKIT_TARGET_AVX512_BF16 CLIPKIT_INLINE void round_row(const float* x, int64_t k, int64_t kp,
                                                         uint32_t* dst) {
  for (int64_t p = 0; p < kp; p += 32) {
    const int64_t lo = std::clamp<int64_t>(k - p, 0, 16);
    const int64_t hi = std::clamp<int64_t>(k - p - 16, 0, 16);
    const auto mask = [](int64_t c) {
      return c == 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << c) - 1u);
    };
    const __m512 a = _mm512_maskz_loadu_ps(mask(lo), x + p);
    const __m512 b = _mm512_maskz_loadu_ps(mask(hi), x + p + 16);
    // The first argument fills the upper 16 bf16 of the result.
    _mm512_storeu_si512(dst + p / 2, (__m512i)_mm512_cvtne2ps_pbh(b, a));
  }
}

// CPU has avx512f/bw/dq/vl + avx512_bf16 (gemm_bf16.cc).
bool cpu_has_avx512_bf16();
// CPU has amx-tile + amx-bf16 and the OS enables tile state in XCR0 (gemm_bf16.cc).
bool cpu_has_amx();

void gemm_avx512_bf16(const Gemm& g);  // gemm_bf16_avx512.cc; needs cpu_has_avx512_bf16()

// Asks the kernel, once per process, for permission to use AMX tile data
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); false with the reason otherwise.
// Needs cpu_has_amx(); no tile instruction may run before it returned true.
bool amx_enable(std::string* why);  // gemm_bf16_amx.cc
void gemm_amx(const Gemm& g);       // gemm_bf16_amx.cc; needs amx_enable() and avx512_bf16

}  // namespace clipkit::cpu::bf16
