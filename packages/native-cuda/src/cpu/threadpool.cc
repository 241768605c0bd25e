#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "clipkit/kernels.h"

namespace clipkit::cpu {
namespace {

// True on a thread while it runs a chunk: nested parallel_for calls then run inline instead
// of waiting on the pool they are part of.
thread_local bool t_in_job = false;

// Chunks per participating thread, claimed one at a time: a thread slowed by another process
// (libvips decoders, a second program on a 2-core machine) leaves its remaining chunks to the
// others, where one fixed chunk per thread made the whole job wait for the slowest thread.
constexpr int64_t kChunksPerThread = 16;

class Pool {
 public:
  Pool() { start(default_threads()); }

  // Lock-free: kernels running inside a job ask for it.
  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> job(job_mutex_);
    if (n <= 0) n = default_threads();
    if (n == static_cast<int>(workers_.size()) + 1) return;
    stop();
    start(n);
  }

  void run(int64_t n, int64_t grain, detail::RangeCall call, void* ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (t_in_job) {
      call(ctx, 0, n);
      return;
    }
    std::lock_guard<std::mutex> job(job_mutex_);
    const int64_t max_parts = (n + grain - 1) / grain;
    const int parts = static_cast<int>(
        std::min<int64_t>(static_cast<int64_t>(workers_.size()) + 1, max_parts));
    const int64_t chunks = std::min<int64_t>(max_parts, parts * kChunksPerThread);
    if (parts <= 1) {
      if (const auto error = run_chunk(call, ctx, 0, n)) std::rethrow_exception(error);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      call_ = call;
      ctx_ = ctx;
      n_ = n;
      chunks_ = chunks;
      next_chunk_.store(0, std::memory_order_relaxed);
      parts_ = parts;
      pending_ = parts - 1;
      error_ = nullptr;
      ++generation_;
    }
    start_cv_.notify_all();
    // Even when this thread's chunks throw, wait: the workers still use ctx.
    std::exception_ptr error = run_chunks(call, ctx, n, chunks);
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    if (!error) error = error_;
    if (error) std::rethrow_exception(error);
  }

 private:
  static int default_threads() {
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }

  // An exception (e.g. bad_alloc growing scratch) must not escape a worker thread, which
  // would terminate the process: it is handed to the caller of the job instead.
  static std::exception_ptr run_chunk(detail::RangeCall call, void* ctx, int64_t begin,
                                      int64_t end) noexcept {
    t_in_job = true;
    std::exception_ptr error;
    try {
      call(ctx, begin, end);
    } catch (...) {
      error = std::current_exception();
    }
    t_in_job = false;
    return error;
  }

  // Claims chunks of [0, n) until none is left; returns the first exception one threw.
  std::exception_ptr run_chunks(detail::RangeCall call, void* ctx, int64_t n, int64_t chunks) {
    std::exception_ptr first;
    for (int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed); c < chunks;
         c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) {
      std::exception_ptr error = run_chunk(call, ctx, n * c / chunks, n * (c + 1) / chunks);
      if (error && !first) first = std::move(error);
    }
    return first;
  }

  void start(int n) {
    stopping_ = false;
    // Workers start from the current generation: reading it inside the new thread would race
    // with the first job and could miss it.
    threads_.store(n, std::memory_order_relaxed);
    const uint64_t generation = generation_;
    for (int i = 1; i < n; ++i) {
      workers_.emplace_back([this, i, generation] { work(i, generation); });
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void work(int part, uint64_t seen) {
    for (;;) {
      detail::RangeCall call;
      void* ctx;
      int64_t n;
      int64_t chunks;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        start_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (part >= parts_) continue;
        call = call_;
        ctx = ctx_;
        n = n_;
        chunks = chunks_;
      }
      const std::exception_ptr error = run_chunks(call, ctx, n, chunks);
      bool last;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (error && !error_) error_ = error;
        last = --pending_ == 0;
      }
      if (last) done_cv_.notify_one();
    }
  }

  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;                // guards the fields below
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> workers_;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  detail::RangeCall call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};  // next unclaimed chunk of the running job
  int parts_ = 0;
  int pending_ = 0;
  std::exception_ptr error_;  // first exception a worker's chunk threw in this job
  std::atomic<int> threads_{1};
};

// Never destroyed: a libuv thread may still be inside a job while the process exits.
Pool& pool() {
  static Pool* const p = new Pool();
  return *p;
}

}  // namespace

namespace detail {
void run_parallel(int64_t n, int64_t grain, RangeCall call, void* ctx) {
  pool().run(n, grain, call, ctx);
}
}  // namespace detail

int thread_count() { return pool().threads(); }
void set_thread_count(int n) { pool().resize(n); }

}  // namespace clipkit::cpu
