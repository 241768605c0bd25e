// The GEMM family's entry points for other CUDA files (similarity uses them for score tiles).
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace clipkit::cuda::detail {

// out[m,n] = alpha * a[m,k] · b[n,k]^T, row-major; cuBLAS when present, else clipkit's own
// kernels.
void matmul_nt(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k,
               float alpha);
// The same with b stored as float16 (always clipkit's own kernels; math in fp32).
void matmul_nt_f16(const float* a, const __half* b, float* out, int64_t m, int64_t n, int64_t k,
                   float alpha);

}  // namespace clipkit::cuda::detail
