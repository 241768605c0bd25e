#include "binding/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "binding/args.h"
#include "binding/half.h"
#include "binding/module.h"
#include "clipkit/bf16.h"
#include "clipkit/kernels.h"

namespace clipkit::binding {
namespace {

// Only native code holds this pointer, so `new Tensor()` from JS cannot build an empty handle.
int g_construct_token = 0;

constexpr size_t kMaxRank = 8;

const char* device_name(Device d) { return d == Device::Cuda ? "cuda" : "cpu"; }

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::F32:
      break;
  }
  return "f32";
}

// f32 data in the storage format of `dtype` (2-byte formats rounded to nearest even).
const void* encode(const float* src, size_t n, DType dtype, std::vector<uint16_t>& staging) {
  if (dtype == DType::F32) return src;
  staging.resize(n);
  if (dtype == DType::F16) {
    floats_to_halves(src, staging.data(), n);
  } else {
    floats_to_bf16(src, staging.data(), n);
  }
  return staging.data();
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(Device device, size_t bytes) {
  if (device == Device::Cuda) {
    void* p = cuda::malloc_device(bytes);
    return std::shared_ptr<Storage>(new Storage(device, p, bytes));
  }
  return std::shared_ptr<Storage>(new Storage(device, cpu::alloc_host_memory(bytes), bytes));
}

Storage::~Storage() {
  if (device_ == Device::Cuda) {
    try {
      cuda::free_device(data_);
    } catch (...) {
      // A failing free during teardown (driver already gone) has nothing left to release.
    }
  } else {
    cpu::free_host_memory(data_, bytes_);
  }
}

void Tensor::define(Napi::Env env) {
  Napi::Function cls = DefineClass(
      env, "Tensor",
      {InstanceAccessor<&Tensor::shape_getter>("shape"),
       InstanceAccessor<&Tensor::dtype_getter>("dtype"),
       InstanceAccessor<&Tensor::device_getter>("device"),
       InstanceAccessor<&Tensor::size_getter>("size"),
       InstanceAccessor<&Tensor::disposed_getter>("disposed"),
       InstanceMethod<&Tensor::to_array>("toArray"), InstanceMethod<&Tensor::write>("write"),
       InstanceMethod<&Tensor::dispose>("dispose")});
  addon_data(env).tensor_class = Napi::Persistent(cls);
}

Tensor* Tensor::from(Napi::Value value) {
  if (!value.IsObject()) return nullptr;
  Napi::Env env = value.Env();
  if (!value.As<Napi::Object>().InstanceOf(addon_data(env).tensor_class.Value())) return nullptr;
  // A prototype-spoofed plain object passes InstanceOf but has nothing wrapped.
  void* wrapped = nullptr;
  if (napi_unwrap(env, value, &wrapped) != napi_ok || wrapped == nullptr) return nullptr;
  return static_cast<Tensor*>(wrapped);
}

Napi::Object Tensor::wrap(Napi::Env env, std::shared_ptr<Storage> storage, DType dtype,
                          std::vector<int64_t> shape) {
  Napi::Object obj =
      addon_data(env).tensor_class.New({Napi::External<int>::New(env, &g_construct_token)});
  Tensor* t = Unwrap(obj);
  t->device_ = storage->device();
  t->dtype_ = dtype;
  t->shape_ = std::move(shape);
  t->size_ = storage->bytes() / dtype_bytes(dtype);
  t->storage_ = std::move(storage);
  if (t->device_ == Device::Cpu)
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(t->storage_->bytes()));
  return obj;
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {
  if (info.Length() != 1 || !info[0].IsExternal() ||
      info[0].As<Napi::External<int>>().Data() != &g_construct_token) {
    throw Napi::TypeError::New(info.Env(), "Tensor: use tensor(data, shape) to create tensors");
  }
}

Tensor::~Tensor() {
  // GC safety net for tensors that were never disposed.
  if (storage_ != nullptr && device_ == Device::Cpu)
    Napi::MemoryManagement::AdjustExternalMemory(Env(), -static_cast<int64_t>(storage_->bytes()));
}

void Tensor::release(Napi::Env env) {
  if (storage_ == nullptr) return;
  if (device_ == Device::Cpu)
    Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(storage_->bytes()));
  storage_.reset();
}

