// Row-wise softmax, numerically stable (max subtracted): one block per row, grid-stride over
// rows. out may alias x: each element is read and written by the same thread, and the writes
// come after the block has finished the max and sum passes.
#include "block_reduce.cuh"
#include "clipkit/kernels.h"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void softmax_kernel(const float* x, float* out, int64_t rows, int64_t cols) {
  __shared__ float buf[kThreads / 32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + row * cols;
    float* yr = out + row * cols;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < cols; i += kThreads) m = fmaxf(m, xr[i]);
    m = detail::block_reduce<kThreads>(m, buf, detail::MaxOp{});
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < cols; i += kThreads) s += expf(xr[i] - m);
    s = detail::block_reduce<kThreads>(s, buf, detail::SumOp{});
    const float inv = 1.0f / s;
    for (int64_t i = threadIdx.x; i < cols; i += kThreads) yr[i] = expf(xr[i] - m) * inv;
  }
}

}  // namespace

void softmax(const float* x, float* out, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  softmax_kernel<<<detail::grid_for(rows, 1), kThreads, 0, detail::stream()>>>(x, out, rows, cols);
  detail::check_launch("softmax kernel");
}

}  // namespace clipkit::cuda
