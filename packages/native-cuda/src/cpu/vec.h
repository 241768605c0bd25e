// Per-ISA SIMD vocabulary for the CPU kernels (private to src/cpu).
//
// A kernel is written once as an always_inline template over a vector type V (VecPortable,
// VecAvx2, VecAvx512) and instantiated inside a small wrapper carrying the matching
// CLIPKIT_TARGET_* attribute and `flatten`, so the whole body is compiled for that ISA while
// the binary as a whole still targets baseline x86-64 (dispatch happens at run time).
#pragma once

// GCC 12 flags _mm512_undefined_*() inside the intrinsics headers as (maybe-)uninitialized
// once those intrinsics are inlined; the state is tied to the header's source locations.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cmath>
#include <cstdint>
#include <limits>

#include "clipkit/kernels.h"

// Wide vector locals inside the (inlined) generic templates trigger an ABI note that does not
// apply: those templates never exist as standalone functions.
#pragma GCC diagnostic ignored "-Wpsabi"

#define CLIPKIT_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define CLIPKIT_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c")))
#define CLIPKIT_INLINE inline __attribute__((always_inline))

namespace clipkit::cpu::simd {

// Exact IEEE half -> float (subnormals, inf, nan), used where F16C is unavailable.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise the mantissa into a float exponent.
    uint32_t e = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}

// Coefficients shared by the AVX2 and AVX-512 paths so both approximate identically (the
// portable path calls std::exp and std::erfc).
namespace coef {
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
// Beyond these exp overflows to inf / underflows to 0 (below the smallest subnormal).
constexpr float kExpHi = 88.7228393f;
constexpr float kExpLo = -103.972084f;
// exp(r) on |r| <= ln2/2 (Cephes expf).
constexpr float kP0 = 1.9875691500e-4f;
constexpr float kP1 = 1.3981999507e-3f;
constexpr float kP2 = 8.3334519073e-3f;
constexpr float kP3 = 4.1665795894e-2f;
constexpr float kP4 = 1.6666665459e-1f;
constexpr float kP5 = 5.0000001201e-1f;
// erfc(x) = t·(kE1 + t·(kE2 + t·(kE3 + t·(kE4 + t·kE5))))·exp(−x²), t = 1 / (1 + kEt·x), x >= 0
// (Abramowitz & Stegun 7.1.26).
constexpr float kEt = 0.3275911f;
constexpr float kE1 = 0.254829592f;
constexpr float kE2 = -0.284496736f;
constexpr float kE3 = 1.421413741f;
constexpr float kE4 = -1.453152027f;
constexpr float kE5 = 1.061405429f;
}  // namespace coef

// NaN-propagating max of two floats (either side), the scalar twin of V::max.
inline float max_nan(float a, float b) {
  return (a != a || b != b) ? a + b : (a > b ? a : b);
}

// Baseline x86-64 (and any CPU): eight lanes in plain C++, which the compiler maps onto SSE2.
// Eight lanes also give sums the same rounding behaviour as the AVX2 path.
struct VecPortable {
  struct R {
    float v[8];
  };
  static constexpr int W = 8;
  static CLIPKIT_INLINE R load(const float* p) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = p[i];
    return r;
  }
  static CLIPKIT_INLINE void store(float* p, const R& a) {
    for (int i = 0; i < W; ++i) p[i] = a.v[i];
  }
  static CLIPKIT_INLINE R load_partial(const float* p, int64_t n) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = i < n ? p[i] : 0.0f;
    return r;
  }
  static CLIPKIT_INLINE void store_partial(float* p, const R& a, int64_t n) {
    for (int i = 0; i < W && i < n; ++i) p[i] = a.v[i];
  }
  static CLIPKIT_INLINE R load_half(const uint16_t* p) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = half_to_float(p[i]);
    return r;
  }
  static CLIPKIT_INLINE R load_half_partial(const uint16_t* p, int64_t n) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = i < n ? half_to_float(p[i]) : 0.0f;
    return r;
  }
  static CLIPKIT_INLINE R set1(float x) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = x;
    return r;
  }
  // Lanes n and above replaced by `fill` (n may be <= 0 or >= W).
  static CLIPKIT_INLINE R keep_first(const R& a, int64_t n, float fill) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = i < n ? a.v[i] : fill;
    return r;
  }
  static CLIPKIT_INLINE R zero() { return set1(0.0f); }
