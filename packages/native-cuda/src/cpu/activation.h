// Pointwise activations over vectors of any ISA (private to src/cpu): shared by the
// elementwise kernel and the GEMM epilogue so both compute exactly the same function.
#pragma once

#include "vec.h"

namespace clipkit::cpu {

// quick_gelu(x) = x * sigmoid(1.702 x);  gelu(x) = 0.5 x (1 + erf(x / sqrt 2)).
template <typename V>
CLIPKIT_INLINE typename V::R activate(const typename V::R& x, Activation act) {
  switch (act) {
    case Activation::QuickGelu: {
      const auto e = V::exp(V::mul(x, V::set1(-1.702f)));
      return V::div(x, V::add(V::set1(1.0f), e));
    }
    case Activation::GeluErf: {
      // 0.5 x erfc(-x / sqrt 2): equal to 0.5 x (1 + erf(x / sqrt 2)) without its cancellation.
      const auto h = V::mul(x, V::set1(0.5f));
      return V::mul(h, V::erfc(V::mul(x, V::set1(-0.70710678118654752f))));
    }
    case Activation::None:
      break;
  }
  return x;
}

template <typename V, bool Full>
CLIPKIT_INLINE typename V::R load_n(const float* p, int64_t count) {
  if constexpr (Full) {
    return V::load(p);
  } else {
    return V::load_partial(p, count);
  }
}

template <typename V, bool Full>
CLIPKIT_INLINE void store_n(float* p, const typename V::R& v, int64_t count) {
  if constexpr (Full) {
    V::store(p, v);
  } else {
    V::store_partial(p, v, count);
  }
}

template <typename V, bool Full>
CLIPKIT_INLINE void activate_vec(const float* x, const float* bias, const float* residual,
                                 float* out, int64_t count, Activation act) {
  auto v = load_n<V, Full>(x, count);
  if (bias != nullptr) v = V::add(v, load_n<V, Full>(bias, count));
  v = activate<V>(v, act);
  if (residual != nullptr) v = V::add(v, load_n<V, Full>(residual, count));
  store_n<V, Full>(out, v, count);
}

// out[i] = act(x[i] + bias[i]) + residual[i] for i < n; bias/residual may be null and any of
// the arrays may alias out.
template <typename V>
CLIPKIT_INLINE void activate_row(const float* x, const float* bias, const float* residual,
                                 float* out, int64_t n, Activation act) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    activate_vec<V, true>(x + i, bias ? bias + i : nullptr, residual ? residual + i : nullptr,
                          out + i, V::W, act);
  }
  if (i < n) {
    activate_vec<V, false>(x + i, bias ? bias + i : nullptr, residual ? residual + i : nullptr,
                           out + i, n - i, act);
  }
}

}  // namespace clipkit::cpu
