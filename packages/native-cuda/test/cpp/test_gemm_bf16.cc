// linear_bf16(): every bf16 GEMM path this CPU has (AMX, AVX512_BF16, the fp32 fallback) vs an
// fp64 reference on the same bf16-rounded operands, at odd shapes and with every epilogue.
// A path the CPU lacks is reported as SKIP with the reason, never passed silently.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "clipkit/bf16.h"
#include "clipkit/kernels.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

struct Case {
  int64_t m, n, k;
  Activation act;
  bool bias;
  bool residual;
  bool alias;  // out is the residual
};

// Off every tile size (14 and 32 rows, 32 columns, 32 k), m = 1, k = 1, and the CLIP shapes.
const Case kCases[] = {
    {1, 1, 1, Activation::None, false, false, false},
    {1, 7, 3, Activation::GeluErf, true, false, false},
    {3, 1, 5, Activation::None, true, true, false},
    {1, 100, 1, Activation::QuickGelu, true, true, true},
    {14, 32, 32, Activation::None, false, false, false},
    {15, 33, 33, Activation::QuickGelu, true, false, false},
    {33, 31, 31, Activation::GeluErf, true, true, false},
    {29, 65, 300, Activation::None, true, true, true},
    {50, 96, 64, Activation::GeluErf, false, true, false},
    {65, 47, 17, Activation::None, true, false, false},
    {200, 70, 513, Activation::QuickGelu, true, true, true},
    {13, 31, 257, Activation::None, false, false, false},
    {50, 768, 768, Activation::None, true, true, true},
    {77, 160, 2048, Activation::QuickGelu, true, false, false},
};

std::vector<float> rounded(std::vector<float> v) {
  for (float& f : v) f = round_to_bf16(f);
  return v;
}

// act(x·wᵀ + bias) + residual in fp64 over the rounded operands.
std::vector<double> reference(const std::vector<float>& xr, const std::vector<float>& wr,
                              const float* bias, const float* residual, const Case& c) {
  std::vector<double> out(static_cast<size_t>(c.m * c.n));
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < c.k; ++p) s += static_cast<double>(xr[i * c.k + p]) * wr[j * c.k + p];
      if (bias != nullptr) s += bias[j];
      s = act_ref(s, c.act);
      if (residual != nullptr) s += residual[i * c.n + j];
      out[i * c.n + j] = s;
    }
  }
  return out;
}

// Runs every case on `path`; the caller has checked that the path is usable.
void check_path(Bf16Path path, uint64_t seed) {
  const Bf16Path before = cpu::bf16_path();
  cpu::use_bf16_path(path);
  CHECK_EQ(std::string(bf16_path_name(cpu::bf16_path())), std::string(bf16_path_name(path)));
  Rng rng(seed);
  for (const Case& c : kCases) {
    const auto x = random_floats(rng, c.m * c.k);
    const auto w = random_floats(rng, c.n * c.k, -0.5f, 0.5f);
    const auto bias = random_floats(rng, c.n);
    const auto residual = random_floats(rng, c.m * c.n);
    std::vector<uint16_t> wb(w.size());
    floats_to_bf16(w.data(), wb.data(), w.size());
    const auto packed = cpu::pack_linear_weight_bf16(wb.data(), c.n, c.k, path);
    REQUIRE(cpu::packed_path(*packed) == path);
    std::vector<float> out = c.alias ? residual : std::vector<float>(c.m * c.n, NAN);
    const float* r = c.alias ? out.data() : c.residual ? residual.data() : nullptr;
    const float* b = c.bias ? bias.data() : nullptr;
    cpu::linear_bf16(x.data(), *packed, b, r, out.data(), c.m, c.n, c.k, c.act);
    const auto ref = reference(rounded(x), rounded(w), b,
                               c.residual || c.alias ? residual.data() : nullptr, c);
    const std::string what = std::string("linear_bf16 ") + bf16_path_name(path) + " " +
                             dims({c.m, c.n, c.k}) + " act=" +
                             std::to_string(static_cast<int>(c.act)) +
                             " alias=" + std::to_string(c.alias);
    // fp32 sums of exact bf16 products.
    CHECK_REL_MSG(out, ref, 4e-6 * std::sqrt(static_cast<double>(c.k) / 64.0) + 2e-6, what);
    // And against the unrounded operands: bf16's 8-bit mantissa.
    const auto exact = reference(x, w, b, c.residual || c.alias ? residual.data() : nullptr, c);
    CHECK_REL_MSG(out, exact, 1e-2, what + " (vs unrounded)");
  }
  cpu::use_bf16_path(Bf16Path::Amx);
  CHECK(cpu::bf16_path() == before);
}

}  // namespace

