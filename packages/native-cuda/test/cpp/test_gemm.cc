// linear(): blocked GEMM with fused epilogue vs a double-precision reference.
#include <cmath>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "clipkit/kernels.h"
#include "cpu/gemm.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

std::vector<double> linear_ref(const std::vector<float>& x, const std::vector<float>& w,
                               const float* bias, const float* residual, int64_t m, int64_t n,
                               int64_t k, Activation act) {
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        s += static_cast<double>(x[i * k + p]) * static_cast<double>(w[j * k + p]);
      }
      if (bias != nullptr) s += bias[j];
      s = act_ref(s, act);
      if (residual != nullptr) s += residual[i * n + j];
      out[i * n + j] = s;
    }
  }
  return out;
}

struct Shape {
  int64_t m, n, k;
};

void check_shape(Rng& rng, const Shape& s, Activation act, bool with_bias, bool with_residual,
                 bool alias_residual) {
  const auto x = random_floats(rng, s.m * s.k);
  const auto w = random_floats(rng, s.n * s.k, -0.5f, 0.5f);
  const auto bias = random_floats(rng, s.n);
  const auto residual = random_floats(rng, s.m * s.n);
  const float* b = with_bias ? bias.data() : nullptr;
  const float* r = with_residual ? residual.data() : nullptr;
  const auto ref = linear_ref(x, w, b, r, s.m, s.n, s.k, act);
  for_each_isa([&](Isa isa) {
    std::vector<float> out(static_cast<size_t>(s.m * s.n), NAN);
    if (alias_residual) out = residual;
    cpu::linear(x.data(), w.data(), b, alias_residual ? out.data() : r, out.data(), s.m, s.n,
                s.k, act);
    CHECK_REL_MSG(out, ref, 2e-6 * std::sqrt(static_cast<double>(s.k) / 64.0) + 1e-6,
                  std::string("linear ") + isa_name(isa) + " " + dims({s.m, s.n, s.k}) +
                      " act=" + std::to_string(static_cast<int>(act)));
  });
}

}  // namespace

TEST(gemm_odd_and_edge_shapes) {
  Rng rng(1);
  const Shape shapes[] = {{1, 1, 1},     {1, 7, 3},     {3, 1, 5},     {14, 32, 16},
                          {15, 33, 17},  {13, 31, 257}, {29, 65, 300}, {50, 96, 64},
                          {2, 1000, 9},  {200, 47, 513}, {65, 33, 17}, {99, 97, 1},
                          {113, 200, 250}};
  for (const auto& s : shapes) check_shape(rng, s, Activation::None, false, false, false);
}

// Row counts on either side of the switch between the unpacked and the packed GEMM path.
const int64_t kFewRows = cpu::kGemmUnpackedMaxRows / 2 + 1;
const int64_t kManyRows = cpu::kGemmUnpackedMaxRows + 27;

TEST(gemm_epilogues) {
  Rng rng(2);
  const Activation acts[] = {Activation::None, Activation::QuickGelu, Activation::GeluErf};
  for (const auto act : acts) {
    for (const int64_t m : {kFewRows, kManyRows}) {
      check_shape(rng, {m, 53, 70}, act, true, false, false);
      check_shape(rng, {m, 53, 70}, act, true, true, false);
      check_shape(rng, {m, 40, 300}, act, false, true, false);
    }
  }
}

TEST(gemm_out_aliases_residual) {
  Rng rng(3);
  for (const int64_t m : {kFewRows, kManyRows}) {
    check_shape(rng, {m, 70, 600}, Activation::None, true, true, true);
    check_shape(rng, {m, 70, 600}, Activation::QuickGelu, true, true, true);
  }
  check_shape(rng, {5, 9, 3}, Activation::GeluErf, false, true, true);
}

TEST(gemm_clip_shapes) {
  Rng rng(4);
  // ViT-B/32 (one image) attention projection and MLP, text MLP at k = 2048.
  check_shape(rng, {50, 768, 768}, Activation::None, true, true, false);
  check_shape(rng, {50, 3072, 768}, Activation::QuickGelu, true, false, false);
  check_shape(rng, {77, 512, 2048}, Activation::None, true, true, false);
}

