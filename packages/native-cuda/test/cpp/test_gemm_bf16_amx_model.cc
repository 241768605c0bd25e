// The AMX GEMM compiled over a software model of the tiles (amx_model.h), so its layouts,
// strides, tile shapes and edges are checked here, on CPUs without AMX, against an fp64
// reference. On an AMX CPU test_gemm_bf16.cc runs the real instructions too (and the addon's
// self-test guards every process).
#include "amx_model.h"
// The kernel itself, its tile instructions routed to the model (namespace ...::bf16::model).
#include "cpu/gemm_bf16_amx.cc"

#include <cmath>
#include <memory>
#include <vector>

#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

TEST(gemm_bf16_amx_kernel_on_tile_model) {
  // The kernel's operand conversion and epilogue are AVX512_BF16 code.
  if (!cpu::bf16::cpu_has_avx512_bf16()) SKIP("the AMX kernel's operand code needs AVX512_BF16, which this CPU lacks");
  struct Case {
    int64_t m, n, k;
    Activation act;
    bool alias;
  };
  // Off the 32-row, 32-column and 32-k blocks; m = 1, k = 1; more rows than one tile block.
  const Case cases[] = {{1, 1, 1, Activation::None, false},      {1, 33, 65, Activation::GeluErf, false},
                        {31, 32, 32, Activation::None, true},     {33, 31, 33, Activation::QuickGelu, false},
                        {64, 64, 64, Activation::None, false},    {70, 45, 83, Activation::GeluErf, true},
                        {130, 100, 300, Activation::None, false}, {40, 96, 1, Activation::QuickGelu, true}};
  Rng rng(400);
  for (const Case& c : cases) {
    const auto x = random_floats(rng, c.m * c.k);
    const auto w = random_floats(rng, c.n * c.k, -0.5f, 0.5f);
    const auto bias = random_floats(rng, c.n);
    const auto residual = random_floats(rng, c.m * c.n);
    std::vector<uint16_t> wb(w.size());
    floats_to_bf16(w.data(), wb.data(), w.size());
    const int64_t kp = cpu::bf16::padded_k(c.k);
    const size_t bytes = static_cast<size_t>(cpu::bf16::panel_count(c.n) * cpu::bf16::panel_elems(kp)) * 2;
    const std::shared_ptr<uint16_t> panels(static_cast<uint16_t*>(cpu::alloc_host_memory(bytes)),
                                           [bytes](uint16_t* p) { cpu::free_host_memory(p, bytes); });
    cpu::bf16::pack_panels(wb.data(), c.n, c.k, kp, panels.get());
    std::vector<float> out = c.alias ? residual : std::vector<float>(c.m * c.n, NAN);
    const cpu::bf16::Gemm g{x.data(), panels.get(), bias.data(), c.alias ? out.data() : residual.data(),
                            out.data(), c.m, c.n, c.k, kp, c.act};
    cpu::bf16::model::gemm_amx(g);
    std::vector<double> ref(out.size());
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double s = bias[j];
        for (int64_t p = 0; p < c.k; ++p) s += static_cast<double>(round_to_bf16(x[i * c.k + p])) * bf16_to_float(wb[j * c.k + p]);
        ref[i * c.n + j] = act_ref(s, c.act) + residual[i * c.n + j];
      }
    }
    CHECK_REL_MSG(out, ref, 4e-6 * std::sqrt(static_cast<double>(c.k) / 64.0) + 2e-6,
                  "AMX model " + dims({c.m, c.n, c.k}) + (c.alias ? " residual=out" : ""));
  }
}

TEST(amx_model_rejects_bad_tile_shapes) {
  // The model must catch what the hardware faults on, or the test above proves little.
  alignas(64) uint8_t cfg[64] = {};
  cfg[0] = 1;
  for (int t = 0; t < 3; ++t) {
    cfg[16 + 2 * t] = 64;
    cfg[48 + t] = 16;
  }
  cfg[48 + 1] = 8;  // a with 8 rows against c with 16
  amx::load_config(cfg);
  CHECK_THROWS(amx::dpbf16ps(0, 1, 2), std::logic_error);
  CHECK_THROWS(amx::load(5, cfg, 64), std::logic_error);  // unconfigured tile
  cfg[3] = 1;
  CHECK_THROWS(amx::load_config(cfg), std::logic_error);  // reserved byte set
  cfg[3] = 0;
  cfg[0] = 0;
  amx::load_config(cfg);  // back to the initial state
  CHECK_THROWS(amx::zero(0), std::logic_error);
}