TEST(bf16_rounds_to_nearest_even) {
  const auto bits = [](float f) { return static_cast<unsigned>(float_to_bf16(f)); };
  const auto from = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  CHECK_EQ(bits(1.0f), 0x3f80u);
  CHECK_EQ(bits(from(0x3f808000u)), 0x3f80u);  // tie, even below
  CHECK_EQ(bits(from(0x3f818000u)), 0x3f82u);  // tie, even above
  CHECK_EQ(bits(from(0x3f808001u)), 0x3f81u);  // above the tie
  CHECK_EQ(bits(-0.0f), 0x8000u);
  CHECK_EQ(bits(INFINITY), 0x7f80u);
  CHECK_EQ(bits(from(0x7f7fffffu)), 0x7f80u);  // FLT_MAX rounds up to infinity
  CHECK(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(from(0x7f800001u)))));  // low payload stays NaN
  CHECK(std::isnan(bf16_to_float(float_to_bf16(from(0xff800001u)))));
  CHECK_EQ(bf16_to_float(0x3f81u), 1.0078125f);
}

TEST(gemm_bf16_fallback_fp32_kernels) {
  // The fp32 kernels on rounded values, at every ISA they dispatch to.
  for_each_isa([](Isa isa) { check_path(Bf16Path::None, 100 + static_cast<int>(isa)); });
}

namespace {

// Skips the calling test (saying why) when `path` is not one this machine can run; a path the
// CPU has that does not come up (a failed self-test) is a failure, not a skip.
void require_path(Bf16Path path) {
  if (static_cast<int>(cpu::bf16_hardware()) < static_cast<int>(path)) {
    SKIP(std::string("this CPU has no ") + (path == Bf16Path::Amx ? "AMX-BF16" : "AVX512_BF16") +
         " (bf16 hardware path: " + bf16_path_name(cpu::bf16_hardware()) + ")");
  }
  cpu::use_bf16_path(path);
  const Bf16Path got = cpu::bf16_path();
  const std::string note = cpu::bf16_note();
  cpu::use_bf16_path(Bf16Path::Amx);
  if (got != path && note.rfind("CLIPKIT_ISA=", 0) == 0) SKIP(note);
  if (got != path) {
    record_failure(__FILE__, __LINE__,
                   std::string(bf16_path_name(path)) + " is on this CPU but not usable: " + note);
    throw Abort{};
  }
}

}  // namespace

TEST(gemm_bf16_avx512_bf16) {
  require_path(Bf16Path::Avx512Bf16);
  check_path(Bf16Path::Avx512Bf16, 200);
}

TEST(gemm_bf16_amx) {
  require_path(Bf16Path::Amx);
  check_path(Bf16Path::Amx, 300);
}