#define CLIPKIT_PORTABLE_LANES(expr) \
  R r;                               \
  for (int i = 0; i < W; ++i) r.v[i] = (expr); \
  return r
  static CLIPKIT_INLINE R add(const R& a, const R& b) { CLIPKIT_PORTABLE_LANES(a.v[i] + b.v[i]); }
  static CLIPKIT_INLINE R sub(const R& a, const R& b) { CLIPKIT_PORTABLE_LANES(a.v[i] - b.v[i]); }
  static CLIPKIT_INLINE R mul(const R& a, const R& b) { CLIPKIT_PORTABLE_LANES(a.v[i] * b.v[i]); }
  static CLIPKIT_INLINE R div(const R& a, const R& b) { CLIPKIT_PORTABLE_LANES(a.v[i] / b.v[i]); }
  // Unfused: a software std::fma is far too slow where there is no FMA unit.
  static CLIPKIT_INLINE R fma(const R& a, const R& b, const R& c) {
    CLIPKIT_PORTABLE_LANES(a.v[i] * b.v[i] + c.v[i]);
  }
  static CLIPKIT_INLINE R max(const R& a, const R& b) {
    CLIPKIT_PORTABLE_LANES(max_nan(a.v[i], b.v[i]));
  }
  static CLIPKIT_INLINE R exp(const R& a) { CLIPKIT_PORTABLE_LANES(std::exp(a.v[i])); }
  static CLIPKIT_INLINE R erfc(const R& a) { CLIPKIT_PORTABLE_LANES(std::erfc(a.v[i])); }
#undef CLIPKIT_PORTABLE_LANES
  static CLIPKIT_INLINE float reduce_add(const R& a) {
    return ((a.v[0] + a.v[4]) + (a.v[2] + a.v[6])) + ((a.v[1] + a.v[5]) + (a.v[3] + a.v[7]));
  }
  static CLIPKIT_INLINE float reduce_max(const R& a) {
    float m = a.v[0];
    for (int i = 1; i < W; ++i) m = max_nan(m, a.v[i]);
    return m;
  }
};

