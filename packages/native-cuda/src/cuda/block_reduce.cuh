// Block-wide reductions for kernels that give one row to one block. Every thread of the block
// must call them (they synchronise) and every thread gets the result.
#pragma once

namespace clipkit::cuda::detail {

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
// fmaxf drops a NaN operand; callers that must propagate NaN do so through the later passes.
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// `buf` holds one float per warp (kThreads / 32). kThreads is a multiple of 32.
template <int kThreads, typename Op>
__device__ float block_reduce(float v, float* buf, Op op) {
  for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
  __syncthreads();  // buf may still be read by a previous call
  if (threadIdx.x % 32 == 0) buf[threadIdx.x / 32] = v;
  __syncthreads();
  float r = buf[0];
  for (int w = 1; w < kThreads / 32; ++w) r = op(r, buf[w]);
  return r;
}

}  // namespace clipkit::cuda::detail
