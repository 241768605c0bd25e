// Grow-only per-thread scratch (private to src/cpu), in alloc_host_memory blocks.
#pragma once

#include <cstddef>

#include "clipkit/kernels.h"

namespace clipkit::cpu {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { free_host_memory(data_, capacity_); }

  // At least `count` floats; previous contents are not preserved when it grows.
  float* floats(size_t count) {
    const size_t bytes = (count * sizeof(float) + 63) & ~static_cast<size_t>(63);
    if (bytes > capacity_) {
      free_host_memory(data_, capacity_);
      data_ = nullptr;
      capacity_ = 0;
      // A block big enough to matter is rounded up to whole huge pages: there is one per thread
      // and kernel, so the rounding costs little, and all of it is then on huge pages.
      const size_t size = bytes >= kRoundUpFrom ? (bytes + kHugePage - 1) / kHugePage * kHugePage
                                                : bytes;
      data_ = alloc_host_memory(size);
      capacity_ = size;
    }
    return static_cast<float*>(data_);
  }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kRoundUpFrom = size_t{256} << 10;

  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace clipkit::cpu
