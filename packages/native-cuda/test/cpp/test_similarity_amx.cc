// The many-query top-k with its AMX first pass: the answer must equal, bit for bit, the fused
// fp32 kernel's over every row (indices, scores, tie order, NaN placement), and the first pass
// must really have cut the rows down (or said it gave up). Real tiles where the CPU has AMX;
// the pass's layouts are also run over the software tile model (amx_model.h) everywhere.
#include "amx_model.h"
// The first pass itself, its tile instructions routed to the model (namespace ...::bf16::model).
#include "cpu/similarity_amx.cc"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "binding/half.h"
#include "clipkit/kernels.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

struct Answer {
  std::vector<int32_t> idx;
  std::vector<float> score;
};

template <typename B>
Answer topk(const std::vector<float>& a, const std::vector<B>& b, int64_t m, int64_t n,
            int64_t d, int64_t k, float scale) {
  Answer out{std::vector<int32_t>(static_cast<size_t>(m * k), -2),
             std::vector<float>(static_cast<size_t>(m * k), -2.0f)};
  if constexpr (std::is_same_v<B, float>) {
    cpu::similarity_topk_f32(a.data(), b.data(), m, n, d, scale, k, out.idx.data(), out.score.data());
  } else {
    cpu::similarity_topk_f16(a.data(), b.data(), m, n, d, scale, k, out.idx.data(), out.score.data());
  }
  return out;
}

bool same(const Answer& x, const Answer& y) {
  if (x.idx != y.idx) return false;
  for (size_t i = 0; i < x.score.size(); ++i) {
    const bool both_nan = std::isnan(x.score[i]) && std::isnan(y.score[i]);
    if (!both_nan && x.score[i] != y.score[i]) return false;
  }
  return true;
}

std::vector<uint16_t> to_half(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = binding::float_to_half(v[i]);
  return h;
}

void require_amx() {
  if (cpu::bf16_hardware() != Bf16Path::Amx) {
    SKIP(std::string("this CPU has no AMX-BF16 (bf16 hardware path: ") +
         bf16_path_name(cpu::bf16_hardware()) + "); the first pass runs on the tile model below");
  }
  cpu::use_isa(cpu::hardware_isa());
  cpu::use_bf16_path(Bf16Path::Amx);
  if (cpu::bf16_path() != Bf16Path::Amx) SKIP("AMX is on this CPU but capped: " + cpu::bf16_note());
}

// What the first pass should do: filter every query; filter most and leave `unfiltered` queries
// to the exact kernel over every row; or give up.
enum class Expect { Filtered, SomeUnfiltered, GivesUp };

// One case through both paths: AMX first pass + exact rows, and the fused kernel over every row
// (bf16 path capped below AMX). Checks they agree bit for bit and what the first pass did.
template <typename B>
void check_case(const std::string& name, const std::vector<float>& a, const std::vector<B>& b,
                int64_t m, int64_t n, int64_t d, int64_t k, float scale, Expect expect,
                int64_t unfiltered = 0) {
  cpu::TopkCounters& c = cpu::topk_counters();
  const int64_t passes = c.amx_passes.load(), gave_up = c.amx_gave_up.load();
  const int64_t rescored = c.rescored_rows.load(), left = c.unfiltered_queries.load();
  const Answer fast = topk(a, b, m, n, d, k, scale);
  const int64_t ran = c.amx_passes.load() - passes;
  const int64_t quit = c.amx_gave_up.load() - gave_up;
  const int64_t rows = c.rescored_rows.load() - rescored;
  const int64_t everything = c.unfiltered_queries.load() - left;
  cpu::use_bf16_path(Bf16Path::Avx512Bf16);
  const Answer exact = topk(a, b, m, n, d, k, scale);
  const int64_t ran_capped = c.amx_passes.load() - passes - ran;
  cpu::use_bf16_path(Bf16Path::Amx);
  const std::string at = name + (std::is_same_v<B, float> ? " f32" : " f16") + " m=" +
                         std::to_string(m) + " n=" + std::to_string(n) + " d=" + std::to_string(d) +
                         " k=" + std::to_string(k) + " scale=" + show(scale);
  if (ran != 1 || ran_capped != 0) {
    record_failure(__FILE__, __LINE__, at + ": first pass ran " + std::to_string(ran) +
                                           " times with AMX, " + std::to_string(ran_capped) +
                                           " without");
    return;
  }
  const int64_t want_unfiltered = expect == Expect::SomeUnfiltered ? unfiltered : 0;
  if (expect != Expect::GivesUp &&
      (quit != 0 || rows <= 0 || rows >= n || everything != want_unfiltered)) {
    record_failure(__FILE__, __LINE__, at + ": expected the first pass to drop rows, gave up " +
                                           std::to_string(quit) + ", kept " + std::to_string(rows) +
                                           ", left " + std::to_string(everything) + " queries (want " +
                                           std::to_string(want_unfiltered) + ")");
  }
  if (expect == Expect::GivesUp && quit != 1) {
    record_failure(__FILE__, __LINE__, at + ": expected the first pass to give up");
  }
  if (!same(fast, exact)) {
    for (size_t i = 0; i < fast.idx.size(); ++i) {
      if (fast.idx[i] != exact.idx[i] || !(fast.score[i] == exact.score[i] ||
                                           (std::isnan(fast.score[i]) && std::isnan(exact.score[i])))) {
        record_failure(__FILE__, __LINE__,
                       at + ": query " + std::to_string(i / k) + " rank " + std::to_string(i % k) +
                           ": AMX path " + std::to_string(fast.idx[i]) + " " + show(fast.score[i]) +
                           ", fused kernel " + std::to_string(exact.idx[i]) + " " + show(exact.score[i]));
        return;
      }
    }
  }
}

