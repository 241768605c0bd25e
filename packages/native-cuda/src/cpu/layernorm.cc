// Layer norm over the last dimension: corrected two-pass mean and variance (mean, then
// deviations from it), accurate to float rounding even for rows with a large offset.
#include <algorithm>
#include <cmath>

#include "reduce.h"
#include "threadpool.h"

namespace clipkit::cpu {
namespace {

template <typename V>
CLIPKIT_INLINE void layer_norm_rows(const float* x, const float* gamma, const float* beta,
                                    float* out, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = out + r * dim;
    const float n = static_cast<float>(dim);
    const float mean0 = row_sum<V>(xr, dim) / n;
    const DeviationSums dev = row_deviation_sums<V>(xr, dim, mean0);
    const float mean = mean0 + dev.sum / n;
    const float var = std::max(0.0f, (dev.sum_sq - dev.sum * dev.sum / n) / n);
    const float rstd = 1.0f / std::sqrt(var + eps);
    const auto vm = V::set1(mean);
    const auto vs = V::set1(rstd);
    int64_t i = 0;
    for (; i + V::W <= dim; i += V::W) {
      const auto n = V::mul(V::sub(V::load(xr + i), vm), vs);
      V::store(yr + i, V::fma(n, V::load(gamma + i), V::load(beta + i)));
    }
    for (; i < dim; ++i) yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
  }
}
CLIPKIT_DISPATCH(layer_norm_dispatch, layer_norm_rows)

}  // namespace

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t rows,
                int64_t dim, float eps) {
  const int64_t grain = dim > 0 ? (1 << 14) / dim + 1 : rows;
  parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        layer_norm_dispatch(x + begin * dim, gamma, beta, out + begin * dim, end - begin, dim,
                            eps);
      },
      grain);
}

}  // namespace clipkit::cpu
