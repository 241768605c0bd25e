// nativeInfo() and setThreads().
#include <string>

#include "binding/args.h"
#include "binding/module.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {
namespace {

Napi::Value native_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("version", CLIPKIT_VERSION);

  Napi::Object cpu_info = Napi::Object::New(env);
  cpu_info.Set("isa", isa_name(cpu::detected_isa()));
  cpu_info.Set("threads", cpu::thread_count());
  const Bf16Path bf16 = cpu::bf16_path();  // the first call runs the path's self-test
  const std::string note = cpu::bf16_note();
  cpu_info.Set("bf16", bf16 == Bf16Path::None ? env.Null() : Napi::String::New(env, bf16_path_name(bf16)));
  cpu_info.Set("bf16Note", note.empty() ? env.Null() : Napi::String::New(env, note));
  result.Set("cpu", cpu_info);

  // Fast mode's JPEG decoders: the DC-only one is always built; libjpeg only when CMake found it.
  Napi::Object jpeg_info = Napi::Object::New(env);
  jpeg_info.Set("libjpeg", cpu::jpeg_scaled_available());
  result.Set("jpeg", jpeg_info);

  Napi::Object cuda_info = Napi::Object::New(env);
  std::string error;
  const bool available = cuda::available(&error);
  Napi::Array devices = Napi::Array::New(env);
  if (available) {
    uint32_t i = 0;
    for (const cuda::DeviceInfo& d : cuda::devices()) {
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("name", d.name);
      dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
      dev.Set("memoryBytes", static_cast<double>(d.memory_bytes));
      devices.Set(i++, dev);
    }
  }
  cuda_info.Set("compiled", cuda::compiled());
  cuda_info.Set("available", available);
  cuda_info.Set("devices", devices);
  cuda_info.Set("error", available ? env.Null() : Napi::String::New(env, error));
  result.Set("cuda", cuda_info);
  return result;
}

void set_threads(const Napi::CallbackInfo& info) {
  Args args(info, "setThreads");
  // 0 = one per hardware thread (the kernels' convention for n <= 0).
  const int64_t n = args.integer(info[0], "n", 0, 1024);
  cpu::set_thread_count(static_cast<int>(n));
}

}  // namespace

void register_info(Napi::Env env, Napi::Object exports) {
  exports.Set("nativeInfo", Napi::Function::New<native_info>(env, "nativeInfo"));
  exports.Set("setThreads", Napi::Function::New<set_threads>(env, "setThreads"));
}

}  // namespace clipkit::binding