struct VecAvx2 {
  using R = __m256;
  static constexpr int W = 8;
  static CLIPKIT_TARGET_AVX2 inline __m256i tail_mask(int64_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 8 ? n : 8)), idx);
  }
  static CLIPKIT_TARGET_AVX2 inline R load(const float* p) { return _mm256_loadu_ps(p); }
  static CLIPKIT_TARGET_AVX2 inline void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static CLIPKIT_TARGET_AVX2 inline R load_partial(const float* p, int64_t n) {
    return _mm256_maskload_ps(p, tail_mask(n));
  }
  static CLIPKIT_TARGET_AVX2 inline void store_partial(float* p, R v, int64_t n) {
    _mm256_maskstore_ps(p, tail_mask(n), v);
  }
  static CLIPKIT_TARGET_AVX2 inline R load_half(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static CLIPKIT_TARGET_AVX2 inline R load_half_partial(const uint16_t* p, int64_t n) {
    alignas(16) uint16_t tmp[8] = {};
    for (int64_t i = 0; i < n && i < 8; ++i) tmp[i] = p[i];
    return load_half(tmp);
  }
  static CLIPKIT_TARGET_AVX2 inline R set1(float x) { return _mm256_set1_ps(x); }
  static CLIPKIT_TARGET_AVX2 inline R keep_first(R a, int64_t n, float fill) {
    if (n >= W) return a;
    return _mm256_blendv_ps(_mm256_set1_ps(fill), a, _mm256_castsi256_ps(tail_mask(n < 0 ? 0 : n)));
  }
  static CLIPKIT_TARGET_AVX2 inline R zero() { return _mm256_setzero_ps(); }
  static CLIPKIT_TARGET_AVX2 inline R add(R a, R b) { return _mm256_add_ps(a, b); }
  static CLIPKIT_TARGET_AVX2 inline R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static CLIPKIT_TARGET_AVX2 inline R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static CLIPKIT_TARGET_AVX2 inline R div(R a, R b) { return _mm256_div_ps(a, b); }
  static CLIPKIT_TARGET_AVX2 inline R fma(R a, R b, R c) {
    return _mm256_fmadd_ps(a, b, c);
  }
  static CLIPKIT_TARGET_AVX2 inline R max(R a, R b) {
    return _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_add_ps(a, b),
                            _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
  }
  static CLIPKIT_TARGET_AVX2 inline float reduce_add(R a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static CLIPKIT_TARGET_AVX2 inline float reduce_max(R a) {
    alignas(32) float v[8];
    _mm256_store_ps(v, a);
    float m = v[0];
    for (int i = 1; i < 8; ++i) m = max_nan(m, v[i]);
    return m;
  }
  static CLIPKIT_TARGET_AVX2 inline R exp(R x) {
    using namespace coef;
    const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(kExpHi), _CMP_GT_OQ);
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(kExpLo), _CMP_LT_OQ);
    __m256 c = _mm256_min_ps(_mm256_set1_ps(kExpHi), x);
    c = _mm256_max_ps(_mm256_set1_ps(kExpLo), c);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(kLog2e)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), c);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
    __m256 p = _mm256_set1_ps(kP0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n in two halves so both stay normal over the whole range n in [-150, 128].
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()), over);
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
    // NaN lanes: keep NaN (cvtps_epi32 of NaN gives a garbage exponent).
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    return _mm256_blendv_ps(y, x, nan);
  }
  // erfc by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), the approximation PyTorch's
  // vectorised erf uses; written as erfc so gelu's negative tail has no cancellation.
  static CLIPKIT_TARGET_AVX2 inline R erfc(R x) {
    using namespace coef;
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                                   _mm256_fmadd_ps(_mm256_set1_ps(kEt), a, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(kE5);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kE4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kE3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kE2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kE1));
    p = _mm256_mul_ps(p, t);
    const __m256 y = _mm256_mul_ps(p, exp(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a))));
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(y, _mm256_sub_ps(_mm256_set1_ps(2.0f), y), neg);
  }
};

