// Elementwise kernels: residual add and standalone activations.
#include "activation.h"
#include "threadpool.h"

namespace clipkit::cpu {
namespace {

// Below this many elements a job is not worth waking the pool for.
constexpr int64_t kGrain = 1 << 15;

template <typename V>
CLIPKIT_INLINE void add_range(const float* a, const float* b, float* out, int64_t n) {
  activate_row<V>(a, b, nullptr, out, n, Activation::None);
}
CLIPKIT_DISPATCH(add_dispatch, add_range)

template <typename V>
CLIPKIT_INLINE void activation_range(const float* x, float* out, int64_t n, Activation act) {
  activate_row<V>(x, nullptr, nullptr, out, n, act);
}
CLIPKIT_DISPATCH(activation_dispatch, activation_range)

}  // namespace

void add(const float* a, const float* b, float* out, int64_t n) {
  parallel_for(
      n, [&](int64_t begin, int64_t end) { add_dispatch(a + begin, b + begin, out + begin, end - begin); },
      kGrain);
}

void activation(const float* x, float* out, int64_t n, Activation act) {
  parallel_for(
      n,
      [&](int64_t begin, int64_t end) {
        activation_dispatch(x + begin, out + begin, end - begin, act);
      },
      kGrain);
}

}  // namespace clipkit::cpu
