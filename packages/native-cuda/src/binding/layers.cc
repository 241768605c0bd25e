// Encoder building blocks: layerNorm, add, activation, softmax (synchronous: each is a single
// memory-bound pass, far below the ~1 ms where moving off the JS thread pays).
#include <string>

#include "binding/args.h"
#include "binding/module.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {
namespace {

void sync_if_cuda(Device device) {
  if (device == Device::Cuda) cuda::synchronize();
}

void layer_norm(const Napi::CallbackInfo& info) {
  Args args(info, "layerNorm");
  const Buffer x = args.f32(info[0], "x");
  const Buffer gamma = args.f32(info[1], "gamma");
  const Buffer beta = args.f32(info[2], "beta");
  const Buffer out = args.f32(info[3], "out");
  const Napi::Object opts = args.options(4, "opts", true);
  const int64_t rows = args.dim(opts, "rows");
  const int64_t dim = args.dim(opts, "dim");
  if (opts.Get("eps").IsUndefined()) args.type_error("eps is required");
  const double eps = args.finite(opts, "eps", 0.0);
  if (eps < 0.0) args.range_error("eps must be >= 0, got " + std::to_string(eps));

  const uint64_t total = args.product({rows, dim}, "rows*dim");
  args.need(x, "x", total, "rows*dim", false);
  args.need(gamma, "gamma", static_cast<uint64_t>(dim), "dim", true);
  args.need(beta, "beta", static_cast<uint64_t>(dim), "dim", true);
  args.need(out, "out", total, "rows*dim", false);
  const Device device = args.device_of({&x, &gamma, &beta, &out});
  args.no_overlap(out, "out", x, "x", true);
  args.no_overlap(out, "out", gamma, "gamma", false);
  args.no_overlap(out, "out", beta, "beta", false);

  args.verify_unchanged();
  if (device == Device::Cuda) {
    cuda::layer_norm(x.f32(), gamma.f32(), beta.f32(), out.f32_mut(), rows, dim,
                     static_cast<float>(eps));
  } else {
    cpu::layer_norm(x.f32(), gamma.f32(), beta.f32(), out.f32_mut(), rows, dim,
                    static_cast<float>(eps));
  }
  sync_if_cuda(device);
}

void add(const Napi::CallbackInfo& info) {
  Args args(info, "add");
  const Buffer a = args.f32(info[0], "a");
  const Buffer b = args.f32(info[1], "b");
  const Buffer out = args.f32(info[2], "out");
  if (a.size == 0) args.range_error("a is empty");
  args.need(b, "b", a.size, "a.length", true);
  args.need(out, "out", a.size, "a.length", true);
  const Device device = args.device_of({&a, &b, &out});
  args.no_overlap(out, "out", a, "a", true);
  args.no_overlap(out, "out", b, "b", true);
  const auto n = static_cast<int64_t>(a.size);
  args.verify_unchanged();
  if (device == Device::Cuda) {
    cuda::add(a.f32(), b.f32(), out.f32_mut(), n);
  } else {
    cpu::add(a.f32(), b.f32(), out.f32_mut(), n);
  }
  sync_if_cuda(device);
}

void activation(const Napi::CallbackInfo& info) {
  Args args(info, "activation");
  const Buffer x = args.f32(info[0], "x");
  const Buffer out = args.f32(info[1], "out");
  const auto act =
      static_cast<Activation>(args.choice(info[2], "kind", {"none", "quick_gelu", "gelu"}));
  if (x.size == 0) args.range_error("x is empty");
  args.need(out, "out", x.size, "x.length", true);
  const Device device = args.device_of({&x, &out});
  args.no_overlap(out, "out", x, "x", true);  // elementwise: in place is fine
  const auto n = static_cast<int64_t>(x.size);
  args.verify_unchanged();
  if (device == Device::Cuda) {
    cuda::activation(x.f32(), out.f32_mut(), n, act);
  } else {
    cpu::activation(x.f32(), out.f32_mut(), n, act);
  }
  sync_if_cuda(device);
}

void softmax(const Napi::CallbackInfo& info) {
  Args args(info, "softmax");
  const Buffer x = args.f32(info[0], "x");
  const Buffer out = args.f32(info[1], "out");
  const Napi::Object opts = args.options(2, "opts", true);
  const int64_t rows = args.dim(opts, "rows");
  const int64_t cols = args.dim(opts, "cols");
  const uint64_t total = args.product({rows, cols}, "rows*cols");
  args.need(x, "x", total, "rows*cols", false);
  args.need(out, "out", total, "rows*cols", false);
  const Device device = args.device_of({&x, &out});
  args.no_overlap(out, "out", x, "x", true);
  args.verify_unchanged();
  if (device == Device::Cuda) {
    cuda::softmax(x.f32(), out.f32_mut(), rows, cols);
  } else {
    cpu::softmax(x.f32(), out.f32_mut(), rows, cols);
  }
  sync_if_cuda(device);
}

}  // namespace

void register_layers(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNorm", Napi::Function::New<layer_norm>(env, "layerNorm"));
  exports.Set("add", Napi::Function::New<add>(env, "add"));
  exports.Set("activation", Napi::Function::New<activation>(env, "activation"));
  exports.Set("softmax", Napi::Function::New<softmax>(env, "softmax"));
}

}  // namespace clipkit::binding
