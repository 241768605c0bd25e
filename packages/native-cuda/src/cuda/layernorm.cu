// Layer norm over the last dimension: one block per row (grid-stride over rows), two passes
// (mean, then centred variance) for accuracy close to PyTorch's. out may alias x: every
// element is read by the statistics passes before the thread that owns it writes it.
#include "block_reduce.cuh"
#include "clipkit/kernels.h"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void layer_norm_kernel(const float* x, const float* gamma, const float* beta,
                                  float* out, int64_t rows, int64_t dim, float eps) {
  __shared__ float buf[kThreads / 32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + row * dim;
    float* yr = out + row * dim;
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < dim; i += kThreads) s += xr[i];
    const float n = static_cast<float>(dim);
    const float mean = detail::block_reduce<kThreads>(s, buf, detail::SumOp{}) / n;
    float q = 0.0f;
    for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
      const float c = xr[i] - mean;
      q += c * c;
    }
    const float var = detail::block_reduce<kThreads>(q, buf, detail::SumOp{}) / n;
    const float inv = 1.0f / sqrtf(var + eps);
    for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
      yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
    }
  }
}

}  // namespace

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t rows,
                int64_t dim, float eps) {
  if (rows <= 0 || dim <= 0) return;
  layer_norm_kernel<<<detail::grid_for(rows, 1), kThreads, 0, detail::stream()>>>(
      x, gamma, beta, out, rows, dim, eps);
  detail::check_launch("layer_norm kernel");
}

}  // namespace clipkit::cuda
