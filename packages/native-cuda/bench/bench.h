// clipkit_bench: the standalone microbenchmark program of the kernel library.
//
// Every bench/*.cc file can contribute cases through a CLIPKIT_BENCH_PROVIDER: a function that
// appends Cases for the given options (CPU kernels in cpu_kernels.cc; CUDA kernels add theirs
// with device "cuda" when cuda::available(); preprocessing rows when --preprocess is given).
// main.cc times each case (median of repeats after warm-up), sets it beside the measured FMA
// peak / memory bandwidth (peak.cc), prints a table and writes --json.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clipkit/kernels.h"

namespace clipkit::bench {

struct Options {
  bool quick = false;       // few repeats, smaller catalogues: the whole run stays within ~60 s
  bool tiny = false;        // toy shapes: a smoke test of the program itself
  bool preprocess = false;  // also run image preprocessing cases
  bool all_isas = false;    // CPU cases once per supported ISA, not just the best one
  int threads = 0;          // CPU thread count, 0 = one per hardware thread
  std::string filter;       // run only cases whose "kernel shape" contains this
};

// What limits a kernel, and so what its rate is compared with.
enum class Bound {
  Compute,    // GFLOP/s against the FMA peak
  Bf16,       // GFLOP/s against the peak of the bf16 path it runs on (AMX, vdpbf16ps, else FMA)
  Read,       // GB/s against streaming-read bandwidth
  ReadWrite,  // GB/s against copy bandwidth (bytes read + written)
};

using Runner = std::function<void()>;  // one synchronous call of the kernel

struct Case {
  std::string kernel;  // e.g. "linear", "attention", "similarity_topk_f16"
  std::string device;  // "cpu" or "cuda"
  std::string shape;   // human-readable, e.g. "ViT-B/32 fc1 1600x3072x768"
  Bound bound = Bound::Compute;
  double work = 0.0;  // flops (Compute) or bytes (Read / ReadWrite) per call
  // Allocates and fills the inputs, returns the timed call; everything is freed after the case.
  std::function<Runner()> prepare;
};

using Provider = void (*)(const Options& options, std::vector<Case>& cases);

struct ProviderRegistrar {
  explicit ProviderRegistrar(Provider provider);
};

// "AxB" / "AxBxC" in case shapes.
inline std::string dims(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }
inline std::string dims(int64_t a, int64_t b, int64_t c) {
  return dims(a, b) + "x" + std::to_string(c);
}

// The shape text and flop count of an attention case, the same for every device.
inline std::string attention_shape(const char* label, const AttentionShape& s) {
  return std::string(label) + " b" + std::to_string(s.batch) + " t" + std::to_string(s.tokens) +
         " h" + std::to_string(s.heads) + " d" + std::to_string(s.head_dim) +
         (s.causal ? " causal" : "");
}
inline double attention_flops(const AttentionShape& s) {
  // QKᵀ and PV: 2 · 2·t·t·d per head; a causal mask visits about half the keys.
  const double full = 4.0 * static_cast<double>(s.batch * s.heads) *
                      static_cast<double>(s.tokens * s.tokens) * static_cast<double>(s.head_dim);
  return s.causal ? full * static_cast<double>(s.tokens + 1) / (2.0 * s.tokens) : full;
}

// Deterministic fill in [-1, 1), spread over the compute pool (catalogues are gigabytes).
void fill_random(float* data, size_t n, uint64_t seed);
void fill_random_half(uint16_t* data, size_t n, uint64_t seed);

}  // namespace clipkit::bench

#define CLIPKIT_BENCH_PROVIDER(name, fn) \
  static const ::clipkit::bench::ProviderRegistrar clipkit_bench_provider_##name(fn)
