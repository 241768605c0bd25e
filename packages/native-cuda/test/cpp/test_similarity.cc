// similarity (full matrix, f32/f16 storage) and top-k vs references: exact selection order,
// ties, k = 1 / n / 1024, NaN scores.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "binding/half.h"
#include "clipkit/kernels.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

std::vector<double> scores_ref(const std::vector<float>& a, const std::vector<double>& b,
                               int64_t m, int64_t n, int64_t d, double scale) {
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < d; ++p) s += a[i * d + p] * b[j * d + p];
      out[i * n + j] = scale * s;
    }
  }
  return out;
}

// Ranking used by the kernels: score desc, NaN last, ties -> lower index.
std::vector<int32_t> ranking(const float* scores, int64_t n) {
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    const float a = scores[x], b = scores[y];
    if (std::isnan(a) != std::isnan(b)) return std::isnan(b);
    return !std::isnan(a) && a > b;
  });
  return order;
}

std::string where(Isa isa, int64_t m, int64_t n, int64_t d, int64_t k) {
  return std::string(isa_name(isa)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
         " d=" + std::to_string(d) + " k=" + std::to_string(k);
}

void check_full(Rng& rng, int64_t m, int64_t n, int64_t d) {
  const auto a = random_floats(rng, m * d);
  const auto b = random_floats(rng, n * d);
  std::vector<uint16_t> bh(b.size());
  std::vector<double> bd(b.size()), bhd(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    bd[i] = b[i];
    bh[i] = binding::float_to_half(b[i]);
    bhd[i] = binding::half_to_float(bh[i]);
  }
  const auto ref = scores_ref(a, bd, m, n, d, 2.5);
  const auto ref_h = scores_ref(a, bhd, m, n, d, 2.5);
  for_each_isa([&](Isa isa) {
    std::vector<float> out(static_cast<size_t>(m * n), NAN);
    cpu::similarity_f32(a.data(), b.data(), out.data(), m, n, d, 2.5f);
    const double e32 = rel_error(out, ref);
    std::fill(out.begin(), out.end(), NAN);
    cpu::similarity_f16(a.data(), bh.data(), out.data(), m, n, d, 2.5f);
    const double e16 = rel_error(out, ref_h);
    if (!(e32 <= 2e-6) || !(e16 <= 2e-6)) {
      record_failure(__FILE__, __LINE__,
                     "similarity " + where(isa, m, n, d, 0) + " f32 " + show(e32) + " f16 " +
                         show(e16));
    }
  });
}

// Top-k must equal the first k of the full ranking of the kernel's own scores (exact), and
// those scores must match the reference.
void check_topk(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t n,
                int64_t d, int64_t k) {
  std::vector<double> bd(b.begin(), b.end());
  const auto ref = scores_ref(a, bd, m, n, d, 1.0);
  for_each_isa([&](Isa isa) {
    std::vector<float> full(static_cast<size_t>(m * n));
    cpu::similarity_f32(a.data(), b.data(), full.data(), m, n, d, 1.0f);
    std::vector<int32_t> idx(static_cast<size_t>(m * k), -2);
    std::vector<float> score(static_cast<size_t>(m * k), -2.0f);
    cpu::similarity_topk_f32(a.data(), b.data(), m, n, d, 1.0f, k, idx.data(), score.data());
    for (int64_t i = 0; i < m; ++i) {
      const auto order = ranking(&full[i * n], n);
      for (int64_t r = 0; r < k; ++r) {
        const int32_t got = idx[i * k + r];
        if (got != order[r]) {
          record_failure(__FILE__, __LINE__,
                         "topk order " + where(isa, m, n, d, k) + " query " + std::to_string(i) +
                             " rank " + std::to_string(r) + ": got " + std::to_string(got) +
                             " want " + std::to_string(order[r]));
          return;
        }
        const double want = ref[i * n + got];
        const float s = score[i * k + r];
        const bool ok = std::isnan(want) ? std::isnan(s)
                                         : (s == want || std::fabs(s - want) <=
                                                             1e-5 * (1 + std::fabs(want)));
        if (!ok) {
          record_failure(__FILE__, __LINE__, "topk score " + where(isa, m, n, d, k));
          return;
        }
      }
    }
  });
}

}  // namespace

TEST(similarity_full_matrix_f32_f16) {
  Rng rng(51);
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 5, 3},     {2, 9, 17},   {7, 100, 64},
                               {8, 33, 512}, {20, 301, 77}, {3, 5000, 512}};
  for (const auto& s : shapes) check_full(rng, s[0], s[1], s[2]);
}

