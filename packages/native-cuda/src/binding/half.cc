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
  floats_to_halves(static_cast<const float*>(x.data), out.Data(), x.length);
  return out;
}

Napi::Value from_float16(const Napi::CallbackInfo& info) {
  Args args(info, "fromFloat16");
  const TypedView x = args.typed(info[0], "x", {napi_uint16_array}, "a Uint16Array (f16 bits)");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), x.length);
  halves_to_floats(static_cast<const uint16_t*>(x.data), out.Data(), x.length);
  return out;
}

}  // namespace

void register_half(Napi::Env env, Napi::Object exports) {
  exports.Set("toFloat16", Napi::Function::New<to_float16>(env, "toFloat16"));
  exports.Set("fromFloat16", Napi::Function::New<from_float16>(env, "fromFloat16"));
}

}  // namespace clipkit::binding
