// GEMM with fused epilogue: out[m,n] = act(alpha * x[m,k]·w[n,k]^T + bias[n]) + residual[m,n].
// cuBLAS (loaded at run time, see cublas.cu) does the product when present, followed by an
// epilogue kernel; otherwise a shared-memory tiled fp32 kernel does everything in one pass.
//
// Few rows (m <= 8, e.g. one search query against a million embeddings) use a skinny kernel
// instead: the tiled kernel would spend >90% of its work on padding while the product is bound
// by reading b.
//
// Tiled kernel: a 128x128 output tile per 256-thread block, k in steps of 8. Each thread owns
// an 8x8 sub-tile split as rows {ty*4.., 64+ty*4..} x cols {tx*4.., 64+tx*4..}, so its float4
// shared-memory reads are conflict-free. The next k-step is fetched into registers while the
// current one is multiplied. Out-of-range rows/cols/k are loaded as zero and never stored.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>
#include <stdexcept>

#include "activation.cuh"
#include "clipkit/kernels.h"
#include "cublas.cuh"
#include "gemm.cuh"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

constexpr int kTile = 128;  // BM = BN
constexpr int kStep = 8;    // BK
constexpr int kThreads = 256;
constexpr int kPad = 4;  // keeps float4 alignment, spreads the transposed stores over banks

struct Epilogue {
  float alpha;
  const float* bias;      // [n] or null
  const float* residual;  // [m,n] or null; may be out itself
  Activation act;
};

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

__device__ __forceinline__ float finish(float acc, int64_t r, int64_t c, int64_t n,
                                        const Epilogue& ep) {
  float v = acc * ep.alpha;
  if (ep.bias != nullptr) v += ep.bias[c];
  v = detail::activate(v, ep.act);
  if (ep.residual != nullptr) v += ep.residual[r * n + c];
  return v;
}

// Thread t loads 4 consecutive k of row t/2 (first or second half of the k-step) of a tile.
template <typename T>
__device__ __forceinline__ void load_tile(const T* src, int64_t rows, int64_t k, int64_t row0,
                                          int64_t k0, float (&reg)[4]) {
  const int64_t row = row0 + (threadIdx.x >> 1);
  const int64_t kk = k0 + (threadIdx.x & 1) * 4;
  const T* p = src + row * k;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    reg[i] = (row < rows && kk + i < k) ? to_float(p[kk + i]) : 0.0f;
  }
}

__device__ __forceinline__ void store_tile(float (*dst)[kTile + kPad], const float (&reg)[4]) {
  const int row = threadIdx.x >> 1;
  const int kk = (threadIdx.x & 1) * 4;
#pragma unroll
  for (int i = 0; i < 4; ++i) dst[kk + i][row] = reg[i];
}

