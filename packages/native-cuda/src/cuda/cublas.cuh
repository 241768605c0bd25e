// cuBLAS, when the machine has it: loaded at run time with dlopen (clipkit links no cuBLAS, so
// the module loads without it). CLIPKIT_CUBLAS=0 disables it (the tiled kernel runs instead);
// CLIPKIT_CUBLAS=require makes its absence an error (used by tests and benchmarks to know
// which engine they measure).
#pragma once

#include <cstdint>

namespace clipkit::cuda::detail {

// True when cuBLAS is loaded and not disabled by CLIPKIT_CUBLAS=0; throws std::runtime_error
// when CLIPKIT_CUBLAS=require and it cannot be loaded.
bool cublas_enabled();

// out[m,n] = alpha * a[m,k] · b[n,k]^T (row-major, fp32 math) on stream(). Needs
// cublas_enabled() and 1 <= m, n, k <= INT_MAX; throws std::runtime_error on a cuBLAS error.
void cublas_gemm_nt(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k,
                    float alpha);

// out[m,n] = a[m,k] · b[n,k]^T with a and b bf16 (row-major), products and sums in fp32
// (CUBLAS_COMPUTE_32F). Same preconditions as cublas_gemm_nt.
void cublas_gemm_nt_bf16(const void* a, const void* b, float* out, int64_t m, int64_t n,
                         int64_t k);

}  // namespace clipkit::cuda::detail
