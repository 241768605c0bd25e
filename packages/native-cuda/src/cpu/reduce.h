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

struct DeviationSums {
  float sum;     // Σ (x[i] − c)
  float sum_sq;  // Σ (x[i] − c)²
};

// The second pass of a corrected two-pass variance: Σ(x − c) recovers the rounding error of
// the first-pass mean c.
template <typename V>
CLIPKIT_INLINE DeviationSums row_deviation_sums(const float* x, int64_t n, float c) {
  const auto vc = V::set1(c);
  auto acc = V::zero();
  auto acc_sq = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    const auto d = V::sub(V::load(x + i), vc);
    acc = V::add(acc, d);
    acc_sq = V::fma(d, d, acc_sq);
  }
  DeviationSums s{V::reduce_add(acc), V::reduce_add(acc_sq)};
  for (; i < n; ++i) {
    s.sum += x[i] - c;
    s.sum_sq += (x[i] - c) * (x[i] - c);
  }
  return s;
}

// NaN anywhere gives NaN.
template <typename V>
CLIPKIT_INLINE float row_max(const float* x, int64_t n) {
  auto acc = V::set1(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) acc = V::max(acc, V::load(x + i));
  float m = V::reduce_max(acc);
  for (; i < n; ++i) m = simd::max_nan(m, x[i]);
  return m;
}

}  // namespace clipkit::cpu
