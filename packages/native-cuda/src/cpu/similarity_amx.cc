// Many-query top-k, first pass on AMX: every row of b is scored against every query in bf16
// (tdpbf16ps, fp32 sums), and a row is kept for a query only if its score could still reach
// that query's k-th best once the bf16 error is accounted for.
//
// The bound. Let s be the exact kernel's score (an fp32 FMA chain over d, similarity.cc) and t
// this pass's. Both operands are rounded to bf16 (relative error u = 2^-8 each, products exact
// in fp32), and each sum rounds at most d times in fp32 (γ_d ≈ d·2^-24), so
//   |t − s| ≤ (2u + u² + 2.1·d·2^-24)·Σ|q_p·r_p| + (denormals flushed to zero, ≤ d·2^-126 each)
//          ≤ c·‖q‖·‖r‖ + d·2^-118·(1 + ‖r‖)  =: e(q, r)        (Cauchy–Schwarz)
// with c = 1.01·(2^-7 + 2^-16 + 2.1·d·2^-24 + 2^-20). The 1% covers the rounding of the norms
// and of t ± e; the 2^-20 covers scores that differ before scaling and tie after it (they are
// within 2^-22·‖q‖‖r‖ of each other, or 2^-149/scale when subnormal: the 2^-146/scale term).
// For each query the k-th largest lower bound t − e over the rows seen is a bar no exact k-th
// best can be under; a row whose upper bound t + e is below the final bar is not in the top-k
// under any tie order. Rows whose norm is not finite or exceeds 2^20 get an infinite bound (kept
// for every query; the exact pass ranks their NaN/Inf scores), and while a query has fewer than
// k bounds its bar is -inf, so every row is kept. A query that keeps more than its share of rows
// (a zero query ties every row) is dropped from the pass and left to the exact kernel over every
// row.
//
// Layout: a block of 32 rows is rounded to bf16 row-major ([32][kp], the A tiles tmm4, tmm5);
// queries are packed once as B tiles of 16 queries × 32 depths ([16 pairs][16 queries][2],
// each tile 1 KiB in one piece: the GEMM's weight panels, whose tiles interleave 64-byte rows
// at a 128-byte stride, measured 4–8% slower here); tmm0..tmm3 hold 32 rows × 32 queries. Each thread takes a contiguous range of rows and keeps,
// per query, its k largest lower bounds (a heap) and its candidates (row, upper bound).
#include "similarity_amx.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

#include "amx_tiles.h"
#include "clipkit/bf16.h"
#include "gemm_bf16.h"
#include "scratch.h"
#include "threadpool.h"