// The case with b stored as f32 and again as f16.
void check_f32_and_f16(const std::string& name, const std::vector<float>& a,
                       const std::vector<float>& b, int64_t m, int64_t n, int64_t d, int64_t k,
                       Expect expect, int64_t unfiltered = 0) {
  check_case(name, a, b, m, n, d, k, 1.0f, expect, unfiltered);
  check_case(name, a, to_half(b), m, n, d, k, 1.0f, expect, unfiltered);
}

// n rows, each a copy of one of `distinct` random unit-ish vectors plus noise of relative size
// `noise`: close scores whose bf16 order differs from their exact order.
std::vector<float> clustered_rows(Rng& rng, int64_t n, int64_t d, int64_t distinct, float noise) {
  const auto protos = random_normals(rng, static_cast<size_t>(distinct * d), 1.0f / std::sqrt(static_cast<float>(d)));
  std::vector<float> b(static_cast<size_t>(n * d));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t p = rng.range(0, distinct - 1);
    for (int64_t t = 0; t < d; ++t) {
      b[j * d + t] = protos[p * d + t] * (1.0f + (noise > 0 ? noise * rng.normal() : 0.0f));
    }
  }
  return b;
}

// Rounding that ranks the wrong rows first in bf16, by close to the bound: every query is
// (1 + 2^-8 - e, 1 + 2^-8 + e), rounded to (1, 1 + 2^-7). The first `top` rows are (1, 0): exact
// score 1.0039, bf16 1. The next `crowd` rows are (0, 1 - 2^-11): exact 1.0034, bf16 1.0078. The
// rest are small. The exact top-k is the first rows; a bound short of ~2^-7 drops them.
struct Adversarial {
  std::vector<float> a, b;
  int64_t m, n, d = 2;
};
Adversarial adversarial(Rng& rng, int64_t m, int64_t top, int64_t crowd, int64_t rest) {
  Adversarial x{{}, {}, m, top + crowd + rest};
  for (int64_t i = 0; i < m; ++i) {
    x.a.push_back(1.0f + 0x1p-8f - 0x1p-16f);
    x.a.push_back(1.0f + 0x1p-8f + 0x1p-16f);
  }
  for (int64_t j = 0; j < x.n; ++j) {
    if (j < top) {
      x.b.insert(x.b.end(), {1.0f, 0.0f});
    } else if (j < top + crowd) {
      x.b.insert(x.b.end(), {0.0f, 1.0f - 0x1p-11f});
    } else {
      x.b.insert(x.b.end(), {0.25f * rng.uniform(), 0.25f * rng.uniform()});
    }
  }
  return x;
}

}  // namespace

TEST(topk_amx_adversarial_rounding) {
  require_amx();
  Rng rng(906);
  const Adversarial x = adversarial(rng, 16, 10, 3000, 5000);
  check_f32_and_f16("adversarial rounding", x.a, x.b, x.m, x.n, x.d, 10, Expect::Filtered);
}

