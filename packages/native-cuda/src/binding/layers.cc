// Encoder building blocks: layerNorm, add, activation, softmax. Synchronous on their own (each
// is a single memory-bound pass, far below the ~1 ms where moving off the JS thread pays);
// inside runAsync they run on its worker with the rest of the chain.
#include <string>

#include "binding/args.h"
#include "binding/kernel_calls.h"
#include "binding/module.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {
namespace {

// A job that keeps `inputs` and `out` alive and runs one kernel where they live (waiting for
// the device).
template <typename OnCuda, typename OnCpu>
Job kernel_job(std::initializer_list<const Buffer*> inputs, const Buffer& out, Device device,
               OnCuda on_cuda, OnCpu on_cpu) {
  Job job;
  for (const Buffer* b : inputs) keep_alive(job, *b);
  keep_alive(job, out);
  job.run = [=] {
    if (device == Device::Cuda) {
      on_cuda();
      cuda::synchronize();
    } else {
      on_cpu();
    }
  };
  drop_pack_after(job, out);
  return job;
}

}  // namespace

Job prepare_layer_norm(const CallValues& info, const char* fn) {
  Args args(info, fn);
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

  const float* px = x.f32();
  const float* pg = gamma.f32();
  const float* pb = beta.f32();
  float* po = out.f32_mut();
  const auto e = static_cast<float>(eps);
  return kernel_job(
      {&x, &gamma, &beta}, out, device, [=] { cuda::layer_norm(px, pg, pb, po, rows, dim, e); },
      [=] { cpu::layer_norm(px, pg, pb, po, rows, dim, e); });
}

Job prepare_add(const CallValues& info, const char* fn) {
  Args args(info, fn);
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

  const float* pa = a.f32();
  const float* pb = b.f32();
  float* po = out.f32_mut();
  return kernel_job({&a, &b}, out, device, [=] { cuda::add(pa, pb, po, n); },
                    [=] { cpu::add(pa, pb, po, n); });
}

Job prepare_activation(const CallValues& info, const char* fn) {
  Args args(info, fn);
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

  const float* px = x.f32();
  float* po = out.f32_mut();
  return kernel_job({&x}, out, device, [=] { cuda::activation(px, po, n, act); },
                    [=] { cpu::activation(px, po, n, act); });
}

Job prepare_softmax(const CallValues& info, const char* fn) {
  Args args(info, fn);
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

  const float* px = x.f32();
  float* po = out.f32_mut();
  return kernel_job({&x}, out, device, [=] { cuda::softmax(px, po, rows, cols); },
                    [=] { cpu::softmax(px, po, rows, cols); });
}

void register_layers(Napi::Env, Napi::Object exports) {
  export_sync(exports, "layerNorm", prepare_layer_norm);
  export_sync(exports, "add", prepare_add);
  export_sync(exports, "activation", prepare_activation);
  export_sync(exports, "softmax", prepare_softmax);
}

}  // namespace clipkit::binding
