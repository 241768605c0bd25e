// layer_norm() vs a double-precision two-pass reference.
#include <cmath>
#include <string>
#include <vector>

#include "clipkit/kernels.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

std::vector<double> layer_norm_ref(const std::vector<float>& x, const std::vector<float>& g,
                                   const std::vector<float>& b, int64_t rows, int64_t dim,
                                   double eps) {
  std::vector<double> out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0;
    for (int64_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= static_cast<double>(dim);
    double var = 0.0;
    for (int64_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    var /= static_cast<double>(dim);
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = (x[r * dim + i] - mean) * rstd * g[i] + b[i];
  }
  return out;
}

}  // namespace

TEST(layernorm_matches_reference) {
  Rng rng(11);
  const int64_t shapes[][2] = {{1, 1}, {1, 7}, {3, 17}, {50, 768}, {77, 512}, {5, 1024}, {9, 1000}};
  for (const auto& s : shapes) {
    const int64_t rows = s[0], dim = s[1];
    // Offset and scale like real activations: a large mean is where one-pass variance fails.
    auto x = random_normals(rng, rows * dim, 3.0f);
    for (auto& v : x) v += 40.0f;
    const auto g = random_floats(rng, dim, 0.5f, 1.5f);
    const auto b = random_floats(rng, dim);
    const auto ref = layer_norm_ref(x, g, b, rows, dim, 1e-5);
    for_each_isa([&](Isa isa) {
      std::vector<float> out(x.size(), NAN);
      cpu::layer_norm(x.data(), g.data(), b.data(), out.data(), rows, dim, 1e-5f);
      CHECK_REL_MSG(out, ref, 1e-6,
                    std::string("layer_norm ") + isa_name(isa) + " " + dims({rows, dim}));
    });
  }
}

TEST(layernorm_in_place) {
  Rng rng(12);
  const int64_t rows = 4, dim = 333;
  const auto x = random_floats(rng, rows * dim, -2.0f, 2.0f);
  const auto g = random_floats(rng, dim);
  const auto b = random_floats(rng, dim);
  const auto ref = layer_norm_ref(x, g, b, rows, dim, 1e-5);
  for_each_isa([&](Isa) {
    auto y = x;
    cpu::layer_norm(y.data(), g.data(), b.data(), y.data(), rows, dim, 1e-5f);
    CHECK_REL(y, ref, 1e-6);
  });
}

TEST(layernorm_nan_row_stays_in_its_row) {
  const int64_t rows = 3, dim = 40;
  std::vector<float> x(rows * dim, 1.0f), g(dim, 1.0f), b(dim, 0.0f);
  for (int64_t i = 0; i < dim; ++i) x[i] = static_cast<float>(i);
  x[1 * dim + 5] = NAN;
  x[2 * dim + 3] = INFINITY;
  for_each_isa([&](Isa) {
    std::vector<float> out(x.size(), 0.0f);
    cpu::layer_norm(x.data(), g.data(), b.data(), out.data(), rows, dim, 1e-5f);
    for (int64_t i = 0; i < dim; ++i) {
      CHECK(std::isnan(out[1 * dim + i]));
      CHECK(std::isnan(out[2 * dim + i]));  // inf - inf in the mean subtraction
      CHECK(std::isfinite(out[i]));
    }
  });
}
