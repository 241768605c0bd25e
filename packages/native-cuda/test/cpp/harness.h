// A tiny test harness for the standalone C++ kernel tests (no Node, no third-party framework).
//
//   TEST(gemm_odd_shapes) { ... CHECK_REL(out, ref, 1e-5); ... }
//
// CHECK_* record a failure and let the test continue (so one run shows every mismatch);
// REQUIRE aborts the current test; SKIP(why) leaves it unrun, reported as SKIP with the reason.
// Exceptions escaping a test count as failures.
// Random inputs come from Rng, seeded per test from CLIPKIT_TEST_SEED (default fixed), so a
// failing run is reproducible and a different seed gives fresh inputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "clipkit/kernels.h"

namespace clipkit::test {

// The activations of the GEMM epilogue and activation(), in double precision.
inline double act_ref(double x, Activation act) {
  switch (act) {
    case Activation::QuickGelu:
      return x / (1.0 + std::exp(-1.702 * x));
    case Activation::GeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::None:
      break;
  }
  return x;
}

using TestFn = void (*)();

struct Registrar {
  Registrar(const char* name, TestFn fn);
};

// Thrown by REQUIRE to leave the current test.
struct Abort {};

// Thrown by SKIP: the test cannot run here (e.g. no CUDA device), for this reason.
struct Skip {
  std::string why;
};

void record_failure(const char* file, int line, const std::string& message);
// Base seed for this run: CLIPKIT_TEST_SEED if set, else a fixed default.
uint64_t base_seed();

// SplitMix64: deterministic on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t salt) : state_(base_seed() ^ (salt * 0x9E3779B97F4A7C15ull)) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  float uniform(float lo = -1.0f, float hi = 1.0f) {
    return lo + static_cast<float>(unit()) * (hi - lo);
  }
  // Integer uniform in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  // Standard normal (Box-Muller).
  float normal() {
    double u1 = unit();
    double u2 = unit();
    if (u1 < 1e-300) u1 = 1e-300;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

 private:
  uint64_t state_;
};

inline std::vector<float> random_floats(Rng& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

inline std::vector<float> random_normals(Rng& rng, size_t n, float stddev = 1.0f) {
  std::vector<float> v(n);
  for (auto& x : v) x = rng.normal() * stddev;
  return v;
}

inline std::vector<uint8_t> random_bytes(Rng& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng.next() >> 56);
  return v;
}

// ‖out − ref‖₂ / ‖ref‖₂ accumulated in double; ‖out‖₂ when ref is all zeros. A NaN anywhere
// (or a length mismatch) gives NaN/inf so the comparison against a tolerance fails.
template <typename A, typename B>
double rel_error(const A* out, const B* ref, size_t n) {
  double diff = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double o = static_cast<double>(out[i]);
    const double r = static_cast<double>(ref[i]);
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

template <typename A, typename B>
double rel_error(const std::vector<A>& out, const std::vector<B>& ref) {
  if (out.size() != ref.size()) return INFINITY;
  return rel_error(out.data(), ref.data(), out.size());
}

// "2x3x4": the shape of a case in a failure message.
inline std::string dims(std::initializer_list<int64_t> v) {
  std::string s;
  for (const int64_t x : v) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

template <typename T>
std::string show(const T& v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

}  // namespace clipkit::test

#define CLIPKIT_TEST_CONCAT2(a, b) a##b
#define CLIPKIT_TEST_CONCAT(a, b) CLIPKIT_TEST_CONCAT2(a, b)

#define TEST(name)                                                                           \
  static void clipkit_test_##name();                                                         \
  static const ::clipkit::test::Registrar CLIPKIT_TEST_CONCAT(clipkit_reg_, name)(#name,     \
                                                                   &clipkit_test_##name);    \
  static void clipkit_test_##name()

#define SKIP(why) throw ::clipkit::test::Skip{why}

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) ::clipkit::test::record_failure(__FILE__, __LINE__, "CHECK(" #cond ")");    \
  } while (0)

#define REQUIRE(cond)                                                                        \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      ::clipkit::test::record_failure(__FILE__, __LINE__, "REQUIRE(" #cond ")");             \
      throw ::clipkit::test::Abort{};                                                        \
    }                                                                                        \
  } while (0)

#define CHECK_EQ(a, b)                                                                       \
  do {                                                                                       \
    const auto& clipkit_a = (a);                                                             \
    const auto& clipkit_b = (b);                                                             \
    if (!(clipkit_a == clipkit_b))                                                           \
      ::clipkit::test::record_failure(__FILE__, __LINE__,                                    \
                                      "CHECK_EQ(" #a ", " #b "): " +                         \
                                          ::clipkit::test::show(clipkit_a) + " != " +        \
                                          ::clipkit::test::show(clipkit_b));                 \
  } while (0)

// |a − b| <= tol (fails on NaN).
#define CHECK_NEAR(a, b, tol)                                                                \
  do {                                                                                       \
    const double clipkit_a = static_cast<double>(a);                                         \
    const double clipkit_b = static_cast<double>(b);                                         \
    if (!(std::fabs(clipkit_a - clipkit_b) <= (tol)))                                        \
      ::clipkit::test::record_failure(__FILE__, __LINE__,                                    \
                                      "CHECK_NEAR(" #a ", " #b ", " #tol "): " +             \
                                          ::clipkit::test::show(clipkit_a) + " vs " +        \
                                          ::clipkit::test::show(clipkit_b));                 \
  } while (0)

// rel_error(out, ref) <= tol for two vectors (fails on NaN or size mismatch).
#define CHECK_REL(out, ref, tol)                                                             \
  do {                                                                                       \
    const double clipkit_e = ::clipkit::test::rel_error((out), (ref));                       \
    if (!(clipkit_e <= (tol)))                                                               \
      ::clipkit::test::record_failure(__FILE__, __LINE__,                                    \
                                      "CHECK_REL(" #out ", " #ref ", " #tol                  \
                                      "): relative error " +                                 \
                                          ::clipkit::test::show(clipkit_e));                 \
  } while (0)

// CHECK_REL whose failure message names the case (`what`, a std::string built only on failure).
#define CHECK_REL_MSG(out, ref, tol, what)                                                   \
  do {                                                                                       \
    const double clipkit_e = ::clipkit::test::rel_error((out), (ref));                       \
    if (!(clipkit_e <= (tol)))                                                               \
      ::clipkit::test::record_failure(__FILE__, __LINE__,                                    \
                                      std::string(what) + ": relative error " +              \
                                          ::clipkit::test::show(clipkit_e));                 \
  } while (0)

#define CHECK_THROWS(expr, type)                                                             \
  do {                                                                                       \
    bool clipkit_thrown = false;                                                             \
    try {                                                                                    \
      (void)(expr);                                                                          \
    } catch (const type&) {                                                                  \
      clipkit_thrown = true;                                                                 \
    }                                                                                        \
    if (!clipkit_thrown)                                                                     \
      ::clipkit::test::record_failure(__FILE__, __LINE__,                                    \
                                      "CHECK_THROWS(" #expr ", " #type "): nothing thrown"); \
  } while (0)
