// Fused multi-head attention, one (batch, head) pair per work item, flash-attention style:
// queries go in blocks of QB rows against key blocks of KB keys. Per block, S = scale·Q·Kᵀ
// comes from a register-tiled product (K transposed once per head so keys are vector lanes),
// an online softmax rescales the running output, and O += P·V streams rows of V. No
// tokens×tokens matrix exists; scratch is O(head_dim × tokens) per thread.
#include <algorithm>
#include <cmath>
#include <limits>

#include "vec.h"
#include "scratch.h"
#include "threadpool.h"

namespace clipkit::cpu {
namespace {

// QB query rows × KV key vectors of accumulators for S; QB × DV for the output.
template <typename V>
struct AttnTile;
template <>
struct AttnTile<simd::VecAvx512> {
  static constexpr int QB = 6;
  static constexpr int KV = 4;  // 64 keys
  static constexpr int DV = 4;  // 64 output columns
};
template <>
struct AttnTile<simd::VecAvx2> {
  static constexpr int QB = 3;
  static constexpr int KV = 4;  // 32 keys
  static constexpr int DV = 4;
};
template <>
struct AttnTile<simd::VecPortable> {
  static constexpr int QB = 2;
  static constexpr int KV = 2;  // 16 keys
  static constexpr int DV = 2;
};

template <typename V>
constexpr int64_t key_block() {
  return AttnTile<V>::KV * V::W;
}

// Per-thread scratch, in floats, for tokens t and head_dim d: attention_items' layout for the
// ISA with the largest blocks, which covers the others.
int64_t scratch_floats(int64_t t, int64_t d) {
  using Widest = simd::VecAvx512;
  constexpr int64_t kb = key_block<Widest>();
  constexpr int64_t qb = AttnTile<Widest>::QB;
  // Rounding t up to kb then also covers the other ISAs' (smaller) key blocks.
  static_assert(kb % key_block<simd::VecAvx2>() == 0 && kb % key_block<simd::VecPortable>() == 0 &&
                qb >= AttnTile<simd::VecAvx2>::QB && qb >= AttnTile<simd::VecPortable>::QB);
  const int64_t tp = (t + kb - 1) / kb * kb;
  return d * tp + qb * d + qb * kb;
}

// kt[c * tp + j] = k[j * stride + c] for j < t, zero for t <= j < tp (tp a multiple of 16).
// Goes through 16-key × W-column staging blocks so both sides move whole vectors / lines.
template <typename V>
CLIPKIT_INLINE void transpose_keys(const float* k, int64_t stride, int64_t t, int64_t tp,
                                   int64_t d, float* kt) {
  constexpr int64_t kKeys = 16;
  alignas(64) float block[kKeys][V::W];
  for (int64_t j0 = 0; j0 < tp; j0 += kKeys) {
    for (int64_t c0 = 0; c0 < d; c0 += V::W) {
      const int64_t width = std::min<int64_t>(V::W, d - c0);
      for (int64_t jj = 0; jj < kKeys; ++jj) {
        const float* src = k + (j0 + jj) * stride + c0;
        const auto v = j0 + jj >= t ? V::zero()
                       : width == V::W ? V::load(src)
                                       : V::load_partial(src, width);
        V::store(block[jj], v);
      }
      for (int64_t c = 0; c < width; ++c) {
        float* dst = kt + (c0 + c) * tp + j0;
        for (int64_t jj = 0; jj < kKeys; ++jj) dst[jj] = block[jj][c];
      }
    }
  }
}

// scores[r][0..KVN·W) = scale · q_r · kt[:, j0..j0+KVN·W) for r < QB (rows past `rows` repeat
// row 0); the rest of each score row is left alone.
template <typename V, int KVN>
CLIPKIT_INLINE void block_scores_n(const float* q, int64_t stride, int64_t rows, const float* kt,
                                   int64_t tp, int64_t d, float scale, float* scores) {
  constexpr int QB = AttnTile<V>::QB;
  constexpr int KV = KVN;
  constexpr int64_t KB = AttnTile<V>::KV * V::W;
  const float* qr[QB];
  for (int r = 0; r < QB; ++r) qr[r] = q + (r < rows ? r : 0) * stride;
  typename V::R acc[QB][KV];
#pragma GCC unroll 8
  for (int r = 0; r < QB; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < KV; ++v) acc[r][v] = V::zero();
  }
  for (int64_t c = 0; c < d; ++c) {
    typename V::R kv[KV];
#pragma GCC unroll 4
    for (int v = 0; v < KV; ++v) kv[v] = V::load(kt + c * tp + v * V::W);
#pragma GCC unroll 8
    for (int r = 0; r < QB; ++r) {
      const auto a = V::set1(qr[r][c]);
#pragma GCC unroll 4
      for (int v = 0; v < KV; ++v) acc[r][v] = V::fma(a, kv[v], acc[r][v]);
    }
  }
  const auto vs = V::set1(scale);
#pragma GCC unroll 8
  for (int r = 0; r < QB; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < KV; ++v) V::store(scores + r * KB + v * V::W, V::mul(acc[r][v], vs));
  }
}

