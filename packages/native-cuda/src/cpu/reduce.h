// Row reductions over vectors of any ISA (private to src/cpu). Tails run in scalar code.
#pragma once

#include "vec.h"

namespace clipkit::cpu {

template <typename V>
CLIPKIT_INLINE float row_sum(const float* x, int64_t n) {
  auto acc0 = V::zero();
  auto acc1 = V::zero();
  int64_t i = 0;
  for (; i + 2 * V::W <= n; i += 2 * V::W) {
    acc0 = V::add(acc0, V::load(x + i));
    acc1 = V::add(acc1, V::load(x + i + V::W));
  }
  for (; i + V::W <= n; i += V::W) acc0 = V::add(acc0, V::load(x + i));
  float s = V::reduce_add(V::add(acc0, acc1));
  for (; i < n; ++i) s += x[i];
  return s;
}

// Σ (x[i] − c)²: the second pass of a two-pass variance.
template <typename V>
CLIPKIT_INLINE float row_sum_sq_dev(const float* x, int64_t n, float c) {
  const auto vc = V::set1(c);
  auto acc = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    const auto d = V::sub(V::load(x + i), vc);
    acc = V::fma(d, d, acc);
  }
  float s = V::reduce_add(acc);
  for (; i < n; ++i) s += (x[i] - c) * (x[i] - c);
  return s;
}

// NaN anywhere gives NaN.
template <typename V>
CLIPKIT_INLINE float row_max(const float* x, int64_t n) {
  auto acc = V::set1(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) acc = V::max(acc, V::load(x + i));
  float m = V::reduce_max(acc);
  for (; i < n; ++i) m = simd::VecScalar::max(m, x[i]);
  return m;
}

}  // namespace clipkit::cpu