struct VecAvx512 {
  using R = __m512;
  static constexpr int W = 16;
  static CLIPKIT_TARGET_AVX512 inline __mmask16 tail_mask(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
  }
  static CLIPKIT_TARGET_AVX512 inline R load(const float* p) { return _mm512_loadu_ps(p); }
  static CLIPKIT_TARGET_AVX512 inline void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static CLIPKIT_TARGET_AVX512 inline R load_partial(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(tail_mask(n), p);
  }
  static CLIPKIT_TARGET_AVX512 inline void store_partial(float* p, R v, int64_t n) {
    _mm512_mask_storeu_ps(p, tail_mask(n), v);
  }
  static CLIPKIT_TARGET_AVX512 inline R load_half(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static CLIPKIT_TARGET_AVX512 inline R load_half_partial(const uint16_t* p, int64_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail_mask(n), p));
  }
  static CLIPKIT_TARGET_AVX512 inline R set1(float x) { return _mm512_set1_ps(x); }
  static CLIPKIT_TARGET_AVX512 inline R keep_first(R a, int64_t n, float fill) {
    return _mm512_mask_mov_ps(_mm512_set1_ps(fill), tail_mask(n < 0 ? 0 : n), a);
  }
  static CLIPKIT_TARGET_AVX512 inline R zero() { return _mm512_setzero_ps(); }
  static CLIPKIT_TARGET_AVX512 inline R add(R a, R b) { return _mm512_add_ps(a, b); }
  static CLIPKIT_TARGET_AVX512 inline R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static CLIPKIT_TARGET_AVX512 inline R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static CLIPKIT_TARGET_AVX512 inline R div(R a, R b) { return _mm512_div_ps(a, b); }
  static CLIPKIT_TARGET_AVX512 inline R fma(R a, R b, R c) {
    return _mm512_fmadd_ps(a, b, c);
  }
  static CLIPKIT_TARGET_AVX512 inline R max(R a, R b) {
    return _mm512_mask_add_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q), a, b);
  }
  static CLIPKIT_TARGET_AVX512 inline float reduce_add(R a) {
    return _mm512_reduce_add_ps(a);
  }
  static CLIPKIT_TARGET_AVX512 inline float reduce_max(R a) {
    alignas(64) float v[16];
    _mm512_store_ps(v, a);
    float m = v[0];
    for (int i = 1; i < 16; ++i) m = max_nan(m, v[i]);
    return m;
  }
  // scalef(p, n) = p · 2^n rounds to inf / 0 by itself, so only the clamp is needed: at 89
  // and above the result overflows to inf, at -110 and below it underflows to exactly 0.
  // NaN passes through min/max (data as the second operand) and the arithmetic.
  static CLIPKIT_TARGET_AVX512 inline R exp(R x) {
    using namespace coef;
    __m512 c = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    c = _mm512_max_ps(_mm512_set1_ps(-110.0f), c);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(c, _mm512_set1_ps(kLog2e)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), c);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
    __m512 p = _mm512_set1_ps(kP0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
  }
  static CLIPKIT_TARGET_AVX512 inline R erfc(R x) {
    using namespace coef;
    const __m512 a = _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x);
    const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                                   _mm512_fmadd_ps(_mm512_set1_ps(kEt), a, _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(kE5);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kE4));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kE3));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kE2));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kE1));
    p = _mm512_mul_ps(p, t);
    const __m512 y = _mm512_mul_ps(p, exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a))));
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_sub_ps(y, neg, _mm512_set1_ps(2.0f), y);
  }
};

}  // namespace clipkit::cpu::simd

// Defines `name(args...)`, which runs impl<V>(args...) compiled for the active ISA
// (detected_isa()), and `name##_on(isa, args...)` for callers that fixed the ISA already.
// Use inside an anonymous namespace.
#define CLIPKIT_DISPATCH(name, impl)                                                       \
  template <typename... A>                                                                 \
  __attribute__((flatten)) void name##_generic(A... a) {                                   \
    impl<::clipkit::cpu::simd::VecPortable>(a...);                                           \
  }                                                                                        \
  template <typename... A>                                                                 \
  CLIPKIT_TARGET_AVX2 __attribute__((flatten)) void name##_avx2(A... a) {                  \
    impl<::clipkit::cpu::simd::VecAvx2>(a...);                                             \
  }                                                                                        \
  template <typename... A>                                                                 \
  CLIPKIT_TARGET_AVX512 __attribute__((flatten)) void name##_avx512(A... a) {              \
    impl<::clipkit::cpu::simd::VecAvx512>(a...);                                           \
  }                                                                                        \
  template <typename... A>                                                                 \
  void name##_on(::clipkit::Isa isa, A... a) {                                             \
    switch (isa) {                                                                         \
      case ::clipkit::Isa::Avx512:                                                         \
        name##_avx512(a...);                                                               \
        return;                                                                            \
      case ::clipkit::Isa::Avx2:                                                           \
        name##_avx2(a...);                                                                 \
        return;                                                                            \
      case ::clipkit::Isa::Generic:                                                        \
        break;                                                                             \
    }                                                                                      \
    name##_generic(a...);                                                                  \
  }                                                                                        \
  template <typename... A>                                                                 \
  void name(A... a) {                                                                      \
    name##_on(::clipkit::cpu::detected_isa(), a...);                                       \
  }
