// Private helpers shared by the CUDA kernel files: error checking, the one stream every kernel
// runs on, stream-ordered scratch memory and launch-size arithmetic.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace clipkit::cuda::detail {

// Throws std::runtime_error("<what>: <CUDA error string>") when err != cudaSuccess.
void check(cudaError_t err, const char* what);

// Checks the launch configuration error of the kernel launched just before (no synchronisation:
// execution errors surface at the next synchronising call, which checks too).
void check_launch(const char* kernel);

// The stream all clipkit kernels and copies are ordered on (created on first use).
cudaStream_t stream();

// Scratch device memory ordered on stream(): freed (stream-ordered) when it goes out of scope,
// so a kernel enqueued before the destructor may still use it.
class Scratch {
 public:
  explicit Scratch(size_t bytes);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid size for a grid-stride loop over `work` items with `per_block` items per block: never 0,
// never above the 2^31-1 limit of gridDim.x (the kernels loop for the rest).
inline unsigned grid_for(int64_t work, int64_t per_block) {
  const int64_t blocks = ceil_div(work < 1 ? 1 : work, per_block);
  const int64_t cap = int64_t{1} << 20;
  return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

}  // namespace clipkit::cuda::detail
