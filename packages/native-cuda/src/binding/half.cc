// toFloat16() / fromFloat16(): storage conversions for embedding matrices.
#include "binding/half.h"

#include "binding/args.h"
#include "binding/module.h"

namespace clipkit::binding {
namespace {

Napi::Value to_float16(const Napi::CallbackInfo& info) {
  Args args(info, "toFloat16");
  const TypedView x = args.typed(info[0], "x", {napi_float32_array}, "a Float32Array");
  Napi::Uint16Array out = Napi::Uint16Array::New(info.Env(), x.length);
  const auto* src = static_cast<const float*>(x.data);
  uint16_t* dst = out.Data();
  for (size_t i = 0; i < x.length; ++i) dst[i] = float_to_half(src[i]);
  return out;
}

Napi::Value from_float16(const Napi::CallbackInfo& info) {
  Args args(info, "fromFloat16");
  const TypedView x = args.typed(info[0], "x", {napi_uint16_array}, "a Uint16Array (f16 bits)");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), x.length);
  const auto* src = static_cast<const uint16_t*>(x.data);
  float* dst = out.Data();
  for (size_t i = 0; i < x.length; ++i) dst[i] = half_to_float(src[i]);
  return out;
}

}  // namespace

void register_half(Napi::Env env, Napi::Object exports) {
  exports.Set("toFloat16", Napi::Function::New<to_float16>(env, "toFloat16"));
  exports.Set("fromFloat16", Napi::Function::New<from_float16>(env, "fromFloat16"));
}

}  // namespace clipkit::binding