// The first `vectors` key vectors of the block (1..KV): under the causal mask most query blocks
// see only the start of their last key block, and scoring keys nobody sees doubled the work.
template <typename V>
CLIPKIT_INLINE void block_scores(const float* q, int64_t stride, int64_t rows, const float* kt,
                                 int64_t tp, int64_t d, float scale, int64_t vectors,
                                 float* scores) {
  switch (vectors) {
    case 1:
      return block_scores_n<V, 1>(q, stride, rows, kt, tp, d, scale, scores);
    case 2:
      return block_scores_n<V, 2>(q, stride, rows, kt, tp, d, scale, scores);
    case 3:
      if constexpr (AttnTile<V>::KV > 3) {
        return block_scores_n<V, 3>(q, stride, rows, kt, tp, d, scale, scores);
      }
      break;
    default:
      break;
  }
  block_scores_n<V, AttnTile<V>::KV>(q, stride, rows, kt, tp, d, scale, scores);
}

// o[r][0..d) += Σ_j p[r][j] · v_j for keys j in [j_begin, j_end) of the block; rows r < QB.
template <typename V>
CLIPKIT_INLINE void accumulate_pv(const float* p, const float* v, int64_t stride, int64_t j_begin,
                                  int64_t j_end, int64_t d, float* o) {
  constexpr int QB = AttnTile<V>::QB;
  constexpr int DV = AttnTile<V>::DV;
  constexpr int64_t KB = AttnTile<V>::KV * V::W;
  for (int64_t c0 = 0; c0 < d; c0 += DV * V::W) {
    const int64_t width = std::min<int64_t>(DV * V::W, d - c0);
    typename V::R acc[QB][DV];
    if (width == DV * V::W) {
#pragma GCC unroll 8
      for (int r = 0; r < QB; ++r) {
#pragma GCC unroll 4
        for (int u = 0; u < DV; ++u) acc[r][u] = V::load(o + r * d + c0 + u * V::W);
      }
      for (int64_t j = j_begin; j < j_end; ++j) {
        typename V::R vr[DV];
#pragma GCC unroll 4
        for (int u = 0; u < DV; ++u) vr[u] = V::load(v + j * stride + c0 + u * V::W);
#pragma GCC unroll 8
        for (int r = 0; r < QB; ++r) {
          const auto pr = V::set1(p[r * KB + j]);
#pragma GCC unroll 4
          for (int u = 0; u < DV; ++u) acc[r][u] = V::fma(pr, vr[u], acc[r][u]);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < QB; ++r) {
#pragma GCC unroll 4
        for (int u = 0; u < DV; ++u) V::store(o + r * d + c0 + u * V::W, acc[r][u]);
      }
    } else {
      // Narrow tail of the head dimension: one (partial) vector at a time.
      for (int64_t c = c0; c < c0 + width; c += V::W) {
        const int64_t n = std::min<int64_t>(V::W, c0 + width - c);
        for (int r = 0; r < QB; ++r) {
          auto a = V::load_partial(o + r * d + c, n);
          for (int64_t j = j_begin; j < j_end; ++j) {
            a = V::fma(V::set1(p[r * KB + j]), V::load_partial(v + j * stride + c, n), a);
          }
          V::store_partial(o + r * d + c, a, n);
        }
      }
    }
  }
}

// Causal diagonal: key j only reaches rows r with i0 + r >= j (a masked row must not see the
// key at all: 0 · NaN would still poison it).
template <typename V>
CLIPKIT_INLINE void accumulate_pv_diagonal(const float* p, const float* v, int64_t stride,
                                           int64_t j0, int64_t i0, int64_t j_begin,
                                           int64_t j_end, int64_t rows, int64_t d, float* o) {
  constexpr int64_t KB = AttnTile<V>::KV * V::W;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t last = std::min(j_end, i0 + r - j0 + 1);
    for (int64_t j = j_begin; j < last; ++j) {
      const auto pr = V::set1(p[r * KB + j]);
      const float* vj = v + (j0 + j) * stride;
      int64_t c = 0;
      for (; c + V::W <= d; c += V::W) {
        V::store(o + r * d + c, V::fma(pr, V::load(vj + c), V::load(o + r * d + c)));
      }
      if (c < d) {
        V::store_partial(o + r * d + c,
                         V::fma(pr, V::load_partial(vj + c, d - c), V::load_partial(o + r * d + c, d - c)),
                         d - c);
      }
    }
  }
}

