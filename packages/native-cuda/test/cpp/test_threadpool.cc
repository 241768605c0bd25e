// The compute pool: every index visited exactly once in non-empty chunks, nested calls inline,
// concurrent callers serialised, resizing, exceptions; kernels agreeing across thread counts.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "clipkit/kernels.h"
#include "cpu/threadpool.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

// Restores the pool size a test changed.
struct ThreadCountGuard {
  int before = cpu::thread_count();
  ~ThreadCountGuard() { cpu::set_thread_count(before); }
};

}  // namespace

TEST(threadpool_covers_every_index_once) {
  ThreadCountGuard guard;
  for (const int threads : {1, 2, 3, 5}) {
    cpu::set_thread_count(threads);
    CHECK_EQ(cpu::thread_count(), threads);
    for (const int64_t n : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{1000}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> chunks{0};
      cpu::parallel_for(n, [&](int64_t begin, int64_t end) {
        CHECK(begin < end);
        chunks.fetch_add(1);
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (auto& h : hits) CHECK_EQ(h.load(), 1);
      CHECK(chunks.load() >= 1);
      CHECK(chunks.load() <= n);
    }
  }
}

TEST(threadpool_grain_keeps_small_jobs_inline) {
  std::atomic<int> chunks{0};
  const auto caller = std::this_thread::get_id();
  bool on_caller = true;
  cpu::parallel_for(100, [&](int64_t begin, int64_t end) {
    chunks.fetch_add(1);
    on_caller = on_caller && std::this_thread::get_id() == caller && begin == 0 && end == 100;
  }, 1000);
  CHECK_EQ(chunks.load(), 1);
  CHECK(on_caller);
}

TEST(threadpool_nested_calls_run_inline) {
  ThreadCountGuard guard;
  cpu::set_thread_count(3);
  std::atomic<int64_t> total{0};
  cpu::parallel_for(6, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      cpu::parallel_for(10, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
    }
  });
  CHECK_EQ(total.load(), 60);
}

TEST(threadpool_concurrent_callers) {
  // Several threads (like libuv workers and the JS thread) submit jobs at once.
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep) {
        cpu::parallel_for(64, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK_EQ(total.load(), 4 * 200 * 64);
}

TEST(threadpool_kernels_agree_across_thread_counts) {
  ThreadCountGuard guard;
  Rng rng(61);
  const int64_t m = 97, n = 230, k = 300;
  const auto x = random_floats(rng, m * k);
  const auto w = random_floats(rng, n * k);
  std::vector<float> first;
  for (const int threads : {1, 2, 3, 4}) {
    cpu::set_thread_count(threads);
    std::vector<float> out(static_cast<size_t>(m * n));
    cpu::linear(x.data(), w.data(), nullptr, nullptr, out.data(), m, n, k, Activation::None);
    if (first.empty()) {
      first = out;
    } else {
      CHECK(out == first);  // same blocking, same sums: bitwise equal
    }
  }
}

TEST(threadpool_stalled_thread_leaves_its_share_to_the_others) {
  // The thread holding index 0 waits until every other item is done, as if another process had
  // taken its core: the rest of the job must be claimable by the other thread instead of being
  // fixed to the stalled one (a one-chunk-per-thread split leaves half the items behind it).
  ThreadCountGuard guard;
  cpu::set_thread_count(2);
  constexpr int64_t n = 64;
  std::atomic<int64_t> others_done{0};
  int64_t first_chunk = 0;
  bool others_finished = false;
  cpu::parallel_for(n, [&](int64_t begin, int64_t end) {
    if (begin != 0) {
      others_done.fetch_add(end - begin);
      return;
    }
    first_chunk = end;
    // Bounded so a regression fails instead of hanging.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (others_done.load() < n - end && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    others_finished = others_done.load() == n - end;
  });
  CHECK(first_chunk < n / 2);
  CHECK(others_finished);
}

TEST(threadpool_exceptions_reach_the_caller) {
  // A chunk that throws (on a worker or on the caller) surfaces as an exception from
  // parallel_for once every chunk has finished; the pool stays usable.
  ThreadCountGuard guard;
  cpu::set_thread_count(3);
  for (const int64_t bad : {int64_t{0}, int64_t{2}}) {
    std::atomic<int> finished{0};
    bool thrown = false;
    try {
      cpu::parallel_for(3, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          if (i == bad) throw std::runtime_error("chunk failed");
          finished.fetch_add(1);
        }
      });
    } catch (const std::runtime_error&) {
      thrown = true;
    }
    CHECK(thrown);
    CHECK_EQ(finished.load(), 2);
  }
  std::atomic<int64_t> total{0};
  cpu::parallel_for(100, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  CHECK_EQ(total.load(), 100);
}
