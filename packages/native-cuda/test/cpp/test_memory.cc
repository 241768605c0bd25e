// alloc_host_memory: aligned, zero-filled, writable end to end, on its own 2 MiB-aligned mapping
// from 2 MiB on (so huge pages are possible), freed with the same size; absurd sizes throw.
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "clipkit/kernels.h"
#include "harness.h"

using namespace clipkit;

namespace {

constexpr size_t kHuge = size_t{2} << 20;

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace

TEST(host_memory_is_aligned_zeroed_and_writable) {
  const size_t sizes[] = {0, 1, 63, 64, 4097, kHuge - 1, kHuge, kHuge + 1, 3 * kHuge + 12345};
  for (const size_t bytes : sizes) {
    auto* p = static_cast<unsigned char*>(cpu::alloc_host_memory(bytes));
    CHECK(p != nullptr);
    CHECK_EQ(address(p) % 64, uintptr_t{0});
    if (bytes >= kHuge) CHECK_EQ(address(p) % kHuge, uintptr_t{0});
    bool zero = true;
    for (size_t i = 0; i < bytes; ++i) zero = zero && p[i] == 0;
    CHECK(zero);
    if (bytes > 0) {
      std::memset(p, 0xab, bytes);
      CHECK_EQ(static_cast<int>(p[bytes - 1]), 0xab);
    }
    cpu::free_host_memory(p, bytes);
  }
  cpu::free_host_memory(nullptr, kHuge);
}

TEST(host_memory_reused_after_free_is_zeroed_again) {
  // The heap hands freed blocks back; alloc_host_memory must still return zeros.
  for (int round = 0; round < 3; ++round) {
    for (const size_t bytes : {size_t{256}, size_t{100000}, 2 * kHuge}) {
      auto* p = static_cast<unsigned char*>(cpu::alloc_host_memory(bytes));
      bool zero = true;
      for (size_t i = 0; i < bytes; ++i) zero = zero && p[i] == 0;
      CHECK(zero);
      std::memset(p, 0x5a, bytes);
      cpu::free_host_memory(p, bytes);
    }
  }
}

TEST(host_memory_refuses_impossible_sizes) {
  for (const size_t bytes : {std::numeric_limits<size_t>::max(),
                             std::numeric_limits<size_t>::max() - kHuge + 1,
                             size_t{1} << 62}) {
    CHECK_THROWS(cpu::free_host_memory(cpu::alloc_host_memory(bytes), bytes), std::bad_alloc);
  }
}
