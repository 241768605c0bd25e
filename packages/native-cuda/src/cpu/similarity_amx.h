// The AMX first pass of the many-query top-k (private to src/cpu): which rows of b can hold
// some query's exact top-k, found from bf16 scores and a proven bound on their error. The
// exact pass (similarity.cc) then scores only those rows with the fused fp32 kernel, so the
// answer is the same, bit for bit, as scoring every row with it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace clipkit::cpu {

// What the many-query top-k did, for the tests: AMX first passes run, first passes given up
// (too many candidates: the exact kernel then scores every row) and rows scored exactly after
// a first pass.
struct TopkCounters {
  std::atomic<int64_t> amx_passes{0};
  std::atomic<int64_t> amx_gave_up{0};
  std::atomic<int64_t> rescored_rows{0};
};
TopkCounters& topk_counters();  // similarity.cc

namespace bf16 {

// Candidate rows for top-k of a[m,d] · b[n,d]^T scaled by `scale`, in increasing order, into
// *rows: every row that the exact kernel's ranking (score desc, lower index first, NaN last)
// could put in some query's first k. False when the pass does not apply (a non-finite or huge
// query, scale outside [2^-60, 2^40], d > 65536, or so many queries and so large a k that
// their candidate lists would not fit in 64 MiB) or gives up (a query keeps too many candidates,
// e.g. most rows tie); the caller then scores every row. Needs amx_enable().
bool topk_candidates_amx(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         int64_t k, float scale, std::vector<int32_t>* rows);
bool topk_candidates_amx(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         int64_t k, float scale, std::vector<int32_t>* rows);

}  // namespace bf16
}  // namespace clipkit::cpu
