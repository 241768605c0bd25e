// bf16 linear weights: which GEMM runs them (Bf16Path), their packs, and linear_bf16().
//
// A fast path is taken only after a known-answer self-test on first use: a small product with
// every kind of edge (m, n, k off the tile sizes, bias, GELU, residual) against an fp64
// reference on the same rounded values. AMX code can land untested on CPUs without AMX; if it
// is wrong where it finally runs, the test catches it and the next path takes over, with the
// reason in bf16_note(). Without a fast path, a bf16 weight runs the fp32 GEMM on its widened
// values with x rounded to bf16: the same numbers within fp32 summation order, no speed-up.
#include <cpuid.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clipkit/bf16.h"
#include "gemm.h"
#include "gemm_bf16.h"
#include "scratch.h"
#include "threadpool.h"

namespace clipkit::cpu {
namespace bf16 {

namespace {

struct CpuidRegs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

CpuidRegs cpuid(unsigned leaf, unsigned sub) {
  CpuidRegs r;
  if (__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d) == 0) return CpuidRegs{};
  return r;
}

// XCR0: which register state the OS saves (bits 17/18: tile config/data).
uint64_t xcr0() {
  if ((cpuid(1, 0).c & (1u << 27)) == 0) return 0;  // no OSXSAVE
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = [] {
    if (hardware_isa() != Isa::Avx512) return false;  // avx512f/bw/dq/vl with OS support
    return (cpuid(7, 1).a & (1u << 5)) != 0;         // CPUID.(7,1):EAX[5] AVX512_BF16
  }();
  return has;
}

bool cpu_has_amx() {
  static const bool has = [] {
    const unsigned edx = cpuid(7, 0).d;
    const bool tile = (edx & (1u << 24)) != 0;  // AMX-TILE
    const bool bf16 = (edx & (1u << 22)) != 0;  // AMX-BF16
    const uint64_t tile_state = (uint64_t{1} << 17) | (uint64_t{1} << 18);
    return tile && bf16 && (xcr0() & tile_state) == tile_state;
  }();
  return has;
}

void pack_panels(const uint16_t* w, int64_t n, int64_t k, int64_t kp, uint16_t* dst) {
  const int64_t panels = (n + kNr - 1) / kNr;
  parallel_for(
      panels,
      [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          uint16_t* panel = dst + p * panel_elems(kp);
          const int64_t cols = std::min(kNr, n - p * kNr);
          for (int64_t c = 0; c < cols; ++c) {
            const uint16_t* row = w + (p * kNr + c) * k;
            for (int64_t q = 0; q < k; ++q) panel[(q / 2 * kNr + c) * 2 + q % 2] = row[q];
          }
        }
      },
      std::max<int64_t>(1, panels / 64));
}

}  // namespace bf16

namespace {

int rank(Bf16Path p) { return static_cast<int>(p); }
Bf16Path lower(Bf16Path a, Bf16Path b) { return rank(a) < rank(b) ? a : b; }

// CLIPKIT_ISA: generic|avx2|avx512 leave no bf16 path, avx512_bf16 leaves no AMX.
struct EnvCap {
  Bf16Path cap = Bf16Path::Amx;
  std::string value;
};
const EnvCap& env_cap() {
  static const EnvCap cap = [] {
    EnvCap c;
    const char* env = std::getenv("CLIPKIT_ISA");
    if (env == nullptr) return c;
    c.value = env;
    if (c.value == "generic" || c.value == "avx2" || c.value == "avx512") c.cap = Bf16Path::None;
    if (c.value == "avx512_bf16") c.cap = Bf16Path::Avx512Bf16;
    return c;
  }();
  return cap;
}

std::atomic<int> g_use_cap{rank(Bf16Path::Amx)};

std::shared_ptr<const PackedBf16Weight> pack_for(const uint16_t* w, int64_t n, int64_t k,
                                                 Bf16Path path);

// A deterministic product with ragged edges everywhere, run on `path` and compared with an fp64
// sum of the same bf16 values. Empty string: passed.
std::string self_test_shape(Bf16Path path, int64_t m, int64_t n, int64_t k) {
  uint32_t state = 0x2545F491u;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(static_cast<int32_t>(state) >> 8) * 0x1.0p-23f;  // [-1, 1)
  };
  std::vector<float> x(m * k), w(n * k), bias(n), residual(m * n);
  for (auto* v : {&x, &w, &bias, &residual}) {
    for (float& f : *v) f = next();
  }
  std::vector<uint16_t> wb(w.size());
  floats_to_bf16(w.data(), wb.data(), w.size());
  std::vector<float> out = residual;  // residual aliasing out: the hardest case for the epilogue
  try {
    const auto packed = pack_for(wb.data(), n, k, path);
    linear_bf16(x.data(), *packed, bias.data(), out.data(), out.data(), m, n, k,
                Activation::GeluErf);
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
  double worst = 0.0;
  int64_t at = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0, mag = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double t = static_cast<double>(round_to_bf16(x[i * k + p])) * bf16_to_float(wb[j * k + p]);
        s += t;
        mag += std::fabs(t);
      }
      s += bias[j];
      const double ref = 0.5 * s * (1.0 + std::erf(s / std::sqrt(2.0))) + residual[i * n + j];
      // fp32 sums: a few ulps of the magnitude summed; GELU's approximation: ~1e-7.
      const double err = std::fabs(out[i * n + j] - ref) / (mag + std::fabs(bias[j]) + 1.0);
      if (!(err <= worst)) {  // also catches NaN
        worst = std::isnan(err) ? INFINITY : err;
        at = i * n + j;
      }
    }
  }
  if (worst <= 1e-5) return "";
  char buf[160];
  std::snprintf(buf, sizeof buf, "max rel err %.1e at row %lld col %lld of %lldx%lldx%lld", worst,
                static_cast<long long>(at / n), static_cast<long long>(at % n),
                static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k));
  return buf;
}

