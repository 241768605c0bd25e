// softmax() vs a double-precision reference; stability and NaN rows.
#include <cmath>
#include <string>
#include <vector>

#include "clipkit/kernels.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

std::vector<double> softmax_ref(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, static_cast<double>(x[r * cols + c]));
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - mx);
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = std::exp(x[r * cols + c] - mx) / sum;
  }
  return out;
}

}  // namespace

TEST(softmax_matches_reference) {
  Rng rng(31);
  const int64_t shapes[][2] = {{1, 1}, {1, 5}, {3, 16}, {7, 17}, {50, 50}, {12, 257}, {2, 5000}};
  for (const auto& s : shapes) {
    const int64_t rows = s[0], cols = s[1];
    const auto x = random_floats(rng, rows * cols, -20.0f, 20.0f);
    const auto ref = softmax_ref(x, rows, cols);
    for_each_isa([&](Isa isa) {
      std::vector<float> out(x.size(), NAN);
      cpu::softmax(x.data(), out.data(), rows, cols);
      CHECK_REL_MSG(out, ref, 1e-6,
                    std::string("softmax ") + isa_name(isa) + " " + dims({rows, cols}));
      auto inplace = x;
      cpu::softmax(inplace.data(), inplace.data(), rows, cols);
      CHECK_REL(inplace, ref, 1e-6);
    });
  }
}

TEST(softmax_is_stable_for_large_inputs) {
  // Naive exp() overflows at 89; max-subtraction keeps these exact.
  const std::vector<float> x = {1000.0f, 999.0f, 998.0f, -1000.0f, 1000.0f};
  const auto ref = softmax_ref(x, 1, 5);
  for_each_isa([&](Isa) {
    std::vector<float> out(5);
    cpu::softmax(x.data(), out.data(), 1, 5);
    CHECK_REL(out, ref, 1e-6);
  });
}

TEST(softmax_nan_poisons_only_its_row) {
  const int64_t rows = 3, cols = 33;
  std::vector<float> x(rows * cols, 0.5f);
  x[1 * cols + 20] = NAN;
  x[2 * cols + 32] = -INFINITY;  // a masked entry: probability 0, the row stays finite
  for_each_isa([&](Isa) {
    std::vector<float> out(x.size());
    cpu::softmax(x.data(), out.data(), rows, cols);
    for (int64_t c = 0; c < cols; ++c) {
      CHECK_NEAR(out[c], 1.0 / cols, 1e-7);
      CHECK(std::isnan(out[1 * cols + c]));
    }
    CHECK_EQ(out[2 * cols + 32], 0.0f);
    CHECK_NEAR(out[2 * cols], 1.0 / (cols - 1), 1e-7);
  });
}
