// The packed GEMM form (cpu::PackedLinearWeight) of a CPU f32 tensor used as a linear weight.
// Weights are constant, so linear() packs a Tensor weight on first use and reuses the pack
// for every later call: no per-call packing, and one summation order for every batch size
// (a row's result does not depend on how many rows are in the batch).
// Memory: the pack is as large as the weight itself (n*k floats, plus zero padding up to a
// whole panel) and lives as long as the tensor's storage. It is not reported to the GC as
// external memory: it is built on worker threads, where no JS environment is available.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "clipkit/kernels.h"

namespace clipkit::binding {

class PackedWeightCache {
 public:
  // The pack of w (n×k) for the ISA kernels dispatch to now. Packs when there is none yet or
  // the last one was for another ISA (use_isa) or shape (the same tensor seen as n×k and
  // k×n). Packing holds the lock, so concurrent callers pack once and invalidate() waits.
  std::shared_ptr<const cpu::PackedLinearWeight> get(const float* w, int64_t n, int64_t k);

  // The tensor's contents changed (or are about to): drop the pack. Jobs already holding it
  // keep their copy until they end.
  void invalidate();

 private:
  std::mutex mutex_;
  Isa isa_ = Isa::Generic;
  int64_t n_ = 0;
  int64_t k_ = 0;
  std::shared_ptr<const cpu::PackedLinearWeight> packed_;
};

// The same for a CPU bf16 tensor: its pack for the bf16 path weights run on now (bf16_path(),
// and for Bf16Path::None the ISA of the fp32 pack). The first call also runs the path's
// self-test (once per process).
class PackedBf16Cache {
 public:
  std::shared_ptr<const cpu::PackedBf16Weight> get(const uint16_t* w, int64_t n, int64_t k);
  void invalidate();

 private:
  std::mutex mutex_;
  Bf16Path path_ = Bf16Path::None;
  Isa isa_ = Isa::Generic;
  int64_t n_ = 0;
  int64_t k_ = 0;
  std::shared_ptr<const cpu::PackedBf16Weight> packed_;
};

}  // namespace clipkit::binding