void Tensor::require_live(Napi::Env env, const char* method) const {
  if (storage_ == nullptr)
    throw Napi::Error::New(env, std::string("Tensor.") + method + ": tensor is disposed");
}

Napi::Value Tensor::shape_getter(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i)
    a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(shape_[i])));
  return a;
}

Napi::Value Tensor::dtype_getter(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(dtype_));
}

Napi::Value Tensor::device_getter(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_name(device_));
}

Napi::Value Tensor::size_getter(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value Tensor::disposed_getter(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), storage_ == nullptr);
}

Napi::Value Tensor::to_array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env, "toArray");
  Napi::Float32Array out = Napi::Float32Array::New(env, size_);
  const void* src = storage_->data();
  std::vector<uint8_t> staging;
  if (device_ == Device::Cuda) {
    staging.resize(storage_->bytes());
    cuda::copy_to_host(staging.data(), src, staging.size());
    src = staging.data();
  }
  if (dtype_ == DType::F32) {
    std::memcpy(out.Data(), src, size_ * 4);
  } else if (dtype_ == DType::F16) {
    halves_to_floats(static_cast<const uint16_t*>(src), out.Data(), size_);
  } else {
    bf16_to_floats(static_cast<const uint16_t*>(src), out.Data(), size_);
  }
  return out;
}

void Tensor::write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_live(env, "write");
  Args args(info, "Tensor.write");
  const TypedView data = args.typed(info[0], "data", {napi_float32_array}, "a Float32Array");
  if (data.length != size_) {
    args.range_error("data has " + std::to_string(data.length) + " elements, expected size = " +
                     std::to_string(size_));
  }
  std::vector<uint16_t> staging;
  const void* bytes = encode(static_cast<const float*>(data.data), size_, dtype_, staging);
  if (device_ == Device::Cuda) {
    cuda::copy_to_device(storage_->data(), bytes, storage_->bytes());
  } else {
    std::memcpy(storage_->data(), bytes, storage_->bytes());
  }
  storage_->packed_linear().invalidate();
  storage_->packed_bf16().invalidate();
}

void Tensor::dispose(const Napi::CallbackInfo& info) { release(info.Env()); }