template <typename TB>
__global__ void __launch_bounds__(kThreads, 2)
    gemm_nt_kernel(const float* a, const TB* b, float* out, int64_t m, int64_t n, int64_t k,
                   Epilogue ep) {
  __shared__ __align__(16) float as[kStep][kTile + kPad];
  __shared__ __align__(16) float bs[kStep][kTile + kPad];
  const int tx = threadIdx.x % 16;
  const int ty = threadIdx.x / 16;
  const int64_t col0 = int64_t{blockIdx.x} * kTile;
  const int64_t m_tiles = detail::ceil_div(m, kTile);

  for (int64_t tile_m = blockIdx.y; tile_m < m_tiles; tile_m += gridDim.y) {
    const int64_t row0 = tile_m * kTile;
    float acc[8][8] = {};
    float ra[4];
    float rb[4];
    load_tile(a, m, k, row0, 0, ra);
    load_tile(b, n, k, col0, 0, rb);
    for (int64_t k0 = 0; k0 < k; k0 += kStep) {
      store_tile(as, ra);
      store_tile(bs, rb);
      __syncthreads();
      if (k0 + kStep < k) {
        load_tile(a, m, k, row0, k0 + kStep, ra);
        load_tile(b, n, k, col0, k0 + kStep, rb);
      }
#pragma unroll
      for (int kk = 0; kk < kStep; ++kk) {
        const float4 a0 = *reinterpret_cast<const float4*>(&as[kk][ty * 4]);
        const float4 a1 = *reinterpret_cast<const float4*>(&as[kk][64 + ty * 4]);
        const float4 b0 = *reinterpret_cast<const float4*>(&bs[kk][tx * 4]);
        const float4 b1 = *reinterpret_cast<const float4*>(&bs[kk][64 + tx * 4]);
        const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
        for (int i = 0; i < 8; ++i) {
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int64_t r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
      if (r >= m) continue;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int64_t c = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
        if (c < n) out[r * n + c] = finish(acc[i][j], r, c, n, ep);
      }
    }
  }
}

// Skinny kernel: a[m <= kSkinnyRows, k] staged in shared memory; one warp per row j of b (lanes
// split k, so b is read coalesced, once), m dot products reduced by shuffles.
constexpr int kSkinnyRows = 8;
constexpr int kSkinnyWarps = 8;
constexpr int64_t kSkinnyMaxBlocks = 4096;  // each block re-reads a: keep that traffic small
constexpr size_t kSkinnyMaxShared = 48 * 1024;

template <typename TB>
__global__ void __launch_bounds__(kSkinnyWarps * 32)
    gemm_nt_skinny_kernel(const float* a, const TB* b, float* out, int64_t m, int64_t n,
                          int64_t k, Epilogue ep) {
  extern __shared__ float a_s[];  // [m, k]
  for (int64_t i = threadIdx.x; i < m * k; i += blockDim.x) a_s[i] = a[i];
  __syncthreads();
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t{gridDim.x} * kSkinnyWarps;
  for (int64_t j = int64_t{blockIdx.x} * kSkinnyWarps + threadIdx.x / 32; j < n; j += warps) {
    const TB* brow = b + j * k;
    float acc[kSkinnyRows] = {};
    for (int64_t i = lane; i < k; i += 32) {
      const float bv = to_float(brow[i]);
#pragma unroll
      for (int r = 0; r < kSkinnyRows; ++r) {
        if (r < m) acc[r] = fmaf(a_s[r * k + i], bv, acc[r]);
      }
    }
#pragma unroll
    for (int r = 0; r < kSkinnyRows; ++r) {
      float v = acc[r];
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      if (lane == r && r < m) out[r * n + j] = finish(v, r, j, n, ep);
    }
  }
}

// The epilogue alone, after cuBLAS: out = act(prod + bias) + residual, elementwise.
__global__ void epilogue_kernel(const float* prod, float* out, int64_t m, int64_t n,
                                Epilogue ep) {
  const int64_t total = m * n;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total; i += step) {
    out[i] = finish(prod[i], i / n, i % n, n, ep);
  }
}

// x rounded to bf16 (nearest even), as bf16 for cuBLAS or as the floats it rounds to for
// clipkit's own kernels.
__global__ void round_bf16_kernel(const float* x, __nv_bfloat16* as_bf16, float* as_float,
                                  int64_t count) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += step) {
    const __nv_bfloat16 r = __float2bfloat16_rn(x[i]);
    if (as_bf16 != nullptr) as_bf16[i] = r;
    if (as_float != nullptr) as_float[i] = __bfloat162float(r);
  }
}

void round_bf16(const float* x, __nv_bfloat16* as_bf16, float* as_float, int64_t count) {
  constexpr int kRoundThreads = 256;
  round_bf16_kernel<<<detail::grid_for(count, kRoundThreads), kRoundThreads, 0, detail::stream()>>>(
      x, as_bf16, as_float, count);
  detail::check_launch("bf16 rounding kernel");
}

bool use_cublas(int64_t m, int64_t n, int64_t k) {
  return m <= INT_MAX && n <= INT_MAX && k >= 1 && k <= INT_MAX && detail::cublas_enabled();
}