TEST(gemm_bf16_propagates_nan_and_inf) {
  const int64_t m = 3, n = 40, k = 40;
  std::vector<float> x(m * k, 0.5f), w(n * k, 0.25f);
  x[1 * k + 7] = NAN;       // row 1 all NaN
  w[5 * k + 2] = INFINITY;  // column 5 +inf (rows 0 and 2)
  std::vector<uint16_t> wb(w.size());
  floats_to_bf16(w.data(), wb.data(), w.size());
  const int top = static_cast<int>(cpu::bf16_path());
  for (int p = 0; p <= top; ++p) {
    const auto packed = cpu::pack_linear_weight_bf16(wb.data(), n, k, static_cast<Bf16Path>(p));
    std::vector<float> out(m * n, 0.0f);
    cpu::linear_bf16(x.data(), *packed, nullptr, nullptr, out.data(), m, n, k, Activation::None);
    for (int64_t j = 0; j < n; ++j) CHECK(std::isnan(out[1 * n + j]));
    CHECK(std::isinf(out[0 * n + 5]) && out[0 * n + 5] > 0);
    CHECK(std::isinf(out[2 * n + 5]));
    CHECK_NEAR(out[0 * n + 4], 0.5 * 0.25 * k, 1e-4);
  }
}

TEST(gemm_bf16_path_follows_dispatch_level) {
  // Below AVX-512 there is no bf16 path, and the note says why.
  const Isa before = cpu::detected_isa();
  cpu::use_isa(Isa::Avx2);
  CHECK(cpu::bf16_path() == Bf16Path::None);
  CHECK(!cpu::bf16_note().empty());
  cpu::use_isa(before);
  cpu::use_bf16_path(Bf16Path::None);
  CHECK(cpu::bf16_path() == Bf16Path::None);
  cpu::use_bf16_path(Bf16Path::Amx);
  CHECK(static_cast<int>(cpu::bf16_path()) <= static_cast<int>(cpu::bf16_hardware()));
}

TEST(gemm_bf16_packed_shape_mismatch_throws) {
  std::vector<uint16_t> wb(6 * 4, 0x3f80);
  const auto packed = cpu::pack_linear_weight_bf16(wb.data(), 6, 4, cpu::bf16_path());
  std::vector<float> x(8, 1.0f), out(12);
  CHECK_THROWS(cpu::linear_bf16(x.data(), *packed, nullptr, nullptr, out.data(), 2, 6, 3,
                                Activation::None),
               std::invalid_argument);
  try {
    cpu::linear_bf16(x.data(), *packed, nullptr, nullptr, out.data(), 2, 6, 3, Activation::None);
  } catch (const std::invalid_argument& e) {
    CHECK_EQ(std::string(e.what()),
             std::string("linear_bf16: weight was packed as 6x4, called with n=6 k=3"));
  }
}

TEST(gemm_bf16_note_explains_path_under_every_cap) {
  // bf16_path() (per linear call) and bf16_note() (on demand) agree: the note is empty exactly
  // when the hardware's path is taken, and names a use_bf16_path() cap that lowers it.
  const Bf16Path hw = cpu::bf16_hardware();
  const bool isa_env = std::getenv("CLIPKIT_ISA") != nullptr;
  for (const Bf16Path cap : {Bf16Path::None, Bf16Path::Avx512Bf16, Bf16Path::Amx}) {
    cpu::use_bf16_path(cap);
    const Bf16Path path = cpu::bf16_path();
    const std::string note = cpu::bf16_note();
    const auto expect = [&](bool ok, int line, const char* rule) {
      if (!ok) {
        record_failure(__FILE__, line,
                       std::string(rule) + " (cap " + bf16_path_name(cap) + ": path " +
                           bf16_path_name(path) + ", note '" + note + "')");
      }
    };
    expect(static_cast<int>(path) <= static_cast<int>(cap), __LINE__, "path within the cap");
    expect(cpu::bf16_path() == path, __LINE__, "path stable between calls");
    if (hw == Bf16Path::None) {
      expect(note == "this CPU has neither AMX nor AVX512_BF16", __LINE__, "no-hardware note");
    } else {
      expect(note.empty() == (path == hw), __LINE__, "note empty exactly on the hardware path");
    }
    if (!isa_env && static_cast<int>(cap) < static_cast<int>(hw) &&
        cpu::detected_isa() == Isa::Avx512) {
      expect(note == std::string("capped at ") + bf16_path_name(cap) + " (use_bf16_path)",
             __LINE__, "note names the cap");
    }
  }
  cpu::use_bf16_path(Bf16Path::Amx);
}
