// Fused multi-head attention, fp32, online (streaming) softmax: one warp per (batch, head,
// query token). The warp walks the keys once: for key j it computes s = scale·q·k_j (lanes
// split head_dim, then a shuffle reduction), updates the running max m and sum l, rescales the
// accumulator by exp(m_old − m_new) and adds exp(s − m_new)·v_j. Each lane owns elements
// lane, lane+32, … of q and of the accumulator (kept in shared memory so any head_dim up to
// kMaxHeadDim works), so no synchronisation is needed beyond the shuffles.
// Warps of a block take consecutive query tokens of one (batch, head), which share K and V
// through the caches.
#include <stdexcept>
#include <string>

#include "clipkit/kernels.h"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int64_t kMaxHeadDim = 1536;  // kWarps * 2 * 1536 floats = 48 KiB of shared memory

__global__ void attention_kernel(const float* q, const float* k, const float* v,
                                 int64_t qkv_stride, float* out, int64_t out_stride,
                                 AttentionShape s) {
  extern __shared__ float smem[];
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int64_t d = s.head_dim;
  float* qs = smem + warp * 2 * d;
  float* acc = qs + d;
  const int64_t total = s.batch * s.heads * s.tokens;
  for (int64_t w = int64_t{blockIdx.x} * kWarps + warp; w < total;
       w += int64_t{gridDim.x} * kWarps) {
    const int64_t t = w % s.tokens;
    const int64_t bh = w / s.tokens;
    const int64_t h = bh % s.heads;
    const int64_t b = bh / s.heads;
    const int64_t head = h * d;
    const float* qrow = q + (b * s.tokens + t) * qkv_stride + head;
    for (int64_t i = lane; i < d; i += 32) {
      qs[i] = qrow[i];
      acc[i] = 0.0f;
    }
    float m = -INFINITY;
    float l = 0.0f;
    const int64_t keys = s.causal ? t + 1 : s.tokens;
    for (int64_t j = 0; j < keys; ++j) {
      const int64_t row = (b * s.tokens + j) * qkv_stride + head;
      const float* krow = k + row;
      const float* vrow = v + row;
      float dot = 0.0f;
      for (int64_t i = lane; i < d; i += 32) dot = fmaf(qs[i], krow[i], dot);
      for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
      const float score = dot * s.scale;
      const float m_new = fmaxf(m, score);
      // First key: m = -inf, so corr = 0 and the (zero) accumulator is reset exactly.
      const float corr = expf(m - m_new);
      const float p = expf(score - m_new);
      l = l * corr + p;
      for (int64_t i = lane; i < d; i += 32) acc[i] = fmaf(acc[i], corr, p * vrow[i]);
      m = m_new;
    }
    const float inv = 1.0f / l;
    float* orow = out + (b * s.tokens + t) * out_stride + head;
    for (int64_t i = lane; i < d; i += 32) orow[i] = acc[i] * inv;
  }
}

}  // namespace

void attention(const float* q, const float* k, const float* v, int64_t qkv_token_stride,
               float* out, int64_t out_token_stride, const AttentionShape& s) {
  if (s.batch <= 0 || s.tokens <= 0 || s.heads <= 0 || s.head_dim <= 0) return;
  if (s.head_dim > kMaxHeadDim) {
    throw std::invalid_argument("cuda attention: head_dim " + std::to_string(s.head_dim) +
                                " exceeds the supported maximum " +
                                std::to_string(kMaxHeadDim));
  }
  const int64_t queries = s.batch * s.heads * s.tokens;
  const size_t smem = sizeof(float) * kWarps * 2 * static_cast<size_t>(s.head_dim);
  attention_kernel<<<detail::grid_for(queries, kWarps), kWarps * 32, smem, detail::stream()>>>(
      q, k, v, qkv_token_stride, out, out_token_stride, s);
  detail::check_launch("attention kernel");
}

}  // namespace clipkit::cuda
