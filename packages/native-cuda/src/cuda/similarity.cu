// Similarity: scores = scale·a[m,d]·b[n,d]^T (b as float32 or float16), as a full matrix or as
// per-row top-k without materialising m x n.
//
// Top-k plan, per chunk of query rows: b is walked in column groups of S segments of kSegment
// rows. For each group, (1) the GEMM writes the [rows, group] score tile, (2) one block per
// (row, segment) selects that segment's k best into a candidate buffer [rows][S+1][k], whose
// last slot holds the running result, (3) one block per row selects the k best of those
// (S+1)·k candidates: the new running result (sorted, so the last group's is the answer).
//
// Selection in a block: each item gets a 64-bit key (order-preserving score bits << 32 | ~index),
// so "higher score, then lower index" is plain key order and all keys are distinct. A radix
// select over the key's bytes (most significant first) finds the prefix of the k-th largest key;
// items whose key is >= that prefix (on the bits decided so far) are exactly the k best. They are
// then bitonic-sorted in shared memory. NaN scores rank below every number (key 0 region);
// -0 counts as +0, as in a float comparison.
#include <cuda_fp16.h>

#include <stdexcept>
#include <string>

#include "clipkit/kernels.h"
#include "gemm.cuh"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

constexpr int kSelectThreads = 1024;
constexpr int64_t kMaxK = 1024;
constexpr int64_t kSegment = 8192;    // score columns per selection block
constexpr int64_t kMaxItems = 9216;   // selection input per block: 36 KiB of score keys
constexpr size_t kScratchBudget = size_t{256} << 20;  // bytes of scratch per top-k call
using Key = unsigned long long;

