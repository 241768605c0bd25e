// Grow-only, 64-byte aligned scratch memory (private to src/cpu). Kernels keep one per thread
// (thread_local) so the hot path reuses pages instead of faulting in fresh ones per call.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace clipkit::cpu {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(data_); }

  // At least `count` floats; previous contents are not preserved when it grows.
  float* floats(size_t count) {
    const size_t bytes = (count * sizeof(float) + 63) & ~static_cast<size_t>(63);
    if (bytes > capacity_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, bytes);
      if (data_ == nullptr) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
      capacity_ = bytes;
    }
    return static_cast<float*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace clipkit::cpu