TEST(gemm_large_k) {
  Rng rng(5);
  check_shape(rng, {40, 50, 4096}, Activation::None, true, false, false);
}

TEST(gemm_propagates_nan_and_inf) {
  const int64_t m = 3, n = 20, k = 40;
  std::vector<float> x(m * k, 0.5f), w(n * k, 0.25f);
  x[1 * k + 7] = NAN;                          // row 1 all NaN
  w[5 * k + 2] = INFINITY;                     // column 5 +inf (rows 0 and 2)
  for_each_isa([&](Isa) {
    std::vector<float> out(m * n, 0.0f);
    cpu::linear(x.data(), w.data(), nullptr, nullptr, out.data(), m, n, k, Activation::None);
    for (int64_t j = 0; j < n; ++j) CHECK(std::isnan(out[1 * n + j]));
    CHECK(std::isinf(out[0 * n + 5]) && out[0 * n + 5] > 0);
    CHECK(std::isinf(out[2 * n + 5]));
    CHECK_NEAR(out[0 * n + 4], 0.5 * 0.25 * k, 1e-4);
  });
}

TEST(gemm_empty_inner_dimension_is_epilogue_only) {
  // k = 0: the sum is empty, so out = act(bias) + residual.
  const int64_t m = 3, n = 21;
  Rng rng(6);
  const auto bias = random_floats(rng, n);
  const auto residual = random_floats(rng, m * n);
  const auto ref = linear_ref({}, {}, bias.data(), residual.data(), m, n, 0, Activation::GeluErf);
  for_each_isa([&](Isa) {
    std::vector<float> out(m * n, NAN);
    cpu::linear(nullptr, nullptr, bias.data(), residual.data(), out.data(), m, n, 0,
                Activation::GeluErf);
    CHECK_REL(out, ref, 1e-6);
  });
}

// ---- Prepacked weights (linear_packed) ------------------------------------------------------

namespace {

struct Epilogue {
  Activation act;
  bool bias;
  bool residual;
  bool alias;  // out is the residual
};

// out = linear_packed(x rows, packed w) with the epilogue `e`; the residual starts in out when
// aliased.
std::vector<float> run_packed(const std::vector<float>& x, const cpu::PackedLinearWeight& w,
                              const std::vector<float>& bias, const std::vector<float>& residual,
                              int64_t m, int64_t n, int64_t k, const Epilogue& e) {
  std::vector<float> out = e.alias ? residual : std::vector<float>(static_cast<size_t>(m * n), NAN);
  const float* r = e.alias ? out.data() : e.residual ? residual.data() : nullptr;
  cpu::linear_packed(x.data(), w, e.bias ? bias.data() : nullptr, r, out.data(), m, n, k, e.act);
  return out;
}

const Epilogue kPackedEpilogues[] = {{Activation::None, false, false, false},
                                     {Activation::QuickGelu, true, false, false},
                                     {Activation::GeluErf, true, true, false},
                                     {Activation::None, true, true, true},
                                     {Activation::QuickGelu, false, true, true}};

}  // namespace

namespace {

// linear_packed on fresh random operands against the double reference, for every ISA.
void check_packed(Rng& rng, int64_t m, int64_t n, int64_t k, const Epilogue& e) {
  const auto x = random_floats(rng, m * k);
  const auto w = random_floats(rng, n * k, -0.5f, 0.5f);
  const auto bias = random_floats(rng, n);
  const auto residual = random_floats(rng, m * n);
  const auto ref = linear_ref(x, w, e.bias ? bias.data() : nullptr,
                              e.residual || e.alias ? residual.data() : nullptr, m, n, k, e.act);
  for_each_isa([&](Isa isa) {
    const auto packed = cpu::pack_linear_weight(w.data(), n, k, isa);
    CHECK_REL_MSG(run_packed(x, *packed, bias, residual, m, n, k, e), ref, 1e-5,
                  std::string("linear_packed ") + isa_name(isa) + " " + dims({m, n, k}) +
                      " act=" + std::to_string(static_cast<int>(e.act)) +
                      " alias=" + std::to_string(e.alias));
  });
}

}  // namespace

