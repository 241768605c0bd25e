// The one persistent compute pool of the CPU kernels (private to src/cpu).
//
// Sized to the hardware threads (set_thread_count), the calling thread runs a share of every
// job, and idle workers sleep on a condition variable: no spinning, so the pool coexists with
// libuv's and libvips' threads on a small machine. Jobs from different caller threads (the JS
// thread, libuv workers) are serialised, one at a time.
#pragma once

#include <cstdint>
#include <mutex>
#include <utility>

namespace clipkit::cpu {

namespace detail {
using RangeCall = void (*)(void* ctx, int64_t begin, int64_t end);
void run_parallel(int64_t n, int64_t grain, RangeCall call, void* ctx);
std::recursive_mutex& job_mutex();
}  // namespace detail

// fn(begin, end) over [0, n), one contiguous chunk per thread (static chunking), chunks of at
// least `grain` items; small jobs, and calls made from inside a job, run inline on the caller.
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t grain = 1) {
  auto call = [](void* ctx, int64_t begin, int64_t end) { (*static_cast<Fn*>(ctx))(begin, end); };
  detail::run_parallel(n, grain, call, static_cast<void*>(&fn));
}

// Holds the pool across several parallel_for calls, for kernels whose phases share scratch
// (e.g. GEMM packs a weight panel once, then computes from it in a second job).
class PoolSession {
 public:
  PoolSession() : lock_(detail::job_mutex()) {}
  PoolSession(const PoolSession&) = delete;
  PoolSession& operator=(const PoolSession&) = delete;

 private:
  std::lock_guard<std::recursive_mutex> lock_;
};

}  // namespace clipkit::cpu