__device__ __forceinline__ uint32_t score_key(float s) {
  if (isnan(s)) return 0;
  const uint32_t u = __float_as_uint(s == 0.0f ? 0.0f : s);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Inverse of score_key; key 0 (NaN and the empty-slot sentinel) decodes to a NaN.
__device__ __forceinline__ float key_score(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// Per (row = blockIdx.y, segment = blockIdx.x): the k best of the segment's items, sorted best
// first, to out_*[row * out_row_stride + segment * k + t]. The segment's items are
// scores[row * in_row_stride + segment * seg_len + j] for j < len (len = what is left of
// row_len, at most seg_len <= kMaxItems); their indices come from idx_in at the same offsets,
// or are base_idx + segment * seg_len + j when idx_in is null. Slots beyond len are filled with
// the sentinel (score NaN, index -1), which ranks below every real item.
__global__ void __launch_bounds__(kSelectThreads)
    select_topk_kernel(const float* scores, const int32_t* idx_in, int64_t in_row_stride,
                       int64_t seg_len, int64_t row_len, int64_t base_idx, int k, int sort_size,
                       float* out_score, int32_t* out_idx, int64_t out_row_stride) {
  __shared__ uint32_t keys[kMaxItems];
  __shared__ Key sel[kMaxK];
  __shared__ unsigned hist[256];
  __shared__ int digit_s;
  __shared__ int need_s;
  __shared__ int done_s;
  __shared__ int count_s;

  const int tid = threadIdx.x;
  const int lane = tid % 32;
  const int64_t start = int64_t{blockIdx.x} * seg_len;
  int64_t len_full = row_len - start;
  if (len_full < 0) len_full = 0;
  const int len = static_cast<int>(len_full < seg_len ? len_full : seg_len);
  const int64_t in_off = int64_t{blockIdx.y} * in_row_stride + start;
  const float* src = scores + in_off;
  const int32_t* isrc = idx_in != nullptr ? idx_in + in_off : nullptr;
  const int64_t ibase = base_idx + start;

  for (int j = tid; j < len; j += kSelectThreads) keys[j] = score_key(src[j]);
  if (tid == 0) count_s = 0;
  __syncthreads();

  auto full_key = [&](int j) -> Key {
    const uint32_t id = isrc != nullptr ? static_cast<uint32_t>(isrc[j])
                                        : static_cast<uint32_t>(ibase + j);
    return (Key{keys[j]} << 32) | Key{~id};
  };

  Key prefix = 0;
  Key mask = 0;
  if (len > k) {
    int need = k;
    for (int shift = 56; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += kSelectThreads) hist[i] = 0;
      __syncthreads();
      for (int j0 = 0; j0 < len; j0 += kSelectThreads) {  // uniform trip count: whole warps
        const int j = j0 + tid;
        const bool valid = j < len;
        const Key key = valid ? full_key(j) : 0;
        const bool match = valid && (key & mask) == prefix;
        const unsigned digit = static_cast<unsigned>(key >> shift) & 255u;
        const unsigned active = __ballot_sync(0xffffffffu, match);
        if (match) {
          // One shared atomic per distinct digit in the warp: scores cluster in few bins.
          const unsigned peers = __match_any_sync(active, digit);
          if (lane == __ffs(peers) - 1) atomicAdd(&hist[digit], __popc(peers));
        }
      }
      __syncthreads();
      if (tid == 0) {
        int above = 0;
        int b = 255;
        for (; b > 0; --b) {
          if (above + static_cast<int>(hist[b]) >= need) break;
          above += static_cast<int>(hist[b]);
        }
        digit_s = b;
        need_s = need - above;
        done_s = static_cast<int>(hist[b]) == need - above;
      }
      __syncthreads();
      need = need_s;
      prefix |= Key(digit_s) << shift;
      mask |= Key{0xff} << shift;
      if (done_s) break;
    }
  }

  // Keys are distinct, so exactly k items pass (all of them when len <= k).
  for (int j = tid; j < len; j += kSelectThreads) {
    const Key key = full_key(j);
    if ((key & mask) >= prefix) {
      const int pos = atomicAdd(&count_s, 1);
      if (pos < k) sel[pos] = key;
    }
  }
  __syncthreads();
  const int filled = count_s < k ? count_s : k;
  for (int i = filled + tid; i < sort_size; i += kSelectThreads) sel[i] = 0;
  __syncthreads();

  // Bitonic sort, descending.
  for (int size = 2; size <= sort_size; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = tid; i < sort_size / 2; i += kSelectThreads) {
        const int lo = 2 * i - (i & (stride - 1));
        const int hi = lo + stride;
        const bool descending = (lo & size) == 0;
        const Key x = sel[lo];
        const Key y = sel[hi];
        if ((x < y) == descending) {
          sel[lo] = y;
          sel[hi] = x;
        }
      }
      __syncthreads();
    }
  }

  const int64_t out_off = int64_t{blockIdx.y} * out_row_stride + int64_t{blockIdx.x} * k;
  for (int t = tid; t < k; t += kSelectThreads) {
    const Key key = sel[t];
    out_score[out_off + t] = key_score(static_cast<uint32_t>(key >> 32));
    out_idx[out_off + t] = static_cast<int32_t>(~static_cast<uint32_t>(key));
  }
}