TEST(similarity_f16_special_values) {
  // +inf, -inf, NaN, smallest subnormal, largest subnormal, max finite, -0 in b: the widening
// must be exact (checked through a 1-dim dot product with 1.0).
  const std::vector<uint16_t> b = {0x7c00, 0xfc00, 0x7e00, 0x0001, 0x03ff, 0x7bff, 0x8000};
  const std::vector<float> a = {1.0f};
  for_each_isa([&](Isa) {
    std::vector<float> out(b.size());
    cpu::similarity_f16(a.data(), b.data(), out.data(), 1, static_cast<int64_t>(b.size()), 1,
                        1.0f);
    CHECK(out[0] == INFINITY);
    CHECK(out[1] == -INFINITY);
    CHECK(std::isnan(out[2]));
    CHECK_EQ(out[3], std::ldexp(1.0f, -24));
    CHECK_EQ(out[4], std::ldexp(1023.0f, -24));
    CHECK_EQ(out[5], 65504.0f);
    CHECK_EQ(out[6], 0.0f);  // -0 half; the sum itself starts from +0
  });
}

TEST(topk_random_shapes) {
  Rng rng(52);
  const int64_t shapes[][4] = {{1, 1, 1, 1},     {1, 10, 3, 10},  {2, 100, 16, 1},
                               {3, 5000, 32, 7}, {9, 9000, 8, 50}, {1, 20000, 64, 1024},
                               {10, 4097, 5, 4097}, {70, 1500, 512, 20}};
  for (const auto& s : shapes) {
    const auto a = random_floats(rng, s[0] * s[2]);
    const auto b = random_floats(rng, s[1] * s[2]);
    check_topk(a, b, s[0], s[1], s[2], s[3]);
  }
}

TEST(topk_ties_go_to_lower_index) {
  // Rows of b drawn from 5 distinct vectors: most scores are tied.
  Rng rng(53);
  const int64_t n = 12000, d = 16;
  const auto protos = random_floats(rng, 5 * d);
  std::vector<float> b(static_cast<size_t>(n * d));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t p = static_cast<int64_t>(rng.next() % 5);
    std::copy(&protos[p * d], &protos[p * d] + d, &b[j * d]);
  }
  const auto a = random_floats(rng, 2 * d);
  check_topk(a, b, 2, n, d, 1);
  check_topk(a, b, 2, n, d, 1024);
  check_topk(a, b, 2, n, d, n);
}

TEST(topk_nan_scores_rank_last) {
  Rng rng(54);
  const int64_t n = 9000, d = 4;
  auto b = random_floats(rng, n * d);
  for (int64_t j = 0; j < n; j += 3) b[j * d + 1] = NAN;  // a third of the rows score NaN
  b[7 * d] = INFINITY;
  const std::vector<float> a = {1.0f, 0.5f, -1.0f, 2.0f};
  check_topk(a, b, 1, n, d, 10);
  check_topk(a, b, 1, n, d, n);  // every NaN included, after all numbers, by index
  for_each_isa([&](Isa) {
    std::vector<int32_t> idx(10);
    std::vector<float> score(10);
    cpu::similarity_topk_f32(a.data(), b.data(), 1, n, d, 1.0f, 10, idx.data(), score.data());
    CHECK_EQ(idx[0], 7);
    CHECK(score[0] == INFINITY);
  });
}

TEST(topk_f16_matches_f32_of_widened_rows) {
  Rng rng(55);
  const int64_t m = 3, n = 7000, d = 40, k = 25;
  const auto a = random_floats(rng, m * d);
  const auto b = random_floats(rng, n * d);
  std::vector<uint16_t> bh(b.size());
  std::vector<float> widened(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    bh[i] = binding::float_to_half(b[i]);
    widened[i] = binding::half_to_float(bh[i]);
  }
  for_each_isa([&](Isa isa) {
    std::vector<int32_t> i16(m * k), i32(m * k);
    std::vector<float> s16(m * k), s32(m * k);
    cpu::similarity_topk_f16(a.data(), bh.data(), m, n, d, 1.0f, k, i16.data(), s16.data());
    cpu::similarity_topk_f32(a.data(), widened.data(), m, n, d, 1.0f, k, i32.data(), s32.data());
    if (i16 != i32 || s16 != s32) {
      record_failure(__FILE__, __LINE__, std::string("f16 top-k differs from f32 on ") + isa_name(isa));
    }
  });
}

