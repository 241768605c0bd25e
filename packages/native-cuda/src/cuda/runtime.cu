// Device management for the CUDA kernels: availability, device list, memory, copies and the
// one stream. clipkit always uses device 0. The runtime is linked statically, so on a machine
// without a driver every call here fails with a CUDA error (turned into an exception), never
// an abort.
#include <mutex>
#include <stdexcept>
#include <string>

#include "clipkit/kernels.h"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace detail {

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  // Clear a non-sticky error so it is not reported again by the next launch check.
  cudaGetLastError();
  throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(err));
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

cudaStream_t stream() {
  static std::once_flag once;
  static cudaStream_t s = nullptr;
  // call_once retries on the next call when the lambda throws (e.g. no device yet).
  std::call_once(once, [] {
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  });
  return s;
}

namespace {
bool memory_pools_supported() {
  static const bool supported = [] {
    int value = 0;
    if (cudaDeviceGetAttribute(&value, cudaDevAttrMemoryPoolsSupported, 0) != cudaSuccess ||
        value == 0) {
      cudaGetLastError();
      return false;
    }
    // Keep freed scratch cached in the pool across synchronisations (the default threshold 0
    // returns it to the driver each time, and the next call pays for a fresh allocation).
    cudaMemPool_t pool = nullptr;
    uint64_t keep = uint64_t{1} << 30;
    if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) {
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    cudaGetLastError();
    return true;
  }();
  return supported;
}
}  // namespace

Scratch::Scratch(size_t bytes) {
  if (bytes == 0) return;
  if (memory_pools_supported()) {
    check(cudaMallocAsync(&ptr_, bytes, stream()), "cudaMallocAsync (scratch)");
  } else {
    check(cudaMalloc(&ptr_, bytes), "cudaMalloc (scratch)");
  }
}

Scratch::~Scratch() {
  if (ptr_ == nullptr) return;
  // A destructor cannot throw; a failure here leaves the stream in an error state that the
  // next checked call reports.
  if (memory_pools_supported()) {
    cudaFreeAsync(ptr_, stream());
  } else {
    cudaStreamSynchronize(stream());
    cudaFree(ptr_);
  }
}

}  // namespace detail

using detail::check;

bool compiled() { return true; }

bool available(std::string* error) {
  static std::once_flag once;
  static bool ok = false;
  static std::string why;
  std::call_once(once, [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      cudaGetLastError();
      why = std::string("no usable CUDA driver/device: ") + cudaGetErrorString(err);
      return;
    }
    if (count == 0) {
      why = "no CUDA device found";
      return;
    }
    cudaDeviceProp prop{};
    err = cudaGetDeviceProperties(&prop, 0);
    if (err != cudaSuccess) {
      cudaGetLastError();
      why = std::string("cannot query CUDA device 0: ") + cudaGetErrorString(err);
      return;
    }
    if (prop.major < 8) {
      why = std::string("CUDA device 0 (") + prop.name + ") has compute capability " +
            std::to_string(prop.major) + "." + std::to_string(prop.minor) +
            "; clipkit's kernels are built for 8.0 and newer";
      return;
    }
    try {
      detail::stream();  // creates the context: fails on a busy or prohibited device
    } catch (const std::exception& e) {
      why = e.what();
      return;
    }
    ok = true;
  });
  if (!ok && error != nullptr) *error = why;
  return ok;
}

std::vector<DeviceInfo> devices() {
  std::vector<DeviceInfo> out;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return out;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, i), "cudaGetDeviceProperties");
    out.push_back(DeviceInfo{prop.name, prop.major, prop.minor,
                             static_cast<uint64_t>(prop.totalGlobalMem)});
  }
  return out;
}

void* malloc_device(size_t bytes) {
  detail::stream();  // selects the device and creates the context first
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (err != cudaSuccess) {
    check(err, ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str());
  }
  return p;
}

void free_device(void* p) {
  if (p == nullptr) return;
  check(cudaFree(p), "cudaFree");
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, detail::stream()),
        "cudaMemcpy host->device");
  // The host buffer belongs to the caller (often a JS ArrayBuffer): done with it on return.
  check(cudaStreamSynchronize(detail::stream()), "cudaMemcpy host->device");
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, detail::stream()),
        "cudaMemcpy device->host");
  check(cudaStreamSynchronize(detail::stream()), "cudaMemcpy device->host");
}

void synchronize() { check(cudaStreamSynchronize(detail::stream()), "synchronize"); }

}  // namespace clipkit::cuda