TEST(topk_amx_random_shapes_equal_fused) {
  require_amx();
  Rng rng(900);
  // Query counts off the 16/32 tile widths, depths off the 32-deep steps, rows off the 32-row
  // blocks and the threads' split.
  const int64_t shapes[][4] = {{16, 1024, 512, 10}, {17, 4099, 33, 1}, {64, 20011, 512, 10},
                               {40, 9000, 3, 5},    {100, 7001, 77, 50}, {33, 2048, 1, 3}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], d = s[2], k = s[3];
    const auto a = random_normals(rng, static_cast<size_t>(m * d));
    const auto b = random_normals(rng, static_cast<size_t>(n * d));
    check_case("random", a, b, m, n, d, k, 1.0f, Expect::Filtered);
    check_case("random", a, to_half(b), m, n, d, k, 0.01f, Expect::Filtered);
    check_case("random", a, to_half(b), m, n, d, k, 100.0f, Expect::Filtered);
  }
}

TEST(topk_amx_near_ties_and_exact_ties) {
  require_amx();
  Rng rng(901);
  const int64_t m = 32, n = 20000, d = 512, k = 10;
  const auto a = random_normals(rng, static_cast<size_t>(m * d));
  // 200 directions x ~100 copies each, 2^-9 apart: bf16 cannot order the copies, fp32 can.
  const auto near = clustered_rows(rng, n, d, 200, 0x1p-9f);
  check_f32_and_f16("near ties", a, near, m, n, d, k, Expect::Filtered);
  // Exact copies: the top-k is a run of equal scores, lower index first.
  const auto copies = clustered_rows(rng, n, d, 1000, 0.0f);
  check_f32_and_f16("exact ties", a, copies, m, n, d, k, Expect::Filtered);
}

TEST(topk_amx_special_rows_and_queries) {
  require_amx();
  Rng rng(902);
  const int64_t m = 20, n = 8192, d = 64, k = 10;
  const auto a = random_normals(rng, static_cast<size_t>(m * d));
  auto b = random_normals(rng, static_cast<size_t>(n * d));
  for (int64_t j = 0; j < n; j += 97) b[j * d + j % d] = NAN;
  for (int64_t j = 5; j < n; j += 389) b[j * d] = INFINITY;
  for (int64_t j = 7; j < n; j += 401) b[j * d + 1] = -INFINITY;
  for (int64_t j = 11; j < n; j += 503) {
    // Norm over 2^20 (±inf once stored as f16).
    for (int64_t p = 0; p < d; ++p) b[j * d + p] = 1e6f * (p % 3 == 0 ? 1.0f : -1.0f);
  }
  for (int64_t j = 13; j < n; j += 211) {
    for (int64_t p = 0; p < d; ++p) b[j * d + p] *= 0x1p-20f;  // f16 subnormals
  }
  check_f32_and_f16("special rows", a, b, m, n, d, k, Expect::Filtered);
  // Queries or scales the bound does not cover: the pass declines, the answer is unchanged.
  auto huge = a;
  huge[3 * d] = 3e6f;
  check_case("huge query", huge, to_half(b), m, n, d, k, 1.0f, Expect::GivesUp);
  auto nan_query = a;
  nan_query[4 * d + 2] = NAN;
  check_case("NaN query", nan_query, to_half(b), m, n, d, k, 1.0f, Expect::GivesUp);
  check_case("negative scale", a, to_half(b), m, n, d, k, -1.0f, Expect::GivesUp);
  check_case("tiny scale", a, to_half(b), m, n, d, k, 1e-30f, Expect::GivesUp);
}

TEST(topk_amx_queries_that_tie_every_row) {
  require_amx();
  Rng rng(907);
  const int64_t m = 20, n = 20000, d = 64, k = 10;
  auto a = random_normals(rng, static_cast<size_t>(m * d));
  const auto b = random_normals(rng, static_cast<size_t>(n * d));
  // A zero query scores 0 against every row, and a subnormal one's bound is all absolute term:
  // each keeps every row past the cap, and gets the exact kernel over every row; the rest are
  // still filtered.
  std::fill(a.begin() + 2 * d, a.begin() + 3 * d, 0.0f);
  for (int64_t p = 0; p < d; ++p) a[5 * d + p] = (p % 2 ? 1 : -1) * 0x1p-140f;
  check_f32_and_f16("zero and subnormal queries", a, b, m, n, d, k, Expect::SomeUnfiltered, 2);
  // Over half the queries like that: the pass gives up.
  for (int64_t i = 0; i < 11; ++i) std::fill(a.begin() + i * d, a.begin() + (i + 1) * d, 0.0f);
  check_case("mostly zero queries", a, to_half(b), m, n, d, k, 1.0f, Expect::GivesUp);
}