namespace {

// Many-query top-k (the fused kernel) against the float64 reference: exact order of the
// kernel's own scores, scores within tolerance, and no row left out that the reference ranks
// clearly above the k-th. (Its scores round differently from similarity_f32's few-query dot
// products, so near-ties may order differently from that full matrix.)
template <typename B>
void check_topk_many(const std::vector<float>& a, const std::vector<B>& b,
                     const std::vector<double>& bd, int64_t m, int64_t n, int64_t d, int64_t k,
                     float scale) {
  const auto ref = scores_ref(a, bd, m, n, d, scale);
  for_each_isa([&](Isa isa) {
    std::vector<int32_t> idx(static_cast<size_t>(m * k), -2);
    std::vector<float> score(static_cast<size_t>(m * k), -2.0f);
    if constexpr (std::is_same_v<B, float>) {
      cpu::similarity_topk_f32(a.data(), b.data(), m, n, d, scale, k, idx.data(), score.data());
    } else {
      cpu::similarity_topk_f16(a.data(), b.data(), m, n, d, scale, k, idx.data(), score.data());
    }
    const int64_t kept = std::min(k, n);
    for (int64_t i = 0; i < m; ++i) {
      const std::string at = where(isa, m, n, d, k) + " query " + std::to_string(i);
      std::vector<char> taken(static_cast<size_t>(n), 0);
      for (int64_t r = 0; r < k; ++r) {
        const int32_t j = idx[i * k + r];
        const float s = score[i * k + r];
        if (r >= kept) {
          if (j != -1 || !std::isnan(s)) record_failure(__FILE__, __LINE__, "unfilled slot " + at);
          continue;
        }
        if (j < 0 || j >= n || taken[j]) {
          record_failure(__FILE__, __LINE__, "bad or repeated index " + at);
          return;
        }
        taken[j] = 1;
        const double want = ref[i * n + j];
        if (!(std::fabs(s - want) <= 1e-5 * (1 + std::fabs(want)))) {
          record_failure(__FILE__, __LINE__, "score " + at + ": " + show(s) + " want " + show(want));
          return;
        }
        if (r > 0) {
          const float prev = score[i * k + r - 1];
          const bool ordered = prev > s || (prev == s && idx[i * k + r - 1] < j);
          if (!ordered) {
            record_failure(__FILE__, __LINE__, "rank order " + at + " rank " + std::to_string(r));
            return;
          }
        }
      }
      const double bar = ref[i * n + idx[i * k + kept - 1]];
      for (int64_t j = 0; j < n; ++j) {
        if (!taken[j] && ref[i * n + j] > bar + 1e-5 * (1 + std::fabs(bar))) {
          record_failure(__FILE__, __LINE__, "row " + std::to_string(j) + " left out " + at);
          return;
        }
      }
    }
  });
}

}  // namespace

TEST(topk_many_queries_odd_shapes) {
  // Query counts around the vector width and the query group (16, 32, 64 lanes), rows around
  // the 24-row chunks and the two threads' split, depths that leave vector tails.
  Rng rng(56);
  const int64_t shapes[][4] = {{16, 1, 1, 1},    {17, 23, 5, 3},    {31, 24, 17, 24},
                               {33, 25, 16, 30}, {48, 97, 33, 10},  {64, 1000, 512, 10},
                               {65, 777, 77, 7}, {130, 301, 40, 50}, {20, 49, 3, 1}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], d = s[2], k = s[3];
    const auto a = random_floats(rng, m * d);
    const auto b = random_floats(rng, n * d);
    std::vector<uint16_t> bh(b.size());
    std::vector<double> bd(b.begin(), b.end()), bhd(b.size());
    for (size_t i = 0; i < b.size(); ++i) {
      bh[i] = binding::float_to_half(b[i]);
      bhd[i] = binding::half_to_float(bh[i]);
    }
    check_topk_many(a, b, bd, m, n, d, k, 1.0f);
    check_topk_many(a, bh, bhd, m, n, d, k, -0.5f);  // a negative scale reverses the ranking
  }
}

TEST(topk_many_queries_ties_and_nan) {
  // 40 queries over rows drawn from 4 distinct vectors (exact ties, lower index first) with
  // every 5th row NaN: each query's ranking equals the full matrix's, NaN rows last.
  Rng rng(57);
  const int64_t m = 40, n = 3001, d = 19;
  const auto protos = random_floats(rng, 4 * d);
  std::vector<float> b(static_cast<size_t>(n * d));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t p = static_cast<int64_t>(rng.next() % 4);
    std::copy(&protos[p * d], &protos[p * d] + d, &b[j * d]);
    if (j % 5 == 2) b[j * d + 3] = NAN;
  }
  const auto a = random_floats(rng, m * d);
  check_topk(a, b, m, n, d, 1);
  check_topk(a, b, m, n, d, 700);
  check_topk(a, b, m, n, d, n);
}
