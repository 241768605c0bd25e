// Run-time binding of the few cuBLAS entry points clipkit uses. The prototypes and enum values
// below are cuBLAS's stable C ABI (cublas_api.h), declared here because no cuBLAS headers are
// installed where this is built.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "cublas.cuh"
#include "runtime.cuh"

namespace clipkit::cuda::detail {
namespace {

struct CublasContext;
using Handle = CublasContext*;
using CreateFn = int (*)(Handle*);
using SetStreamFn = int (*)(Handle, cudaStream_t);
using SgemmFn = int (*)(Handle, int, int, int, int, int, const float*, const float*, int,
                        const float*, int, const float*, float*, int);
// cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C,
// Ctype, ldc, computeType, algo).
using GemmExFn = int (*)(Handle, int, int, int, int, int, const void*, const void*, int, int,
                         const void*, int, int, const void*, void*, int, int, int, int);
constexpr int kStatusSuccess = 0;
constexpr int kR32F = 0;     // CUDA_R_32F
constexpr int kR16BF = 14;   // CUDA_R_16BF
constexpr int kCompute32F = 68;  // CUBLAS_COMPUTE_32F: fp32 products and sums, no TF32
constexpr int kGemmDefault = -1;
constexpr int kOpN = 0;
constexpr int kOpT = 1;

struct Cublas {
  bool ok = false;
  std::string error;  // why it is unavailable
  Handle handle = nullptr;
  SetStreamFn set_stream = nullptr;
  SgemmFn sgemm = nullptr;
  GemmExFn gemm_ex = nullptr;
  std::mutex mutex;  // one handle, used by one thread at a time
};

Cublas& load() {
  static Cublas lib;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                           "/usr/local/cuda/lib64/libcublas.so.13",
                           "/usr/local/cuda/lib64/libcublas.so.12"};
    void* so = nullptr;
    for (const char* name : names) {
      so = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (so != nullptr) break;
    }
    if (so == nullptr) {
      const char* why = dlerror();
      lib.error = std::string("cuBLAS not found (libcublas.so.13/.12): ") + (why ? why : "");
      return;
    }
    auto create = reinterpret_cast<CreateFn>(dlsym(so, "cublasCreate_v2"));
    lib.set_stream = reinterpret_cast<SetStreamFn>(dlsym(so, "cublasSetStream_v2"));
    lib.sgemm = reinterpret_cast<SgemmFn>(dlsym(so, "cublasSgemm_v2"));
    lib.gemm_ex = reinterpret_cast<GemmExFn>(dlsym(so, "cublasGemmEx"));
    if (create == nullptr || lib.set_stream == nullptr || lib.sgemm == nullptr ||
        lib.gemm_ex == nullptr) {
      lib.error =
          "cuBLAS library lacks cublasCreate_v2/cublasSetStream_v2/cublasSgemm_v2/cublasGemmEx";
      return;
    }
    stream();  // cuBLAS must find the context clipkit uses (device 0's primary context)
    const int status = create(&lib.handle);
    if (status != kStatusSuccess) {
      lib.error = "cublasCreate failed with status " + std::to_string(status);
      return;
    }
    // The handle lives as long as the process: destroying it at exit can race the driver's
    // own teardown.
    lib.ok = true;
  });
  return lib;
}

}  // namespace

bool cublas_enabled() {
  const char* env = std::getenv("CLIPKIT_CUBLAS");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  Cublas& lib = load();
  if (!lib.ok && env != nullptr && std::strcmp(env, "require") == 0) {
    throw std::runtime_error("CLIPKIT_CUBLAS=require: " + lib.error);
  }
  return lib.ok;
}

void cublas_gemm_nt(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k,
                    float alpha) {
  Cublas& lib = load();
  std::lock_guard<std::mutex> lock(lib.mutex);
  int status = lib.set_stream(lib.handle, stream());
  if (status != kStatusSuccess) {
    throw std::runtime_error("cublasSetStream failed with status " + std::to_string(status));
  }
  // cuBLAS is column-major: row-major out [m,n] is the column-major n x m matrix b·aᵀ, and the
  // buffers b and a read column-major are bᵀ (k x n) and aᵀ (k x m): so op T on b, op N on a.
  const float beta = 0.0f;
  status = lib.sgemm(lib.handle, kOpT, kOpN, static_cast<int>(n), static_cast<int>(m),
                     static_cast<int>(k), &alpha, b, static_cast<int>(k), a, static_cast<int>(k),
                     &beta, out, static_cast<int>(n));
  if (status != kStatusSuccess) {
    throw std::runtime_error("cublasSgemm failed with status " + std::to_string(status));
  }
}

void cublas_gemm_nt_bf16(const void* a, const void* b, float* out, int64_t m, int64_t n,
                         int64_t k) {
  Cublas& lib = load();
  std::lock_guard<std::mutex> lock(lib.mutex);
  int status = lib.set_stream(lib.handle, stream());
  if (status != kStatusSuccess) {
    throw std::runtime_error("cublasSetStream failed with status " + std::to_string(status));
  }
  // Column-major view as in cublas_gemm_nt.
  const float alpha = 1.0f;
  const float beta = 0.0f;
  status = lib.gemm_ex(lib.handle, kOpT, kOpN, static_cast<int>(n), static_cast<int>(m),
                       static_cast<int>(k), &alpha, b, kR16BF, static_cast<int>(k), a, kR16BF,
                       static_cast<int>(k), &beta, out, kR32F, static_cast<int>(n), kCompute32F,
                       kGemmDefault);
  if (status != kStatusSuccess) {
    throw std::runtime_error("cublasGemmEx (bf16) failed with status " + std::to_string(status));
  }
}

}  // namespace clipkit::cuda::detail
