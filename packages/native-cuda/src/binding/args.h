// Argument validation for every binding function. Nothing reaches a kernel before its
// buffers, shapes and options have passed through here; violations throw TypeError (wrong
// kind of value) or RangeError (right kind, bad value) with a message naming the function and
// the argument, e.g. "linear: x has 10 elements, expected at least m*k = 12".
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "binding/call_values.h"
#include "binding/job.h"
#include "binding/tensor.h"

namespace clipkit::binding {

// Largest accepted dimension: kernels index with int64 but return int32 indices.
constexpr int64_t kMaxDim = 2147483647;

// A validated float buffer argument: a typed array or a live Tensor.
struct Buffer {
  void* data = nullptr;
  size_t size = 0;  // elements
  DType dtype = DType::F32;
  Device device = Device::Cpu;
  std::shared_ptr<Storage> storage;  // set for Tensor arguments: keeps memory alive in async jobs
  Napi::Value js;                    // the JS value (for keeping typed arrays alive in async jobs)

  size_t bytes() const { return size * dtype_bytes(dtype); }
  const float* f32() const { return static_cast<const float*>(data); }
  // For a kernel that writes here; its job must also call drop_pack_after().
  float* f32_mut() const { return static_cast<float*>(data); }
  const uint16_t* f16() const { return static_cast<const uint16_t*>(data); }
};

// A raw typed array of a given element type (Uint8Array, Uint16Array, Float32Array, ...).
struct TypedView {
  void* data = nullptr;
  size_t length = 0;  // elements
  Napi::Value js;
};

// Makes `job` hold the memory behind `b` until it settles.
inline void keep_alive(Job& job, const Buffer& b) {
  if (b.storage != nullptr) {
    job.owners.push_back(b.storage);
  } else if (b.js.IsObject()) {
    job.keep.push_back(b.js);
  }
}

// `job` writes `out`: a Tensor's cached linear-weight pack goes stale. Dropped once the kernel
// has run, not when the call is validated, so a later linear in the same chain packs anew.
inline void drop_pack_after(Job& job, const Buffer& out) {
  if (out.storage == nullptr) return;
  job.run = [run = std::move(job.run), storage = out.storage] {
    try {
      run();
    } catch (...) {
      storage->packed_linear().invalidate();  // a failed kernel may have written part of it
      throw;
    }
    storage->packed_linear().invalidate();
  };
}

class Args {
 public:
  Args(CallValues values, const char* fn) : values_(std::move(values)), env_(values_.Env()), fn_(fn) {}

  [[noreturn]] void type_error(const std::string& message) const;
  [[noreturn]] void range_error(const std::string& message) const;

  // Positional options object; undefined (when optional) gives an empty object.
  Napi::Object options(size_t index, const char* name, bool required) const;

  // A required dimension: an integer in [1, kMaxDim].
  int64_t dim(const Napi::Object& opts, const char* key) const;
  // An optional integer in [lo, hi].
  int64_t integer(const Napi::Object& opts, const char* key, int64_t lo, int64_t hi,
                  int64_t fallback) const;
  int64_t integer(Napi::Value value, const std::string& name, int64_t lo, int64_t hi) const;
  // An optional finite number.
  double finite(const Napi::Object& opts, const char* key, double fallback) const;
  bool boolean(const Napi::Object& opts, const char* key, bool fallback) const;
  // An optional string out of `choices`; returns its index.
  int choice(const Napi::Object& opts, const char* key, std::initializer_list<const char*> choices,
             int fallback) const;
  int choice(Napi::Value value, const std::string& name,
             std::initializer_list<const char*> choices) const;

  // Float32Array or f32 Tensor.
  Buffer f32(Napi::Value value, const std::string& name) const;
  // As f32(), plus Uint16Array (f16 bits) or f16 Tensor.
  Buffer f32_or_f16(Napi::Value value, const std::string& name) const;
  // A linear weight: as f32(), plus a bf16 Tensor.
  Buffer linear_weight(Napi::Value value, const std::string& name) const;
  // A typed array of exactly one of `types`, not detached.
  TypedView typed(Napi::Value value, const std::string& name,
                  std::initializer_list<napi_typedarray_type> types, const char* expected) const;

  // Overflow-checked product of dimensions; `expr` names it in messages ("m*k").
  uint64_t product(std::initializer_list<int64_t> dims, const char* expr) const;
  // buffer.size == want (exact) or >= want.
  void need(const Buffer& b, const std::string& name, uint64_t want, const char* expr,
            bool exact) const;
  // Every buffer on the same device (mixed host/device arguments are a TypeError).
  Device device_of(std::initializer_list<const Buffer*> buffers) const;
  // `out` must not overlap `in`, except being exactly the same buffer when allowed.
  void no_overlap(const Buffer& out, const char* out_name, const Buffer& in, const char* in_name,
                  bool may_alias) const;
  // `out` must not overlap the `in_bytes` bytes at `in`.
  void no_overlap(const Buffer& out, const char* out_name, const void* in, size_t in_bytes,
                  const std::string& in_name) const;
  // Reading options and image objects can run user getters, which could detach or shrink a
  // typed array validated earlier: re-checks every one, just before native memory is touched.
  void verify_unchanged() const;

 private:
  CallValues values_;
  Napi::Env env_;
  const char* fn_;
  mutable std::vector<TakenArray> taken_;
};

}  // namespace clipkit::binding
