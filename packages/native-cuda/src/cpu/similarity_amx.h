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
// (the exact kernel then scores every row for every query), rows scored exactly after a first
// pass, and queries a first pass left to the exact kernel over every row.
struct TopkCounters {
  std::atomic<int64_t> amx_passes{0};
  std::atomic<int64_t> amx_gave_up{0};
  std::atomic<int64_t> rescored_rows{0};
  std::atomic<int64_t> unfiltered_queries{0};
};
TopkCounters& topk_counters();  // similarity.cc

namespace bf16 {

// Candidate rows for top-k of a[m,d] · b[n,d]^T scaled by `scale`, in increasing order, into
// *rows: every row that the exact kernel's ranking (score desc, lower index first, NaN last)
// could put in the first k of a query not listed in *every_row. *every_row (increasing) lists
// the queries that kept too many rows to filter (e.g. a zero query ties every row): they need
// every row. False when the pass does not apply (a non-finite or huge query, scale outside
// [2^-60, 2^40], d > 65536, or so many queries and so large a k that their candidate lists
// would not fit in 64 MiB) or gives up (over half the queries need every row); the caller then
// scores every row for every query. Needs amx_enable().
bool topk_candidates_amx(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         int64_t k, float scale, std::vector<int32_t>* rows,
                         std::vector<int32_t>* every_row);
bool topk_candidates_amx(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         int64_t k, float scale, std::vector<int32_t>* rows,
                         std::vector<int32_t>* every_row);

}  // namespace bf16
}  // namespace clipkit::cpu
