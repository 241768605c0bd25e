// Similarity of query rows a[m,d] against rows b[n,d] (float32 or half storage): the full
// score matrix, or a per-query top-k that never holds more than a block of scores. Scores come
// from the GEMM (which streams b without packing when there are few queries).
#include <algorithm>
#include <limits>
#include <vector>

#include "gemm.h"
#include "scratch.h"
#include "threadpool.h"
#include "topk.h"

namespace clipkit::cpu {
namespace {

// Rows of b scored at once in top-k. Few queries (dot products): the block's scores stay in
// L2. Many (packed GEMM): the packed block of b stays in L2, so b is read from memory once.
constexpr int64_t kTopkBlock = 4096;
constexpr int64_t kGemmBlockFloats = int64_t{1} << 17;

int64_t topk_block_rows(int64_t m, int64_t d) {
  if (m <= kGemmUnpackedMaxRows) return kTopkBlock;
  return std::max<int64_t>(64, kGemmBlockFloats / std::max<int64_t>(d, 1) / 64 * 64);
}

template <typename T>
void similarity_any(const float* a, const T* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale) {
  GemmEpilogue epi;
  epi.scale = scale;
  gemm_nt(a, d, b, d, out, n, m, n, d, epi);
}

template <typename T>
void topk_any(const float* a, const T* b, int64_t m, int64_t n, int64_t d, float scale,
              int64_t k, int32_t* idx, float* score) {
  if (m <= 0 || k <= 0) return;
  GemmEpilogue epi;
  epi.scale = scale;
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
        // Inside a pool job this runs on this thread alone.
        gemm_nt(a, d, b + j0 * d, d, scores, j1 - j0, m, j1 - j0, d, epi);
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