TEST(gemm_packed_weight_matches_reference) {
  Rng rng(7);
  const int64_t rows[] = {1, 7, 50, 64, 65, 200};
  const Shape nk[] = {{0, 53, 70}, {0, 33, 301}, {0, 96, 17}, {0, 1, 5}, {0, 130, 1}};
  for (const int64_t m : rows) {
    for (const Shape& s : nk) {
      check_packed(rng, m, s.n, s.k,
                   kPackedEpilogues[static_cast<size_t>(m + s.n) % std::size(kPackedEpilogues)]);
    }
  }
}

// Past one column block (nc) and several k-blocks (kc) of every ISA's blocking: sums accumulate
// in out across k-blocks and only the last adds the epilogue (or sits on an aliased residual);
// n and k are not multiples of any panel width.
TEST(gemm_packed_spans_column_and_depth_blocks) {
  Rng rng(10);
  for (const Epilogue& e : kPackedEpilogues) check_packed(rng, 131, 1061, 530, e);
}

// The property the packed path exists for: a row's result is bit-identical whether it is
// computed alone, in a small batch or in a large one.
TEST(gemm_packed_rows_do_not_depend_on_batch_size) {
  Rng rng(8);
  const int64_t big = 200, n = 77, k = 300;
  const auto x = random_floats(rng, big * k);
  const auto w = random_floats(rng, n * k, -0.5f, 0.5f);
  const auto bias = random_floats(rng, n);
  const auto residual = random_floats(rng, big * n);
  for (const Epilogue& e : kPackedEpilogues) {
    for_each_isa([&](Isa isa) {
      const auto packed = cpu::pack_linear_weight(w.data(), n, k, isa);
      const auto all = run_packed(x, *packed, bias, residual, big, n, k, e);
      // (first row, row count) slices: one row, a few, one image's worth, past the old switch.
      const std::pair<int64_t, int64_t> slices[] = {{0, 1}, {13, 1}, {199, 1}, {5, 7}, {100, 50}, {30, 65}};
      for (const auto& [r0, rows] : slices) {
        const std::vector<float> xs(x.begin() + r0 * k, x.begin() + (r0 + rows) * k);
        const std::vector<float> rs(residual.begin() + r0 * n, residual.begin() + (r0 + rows) * n);
        const auto part = run_packed(xs, *packed, bias, rs, rows, n, k, e);
        if (std::memcmp(part.data(), all.data() + r0 * n, part.size() * sizeof(float)) != 0) {
          record_failure(__FILE__, __LINE__,
                         std::string("linear_packed ") + isa_name(isa) + " rows [" +
                             std::to_string(r0) + ", " + std::to_string(r0 + rows) +
                             ") alone differ from the same rows of m=200, act=" +
                             std::to_string(static_cast<int>(e.act)));
        }
      }
    });
  }
}

TEST(gemm_packed_weight_keeps_its_isa_and_shape) {
  Rng rng(9);
  const int64_t m = 9, n = 40, k = 33;
  const auto x = random_floats(rng, m * k);
  const auto w = random_floats(rng, n * k);
  const auto ref = linear_ref(x, w, nullptr, nullptr, m, n, k, Activation::None);
  const Isa before = cpu::detected_isa();
  // Packed for the best ISA, then run while dispatch is lowered: the pack's own ISA decides.
  const auto packed = cpu::pack_linear_weight(w.data(), n, k, cpu::hardware_isa());
  cpu::use_isa(Isa::Generic);
  std::vector<float> out(static_cast<size_t>(m * n), NAN);
  cpu::linear_packed(x.data(), *packed, nullptr, nullptr, out.data(), m, n, k, Activation::None);
  cpu::use_isa(before);
  CHECK_REL(out, ref, 1e-5);
  CHECK_THROWS(cpu::linear_packed(x.data(), *packed, nullptr, nullptr, out.data(), m, k, n,
                                  Activation::None),
               std::invalid_argument);
}
