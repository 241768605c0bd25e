// Tensor handles: addon-owned memory (64-byte aligned host memory, or CUDA device memory)
// exposed to JS as objects with shape/dtype/device, toArray(), write() and dispose().
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "binding/packed_weight.h"

namespace clipkit::binding {

// BF16: bfloat16 bits, accepted only as a linear weight (see linear.cc).
enum class DType { F32, F16, BF16 };
enum class Device { Cpu, Cuda };

inline size_t dtype_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

// One allocation. Shared between the Tensor and any async job using it, so dispose() (or the
// GC) during a running job only drops the Tensor's share; the memory goes when the job ends.
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(Device device, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  // This memory's pack as a linear weight (CPU f32 only); whoever writes the memory
  // invalidates it.
  PackedWeightCache& packed_linear() { return packed_linear_; }
  // The same for a CPU bf16 tensor.
  PackedBf16Cache& packed_bf16() { return packed_bf16_; }

 private:
  Storage(Device device, void* data, size_t bytes) : device_(device), data_(data), bytes_(bytes) {}
  Device device_;
  void* data_;
  size_t bytes_;
  PackedWeightCache packed_linear_;
  PackedBf16Cache packed_bf16_;
};

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  // Defines the JS class and remembers its constructor in the addon's instance data.
  static void define(Napi::Env env);
  // The Tensor behind `value`, or nullptr when `value` is not one of ours.
  static Tensor* from(Napi::Value value);
  // A new JS Tensor wrapping `storage`.
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<Storage> storage, DType dtype,
                           std::vector<int64_t> shape);

  explicit Tensor(const Napi::CallbackInfo& info);
  ~Tensor() override;

  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t size() const { return size_; }
  // Null once disposed.
  const std::shared_ptr<Storage>& storage() const { return storage_; }

 private:
  Napi::Value shape_getter(const Napi::CallbackInfo& info);
  Napi::Value dtype_getter(const Napi::CallbackInfo& info);
  Napi::Value device_getter(const Napi::CallbackInfo& info);
  Napi::Value size_getter(const Napi::CallbackInfo& info);
  Napi::Value disposed_getter(const Napi::CallbackInfo& info);
  Napi::Value to_array(const Napi::CallbackInfo& info);
  void write(const Napi::CallbackInfo& info);
  void dispose(const Napi::CallbackInfo& info);
  void release(Napi::Env env);
  void require_live(Napi::Env env, const char* method) const;

  std::shared_ptr<Storage> storage_;
  DType dtype_ = DType::F32;
  Device device_ = Device::Cpu;
  std::vector<int64_t> shape_;
  size_t size_ = 0;
};

// native.tensor(data, shape, opts?)
Napi::Value create_tensor(const Napi::CallbackInfo& info);

}  // namespace clipkit::binding