namespace CLIPKIT_AMX_NAMESPACE {
namespace {

constexpr int64_t kBlockRows = 2 * kTileRows;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kMaxNorm = 1048576.0;  // 2^20

using V = simd::VecAvx512;

// 16 values of a row of b from p, zero past the first `count`.
CLIPKIT_TARGET_AMX inline __m512 load_row(const float* p, int64_t count) {
  return V::load_partial(p, std::max<int64_t>(count, 0));
}
CLIPKIT_TARGET_AMX inline __m512 load_row(const uint16_t* p, int64_t count) {
  return V::load_half_partial(p, std::max<int64_t>(count, 0));
}

// src[0, d) rounded to bf16 into dst[0, kp) (zero past d); returns ‖src‖, or +inf when that is
// not finite or over 2^20. ahead: the same row of the next block, prefetched (null: none).
template <typename T>
CLIPKIT_TARGET_AMX float round_row_norm(const T* src, const T* ahead, int64_t d, int64_t kp,
                                        uint16_t* dst) {
  __m512 ss0 = _mm512_setzero_ps();
  __m512 ss1 = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; p += 32) {
    const __m512 lo = load_row(src + p, d - p);
    const __m512 hi = load_row(src + p + 16, d - p - 16);
    // The hardware prefetchers alone left these loads waiting on memory.
    _mm_prefetch(reinterpret_cast<const char*>(ahead + p), _MM_HINT_T0);
    if (sizeof(T) == 4) _mm_prefetch(reinterpret_cast<const char*>(ahead + p + 16), _MM_HINT_T0);
    ss0 = _mm512_fmadd_ps(lo, lo, ss0);
    ss1 = _mm512_fmadd_ps(hi, hi, ss1);
    _mm512_storeu_si512(dst + p, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  const float norm = std::sqrt(_mm512_reduce_add_ps(_mm512_add_ps(ss0, ss1)));
  return norm <= static_cast<float>(kMaxNorm) ? norm : kInf;
}

// One query's share of a thread's rows.
struct QueryState {
  std::vector<float> bounds;                       // min-heap: the k largest lower bounds
  std::vector<std::pair<int32_t, float>> kept;     // (row, upper bound), rows increasing
};

struct Pass {
  const uint16_t* packed_q;  // [mp/16][kp/32] B tiles of 16 x 32 bf16
  const float* cq;           // [mp]: c·‖q‖, 0 on padding
  int64_t m, mp, d, kp, k;
  float abs_per_row;         // d·2^-118
  float abs_scale;           // 2^-146 / scale
  int64_t cap;               // candidates one query may keep per thread
  std::atomic<int64_t>* unfiltered;  // queries some part stopped filtering (may repeat a query)
};

struct PartState {
  std::vector<QueryState> queries;
  std::vector<float> bars;     // [mp]: the heap's least once it holds k, else -inf
  std::vector<__mmask16> live; // [mp/16]: the queries still filtered (not past the cap)
};

// A candidate (row, ub) with lower bound lb for query q. False: the query keeps too many rows
// (it then needs every row, and this part stops filtering it).
bool keep(const Pass& pass, PartState& st, int64_t q, int32_t row, float ub, float lb) {
  QueryState& qs = st.queries[static_cast<size_t>(q)];
  float& bar = st.bars[static_cast<size_t>(q)];
  if (static_cast<int64_t>(qs.kept.size()) >= pass.cap) {
    // Candidates taken under an older, lower bar.
    const float now = bar;
    qs.kept.erase(std::remove_if(qs.kept.begin(), qs.kept.end(),
                                 [now](const std::pair<int32_t, float>& c) { return c.second < now; }),
                  qs.kept.end());
    if (static_cast<int64_t>(qs.kept.size()) > pass.cap / 2) return false;
  }
  qs.kept.emplace_back(row, ub);
  if (!(lb > bar)) return true;  // NaN, or under the k-th bound
  auto& h = qs.bounds;
  if (static_cast<int64_t>(h.size()) == pass.k) {
    std::pop_heap(h.begin(), h.end(), std::greater<float>());
    h.back() = lb;
  } else {
    h.push_back(lb);
  }
  std::push_heap(h.begin(), h.end(), std::greater<float>());
  if (static_cast<int64_t>(h.size()) == pass.k) bar = h.front();
  return true;
}

template <typename T>
CLIPKIT_TARGET_AMX __attribute__((flatten)) void pass_rows(const Pass& pass, const T* b,
                                                           int64_t j_begin, int64_t j_end,
                                                           PartState& st) {
  thread_local Scratch a_scratch;
  thread_local Scratch c_scratch;
  const int64_t kp = pass.kp, mp = pass.mp, d = pass.d;
  auto* abuf = reinterpret_cast<uint16_t*>(a_scratch.floats(static_cast<size_t>(kBlockRows * kp / 2)));
  float* cbuf = c_scratch.floats(static_cast<size_t>(kBlockRows * mp));
  alignas(64) float norm[kBlockRows];
  alignas(64) float abs_err[kBlockRows];
  const int64_t lda = kp * static_cast<int64_t>(sizeof(uint16_t));
  const int64_t ldc = mp * static_cast<int64_t>(sizeof(float));
  constexpr int64_t kBTile = kTileRows * 32;  // bf16 per B tile
  const int64_t q_vectors = mp / 16;
  configure_tiles();
  for (int64_t j0 = j_begin; j0 < j_end; j0 += kBlockRows) {
    // Past half the queries needing every row, the pass is not worth finishing.
    if (pass.unfiltered->load(std::memory_order_relaxed) > pass.m / 2) return;
    const int64_t rows = std::min(kBlockRows, j_end - j0);
    for (int64_t r = 0; r < kBlockRows; ++r) {
      uint16_t* dst = abuf + r * kp;
      if (r < rows) {
        const T* row = b + (j0 + r) * d;
        norm[r] = round_row_norm(row, j0 + r + kBlockRows < j_end ? row + kBlockRows * d : row,
                                 d, kp, dst);
        abs_err[r] = pass.abs_per_row * (1.0f + norm[r]) + pass.abs_scale;
      } else {
        std::memset(dst, 0, static_cast<size_t>(lda));
      }
    }
    compiler_barrier();  // the rounded rows are in memory before the tile loads read them
    for (int64_t q0 = 0; q0 < mp; q0 += kNr) {
      const uint16_t* bq = pass.packed_q + (q0 / kTileRows) * (kp / 32) * kBTile;
      const uint16_t* bq_hi = bq + (kp / 32) * kBTile;
      CLIPKIT_TILE_ZERO(0);
      CLIPKIT_TILE_ZERO(1);
      CLIPKIT_TILE_ZERO(2);
      CLIPKIT_TILE_ZERO(3);
      for (int64_t p = 0; p < kp; p += 32) {
        CLIPKIT_TILE_LOAD(4, abuf + p, lda);
        CLIPKIT_TILE_LOAD(5, abuf + kTileRows * kp + p, lda);
        CLIPKIT_TILE_LOAD(6, bq + p / 32 * kBTile, 64);
        CLIPKIT_TILE_LOAD(7, bq_hi + p / 32 * kBTile, 64);
        CLIPKIT_TILE_DPBF16PS(0, 4, 6);
        CLIPKIT_TILE_DPBF16PS(1, 4, 7);
        CLIPKIT_TILE_DPBF16PS(2, 5, 6);
        CLIPKIT_TILE_DPBF16PS(3, 5, 7);
      }
      CLIPKIT_TILE_STORE(0, cbuf + q0, ldc);
      CLIPKIT_TILE_STORE(1, cbuf + q0 + kTileRows, ldc);
      CLIPKIT_TILE_STORE(2, cbuf + kTileRows * mp + q0, ldc);
      CLIPKIT_TILE_STORE(3, cbuf + kTileRows * mp + q0 + kTileRows, ldc);
    }
    compiler_barrier();  // and the scores stored before the checks below load them
    for (int64_t r = 0; r < rows; ++r) {
      const __m512 nr = _mm512_set1_ps(norm[r]);
      const __m512 ab = _mm512_set1_ps(abs_err[r]);
      for (int64_t v = 0; v < q_vectors; ++v) {
        const __m512 t = _mm512_loadu_ps(cbuf + r * mp + v * 16);
        const __m512 e = _mm512_fmadd_ps(_mm512_loadu_ps(pass.cq + v * 16), nr, ab);
        const __m512 ub = _mm512_add_ps(t, e);
        // Not below the bar, NaN included.
        __mmask16 hit = _mm512_cmp_ps_mask(ub, _mm512_loadu_ps(st.bars.data() + v * 16), _CMP_NLT_UQ);
        hit &= st.live[static_cast<size_t>(v)];
        if (hit == 0) continue;
        alignas(64) float ubs[16], lbs[16];
        _mm512_store_ps(ubs, ub);
        _mm512_store_ps(lbs, _mm512_sub_ps(t, e));
        for (; hit != 0; hit &= hit - 1) {
          const int lane = __builtin_ctz(hit);
          const int64_t q = v * 16 + lane;
          if (!keep(pass, st, q, static_cast<int32_t>(j0 + r), ubs[lane], lbs[lane])) {
            st.live[static_cast<size_t>(v)] &= static_cast<__mmask16>(~(1u << lane));
            std::vector<std::pair<int32_t, float>>().swap(st.queries[static_cast<size_t>(q)].kept);
            if (pass.unfiltered->fetch_add(1, std::memory_order_relaxed) + 1 > pass.m / 2) return;
          }
        }
      }
    }
  }
}

// Queries rounded to bf16 as B tiles: tile (t, s) holds queries 16t.. and depths 32s.., element
// [pair][query][2]; zero past m and d.
std::vector<uint16_t> pack_queries_bf16(const float* a, int64_t m, int64_t mp, int64_t d,
                                        int64_t kp) {
  const int64_t steps = kp / 32;
  std::vector<uint16_t> packed(static_cast<size_t>(mp * kp), 0);
  for (int64_t i = 0; i < m; ++i) {
    uint16_t* tiles = packed.data() + (i / kTileRows) * steps * kTileRows * 32;
    for (int64_t p = 0; p < d; ++p) {
      const int64_t s = p / 32, pair = (p % 32) / 2, half = p % 2;
      tiles[(s * kTileRows + pair) * 32 + (i % kTileRows) * 2 + half] = float_to_bf16(a[i * d + p]);
    }
  }
  return packed;
}

template <typename T>
bool candidates(const float* a, const T* b, int64_t m, int64_t n, int64_t d, int64_t k,
                float scale, std::vector<int32_t>* rows, std::vector<int32_t>* every_row) {
  if (m <= 0 || n <= 0 || d <= 0 || d > 65536 || k <= 0) return false;
  if (!(scale >= 0x1p-60f && scale <= 0x1p40f)) return false;
  const int64_t mp = panel_count(m) * kNr;
  const int64_t kp = padded_k(d);
  const double c = 1.01 * (0x1p-7 + 0x1p-16 + 2.1 * static_cast<double>(d) * 0x1p-24 + 0x1p-20);
  std::vector<float> cq(static_cast<size_t>(mp), 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    double ss = 0.0;
    for (int64_t p = 0; p < d; ++p) ss += static_cast<double>(a[i * d + p]) * a[i * d + p];
    const double norm = std::sqrt(ss);
    if (!(norm <= kMaxNorm)) return false;
    cq[static_cast<size_t>(i)] = static_cast<float>(c * norm * (1.0 + 0x1p-20));
  }
  const int64_t parts = thread_count();
  // Candidates one query may keep per thread: a few thousand, within 64 MiB for all of them
  // (8 bytes each), and room for at least twice k after a compaction.
  const int64_t cap = std::min<int64_t>(std::max<int64_t>(4096, 8 * k), (int64_t{64} << 20) / (8 * m * parts));
  if (cap < 4 * k) return false;
  const std::vector<uint16_t> packed = pack_queries_bf16(a, m, mp, d, kp);
  std::atomic<int64_t> unfiltered{0};
  const Pass pass{packed.data(), cq.data(), m, mp, d, kp, k,
                  static_cast<float>(static_cast<double>(d) * 0x1p-118),
                  static_cast<float>(0x1p-146 / static_cast<double>(scale)), cap, &unfiltered};
  std::vector<PartState> states(static_cast<size_t>(parts));
  for (PartState& st : states) {
    st.queries.resize(static_cast<size_t>(m));
    st.bars.assign(static_cast<size_t>(mp), -kInf);
    for (int64_t v = 0; v < mp / 16; ++v) st.live.push_back(V::tail_mask(std::max<int64_t>(m - v * 16, 0)));
  }
  const int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
  parallel_for(parts, [&](int64_t part_begin, int64_t part_end) {
    for (int64_t part = part_begin; part < part_end; ++part) {
      const int64_t j0 = std::min(n, blocks * part / parts * kBlockRows);
      const int64_t j1 = std::min(n, blocks * (part + 1) / parts * kBlockRows);
      if (j0 < j1) pass_rows(pass, b, j0, j1, states[static_cast<size_t>(part)]);
    }
  });
  if (unfiltered.load() > m / 2) return false;
  // Each query's bar over all parts: the k-th largest of their lower bounds.
  std::vector<uint64_t> marked(static_cast<size_t>((n + 63) / 64), 0);
  std::vector<float> all;
  every_row->clear();
  for (int64_t i = 0; i < m; ++i) {
    const auto dropped = [i](const PartState& st) {
      return ((st.live[static_cast<size_t>(i / 16)] >> (i % 16)) & 1u) == 0;
    };
    if (std::any_of(states.begin(), states.end(), dropped)) {
      every_row->push_back(static_cast<int32_t>(i));
      continue;
    }
    all.clear();
    for (const PartState& st : states) {
      const auto& h = st.queries[static_cast<size_t>(i)].bounds;
      all.insert(all.end(), h.begin(), h.end());
    }
    float bar = -kInf;
    if (static_cast<int64_t>(all.size()) >= k) {
      std::nth_element(all.begin(), all.begin() + (k - 1), all.end(), std::greater<float>());
      bar = all[static_cast<size_t>(k - 1)];
    }
    for (const PartState& st : states) {
      for (const auto& [row, ub] : st.queries[static_cast<size_t>(i)].kept) {
        if (!(ub < bar)) marked[static_cast<size_t>(row) / 64] |= uint64_t{1} << (row % 64);
      }
    }
  }
  rows->clear();
  for (size_t w = 0; w < marked.size(); ++w) {
    for (uint64_t bits = marked[w]; bits != 0; bits &= bits - 1) {
      rows->push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
    }
  }
  return true;
}

}  // namespace

bool topk_candidates_amx(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         int64_t k, float scale, std::vector<int32_t>* rows,
                         std::vector<int32_t>* every_row) {
  return candidates(a, b, m, n, d, k, scale, rows, every_row);
}

bool topk_candidates_amx(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         int64_t k, float scale, std::vector<int32_t>* rows,
                         std::vector<int32_t>* every_row) {
  return candidates(a, b, m, n, d, k, scale, rows, every_row);
}

}  // namespace CLIPKIT_AMX_NAMESPACE