TEST(topk_amx_gives_up_when_rows_tie) {
  require_amx();
  Rng rng(903);
  const int64_t m = 16, n = 40000, d = 32, k = 5;
  const auto a = random_normals(rng, static_cast<size_t>(m * d));
  // Every row the same: every row stays a candidate, the pass gives up, the fused kernel answers.
  const auto b = clustered_rows(rng, n, d, 1, 0.0f);
  check_case("all rows equal", a, to_half(b), m, n, d, k, 1.0f, Expect::GivesUp);
  // Thousands of queries with a large k: their candidate lists would not fit the pass's memory
  // budget, so it declines before allocating them.
  const int64_t many = 1024, k_large = 1100, rows = 64 * k_large;
  const auto qs = random_normals(rng, static_cast<size_t>(many * 2));
  const auto bs = random_normals(rng, static_cast<size_t>(rows * 2));
  check_case("memory budget", qs, to_half(bs), many, rows, 2, k_large, 1.0f, Expect::GivesUp);
}

TEST(topk_amx_not_used_for_few_rows_or_queries) {
  require_amx();
  Rng rng(904);
  const int64_t n = 1000, d = 16;
  const auto b = random_normals(rng, static_cast<size_t>(n * d));
  const int64_t before = cpu::topk_counters().amx_passes.load();
  const auto a = random_normals(rng, static_cast<size_t>(64 * d));
  topk(a, b, 64, n, d, 16, 1.0f);  // n < 64 k
  topk(a, b, 15, n, d, 1, 1.0f);   // few queries: the GEMM path
  CHECK(cpu::topk_counters().amx_passes.load() == before);
}

TEST(topk_amx_first_pass_on_tile_model) {
  // The first pass's layouts on the software tiles (any CPU with AVX512_BF16): its candidates
  // must hold every row of the exact top-k, and be few.
  if (!cpu::bf16::cpu_has_avx512_bf16()) SKIP("the first pass's operand code needs AVX512_BF16, which this CPU lacks");
  Rng rng(905);
  const int64_t shapes[][4] = {{16, 700, 40, 5}, {33, 1500, 70, 3}, {20, 333, 7, 1}, {16, 900, 2, 10}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], d = s[2], k = s[3];
    // d = 2: the adversarial rounding case.
    const Adversarial adv = adversarial(rng, m, k, n / 3, n - k - n / 3);
    const auto a = d == 2 ? adv.a : random_normals(rng, static_cast<size_t>(m * d));
    const auto b = to_half(d == 2 ? adv.b : clustered_rows(rng, n, d, n / 4, 0x1p-8f));
    std::vector<int32_t> rows, every_row;
    const bool ok = cpu::bf16::model::topk_candidates_amx(a.data(), b.data(), m, n, d, k, 1.0f, &rows, &every_row);
    const std::string at = "m=" + std::to_string(m) + " n=" + std::to_string(n) + " d=" + std::to_string(d);
    if (!ok || !every_row.empty()) {
      record_failure(__FILE__, __LINE__, "tile model first pass gave up or left queries " + at);
      continue;
    }
    if (!(static_cast<int64_t>(rows.size()) < (d == 2 ? n : n / 2))) {
      record_failure(__FILE__, __LINE__, "tile model kept " + std::to_string(rows.size()) + " rows " + at);
    }
    cpu::use_bf16_path(Bf16Path::Avx512Bf16);  // the fused kernel over every row
    const Answer exact = topk(a, b, m, n, d, k, 1.0f);
    cpu::use_bf16_path(Bf16Path::Amx);
    std::vector<char> kept(static_cast<size_t>(n), 0);
    for (int32_t r : rows) kept[static_cast<size_t>(r)] = 1;
    for (int32_t j : exact.idx) {
      if (j < 0 || !kept[static_cast<size_t>(j)]) {
        record_failure(__FILE__, __LINE__, "tile model dropped top-k row " + std::to_string(j) + " " + at);
        break;
      }
    }
  }
}
