// The one persistent compute pool of the CPU kernels (private to src/cpu).
//
// Sized to the hardware threads (set_thread_count), the calling thread runs a share of every
// job, and idle workers sleep on a condition variable: no spinning, so the pool coexists with
// libuv's and libvips' threads on a small machine. Jobs from different caller threads (the JS
// thread, libuv workers) are serialised, one at a time.
#pragma once

#include <cstdint>
#include <type_traits>

namespace clipkit::cpu {

namespace detail {
using RangeCall = void (*)(void* ctx, int64_t begin, int64_t end);
void run_parallel(int64_t n, int64_t grain, RangeCall call, void* ctx);
}  // namespace detail

// fn(begin, end) over [0, n) in contiguous chunks of about `grain` items or more, each thread
// calling fn for every chunk it claims (several per thread, claimed in order), so fn must accept
// any range; small jobs, and calls made from inside a job, run inline on the caller.
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t grain = 1) {
  using F = std::remove_reference_t<Fn>;
  auto call = [](void* ctx, int64_t begin, int64_t end) { (*static_cast<F*>(ctx))(begin, end); };
  detail::run_parallel(n, grain, call, const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace clipkit::cpu
