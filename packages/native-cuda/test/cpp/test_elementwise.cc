// add() and activation() vs double-precision references, including NaN/Inf behaviour.
#include <cmath>
#include <string>
#include <vector>

#include "clipkit/kernels.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

const int64_t kSizes[] = {1, 7, 16, 17, 100, 4099, 200003};

}  // namespace

TEST(elementwise_add) {
  Rng rng(21);
  for (const int64_t n : kSizes) {
    const auto a = random_floats(rng, n, -10.0f, 10.0f);
    const auto b = random_floats(rng, n, -10.0f, 10.0f);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) ref[i] = static_cast<double>(a[i]) + b[i];
    for_each_isa([&](Isa) {
      std::vector<float> out(n, NAN);
      cpu::add(a.data(), b.data(), out.data(), n);
      CHECK_REL(out, ref, 1e-7);
      auto inplace = a;
      cpu::add(inplace.data(), b.data(), inplace.data(), n);
      CHECK_REL(inplace, ref, 1e-7);
    });
  }
}

TEST(elementwise_activations) {
  Rng rng(22);
  const Activation acts[] = {Activation::None, Activation::QuickGelu, Activation::GeluErf};
  for (const auto act : acts) {
    for (const int64_t n : kSizes) {
      const auto x = random_floats(rng, n, -8.0f, 8.0f);
      std::vector<double> ref(n);
      for (int64_t i = 0; i < n; ++i) ref[i] = act_ref(x[i], act);
      for_each_isa([&](Isa isa) {
        std::vector<float> out(n, NAN);
        cpu::activation(x.data(), out.data(), n, act);
        // The norm check needs enough elements for ‖ref‖ to be meaningful.
        const double err = n >= 100 ? rel_error(out, ref) : 0.0;
        if (!(err <= 1e-6)) {
          record_failure(__FILE__, __LINE__,
                         std::string("activation ") + std::to_string(static_cast<int>(act)) +
                             " " + isa_name(isa) + " n=" + std::to_string(n) + " rel error " +
                             show(err));
        }
        // Pointwise too: every element, not just the norm.
        for (int64_t i = 0; i < n; ++i) {
          if (!(std::fabs(out[i] - ref[i]) <= 2e-6 * (1.0 + std::fabs(ref[i])))) {
            record_failure(__FILE__, __LINE__,
                           std::string("activation pointwise ") + isa_name(isa) + " x=" +
                               show(x[i]) + " got " + show(out[i]) + " want " + show(ref[i]));
            break;
          }
        }
      });
    }
  }
}

TEST(elementwise_special_values) {
  const std::vector<float> x = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 100.0f, -100.0f, 1e-30f};
  for_each_isa([&](Isa) {
    std::vector<float> q(x.size()), g(x.size());
    cpu::activation(x.data(), q.data(), static_cast<int64_t>(x.size()), Activation::QuickGelu);
    cpu::activation(x.data(), g.data(), static_cast<int64_t>(x.size()), Activation::GeluErf);
    for (const auto* y : {&q, &g}) {
      CHECK(std::isnan((*y)[0]));
      CHECK((*y)[1] == INFINITY);
      CHECK((*y)[3] == 0.0f);
      CHECK_NEAR((*y)[5], 100.0, 1e-4);
      CHECK_NEAR((*y)[6], 0.0, 1e-6);
      CHECK_NEAR((*y)[7], 0.5e-30, 1e-30);
    }
    // x * sigmoid(x) at -inf is -inf * 0: NaN in IEEE arithmetic, as in PyTorch.
    CHECK(std::isnan(q[2]) || q[2] == 0.0f);
  });
}
