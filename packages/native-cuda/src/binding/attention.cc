// attention / attentionAsync on a packed QKV projection [batch, tokens, 3*heads*headDim].
#include <cmath>

#include "binding/args.h"
#include "binding/kernel_calls.h"
#include "binding/module.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {

Job prepare_attention(const CallValues& info, const char* fn) {
  Args args(info, fn);
  const Buffer qkv = args.f32(info[0], "qkv");
  const Buffer out = args.f32(info[1], "out");
  const Napi::Object opts = args.options(2, "opts", true);
  AttentionShape s{};
  s.batch = args.dim(opts, "batch");
  s.tokens = args.dim(opts, "tokens");
  s.heads = args.dim(opts, "heads");
  s.head_dim = args.dim(opts, "headDim");
  s.causal = args.boolean(opts, "causal", false);
  s.scale = static_cast<float>(
      args.finite(opts, "scale", 1.0 / std::sqrt(static_cast<double>(s.head_dim))));

  const uint64_t hd = args.product({s.heads, s.head_dim}, "heads*headDim");
  args.need(qkv, "qkv", args.product({s.batch, s.tokens, 3, s.heads, s.head_dim},
                                     "batch*tokens*3*heads*headDim"),
            "batch*tokens*3*heads*headDim", false);
  args.need(out, "out", args.product({s.batch, s.tokens, s.heads, s.head_dim},
                                     "batch*tokens*heads*headDim"),
            "batch*tokens*heads*headDim", false);
  const Device device = args.device_of({&qkv, &out});
  args.no_overlap(out, "out", qkv, "qkv", false);

  args.verify_unchanged();

  Job job;
  keep_alive(job, qkv);
  keep_alive(job, out);
  const float* q = qkv.f32();
  float* o = out.f32_mut();
  const auto stride = static_cast<int64_t>(3 * hd);
  const auto step = static_cast<int64_t>(hd);
  job.run = [=] {
    if (device == Device::Cuda) {
      cuda::attention(q, q + step, q + 2 * step, stride, o, step, s);
      cuda::synchronize();
    } else {
      cpu::attention(q, q + step, q + 2 * step, stride, o, step, s);
    }
  };
  drop_pack_after(job, out);
  return job;
}

void register_attention(Napi::Env, Napi::Object exports) {
  export_sync(exports, "attention", prepare_attention);
  export_async(exports, "attentionAsync", prepare_attention);
}

}  // namespace clipkit::binding
