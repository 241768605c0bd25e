// Similarity of query rows a[m,d] against rows b[n,d] (float32 or half storage): the full
// score matrix, or a per-query top-k that never holds more than a block of scores. Few queries:
// scores come from the GEMM (which streams b without packing) a block at a time. Many queries:
// a fused kernel keeps a tile of scores in registers and only lets the rare score that can
// still enter a query's top-k leave them. On AMX, a bf16 first pass (similarity_amx.cc) picks
// the rows that can hold a query's top-k, and the fused kernel scores only those.
#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "gemm.h"
#include "scratch.h"
#include "similarity_amx.h"
#include "threadpool.h"
#include "topk.h"
#include "vec.h"

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

// ---- Many queries: the fused kernel. ------------------------------------------------------
//
// Queries are the vector lanes: a is packed once as [group][d][G] (G = QV vectors of queries,
// zero-padded), rows of b are broadcast, and an R x QV register tile accumulates R rows of b
// against G queries over the whole depth (one FMA chain per score, like the packed GEMM). b is
// never transposed: half rows are widened into a small per-thread chunk, float rows are read in
// place. Each finished tile is scaled and its per-query maximum compared with that query's bar
// (TopK::bar); only queries whose bar it beats push the tile's scores, in row order.

// From this many queries on, the fused kernel beats the GEMM + score block path.
constexpr int64_t kFusedMinQueries = 16;
// Rows of b widened or addressed at once: a multiple of every tile's R.
constexpr int64_t kChunkRows = 24;

// Accumulators per tile: AVX-512 24 zmm (+ QV query vectors + 1 broadcast <= 32), AVX2 12 ymm
// (+ 2 + 1 <= 16), portable 4 x 8 floats.
template <typename V>
struct FusedTile;
template <>
struct FusedTile<simd::VecAvx512> {
  static constexpr int kMaxQV = 4;
  static constexpr int kAcc = 24;
};
template <>
struct FusedTile<simd::VecAvx2> {
  static constexpr int kMaxQV = 2;
  static constexpr int kAcc = 12;
};
template <>
struct FusedTile<simd::VecPortable> {
  static constexpr int kMaxQV = 1;
  static constexpr int kAcc = 4;
};

struct FusedJob {
  const float* packed_a;  // [groups][d][G]
  const int32_t* ids;     // the rows of b to score, increasing; nullptr: all of them
  int64_t m, n, d, k;
  float scale;
  Candidate* kept;        // [parts][m][k]
  int64_t* kept_count;    // [parts][m]
  int64_t parts;
};

template <typename V>
constexpr int64_t group_queries() {
  return FusedTile<V>::kMaxQV * V::W;
}

// Per thread: the heaps of its part, each query's bar, and a tile's scores when one spills.
struct PartState {
  std::vector<TopK> heaps;
  std::vector<float> bars;
};

template <typename V, int QV, int R>
CLIPKIT_INLINE void fused_tile(const FusedJob& job, const float* at, const float* const* rows,
                               int64_t j0, const int32_t* ids, int64_t valid, int64_t q0,
                               int64_t queries, PartState& st) {
  using Reg = typename V::R;
  constexpr int64_t G = group_queries<V>();
  Reg acc[R][QV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) acc[r][v] = V::zero();
  }
  const float* row[R];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) row[r] = rows[r];
  const int64_t d = job.d;
  for (int64_t p = 0; p < d; ++p) {
    Reg av[QV];
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) av[v] = V::load(at + p * G + v * V::W);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const Reg br = V::set1(row[r][p]);
#pragma GCC unroll 4
      for (int v = 0; v < QV; ++v) acc[r][v] = V::fma(av[v], br, acc[r][v]);
    }
  }
  // Scaled once into memory: the checks below read lanes, and keeping the accumulators
  // live past the loop makes GCC store them on every iteration.
  alignas(64) float tile[R][QV * V::W];
  const Reg sv = V::set1(job.scale);
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < QV; ++v) V::store(tile[r] + v * V::W, V::mul(acc[r][v], sv));
  }
  alignas(64) float top[QV * V::W];
  for (int v = 0; v < QV; ++v) {
    Reg mx = V::load(tile[0] + v * V::W);
    for (int r = 1; r < R; ++r) mx = V::max(mx, V::load(tile[r] + v * V::W));
    V::store(top + v * V::W, mx);
  }
  float* bars = st.bars.data() + q0;
  bool any = false;
  for (int64_t q = 0; q < queries; ++q) any |= !(top[q] <= bars[q]);
  if (!any) return;
  for (int64_t q = 0; q < queries; ++q) {
    if (top[q] <= bars[q]) continue;
    TopK& heap = st.heaps[static_cast<size_t>(q0 + q)];
    for (int64_t r = 0; r < valid; ++r) {
      heap.push_in_order(tile[r][q], ids != nullptr ? ids[r] : static_cast<int32_t>(j0 + r));
    }
    bars[q] = heap.bar();
  }
}

