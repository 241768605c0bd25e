// The activation functions, as the CPU kernels define them, for use inside CUDA kernels
// (the elementwise kernel and the GEMM epilogue).
#pragma once

#include "clipkit/kernels.h"

namespace clipkit::cuda::detail {

__device__ __forceinline__ float activate(float x, Activation act) {
  switch (act) {
    case Activation::QuickGelu:
      return x / (1.0f + expf(-1.702f * x));  // x * sigmoid(1.702 x)
    case Activation::GeluErf:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    default:
      return x;
  }
}

}  // namespace clipkit::cuda::detail