template <typename V>
CLIPKIT_INLINE void attention_items(const float* q, const float* k, const float* v,
                                    int64_t stride, float* out, int64_t out_stride,
                                    const AttentionShape* s, int64_t begin, int64_t end,
                                    float* scratch) {
  constexpr int QB = AttnTile<V>::QB;
  constexpr int64_t KB = key_block<V>();
  const int64_t t = s->tokens;
  const int64_t d = s->head_dim;
  const int64_t tp = (t + KB - 1) / KB * KB;
  float* kt = scratch;             // [d][tp]: keys as vector lanes
  float* o = kt + d * tp;          // [QB][d]: running output
  float* p = o + QB * d;           // [QB][KB]: scores, then probabilities
  float running_max[QB];
  float running_sum[QB];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / s->heads;
    const int64_t h = item % s->heads;
    const int64_t base = b * t * stride + h * d;
    transpose_keys<V>(k + base, stride, t, tp, d, kt);
    for (int64_t i0 = 0; i0 < t; i0 += QB) {
      const int64_t rows = std::min<int64_t>(QB, t - i0);
      std::fill(o, o + QB * d, 0.0f);
      for (int r = 0; r < QB; ++r) {
        running_max[r] = -std::numeric_limits<float>::infinity();
        running_sum[r] = 0.0f;
      }
      const int64_t key_end = s->causal ? i0 + rows : t;
      for (int64_t j0 = 0; j0 < key_end; j0 += KB) {
        const int64_t nk = std::min(KB, key_end - j0);  // keys of this block anyone may see
        const int64_t nv = (nk + V::W - 1) / V::W;      // vectors of them
        block_scores<V>(q + base + i0 * stride, stride, rows, kt + j0, tp, d, s->scale, nv, p);
        for (int64_t r = 0; r < rows; ++r) {
          float* pr = p + r * KB;
          // Keys past the end, or after this query under the causal mask, get probability 0.
          // (Masked in registers: scalar stores followed by vector loads would stall on
          // store forwarding.)
          const int64_t visible = s->causal ? std::min(nk, i0 + r - j0 + 1) : nk;
          const float neg_inf = -std::numeric_limits<float>::infinity();
          auto vmax = V::set1(neg_inf);
          for (int64_t j = 0; j < nv * V::W; j += V::W) {
            vmax = V::max(vmax, V::keep_first(V::load(pr + j), visible - j, neg_inf));
          }
          const float new_max = simd::max_nan(running_max[r], V::reduce_max(vmax));
          const float correction = std::exp(running_max[r] - new_max);
          const auto vm = V::set1(new_max);
          auto vsum = V::zero();
          for (int64_t j = 0; j < nv * V::W; j += V::W) {
            const auto x = V::keep_first(V::load(pr + j), visible - j, neg_inf);
            const auto e = V::exp(V::sub(x, vm));
            V::store(pr + j, e);
            vsum = V::add(vsum, e);
          }
          running_sum[r] = running_sum[r] * correction + V::reduce_add(vsum);
          running_max[r] = new_max;
          if (correction != 1.0f) {
            const auto vc = V::set1(correction);
            int64_t c = 0;
            for (; c + V::W <= d; c += V::W) V::store(o + r * d + c, V::mul(V::load(o + r * d + c), vc));
            for (; c < d; ++c) o[r * d + c] *= correction;
          }
        }
        // Keys every row of the block may see, then (causal) the diagonal ones.
        const int64_t shared_end = s->causal ? std::min(nk, i0 + 1 - j0) : nk;
        if (shared_end > 0) accumulate_pv<V>(p, v + base + j0 * stride, stride, 0, shared_end, d, o);
        if (s->causal && shared_end < nk) {
          accumulate_pv_diagonal<V>(p, v + base, stride, j0, i0, std::max<int64_t>(shared_end, 0),
                                    nk, rows, d, o);
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* oi = out + (b * t + i0 + r) * out_stride + h * d;
        const auto inv = V::set1(1.0f / running_sum[r]);
        int64_t c = 0;
        for (; c + V::W <= d; c += V::W) V::store(oi + c, V::mul(V::load(o + r * d + c), inv));
        if (c < d) V::store_partial(oi + c, V::mul(V::load_partial(o + r * d + c, d - c), inv), d - c);
      }
    }
  }
}
CLIPKIT_DISPATCH(attention_dispatch, attention_items)

}  // namespace

void attention(const float* q, const float* k, const float* v, int64_t qkv_token_stride,
               float* out, int64_t out_token_stride, const AttentionShape& s) {
  const Isa isa = detected_isa();
  // Enough (batch, head) items per thread that waking the pool (tens of µs) pays off.
  const double item_flops = 4.0 * static_cast<double>(s.tokens) * static_cast<double>(s.tokens) *
                            static_cast<double>(s.head_dim);
  const auto grain = static_cast<int64_t>(2e6 / std::max(item_flops, 1.0)) + 1;
  parallel_for(s.batch * s.heads, [&](int64_t begin, int64_t end) {
    thread_local Scratch scratch;
    float* buf = scratch.floats(static_cast<size_t>(scratch_floats(s.tokens, s.head_dim)));
    attention_dispatch_on(isa, q, k, v, qkv_token_stride, out, out_token_stride, &s, begin, end,
                          buf);
  }, grain);
}

}  // namespace clipkit::cpu