int next_pow2(int64_t v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

void topk(const float* a, const void* b, bool b_half, int64_t m, int64_t n, int64_t d,
          float scale, int64_t k, int32_t* idx, float* score) {
  if (m <= 0) return;
  if (k < 1 || k > kMaxK || k > n) {
    throw std::invalid_argument("cuda similarity_topk: k = " + std::to_string(k) +
                                " must be in [1, min(n, 1024)]");
  }
  const int64_t seg_count = detail::ceil_div(n, kSegment);
  int64_t segs = kMaxItems / k - 1;  // merge input (segs + 1) * k must fit kMaxItems
  if (segs > seg_count) segs = seg_count;
  const int64_t group = segs * kSegment < n ? segs * kSegment : n;
  const int64_t cand_row = (segs + 1) * k;
  const size_t row_bytes = sizeof(float) * group + 8 * cand_row + 8 * k;
  int64_t rows = static_cast<int64_t>(kScratchBudget / row_bytes);
  if (rows < 1) rows = 1;
  if (rows > m) rows = m;
  if (rows > 65535) rows = 65535;  // gridDim.y

  detail::Scratch tile(sizeof(float) * rows * group);
  detail::Scratch cand_score(sizeof(float) * rows * cand_row);
  detail::Scratch cand_idx(sizeof(int32_t) * rows * cand_row);
  detail::Scratch run_score(sizeof(float) * rows * k);
  detail::Scratch run_idx(sizeof(int32_t) * rows * k);
  const int sort_size = next_pow2(k);
  const cudaStream_t st = detail::stream();

  for (int64_t r0 = 0; r0 < m; r0 += rows) {
    const int64_t rc = m - r0 < rows ? m - r0 : rows;
    // All-ones bytes: score NaN, index -1 — the sentinel, so the first merge sees an empty
    // running result.
    detail::check(cudaMemsetAsync(cand_score.as<float>(), 0xff, sizeof(float) * rc * cand_row, st),
                  "cudaMemset");
    detail::check(cudaMemsetAsync(cand_idx.as<int32_t>(), 0xff, sizeof(int32_t) * rc * cand_row,
                                  st),
                  "cudaMemset");
    for (int64_t g0 = 0; g0 < n; g0 += group) {
      const int64_t cols = n - g0 < group ? n - g0 : group;
      if (b_half) {
        detail::matmul_nt_f16(a + r0 * d, static_cast<const __half*>(b) + g0 * d,
                              tile.as<float>(), rc, cols, d, scale);
      } else {
        detail::matmul_nt(a + r0 * d, static_cast<const float*>(b) + g0 * d, tile.as<float>(),
                          rc, cols, d, scale);
      }
      select_topk_kernel<<<dim3(static_cast<unsigned>(segs), static_cast<unsigned>(rc)),
                           kSelectThreads, 0, st>>>(
          tile.as<float>(), nullptr, cols, kSegment, cols, g0, static_cast<int>(k), sort_size,
          cand_score.as<float>(), cand_idx.as<int32_t>(), cand_row);
      detail::check_launch("top-k segment kernel");
      const bool last = g0 + group >= n;
      float* out_s = last ? score + r0 * k : run_score.as<float>();
      int32_t* out_i = last ? idx + r0 * k : run_idx.as<int32_t>();
      select_topk_kernel<<<dim3(1, static_cast<unsigned>(rc)), kSelectThreads, 0, st>>>(
          cand_score.as<float>(), cand_idx.as<int32_t>(), cand_row, cand_row, cand_row, 0,
          static_cast<int>(k), sort_size, out_s, out_i, k);
      detail::check_launch("top-k merge kernel");
      if (!last) {  // the running result becomes the last candidate slot of each row
        const size_t pitch = sizeof(float) * cand_row;
        const size_t width = sizeof(float) * k;
        detail::check(cudaMemcpy2DAsync(cand_score.as<float>() + segs * k, pitch,
                                        run_score.as<float>(), width, width, rc,
                                        cudaMemcpyDeviceToDevice, st),
                      "cudaMemcpy2D");
        detail::check(cudaMemcpy2DAsync(cand_idx.as<int32_t>() + segs * k, pitch,
                                        run_idx.as<int32_t>(), width, width, rc,
                                        cudaMemcpyDeviceToDevice, st),
                      "cudaMemcpy2D");
      }
    }
  }
}

}  // namespace

void similarity_f32(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale) {
  detail::matmul_nt(a, b, out, m, n, d, scale);
}

void similarity_f16(const float* a, const uint16_t* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale) {
  detail::matmul_nt_f16(a, reinterpret_cast<const __half*>(b), out, m, n, d, scale);
}

void similarity_topk_f32(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score) {
  topk(a, b, false, m, n, d, scale, k, idx, score);
}

void similarity_topk_f16(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score) {
  topk(a, b, true, m, n, d, scale, k, idx, score);
}

}  // namespace clipkit::cuda