// Off every tile size (rows 14 / 32, columns 32, k 32): a small product the calling thread runs
// alone, and one large enough to run on the pool (each thread's tile set-up).
std::string self_test(Bf16Path path) {
  std::string failure = self_test_shape(path, 37, 45, 83);
  if (failure.empty()) failure = self_test_shape(path, 97, 70, 300);
  return failure;
}

struct PathState {
  std::once_flag once;
  bool ok = false;
  std::string why;  // when not ok
};

// Whether `path` works on this machine: hardware, OS permission and self-test, once each.
const PathState& check(Bf16Path path) {
  static PathState states[3];
  PathState& s = states[rank(path)];
  std::call_once(s.once, [&s, path] {
    if (path == Bf16Path::Avx512Bf16) {
      if (!bf16::cpu_has_avx512_bf16()) {
        s.why = "this CPU has no AVX512_BF16";
        return;
      }
    } else if (path == Bf16Path::Amx) {
      if (!bf16::cpu_has_amx()) {
        s.why = "this CPU (or OS) has no AMX-BF16";
        return;
      }
      if (!bf16::cpu_has_avx512_bf16()) {
        s.why = "AMX without AVX512_BF16 (needed for its operands) is not supported";
        return;
      }
      if (!bf16::amx_enable(&s.why)) return;
    } else {
      s.ok = true;
      return;
    }
    const std::string failure = self_test(path);
    if (failure.empty()) {
      s.ok = true;
    } else {
      s.why = std::string(bf16_path_name(path)) + " self-test mismatch: " + failure;
    }
  });
  return s;
}

// The fastest path the caps allow: the hardware's, lowered by CLIPKIT_ISA, use_bf16_path() and a
// dispatch level below AVX-512 (which has none).
Bf16Path capped_path() {
  if (detected_isa() != Isa::Avx512) return Bf16Path::None;
  const auto use_cap = static_cast<Bf16Path>(g_use_cap.load(std::memory_order_relaxed));
  return lower(bf16_hardware(), lower(env_cap().cap, use_cap));
}

Bf16Path below(Bf16Path p) { return static_cast<Bf16Path>(rank(p) - 1); }

}  // namespace

Bf16Path bf16_hardware() {
  if (bf16::cpu_has_amx() && bf16::cpu_has_avx512_bf16()) return Bf16Path::Amx;
  if (bf16::cpu_has_avx512_bf16()) return Bf16Path::Avx512Bf16;
  return Bf16Path::None;
}

// Runs on every bf16 linear call (PackedBf16Cache::get), so it builds no strings: the reasons
// are put together only when bf16_note() asks.
Bf16Path bf16_path() {
  for (Bf16Path p = capped_path(); p != Bf16Path::None; p = below(p)) {
    if (check(p).ok) return p;
  }
  return Bf16Path::None;
}

