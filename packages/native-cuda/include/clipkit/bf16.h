// bfloat16 <-> float32: the storage and GEMM input format of bf16 linear weights. Rounding is
// to nearest even, as vcvtne2ps2bf16, AMX and CUDA's __float2bfloat16_rn round; a NaN stays a
// (quiet) NaN of the same sign instead of rounding into infinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace clipkit {

inline uint16_t float_to_bf16(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// The float that float_to_bf16 rounds `value` to.
inline float round_to_bf16(float value) { return bf16_to_float(float_to_bf16(value)); }

inline void floats_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_bf16(src[i]);
}

inline void bf16_to_floats(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

}  // namespace clipkit
