// Elementwise kernels: residual add and activation. Grid-stride loops over int64 indices, so
// any length works with a bounded grid; out may alias an input (each element is read, then
// written, by the same thread).
#include "activation.cuh"
#include "clipkit/kernels.h"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    out[i] = a[i] + b[i];
  }
}

__global__ void activation_kernel(const float* x, float* out, int64_t n, Activation act) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    out[i] = detail::activate(x[i], act);
  }
}

}  // namespace

void add(const float* a, const float* b, float* out, int64_t n) {
  if (n <= 0) return;
  add_kernel<<<detail::grid_for(n, kThreads), kThreads, 0, detail::stream()>>>(a, b, out, n);
  detail::check_launch("add kernel");
}

void activation(const float* x, float* out, int64_t n, Activation act) {
  if (n <= 0) return;
  activation_kernel<<<detail::grid_for(n, kThreads), kThreads, 0, detail::stream()>>>(x, out, n,
                                                                                       act);
  detail::check_launch("activation kernel");
}

}  // namespace clipkit::cuda