// A chunk's rows (rows[r]; the missing ones repeat the last real row) against one query group,
// in R-row tiles. Row indices: j0 + r, or ids[r] when ids is set.
template <typename V, int QV>
CLIPKIT_INLINE void fused_group(const FusedJob& job, const float* at, const float* const* rows,
                                int64_t j0, const int32_t* ids, int64_t count, int64_t q0,
                                int64_t queries, PartState& st) {
  constexpr int R = FusedTile<V>::kAcc / QV;
  static_assert(kChunkRows % R == 0, "a chunk holds whole tiles");
  for (int64_t r = 0; r < count; r += R) {
    fused_tile<V, QV, R>(job, at, rows + r, j0 + r, ids != nullptr ? ids + r : nullptr,
                         std::min<int64_t>(R, count - r), q0, queries, st);
  }
}

template <typename V, typename T>
CLIPKIT_INLINE void fused_rows(const FusedJob* job, const T* b, int64_t part, int64_t j_begin,
                               int64_t j_end) {
  constexpr int64_t G = group_queries<V>();
  const int64_t m = job->m, d = job->d, k = job->k;
  PartState st;
  st.heaps.reserve(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) st.heaps.emplace_back(&job->kept[(part * m + i) * k], k);
  st.bars.assign(static_cast<size_t>(m), std::numeric_limits<float>::quiet_NaN());
  // Half rows are widened into a chunk that stays in L1/L2; float rows are read in place.
  thread_local Scratch widened_scratch;
  float* widened = std::is_same_v<T, float>
                       ? nullptr
                       : widened_scratch.floats(static_cast<size_t>(kChunkRows * d));
  const float* rows[kChunkRows];
  for (int64_t j0 = j_begin; j0 < j_end; j0 += kChunkRows) {
    const int64_t count = std::min(kChunkRows, j_end - j0);
    const int32_t* ids = job->ids != nullptr ? job->ids + j0 : nullptr;
    for (int64_t r = 0; r < count; ++r) {
      const T* src = b + (ids != nullptr ? ids[r] : j0 + r) * d;
      if constexpr (std::is_same_v<T, float>) {
        rows[r] = src;
      } else {
        float* dst = widened + r * d;
        int64_t p = 0;
        for (; p + V::W <= d; p += V::W) V::store(dst + p, V::load_half(src + p));
        if (p < d) V::store_partial(dst + p, V::load_half_partial(src + p, d - p), d - p);
        rows[r] = dst;
      }
    }
    for (int64_t r = count; r < kChunkRows; ++r) rows[r] = rows[count - 1];
    for (int64_t q0 = 0; q0 < m; q0 += G) {
      const float* at = job->packed_a + q0 * d;
      const int64_t queries = std::min(G, m - q0);
      switch ((queries + V::W - 1) / V::W) {
        case 1: fused_group<V, 1>(*job, at, rows, j0, ids, count, q0, queries, st); break;
        case 2: if constexpr (FusedTile<V>::kMaxQV >= 2) fused_group<V, 2>(*job, at, rows, j0, ids, count, q0, queries, st); break;
        case 3: if constexpr (FusedTile<V>::kMaxQV >= 3) fused_group<V, 3>(*job, at, rows, j0, ids, count, q0, queries, st); break;
        default: if constexpr (FusedTile<V>::kMaxQV >= 4) fused_group<V, 4>(*job, at, rows, j0, ids, count, q0, queries, st); break;
      }
    }
  }
  for (int64_t i = 0; i < m; ++i) job->kept_count[part * m + i] = st.heaps[i].size();
}

template <typename V>
CLIPKIT_INLINE void fused_rows_f32(const FusedJob* job, const float* b, int64_t part,
                                   int64_t j0, int64_t j1) {
  fused_rows<V, float>(job, b, part, j0, j1);
}
template <typename V>
CLIPKIT_INLINE void fused_rows_f16(const FusedJob* job, const uint16_t* b, int64_t part,
                                   int64_t j0, int64_t j1) {
  fused_rows<V, uint16_t>(job, b, part, j0, j1);
}
CLIPKIT_DISPATCH(fused_rows_f32_dispatch, fused_rows_f32)
CLIPKIT_DISPATCH(fused_rows_f16_dispatch, fused_rows_f16)

void fused_rows_on(Isa isa, const FusedJob* job, const float* b, int64_t part, int64_t j0,
                   int64_t j1) {
  fused_rows_f32_dispatch_on(isa, job, b, part, j0, j1);
}
void fused_rows_on(Isa isa, const FusedJob* job, const uint16_t* b, int64_t part, int64_t j0,
                   int64_t j1) {
  fused_rows_f16_dispatch_on(isa, job, b, part, j0, j1);
}

int64_t group_queries_on(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return group_queries<simd::VecAvx512>();
    case Isa::Avx2: return group_queries<simd::VecAvx2>();
    case Isa::Generic: break;
  }
  return group_queries<simd::VecPortable>();
}

// Query groups of G, each as [d][G] with the missing queries zero.
std::vector<float> pack_queries(const float* a, int64_t m, int64_t d, int64_t g) {
  const int64_t groups = (m + g - 1) / g;
  std::vector<float> packed(static_cast<size_t>(groups * d * g), 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    float* dst = packed.data() + (i / g) * d * g + i % g;
    for (int64_t p = 0; p < d; ++p) dst[p * g] = a[i * d + p];
  }
  return packed;
}