std::string bf16_note() {
  const Bf16Path hw = bf16_hardware();
  const EnvCap& env = env_cap();
  const auto use_cap = static_cast<Bf16Path>(g_use_cap.load(std::memory_order_relaxed));
  std::string note;
  if (hw == Bf16Path::None) {
    note = "this CPU has neither AMX nor AVX512_BF16";
  } else if (rank(env.cap) < rank(hw)) {
    note = "CLIPKIT_ISA=" + env.value + " lowers it";
  } else if (detected_isa() != Isa::Avx512) {
    note = std::string("dispatch is lowered to ") + isa_name(detected_isa());
  } else if (rank(use_cap) < rank(hw)) {
    note = std::string("capped at ") + bf16_path_name(use_cap) + " (use_bf16_path)";
  }
  for (Bf16Path p = capped_path(); p != Bf16Path::None; p = below(p)) {
    const PathState& s = check(p);
    if (s.ok) return note;
    note = s.why + "; using " + bf16_path_name(below(p));
    if (below(p) == Bf16Path::None) note += " (fp32 kernels)";
  }
  return note;
}

void use_bf16_path(Bf16Path cap) { g_use_cap.store(rank(cap), std::memory_order_relaxed); }

struct PackedBf16Weight {
  PackedBf16Weight(Bf16Path path_, int64_t n_, int64_t k_, int64_t kp_, size_t bytes_)
      : path(path_), n(n_), k(k_), kp(kp_), bytes(bytes_),
        panels(bytes_ > 0 ? static_cast<uint16_t*>(alloc_host_memory(bytes_)) : nullptr) {}
  PackedBf16Weight(const PackedBf16Weight&) = delete;
  PackedBf16Weight& operator=(const PackedBf16Weight&) = delete;
  ~PackedBf16Weight() {
    if (panels != nullptr) free_host_memory(panels, bytes);
  }
  Bf16Path path;
  int64_t n;
  int64_t k;
  int64_t kp;  // padded k of the panels
  size_t bytes;
  uint16_t* panels;  // fast paths: see gemm_bf16.h
  std::shared_ptr<const PackedLinearWeight> widened;  // Bf16Path::None
};

Bf16Path packed_path(const PackedBf16Weight& w) { return w.path; }

namespace {

std::shared_ptr<const PackedBf16Weight> pack_for(const uint16_t* w, int64_t n, int64_t k,
                                                 Bf16Path path) {
  n = std::max<int64_t>(n, 0);
  k = std::max<int64_t>(k, 0);
  if (path == Bf16Path::None) {
    std::vector<float> wide(static_cast<size_t>(n * k));
    bf16_to_floats(w, wide.data(), wide.size());
    auto packed = std::make_shared<PackedBf16Weight>(path, n, k, k, 0);
    packed->widened = pack_linear_weight(wide.data(), n, k, detected_isa());
    return packed;
  }
  const int64_t kp = bf16::padded_k(std::max<int64_t>(k, 1));
  const size_t bytes =
      static_cast<size_t>(bf16::panel_count(n) * bf16::panel_elems(kp)) * sizeof(uint16_t);
  auto packed = std::make_shared<PackedBf16Weight>(path, n, k, kp, bytes);
  bf16::pack_panels(w, n, k, kp, packed->panels);  // zero-filled by alloc_host_memory
  return packed;
}

}  // namespace

std::shared_ptr<const PackedBf16Weight> pack_linear_weight_bf16(const uint16_t* w, int64_t n,
                                                               int64_t k, Bf16Path path) {
  const Bf16Path allowed = bf16_path();  // a fast path only once it passed its checks
  return pack_for(w, n, k, rank(path) < rank(allowed) ? path : allowed);
}

void linear_bf16(const float* x, const PackedBf16Weight& w, const float* bias,
                 const float* residual, float* out, int64_t m, int64_t n, int64_t k,
                 Activation act) {
  check_packed_shape("linear_bf16", w.n, w.k, n, k);
  if (m <= 0 || n <= 0) return;
  if (w.path == Bf16Path::None) {
    thread_local Scratch rounded;
    float* xr = rounded.floats(static_cast<size_t>(m * std::max<int64_t>(k, 1)));
    for (int64_t i = 0; i < m * k; ++i) xr[i] = round_to_bf16(x[i]);
    linear_packed(xr, *w.widened, bias, residual, out, m, n, k, act);
    return;
  }
  const bf16::Gemm g{x, w.panels, bias, residual, out, m, n, k, w.kp, act};
  if (w.path == Bf16Path::Amx) {
    bf16::gemm_amx(g);
  } else {
    bf16::gemm_avx512_bf16(g);
  }
}

}  // namespace clipkit::cpu

namespace clipkit {

const char* bf16_path_name(Bf16Path path) {
  switch (path) {
    case Bf16Path::Amx:
      return "amx";
    case Bf16Path::Avx512Bf16:
      return "avx512_bf16";
    case Bf16Path::None:
      break;
  }
  return "none";
}

}  // namespace clipkit
