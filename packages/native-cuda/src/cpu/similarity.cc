// Similarity of query rows a[m,d] against rows b[n,d] (float32 or half storage): the full
// score matrix, or a per-query top-k that never holds more than a block of scores.
//
// Few queries are memory-bound on b, so they use a dot-product kernel that reads each b row
// once for all queries; many queries go through the blocked GEMM.
#include <algorithm>
#include <limits>
#include <vector>

#include "gemm.h"
#include "scratch.h"
#include "threadpool.h"
#include "topk.h"
#include "vec.h"

namespace clipkit::cpu {
namespace {

// From this many queries the GEMM's register tiling beats streaming dot products.
constexpr int64_t kGemmMinQueries = 8;
// Rows of b scored at once in top-k. Dot products: scores for a block stay in L2. GEMM: the
// packed block of b (block × d floats) stays in L2, so b is read from memory once.
constexpr int64_t kTopkBlock = 4096;
constexpr int64_t kGemmBlockFloats = int64_t{1} << 17;

int64_t topk_block_rows(int64_t m, int64_t d) {
  if (m < kGemmMinQueries) return kTopkBlock;
  return std::max<int64_t>(64, kGemmBlockFloats / std::max<int64_t>(d, 1) / 64 * 64);
}

template <typename V>
CLIPKIT_INLINE typename V::R load_b(const float* p) {
  return V::load(p);
}
template <typename V>
CLIPKIT_INLINE typename V::R load_b(const uint16_t* p) {
  return V::load_half(p);
}
// Tails use masked vector loads, not scalar loops, so float and widened-half storage go
// through identical arithmetic.
template <typename V>
CLIPKIT_INLINE typename V::R load_b_partial(const float* p, int64_t n) {
  return V::load_partial(p, n);
}
template <typename V>
CLIPKIT_INLINE typename V::R load_b_partial(const uint16_t* p, int64_t n) {
  return V::load_half_partial(p, n);
}

// out[i * ldo + j] = scale * a_i · b_j for i < m, j in [j0, j1): four b rows at a time are
// held in L1 while every query passes over them.
template <typename V, typename T>
CLIPKIT_INLINE void dot_scores(const float* a, const T* b, int64_t m, int64_t d, float scale,
                               int64_t j0, int64_t j1, float* out, int64_t ldo) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    const T* b0 = b + j * d;
    for (int64_t i = 0; i < m; ++i) {
      const float* ai = a + i * d;
      auto s0 = V::zero();
      auto s1 = V::zero();
      auto s2 = V::zero();
      auto s3 = V::zero();
      int64_t p = 0;
      for (; p + V::W <= d; p += V::W) {
        const auto av = V::load(ai + p);
        s0 = V::fma(av, load_b<V>(b0 + p), s0);
        s1 = V::fma(av, load_b<V>(b0 + d + p), s1);
        s2 = V::fma(av, load_b<V>(b0 + 2 * d + p), s2);
        s3 = V::fma(av, load_b<V>(b0 + 3 * d + p), s3);
      }
      if (p < d) {
        const int64_t t = d - p;
        const auto av = V::load_partial(ai + p, t);
        s0 = V::fma(av, load_b_partial<V>(b0 + p, t), s0);
        s1 = V::fma(av, load_b_partial<V>(b0 + d + p, t), s1);
        s2 = V::fma(av, load_b_partial<V>(b0 + 2 * d + p, t), s2);
        s3 = V::fma(av, load_b_partial<V>(b0 + 3 * d + p, t), s3);
      }
      float* o = out + i * ldo + (j - j0);
      o[0] = scale * V::reduce_add(s0);
      o[1] = scale * V::reduce_add(s1);
      o[2] = scale * V::reduce_add(s2);
      o[3] = scale * V::reduce_add(s3);
    }
  }
  for (; j < j1; ++j) {
    const T* bj = b + j * d;
    for (int64_t i = 0; i < m; ++i) {
      const float* ai = a + i * d;
      auto s = V::zero();
      int64_t p = 0;
      for (; p + V::W <= d; p += V::W) s = V::fma(V::load(ai + p), load_b<V>(bj + p), s);
      if (p < d) s = V::fma(V::load_partial(ai + p, d - p), load_b_partial<V>(bj + p, d - p), s);
      out[i * ldo + (j - j0)] = scale * V::reduce_add(s);
    }
  }
}
CLIPKIT_DISPATCH(dot_scores_dispatch, dot_scores)