// Each part's candidates merged into idx/score: the k best per query in rank order.
void merge_parts(const std::vector<Candidate>& kept, const std::vector<int64_t>& kept_count,
                 int64_t parts, int64_t m, int64_t k, int32_t* idx, float* score) {
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

// The AMX first pass (tile-rate bf16, then the fused kernel on the few rows it keeps) pays
// off once rows far outnumber the k kept per query.
bool amx_first_pass(Isa isa, int64_t n, int64_t k) {
  return isa == Isa::Avx512 && n >= 64 * k && bf16_path() == Bf16Path::Amx;
}

// The fused kernel for queries a[m,d] over the rows of b: all n, or ids[0, count) (increasing)
// when ids is set.
template <typename T>
void fused_topk(Isa isa, const float* a, const T* b, int64_t m, int64_t n, int64_t d, float scale,
                int64_t k, const int32_t* ids, int64_t count, int32_t* idx, float* score) {
  const int64_t rows = ids != nullptr ? count : n;
  const int64_t parts = thread_count();
  const std::vector<float> packed = pack_queries(a, m, d, group_queries_on(isa));
  std::vector<Candidate> kept(static_cast<size_t>(parts * m * k));
  std::vector<int64_t> kept_count(static_cast<size_t>(parts * m), 0);
  const FusedJob job{packed.data(), ids, m, n, d, k, scale, kept.data(), kept_count.data(), parts};
  parallel_for(parts, [&](int64_t part_begin, int64_t part_end) {
    for (int64_t part = part_begin; part < part_end; ++part) {
      // Whole chunks per part, so only the last chunk of b is short.
      const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
      const int64_t j0 = std::min(rows, chunks * part / parts * kChunkRows);
      const int64_t j1 = std::min(rows, chunks * (part + 1) / parts * kChunkRows);
      if (j0 < j1) fused_rows_on(isa, &job, b, part, j0, j1);
    }
  });
  merge_parts(kept, kept_count, parts, m, k, idx, score);
}

// Many queries: on AMX the first pass picks the rows, the fused kernel scores them (and every
// row for the queries the pass could not filter); elsewhere the fused kernel scores every row.
// Each query's answer depends only on its own scores, so the split changes nothing.
template <typename T>
void topk_fused(const float* a, const T* b, int64_t m, int64_t n, int64_t d, float scale,
                int64_t k, int32_t* idx, float* score) {
  const Isa isa = detected_isa();
  if (amx_first_pass(isa, n, k)) {
    TopkCounters& counters = topk_counters();
    counters.amx_passes.fetch_add(1, std::memory_order_relaxed);
    std::vector<int32_t> ids, every_row;
    if (bf16::topk_candidates_amx(a, b, m, n, d, k, scale, &ids, &every_row)) {
      const auto u = static_cast<int64_t>(every_row.size());
      counters.rescored_rows.fetch_add(static_cast<int64_t>(ids.size()), std::memory_order_relaxed);
      counters.unfiltered_queries.fetch_add(u, std::memory_order_relaxed);
      // All queries over the kept rows; the unfiltered ones' answers are replaced below (scoring
      // them over the few kept rows costs less than packing the other queries apart).
      fused_topk(isa, a, b, m, n, d, scale, k, ids.data(), static_cast<int64_t>(ids.size()), idx,
                 score);
      if (u == 0) return;
      std::vector<float> sub(static_cast<size_t>(u * d));
      for (int64_t q = 0; q < u; ++q) {
        std::copy_n(a + every_row[static_cast<size_t>(q)] * d, d, sub.data() + q * d);
      }
      std::vector<int32_t> sub_idx(static_cast<size_t>(u * k));
      std::vector<float> sub_score(static_cast<size_t>(u * k));
      fused_topk(isa, sub.data(), b, u, n, d, scale, k, nullptr, 0, sub_idx.data(), sub_score.data());
      for (int64_t q = 0; q < u; ++q) {
        const int64_t i = every_row[static_cast<size_t>(q)];
        std::copy_n(sub_idx.data() + q * k, k, idx + i * k);
        std::copy_n(sub_score.data() + q * k, k, score + i * k);
      }
      return;
    }
    counters.amx_gave_up.fetch_add(1, std::memory_order_relaxed);
  }
  fused_topk(isa, a, b, m, n, d, scale, k, nullptr, 0, idx, score);
}

template <typename T>
void topk_any(const float* a, const T* b, int64_t m, int64_t n, int64_t d, float scale,
              int64_t k, int32_t* idx, float* score) {
  if (m <= 0 || k <= 0) return;
  if (m >= kFusedMinQueries) {
    topk_fused(a, b, m, n, d, scale, k, idx, score);
    return;
  }
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
  merge_parts(kept, kept_count, parts, m, k, idx, score);
}

}  // namespace

TopkCounters& topk_counters() {
  static TopkCounters counters;
  return counters;
}

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
