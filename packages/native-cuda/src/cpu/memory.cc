// alloc_host_memory: see kernels.h for why large blocks are asked for on huge pages.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "clipkit/kernels.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace clipkit::cpu {
namespace {

// Rounding a larger request up would wrap around; no machine has this much memory anyway.
constexpr size_t kMaxBytes = std::numeric_limits<size_t>::max() / 4;

void* alloc_aligned64(size_t bytes) {
  if (bytes > kMaxBytes) throw std::bad_alloc();
  const size_t size = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  void* p = nullptr;
  if (posix_memalign(&p, 64, size) != 0) throw std::bad_alloc();
  std::memset(p, 0, size);
  return p;
}

}  // namespace

#if defined(__linux__) && defined(MADV_HUGEPAGE)
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = 4096;

// A large block is its own mapping: malloc may hand back heap pages already faulted in as
// 4 KiB pages, which a later madvise does not change. A fresh mapping cut to a 2 MiB boundary
// and marked before its first write faults in huge pages directly (and reads as zeros).
void* alloc_host_memory(size_t bytes) {
  if (bytes < kHugePage) return alloc_aligned64(bytes);
  if (bytes > kMaxBytes) throw std::bad_alloc();
  const size_t size = (bytes + kPage - 1) / kPage * kPage;
  const size_t span = size + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (base + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = start + size;
  if (start > base) munmap(raw, start - base);
  if (base + span > end) munmap(reinterpret_cast<void*>(end), base + span - end);
  // Only a hint: where THP is off it fails and the block keeps 4 KiB pages.
  madvise(reinterpret_cast<void*>(start), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
}

void free_host_memory(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (bytes < kHugePage) {
    std::free(p);
  } else {
    munmap(p, (bytes + kPage - 1) / kPage * kPage);
  }
}
#else
void* alloc_host_memory(size_t bytes) { return alloc_aligned64(bytes); }

void free_host_memory(void* p, size_t) { std::free(p); }
#endif

}  // namespace clipkit::cpu
