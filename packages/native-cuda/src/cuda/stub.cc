// clipkit::cuda for CPU-only builds (CLIPKIT_CUDA=OFF or no CUDA compiler): reports that CUDA
// is not compiled in; every device function throws, so callers see a clear error instead of a
// link failure. Never compiled together with src/cuda/*.cu (see CMakeLists.txt).
#include <stdexcept>

#include "clipkit/kernels.h"

namespace clipkit::cuda {
namespace {

constexpr char kNotCompiled[] = "clipkit was built without CUDA (CPU-only build)";

[[noreturn]] void not_compiled() { throw std::runtime_error(kNotCompiled); }

}  // namespace

bool compiled() { return false; }

bool available(std::string* error) {
  if (error != nullptr) *error = kNotCompiled;
  return false;
}

std::vector<DeviceInfo> devices() { return {}; }

void* malloc_device(size_t) { not_compiled(); }
void free_device(void*) { not_compiled(); }
void copy_to_device(void*, const void*, size_t) { not_compiled(); }
void copy_to_host(void*, const void*, size_t) { not_compiled(); }
void synchronize() { not_compiled(); }

void preprocess(const ImageU8&, const PreprocessParams&, float*) { not_compiled(); }
void linear(const float*, const float*, const float*, const float*, float*, int64_t, int64_t,
            int64_t, Activation) {
  not_compiled();
}
void linear_bf16(const float*, const uint16_t*, const float*, const float*, float*, int64_t,
                 int64_t, int64_t, Activation) {
  not_compiled();
}
void layer_norm(const float*, const float*, const float*, float*, int64_t, int64_t, float) {
  not_compiled();
}
void add(const float*, const float*, float*, int64_t) { not_compiled(); }
void activation(const float*, float*, int64_t, Activation) { not_compiled(); }
void softmax(const float*, float*, int64_t, int64_t) { not_compiled(); }
void attention(const float*, const float*, const float*, int64_t, float*, int64_t,
               const AttentionShape&) {
  not_compiled();
}
void similarity_f32(const float*, const float*, float*, int64_t, int64_t, int64_t, float) {
  not_compiled();
}
void similarity_f16(const float*, const uint16_t*, float*, int64_t, int64_t, int64_t, float) {
  not_compiled();
}
void similarity_topk_f32(const float*, const float*, int64_t, int64_t, int64_t, float, int64_t,
                         int32_t*, float*) {
  not_compiled();
}
void similarity_topk_f16(const float*, const uint16_t*, int64_t, int64_t, int64_t, float, int64_t,
                         int32_t*, float*) {
  not_compiled();
}

}  // namespace clipkit::cuda