Napi::Value create_tensor(const Napi::CallbackInfo& info) {
  Args args(info, "tensor");
  Napi::Env env = info.Env();
  const TypedView data = args.typed(info[0], "data", {napi_float32_array, napi_uint16_array},
                                    "a Float32Array or Uint16Array (f16 bits)");
  const bool data_is_half = info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;

  if (!info[1].IsArray()) args.type_error("shape must be an array of dimensions");
  Napi::Array shape_js = info[1].As<Napi::Array>();
  const uint32_t rank = shape_js.Length();
  if (rank == 0 || rank > kMaxRank)
    args.range_error("shape must have 1 to " + std::to_string(kMaxRank) + " dimensions");
  std::vector<int64_t> shape;
  uint64_t size = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    const int64_t d = args.integer(shape_js.Get(i), "shape[" + std::to_string(i) + "]", 1, kMaxDim);
    if (__builtin_mul_overflow(size, static_cast<uint64_t>(d), &size))
      args.range_error("shape is too large (element count overflows 64 bits)");
    shape.push_back(d);
  }
  if (shape_js.Length() != rank) args.type_error("shape changed while being read");
  if (size != data.length) {
    args.range_error("data has " + std::to_string(data.length) +
                     " elements, expected the product of shape = " + std::to_string(size));
  }

  const Napi::Object opts = args.options(2, "opts", false);
  constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
  const DType dtype = kDTypes[args.choice(opts, "dtype", {"f32", "f16", "bf16"}, data_is_half ? 1 : 0)];
  // Uint16Array data means f16 bits; bf16 bits would be indistinguishable from them.
  if (dtype == DType::BF16 && data_is_half)
    args.type_error("data must be a Float32Array for dtype 'bf16' (it is rounded to bf16), got a Uint16Array");
  const Device device = args.choice(opts, "device", {"cpu", "cuda"}, 0) == 1 ? Device::Cuda : Device::Cpu;
  if (device == Device::Cuda) {
    std::string why;
    if (!cuda::available(&why)) throw Napi::Error::New(env, "tensor: CUDA is not available: " + why);
  }

  args.verify_unchanged();

  // Convert on the host when the data's type differs from the tensor's dtype.
  std::vector<uint8_t> converted;
  std::vector<uint16_t> staging;
  const void* src = data.data;
  if (!data_is_half) {
    src = encode(static_cast<const float*>(data.data), size, dtype, staging);
  } else if (dtype == DType::F32) {
    converted.resize(size * 4);
    halves_to_floats(static_cast<const uint16_t*>(data.data),
                     reinterpret_cast<float*>(converted.data()), size);
    src = converted.data();
  }

  const size_t bytes = size * dtype_bytes(dtype);
  std::shared_ptr<Storage> storage;
  try {
    storage = Storage::allocate(device, bytes);
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, "tensor: cannot allocate " + std::to_string(bytes) + " bytes");
  }
  if (device == Device::Cuda) {
    cuda::copy_to_device(storage->data(), src, bytes);
  } else {
    std::memcpy(storage->data(), src, bytes);
  }
  return Tensor::wrap(env, std::move(storage), dtype, std::move(shape));
}

// A zero-filled Float32Array (or Uint16Array of f16 bits) over alloc_host_memory: buffers the
// kernels stream through, on huge pages when large (see kernels.h). V8 frees it with the array.
Napi::Value create_host_array(const Napi::CallbackInfo& info) {
  Args args(info, "hostArray");
  Napi::Env env = info.Env();
  const int64_t length = args.integer(info[0], "length", 0, kMaxDim);
  const bool half = !info[1].IsUndefined() && args.choice(info[1], "dtype", {"f32", "f16"}) == 1;
  const auto count = static_cast<size_t>(length);
  const auto typed = [&](Napi::ArrayBuffer buffer) -> Napi::Value {
    if (half) return Napi::Uint16Array::New(env, count, buffer, 0);
    return Napi::Float32Array::New(env, count, buffer, 0);
  };
  const size_t bytes = count * (half ? sizeof(uint16_t) : sizeof(float));
  if (bytes == 0) return typed(Napi::ArrayBuffer::New(env, 0));
  void* data = nullptr;
  try {
    data = cpu::alloc_host_memory(bytes);
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, "hostArray: cannot allocate " + std::to_string(bytes) + " bytes");
  }
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(env, data, bytes, [bytes](Napi::Env e, void* p) {
      cpu::free_host_memory(p, bytes);
      Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(bytes));
    });
  } catch (const Napi::Error&) {
    // Runtimes that forbid external buffers (a V8 sandbox): V8's own memory, 4 KiB pages.
    cpu::free_host_memory(data, bytes);
    return typed(Napi::ArrayBuffer::New(env, bytes));
  }
  // V8 does not count external memory on its own: without this, short-lived arrays pile up
  // in native memory long before the JS heap looks full enough to collect them.
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return typed(buffer);
}

void register_tensor(Napi::Env env, Napi::Object exports) {
  Tensor::define(env);
  exports.Set("tensor", Napi::Function::New<create_tensor>(env, "tensor"));
  exports.Set("hostArray", Napi::Function::New<create_host_array>(env, "hostArray"));
}

}  // namespace clipkit::binding
