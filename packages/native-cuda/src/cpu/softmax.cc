// Row-wise softmax, stable: exp(x − max) / Σ. A NaN in a row makes the whole row NaN.
#include "reduce.h"
#include "threadpool.h"

namespace clipkit::cpu {
namespace {

template <typename V>
CLIPKIT_INLINE void softmax_rows(const float* x, float* out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    const auto vmax = V::set1(row_max<V>(xr, cols));
    auto acc = V::zero();
    int64_t i = 0;
    for (; i + V::W <= cols; i += V::W) {
      const auto e = V::exp(V::sub(V::load(xr + i), vmax));
      V::store(yr + i, e);
      acc = V::add(acc, e);
    }
    float sum = V::reduce_add(acc);
    if (i < cols) {
      const auto e = V::exp(V::sub(V::load_partial(xr + i, cols - i), vmax));
      V::store_partial(yr + i, e, cols - i);
      for (int64_t j = i; j < cols; ++j) sum += yr[j];
    }
    const float inv = 1.0f / sum;
    const auto vinv = V::set1(inv);
    int64_t k = 0;
    for (; k + V::W <= cols; k += V::W) V::store(yr + k, V::mul(V::load(yr + k), vinv));
    for (; k < cols; ++k) yr[k] *= inv;
  }
}
CLIPKIT_DISPATCH(softmax_dispatch, softmax_rows)

}  // namespace

void softmax(const float* x, float* out, int64_t rows, int64_t cols) {
  const int64_t grain = cols > 0 ? (1 << 13) / cols + 1 : rows;
  parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        softmax_dispatch(x + begin * cols, out + begin * cols, end - begin, cols);
      },
      grain);
}

}  // namespace clipkit::cpu
