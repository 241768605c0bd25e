// Run-time ISA detection and the dispatch level every CPU kernel reads.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "clipkit/kernels.h"

namespace clipkit::cpu {
namespace {

Isa probe_hardware() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return Isa::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Generic;
}

Isa lower(Isa a, Isa b) { return static_cast<int>(a) < static_cast<int>(b) ? a : b; }

// CLIPKIT_ISA=generic|avx2|avx512 caps the level; unknown values are ignored (avx512_bf16 and
// amx leave it at the hardware's and cap only the bf16 path, see gemm_bf16.cc).
Isa env_cap(Isa hw) {
  const char* env = std::getenv("CLIPKIT_ISA");
  if (env == nullptr) return hw;
  if (std::strcmp(env, "generic") == 0) return Isa::Generic;
  if (std::strcmp(env, "avx2") == 0) return lower(hw, Isa::Avx2);
  if (std::strcmp(env, "avx512") == 0) return lower(hw, Isa::Avx512);
  return hw;
}

std::atomic<int>& active() {
  static std::atomic<int> level{static_cast<int>(env_cap(hardware_isa()))};
  return level;
}

}  // namespace

Isa hardware_isa() {
  static const Isa hw = probe_hardware();
  return hw;
}

Isa detected_isa() { return static_cast<Isa>(active().load(std::memory_order_relaxed)); }

void use_isa(Isa isa) {
  active().store(static_cast<int>(lower(isa, hardware_isa())), std::memory_order_relaxed);
}

}  // namespace clipkit::cpu

namespace clipkit {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    case Isa::Generic:
      break;
  }
  return "generic";
}

}  // namespace clipkit