// The product by clipkit's own kernels: skinny for a few rows, tiled otherwise.
template <typename TB>
void own_kernel(const float* a, const TB* b, float* out, int64_t m, int64_t n, int64_t k,
                const Epilogue& ep) {
  const cudaStream_t st = detail::stream();
  const size_t a_bytes = sizeof(float) * static_cast<size_t>(m * k);
  if (m <= kSkinnyRows && a_bytes <= kSkinnyMaxShared) {
    int64_t blocks = detail::ceil_div(n, kSkinnyWarps);
    if (blocks > kSkinnyMaxBlocks) blocks = kSkinnyMaxBlocks;
    gemm_nt_skinny_kernel<TB><<<static_cast<unsigned>(blocks), kSkinnyWarps * 32, a_bytes, st>>>(
        a, b, out, m, n, k, ep);
    detail::check_launch("gemm skinny kernel");
    return;
  }
  const int64_t n_tiles = detail::ceil_div(n, kTile);
  const int64_t m_tiles = detail::ceil_div(m, kTile);
  if (n_tiles > 0x7fffffff) throw std::runtime_error("cuda gemm: n too large for the grid");
  const dim3 grid(static_cast<unsigned>(n_tiles),
                  static_cast<unsigned>(m_tiles < 65535 ? m_tiles : 65535));
  gemm_nt_kernel<TB><<<grid, kThreads, 0, st>>>(a, b, out, m, n, k, ep);
  detail::check_launch("gemm kernel");
}

// out = act(prod + bias) + residual after a cuBLAS product (nothing to do without an epilogue
// when prod is out).
void apply_epilogue(const float* prod, float* out, int64_t m, int64_t n, const Epilogue& ep) {
  if (prod == out && ep.bias == nullptr && ep.residual == nullptr && ep.act == Activation::None)
    return;
  constexpr int kEpilogueThreads = 256;
  epilogue_kernel<<<detail::grid_for(m * n, kEpilogueThreads), kEpilogueThreads, 0,
                    detail::stream()>>>(prod, out, m, n, ep);
  detail::check_launch("gemm epilogue kernel");
}

}  // namespace

namespace detail {

void matmul_nt(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k,
               float alpha) {
  if (m <= 0 || n <= 0) return;
  if (use_cublas(m, n, k)) {
    cublas_gemm_nt(a, b, out, m, n, k, alpha);
    return;
  }
  own_kernel(a, b, out, m, n, k, Epilogue{alpha, nullptr, nullptr, Activation::None});
}

void matmul_nt_f16(const float* a, const __half* b, float* out, int64_t m, int64_t n, int64_t k,
                   float alpha) {
  if (m <= 0 || n <= 0) return;
  own_kernel(a, b, out, m, n, k, Epilogue{alpha, nullptr, nullptr, Activation::None});
}

}  // namespace detail

void linear(const float* x, const float* w, const float* bias, const float* residual, float* out,
            int64_t m, int64_t n, int64_t k, Activation act) {
  if (m <= 0 || n <= 0) return;
  const Epilogue ep{1.0f, bias, residual, act};
  if (!use_cublas(m, n, k)) {
    own_kernel(x, w, out, m, n, k, ep);
    return;
  }
  // When out is also the residual, the product needs its own buffer until the epilogue has
  // read the residual.
  const bool aliased = residual == out;
  detail::Scratch product(aliased ? static_cast<size_t>(m * n) * sizeof(float) : 0);
  float* prod = aliased ? product.as<float>() : out;
  detail::cublas_gemm_nt(x, w, prod, m, n, k, 1.0f);
  apply_epilogue(prod, out, m, n, ep);
}

void linear_bf16(const float* x, const uint16_t* w, const float* bias, const float* residual,
                 float* out, int64_t m, int64_t n, int64_t k, Activation act) {
  if (m <= 0 || n <= 0) return;
  const Epilogue ep{1.0f, bias, residual, act};
  const auto* wb = reinterpret_cast<const __nv_bfloat16*>(w);
  if (!use_cublas(m, n, k)) {
    detail::Scratch rounded(static_cast<size_t>(m * k) * sizeof(float));
    round_bf16(x, nullptr, rounded.as<float>(), m * k);
    own_kernel(rounded.as<const float>(), wb, out, m, n, k, ep);
    return;
  }
  detail::Scratch rounded(static_cast<size_t>(m * k) * sizeof(__nv_bfloat16));
  round_bf16(x, rounded.as<__nv_bfloat16>(), nullptr, m * k);
  const bool aliased = residual == out;
  detail::Scratch product(aliased ? static_cast<size_t>(m * n) * sizeof(float) : 0);
  float* prod = aliased ? product.as<float>() : out;
  detail::cublas_gemm_nt_bf16(rounded.as<const __nv_bfloat16>(), wb, prod, m, n, k);
  apply_epilogue(prod, out, m, n, ep);
}

}  // namespace clipkit::cuda
