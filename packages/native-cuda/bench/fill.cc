// Deterministic random inputs for the benchmark cases, generated in parallel.
#include "bench.h"
#include "binding/half.h"
#include "cpu/threadpool.h"

namespace clipkit::bench {
namespace {

// SplitMix64 of (seed, index): any element can be generated independently of the others.
uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float unit(uint64_t r) { return static_cast<float>(r >> 40) * 0x1.0p-23f - 1.0f; }

}  // namespace

void fill_random(float* data, size_t n, uint64_t seed) {
  cpu::parallel_for(static_cast<int64_t>(n), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) data[i] = unit(mix(seed, static_cast<uint64_t>(i)));
  }, 1 << 16);
}

void fill_random_half(uint16_t* data, size_t n, uint64_t seed) {
  cpu::parallel_for(static_cast<int64_t>(n), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      data[i] = binding::float_to_half(unit(mix(seed, static_cast<uint64_t>(i))));
    }
  }, 1 << 16);
}

}  // namespace clipkit::bench
