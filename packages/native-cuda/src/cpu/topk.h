// Bounded top-k selection for similarity search (private to src/cpu).
//
// Order: higher score first, ties by lower index; NaN ranks below every number (NaNs among
// themselves by index), so a NaN score can be returned only when fewer than k numbers exist.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

namespace clipkit::cpu {

struct Candidate {
  float score;
  int32_t index;
};

inline bool ranks_before(const Candidate& a, const Candidate& b) {
  const bool an = std::isnan(a.score);
  const bool bn = std::isnan(b.score);
  if (an != bn) return bn;
  if (!an && a.score != b.score) return a.score > b.score;
  return a.index < b.index;
}

// The k best candidates seen so far, as a binary heap whose root is the worst of them.
class TopK {
 public:
  TopK(Candidate* storage, int64_t k) : heap_(storage), k_(k) {}

  int64_t size() const { return size_; }

  // Scores that cannot enter compare !(score <= bar()): NaN (everything may enter) until k
  // numbers are kept, then the worst kept score (ties with it lose, see push_in_order).
  float bar() const {
    return size_ < k_ ? std::numeric_limits<float>::quiet_NaN() : heap_[0].score;
  }

  // Candidates must arrive in increasing index order: a tie with the worst kept one then
  // always loses, which makes the common rejection a single float comparison.
  void push_in_order(float score, int32_t index) {
    if (size_ < k_) {
      heap_[size_] = {score, index};
      sift_up(size_++);
      return;
    }
    const float worst = heap_[0].score;
    if (std::isnan(score) || !(std::isnan(worst) || score > worst)) return;
    heap_[0] = {score, index};
    sift_down(0);
  }

 private:
  void sift_up(int64_t i) {
    while (i > 0) {
      const int64_t parent = (i - 1) / 2;
      if (!ranks_before(heap_[parent], heap_[i])) break;
      std::swap(heap_[parent], heap_[i]);
      i = parent;
    }
  }

  void sift_down(int64_t i) {
    for (;;) {
      const int64_t l = 2 * i + 1;
      const int64_t r = l + 1;
      int64_t worst = i;
      if (l < size_ && ranks_before(heap_[worst], heap_[l])) worst = l;
      if (r < size_ && ranks_before(heap_[worst], heap_[r])) worst = r;
      if (worst == i) return;
      std::swap(heap_[i], heap_[worst]);
      i = worst;
    }
  }

  Candidate* heap_;
  int64_t k_;
  int64_t size_ = 0;
};

}  // namespace clipkit::cpu
