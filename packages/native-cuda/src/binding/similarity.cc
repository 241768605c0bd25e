// similarity (full m×n scores), similarityTopK / similarityTopKAsync (fused per-row top-k).
// b may be float32 or float16 storage (Uint16Array bits or an f16 Tensor).
#include <algorithm>
#include <string>

#include "binding/args.h"
#include "binding/module.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {
namespace {

constexpr int64_t kMaxTopK = 1024;

struct Shape {
  int64_t m, n, d;
  float scale;
};

Shape read_shape(const Args& args, const Napi::Object& opts, const Buffer& a, const Buffer& b) {
  Shape s{};
  s.m = args.dim(opts, "m");
  s.n = args.dim(opts, "n");
  s.d = args.dim(opts, "d");
  s.scale = static_cast<float>(args.finite(opts, "scale", 1.0));
  args.need(a, "a", args.product({s.m, s.d}, "m*d"), "m*d", false);
  args.need(b, "b", args.product({s.n, s.d}, "n*d"), "n*d", false);
  return s;
}

Job prepare_similarity(const CallValues& info, const char* fn) {
  Args args(info, fn);
  const Buffer a = args.f32(info[0], "a");
  const Buffer b = args.f32_or_f16(info[1], "b");
  const Buffer out = args.f32(info[2], "out");
  const Shape s = read_shape(args, args.options(3, "opts", true), a, b);
  args.need(out, "out", args.product({s.m, s.n}, "m*n"), "m*n", false);
  const Device device = args.device_of({&a, &b, &out});
  args.no_overlap(out, "out", a, "a", false);
  args.no_overlap(out, "out", b, "b", false);
  args.verify_unchanged();

  Job job;
  keep_alive(job, a);
  keep_alive(job, b);
  keep_alive(job, out);
  const float* pa = a.f32();
  const float* b32 = b.f32();
  const uint16_t* b16 = b.f16();
  float* po = out.f32_mut();
  const bool half = b.dtype == DType::F16;
  job.run = [=] {
    if (device == Device::Cuda) {
      if (half) {
        cuda::similarity_f16(pa, b16, po, s.m, s.n, s.d, s.scale);
      } else {
        cuda::similarity_f32(pa, b32, po, s.m, s.n, s.d, s.scale);
      }
      cuda::synchronize();
    } else if (half) {
      cpu::similarity_f16(pa, b16, po, s.m, s.n, s.d, s.scale);
    } else {
      cpu::similarity_f32(pa, b32, po, s.m, s.n, s.d, s.scale);
    }
  };
  drop_pack_after(job, out);
  return job;
}

Job prepare_topk(const CallValues& info, const char* fn) {
  Args args(info, fn);
  const Buffer a = args.f32(info[0], "a");
  const Buffer b = args.f32_or_f16(info[1], "b");
  const Napi::Object opts = args.options(2, "opts", true);
  const Shape s = read_shape(args, opts, a, b);
  const int64_t k_max = std::min(s.n, kMaxTopK);
  if (opts.Get("k").IsUndefined()) args.type_error("k is required");
  const int64_t k = args.integer(opts, "k", 1, k_max, 1);
  (void)args.product({s.m, k}, "m*k");
  const Device device = args.device_of({&a, &b});

  args.verify_unchanged();

  // Results go straight into the JS arrays the call returns (keep[0], keep[1]).
  const auto count = static_cast<size_t>(s.m * k);
  Napi::Int32Array indices = Napi::Int32Array::New(info.Env(), count);
  Napi::Float32Array scores = Napi::Float32Array::New(info.Env(), count);
  Job job;
  job.keep.push_back(indices);
  job.keep.push_back(scores);
  keep_alive(job, a);
  keep_alive(job, b);
  const float* pa = a.f32();
  const float* b32 = b.f32();
  const uint16_t* b16 = b.f16();
  const bool half = b.dtype == DType::F16;
  int32_t* pi = indices.Data();
  float* ps = scores.Data();
  job.run = [=] {
    if (device == Device::Cuda) {
      // The CUDA kernel writes device memory; stage there, then copy out.
      auto di = Storage::allocate(Device::Cuda, count * sizeof(int32_t));
      auto ds = Storage::allocate(Device::Cuda, count * sizeof(float));
      auto* ii = static_cast<int32_t*>(di->data());
      auto* ss = static_cast<float*>(ds->data());
      if (half) {
        cuda::similarity_topk_f16(pa, b16, s.m, s.n, s.d, s.scale, k, ii, ss);
      } else {
        cuda::similarity_topk_f32(pa, b32, s.m, s.n, s.d, s.scale, k, ii, ss);
      }
      cuda::synchronize();
      cuda::copy_to_host(pi, ii, count * sizeof(int32_t));
      cuda::copy_to_host(ps, ss, count * sizeof(float));
    } else if (half) {
      cpu::similarity_topk_f16(pa, b16, s.m, s.n, s.d, s.scale, k, pi, ps);
    } else {
      cpu::similarity_topk_f32(pa, b32, s.m, s.n, s.d, s.scale, k, pi, ps);
    }
  };
  job.result = [](Napi::Env env, const std::vector<Napi::Value>& kept) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("indices", kept[0]);
    r.Set("scores", kept[1]);
    return r;
  };
  return job;
}

}  // namespace

void register_similarity(Napi::Env, Napi::Object exports) {
  export_sync(exports, "similarity", prepare_similarity);
  export_sync(exports, "similarityTopK", prepare_topk);
  export_async(exports, "similarityTopKAsync", prepare_topk);
}

}  // namespace clipkit::binding
