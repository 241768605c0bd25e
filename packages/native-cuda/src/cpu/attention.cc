// Fused multi-head attention, one (batch, head) pair per work item: for each query the keys
// are visited in blocks with an online (streaming) softmax, so no tokens×tokens matrix exists
// and a large key count needs only O(block + head_dim) scratch per thread.
#include <algorithm>
#include <cmath>
#include <limits>

#include "reduce.h"
#include "scratch.h"
#include "threadpool.h"

namespace clipkit::cpu {
namespace {

constexpr int64_t kKeyBlock = 64;

template <typename V>
CLIPKIT_INLINE float dot(const float* a, const float* b, int64_t n) {
  auto acc0 = V::zero();
  auto acc1 = V::zero();
  int64_t i = 0;
  for (; i + 2 * V::W <= n; i += 2 * V::W) {
    acc0 = V::fma(V::load(a + i), V::load(b + i), acc0);
    acc1 = V::fma(V::load(a + i + V::W), V::load(b + i + V::W), acc1);
  }
  for (; i + V::W <= n; i += V::W) acc0 = V::fma(V::load(a + i), V::load(b + i), acc0);
  float s = V::reduce_add(V::add(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y = y * c + p * x over n floats.
template <typename V>
CLIPKIT_INLINE void scale_add(float* y, float c, float p, const float* x, int64_t n) {
  const auto vc = V::set1(c);
  const auto vp = V::set1(p);
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    V::store(y + i, V::fma(vp, V::load(x + i), V::mul(vc, V::load(y + i))));
  }
  for (; i < n; ++i) y[i] = y[i] * c + p * x[i];
}

template <typename V>
CLIPKIT_INLINE void exp_shifted(float* s, int64_t n, float shift) {
  const auto vs = V::set1(shift);
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(s + i, V::exp(V::sub(V::load(s + i), vs)));
  if (i < n) V::store_partial(s + i, V::exp(V::sub(V::load_partial(s + i, n - i), vs)), n - i);
}

// Work items [begin, end) of batch*heads; scratch holds head_dim + kKeyBlock floats.
template <typename V>
CLIPKIT_INLINE void attention_items(const float* q, const float* k, const float* v,
                                    int64_t stride, float* out, int64_t out_stride,
                                    const AttentionShape* s, int64_t begin, int64_t end,
                                    float* scratch) {
  const int64_t t = s->tokens;
  const int64_t d = s->head_dim;
  float* acc = scratch;
  float* scores = scratch + d;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / s->heads;
    const int64_t h = item % s->heads;
    const int64_t base = b * t * stride + h * d;
    for (int64_t i = 0; i < t; ++i) {
      const float* qi = q + base + i * stride;
      const int64_t keys = s->causal ? i + 1 : t;
      float running_max = -std::numeric_limits<float>::infinity();
      float running_sum = 0.0f;
      std::fill(acc, acc + d, 0.0f);
      for (int64_t j0 = 0; j0 < keys; j0 += kKeyBlock) {
        const int64_t nb = std::min(kKeyBlock, keys - j0);
        for (int64_t j = 0; j < nb; ++j) {
          scores[j] = s->scale * dot<V>(qi, k + base + (j0 + j) * stride, d);
        }
        const float block_max = row_max<V>(scores, nb);
        const float new_max = simd::max_nan(running_max, block_max);
        // First block: exp(-inf - finite) = 0 clears nothing that exists yet.
        const float correction = std::exp(running_max - new_max);
        exp_shifted<V>(scores, nb, new_max);
        running_sum = running_sum * correction + row_sum<V>(scores, nb);
        for (int64_t j = 0; j < nb; ++j) {
          scale_add<V>(acc, j == 0 ? correction : 1.0f, scores[j],
                       v + base + (j0 + j) * stride, d);
        }
        running_max = new_max;
      }
      float* oi = out + b * t * out_stride + h * d + i * out_stride;
      const float inv = 1.0f / running_sum;
      for (int64_t c = 0; c < d; ++c) oi[c] = acc[c] * inv;
    }
  }
}
CLIPKIT_DISPATCH(attention_dispatch, attention_items)

}  // namespace

void attention(const float* q, const float* k, const float* v, int64_t qkv_token_stride,
               float* out, int64_t out_token_stride, const AttentionShape& s) {
  const Isa isa = detected_isa();
  parallel_for(s.batch * s.heads, [&](int64_t begin, int64_t end) {
    thread_local Scratch scratch;
    float* buf = scratch.floats(static_cast<size_t>(s.head_dim + kKeyBlock));
    attention_dispatch_on(isa, q, k, v, qkv_token_stride, out, out_token_stride, &s, begin, end,
                          buf);
  });
}

}  // namespace clipkit::cpu
