#include "binding/packed_weight.h"

namespace clipkit::binding {

std::shared_ptr<const cpu::PackedLinearWeight> PackedWeightCache::get(const float* w, int64_t n,
                                                                      int64_t k) {
  const Isa isa = cpu::detected_isa();
  std::lock_guard<std::mutex> lock(mutex_);
  if (packed_ == nullptr || isa_ != isa || n_ != n || k_ != k) {
    packed_ = cpu::pack_linear_weight(w, n, k, isa);
    isa_ = isa;
    n_ = n;
    k_ = k;
  }
  return packed_;
}

void PackedWeightCache::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  packed_.reset();
}

std::shared_ptr<const cpu::PackedBf16Weight> PackedBf16Cache::get(const uint16_t* w, int64_t n,
                                                                  int64_t k) {
  const Bf16Path path = cpu::bf16_path();  // outside the lock: may run the self-test
  const Isa isa = cpu::detected_isa();
  std::lock_guard<std::mutex> lock(mutex_);
  if (packed_ == nullptr || path_ != path || (path == Bf16Path::None && isa_ != isa) ||
      n_ != n || k_ != k) {
    packed_ = cpu::pack_linear_weight_bf16(w, n, k, path);
    path_ = path;
    isa_ = isa;
    n_ = n;
    k_ = k;
  }
  return packed_;
}

void PackedBf16Cache::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  packed_.reset();
}

}  // namespace clipkit::binding
