// The blocked GEMM behind linear() and similarity() (private to src/cpu).
#pragma once

#include <cstdint>

#include "clipkit/kernels.h"

namespace clipkit::cpu {

// Applied to every output element once the k-sum `acc` is complete:
//   c = act(scale * acc + bias[col]) + residual[row * ldc + col]
// bias/residual may be null; residual may be the output itself.
struct GemmEpilogue {
  const float* bias = nullptr;
  const float* residual = nullptr;
  Activation act = Activation::None;
  float scale = 1.0f;
};

// Up to this many rows of a, the product runs as blocked dot products without packing b
// (memory-bound on b, as similarity search with few queries is).
constexpr int64_t kGemmUnpackedMaxRows = 64;

// c[m,n] (rows ldc apart) = epilogue(a[m,k] · b[n,k]^T), rows of a lda apart, rows of b ldb
// apart. b is float32 or IEEE half (uint16_t) storage; both are computed in float32.
void gemm_nt(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
             int64_t m, int64_t n, int64_t k, const GemmEpilogue& epi);
void gemm_nt(const float* a, int64_t lda, const uint16_t* b, int64_t ldb, float* c, int64_t ldc,
             int64_t m, int64_t n, int64_t k, const GemmEpilogue& epi);

// A packed weight (fp32 or bf16) called with another shape than it was packed for: throws
// std::invalid_argument naming `fn` and both shapes.
void check_packed_shape(const char* fn, int64_t packed_n, int64_t packed_k, int64_t n, int64_t k);

}  // namespace clipkit::cpu