// scores[m, j1 - j0] for rows [j0, j1) of b, on the calling thread's share of the pool.
template <typename T>
void score_block(Isa isa, const float* a, const T* b, int64_t m, int64_t d, float scale,
                 int64_t j0, int64_t j1, float* scores) {
  if (m >= kGemmMinQueries) {
    GemmEpilogue epi;
    epi.scale = scale;
    gemm_nt(a, d, b + j0 * d, d, scores, j1 - j0, m, j1 - j0, d, epi);
  } else {
    dot_scores_dispatch_on(isa, a, b, m, d, scale, j0, j1, scores, j1 - j0);
  }
}

template <typename T>
void similarity_any(const float* a, const T* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale) {
  if (m >= kGemmMinQueries) {
    GemmEpilogue epi;
    epi.scale = scale;
    gemm_nt(a, d, b, d, out, n, m, n, d, epi);
    return;
  }
  const Isa isa = detected_isa();
  parallel_for(
      n,
      [&](int64_t begin, int64_t end) {
        dot_scores_dispatch_on(isa, a, b, m, d, scale, begin, end, out + begin, n);
      },
      64);
}

template <typename T>
void topk_any(const float* a, const T* b, int64_t m, int64_t n, int64_t d, float scale,
              int64_t k, int32_t* idx, float* score) {
  if (m <= 0 || k <= 0) return;
  const Isa isa = detected_isa();
  const int64_t parts = thread_count();
  const int64_t block_rows = topk_block_rows(m, d);
  const int64_t blocks = (n + block_rows - 1) / block_rows;
  // Per part and query: up to k candidates, merged once every part is done.
  std::vector<Candidate> kept(static_cast<size_t>(parts * m * k));
  std::vector<int64_t> kept_count(static_cast<size_t>(parts * m), 0);
  parallel_for(parts, [&](int64_t part_begin, int64_t part_end) {
    thread_local Scratch scores_scratch;
    float* scores = scores_scratch.floats(static_cast<size_t>(m * block_rows));
    for (int64_t part = part_begin; part < part_end; ++part) {
      std::vector<TopK> heaps;
      heaps.reserve(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) heaps.emplace_back(&kept[(part * m + i) * k], k);
      for (int64_t blk = blocks * part / parts; blk < blocks * (part + 1) / parts; ++blk) {
        const int64_t j0 = blk * block_rows;
        const int64_t j1 = std::min(n, j0 + block_rows);
        score_block(isa, a, b, m, d, scale, j0, j1, scores);
        for (int64_t i = 0; i < m; ++i) {
          const float* row = scores + i * (j1 - j0);
          TopK& heap = heaps[static_cast<size_t>(i)];
          for (int64_t j = j0; j < j1; ++j) {
            heap.push_in_order(row[j - j0], static_cast<int32_t>(j));
          }
        }
      }
      for (int64_t i = 0; i < m; ++i) kept_count[part * m + i] = heaps[i].size();
    }
  });
  std::vector<Candidate> merged;
  for (int64_t i = 0; i < m; ++i) {
    merged.clear();
    for (int64_t part = 0; part < parts; ++part) {
      const Candidate* c = &kept[(part * m + i) * k];
      merged.insert(merged.end(), c, c + kept_count[part * m + i]);
    }
    const auto take = std::min<int64_t>(k, static_cast<int64_t>(merged.size()));
    std::partial_sort(merged.begin(), merged.begin() + take, merged.end(), ranks_before);
    for (int64_t r = 0; r < take; ++r) {
      idx[i * k + r] = merged[r].index;
      score[i * k + r] = merged[r].score;
    }
    // k > n: the slots no row of b fills are marked, not left as garbage.
    for (int64_t r = take; r < k; ++r) {
      idx[i * k + r] = -1;
      score[i * k + r] = std::numeric_limits<float>::quiet_NaN();
    }
  }
}

}  // namespace

void similarity_f32(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale) {
  similarity_any(a, b, out, m, n, d, scale);
}

void similarity_f16(const float* a, const uint16_t* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale) {
  similarity_any(a, b, out, m, n, d, scale);
}

void similarity_topk_f32(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score) {
  topk_any(a, b, m, n, d, scale, k, idx, score);
}

void similarity_topk_f16(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score) {
  topk_any(a, b, m, n, d, scale, k, idx, score);
}

}  // namespace clipkit::cpu
