// linear / linearAsync: out[m,n] = act(x[m,k]·w[n,k]ᵀ + bias[n]) + residual[m,n].
// w may be a bf16 Tensor: x is then rounded to bf16 and the product summed in fp32.
#include <cstdio>
#include <mutex>
#include <string>

#include "binding/args.h"
#include "binding/kernel_calls.h"
#include "binding/module.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {
namespace {

// Said once per process, the first time a bf16 weight runs without a bf16 GEMM.
void note_bf16_fallback() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string why = cpu::bf16_note();
    std::fprintf(stderr,
                 "clipkit: no bf16 GEMM usable here (%s): bf16 weights run the fp32 kernels on "
                 "their bf16-rounded values, with the same results and no speed-up\n",
                 why.empty() ? "no AMX or AVX512_BF16" : why.c_str());
  });
}

}  // namespace

Job prepare_linear(const CallValues& info, const char* fn) {
  Args args(info, fn);
  const Buffer x = args.f32(info[0], "x");
  const Buffer w = args.linear_weight(info[1], "w");
  const bool has_bias = !info[2].IsNull() && !info[2].IsUndefined();
  const Buffer bias = has_bias ? args.f32(info[2], "bias") : Buffer{};
  const Buffer out = args.f32(info[3], "out");
  const Napi::Object opts = args.options(4, "opts", true);
  const int64_t m = args.dim(opts, "m");
  const int64_t n = args.dim(opts, "n");
  const int64_t k = args.dim(opts, "k");
  const auto act = static_cast<Activation>(
      args.choice(opts, "activation", {"none", "quick_gelu", "gelu"}, 0));
  const Napi::Value residual_js = opts.Get("residual");
  const bool has_residual = !residual_js.IsNull() && !residual_js.IsUndefined();
  const Buffer residual = has_residual ? args.f32(residual_js, "residual") : Buffer{};

  // Weights must match their shape exactly; activations may be larger buffers reused across
  // batch sizes (only the first rows are read/written).
  args.need(x, "x", args.product({m, k}, "m*k"), "m*k", false);
  args.need(w, "w", args.product({n, k}, "n*k"), "n*k", true);
  if (has_bias) args.need(bias, "bias", static_cast<uint64_t>(n), "n", true);
  args.need(out, "out", args.product({m, n}, "m*n"), "m*n", false);
  if (has_residual) args.need(residual, "residual", args.product({m, n}, "m*n"), "m*n", false);

  const Device device = args.device_of({&x, &w, has_bias ? &bias : nullptr, &out,
                                        has_residual ? &residual : nullptr});
  args.no_overlap(out, "out", x, "x", false);
  args.no_overlap(out, "out", w, "w", false);
  if (has_bias) args.no_overlap(out, "out", bias, "bias", false);
  if (has_residual) args.no_overlap(out, "out", residual, "residual", true);

  args.verify_unchanged();

  Job job;
  for (const Buffer* b : {&x, &w, &bias, &out, &residual}) keep_alive(job, *b);
  const float* px = x.f32();
  const float* pw = w.f32();
  const float* pb = has_bias ? bias.f32() : nullptr;
  const float* pr = has_residual ? residual.f32() : nullptr;
  float* po = out.f32_mut();
  if (w.dtype == DType::BF16) {
    const uint16_t* pw16 = w.f16();
    const std::shared_ptr<Storage> source = w.storage;
    job.run = [=] {
      if (device == Device::Cuda) {
        cuda::linear_bf16(px, pw16, pb, pr, po, m, n, k, act);
        cuda::synchronize();
        return;
      }
      const auto packed = source->packed_bf16().get(pw16, n, k);
      if (cpu::packed_path(*packed) == Bf16Path::None) note_bf16_fallback();
      cpu::linear_bf16(px, *packed, pb, pr, po, m, n, k, act);
    };
    drop_pack_after(job, out);
    return job;
  }
  // A CPU Tensor weight runs from its cached pack (see PackedWeightCache); a Float32Array is
  // packed per call or not at all (few rows).
  const std::shared_ptr<Storage> packed_source = device == Device::Cpu ? w.storage : nullptr;
  job.run = [=] {
    if (device == Device::Cuda) {
      cuda::linear(px, pw, pb, pr, po, m, n, k, act);
      cuda::synchronize();
    } else if (packed_source != nullptr) {
      const auto packed = packed_source->packed_linear().get(pw, n, k);
      cpu::linear_packed(px, *packed, pb, pr, po, m, n, k, act);
    } else {
      cpu::linear(px, pw, pb, pr, po, m, n, k, act);
    }
  };
  drop_pack_after(job, out);
  return job;
}

void register_linear(Napi::Env, Napi::Object exports) {
  export_sync(exports, "linear", prepare_linear);
  export_async(exports, "linearAsync", prepare_linear);
}

}  // namespace clipkit::binding
