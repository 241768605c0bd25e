#include "binding/args.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace clipkit::binding {
namespace {

std::string describe(Napi::Value v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: {
      std::ostringstream s;
      s.precision(17);
      s << v.As<Napi::Number>().DoubleValue();
      return s.str();
    }
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    default: break;
  }
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "an Int8Array";
      case napi_uint8_array: return "a Uint8Array";
      case napi_uint8_clamped_array: return "a Uint8ClampedArray";
      case napi_int16_array: return "an Int16Array";
      case napi_uint16_array: return "a Uint16Array";
      case napi_int32_array: return "an Int32Array";
      case napi_uint32_array: return "a Uint32Array";
      case napi_float32_array: return "a Float32Array";
      case napi_float64_array: return "a Float64Array";
      default: return "a typed array";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  return "an object";
}

// Data pointer and length of a typed array; detached buffers are reported, never read.
bool typed_array_info(napi_env env, napi_value value, napi_typedarray_type* type, void** data,
                      size_t* length, bool* detached) {
  napi_value arraybuffer = nullptr;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, type, length, data, &arraybuffer, &offset) != napi_ok)
    return false;
  bool is_detached = false;
  // Fails (harmlessly) for SharedArrayBuffers, which cannot be detached.
  if (napi_is_detached_arraybuffer(env, arraybuffer, &is_detached) != napi_ok) is_detached = false;
  *detached = is_detached;
  return true;
}

}  // namespace

void Args::type_error(const std::string& message) const {
  throw Napi::TypeError::New(env_, std::string(fn_) + ": " + message);
}

void Args::range_error(const std::string& message) const {
  throw Napi::RangeError::New(env_, std::string(fn_) + ": " + message);
}

Napi::Object Args::options(size_t index, const char* name, bool required) const {
  Napi::Value v = values_[index];
  if (v.IsUndefined() && !required) return Napi::Object::New(env_);
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction())
    type_error(std::string(name) + " must be an options object, got " + describe(v));
  return v.As<Napi::Object>();
}

int64_t Args::integer(Napi::Value v, const std::string& name, int64_t lo, int64_t hi) const {
  if (!v.IsNumber()) type_error(name + " must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || std::floor(d) != d) {
    range_error(name + " must be an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got " + describe(v));
  }
  return static_cast<int64_t>(d);
}

int64_t Args::dim(const Napi::Object& opts, const char* key) const {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) type_error(std::string(key) + " is required");
  return integer(v, key, 1, kMaxDim);
}

int64_t Args::integer(const Napi::Object& opts, const char* key, int64_t lo, int64_t hi,
                      int64_t fallback) const {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return fallback;
  return integer(v, key, lo, hi);
}

double Args::finite(const Napi::Object& opts, const char* key, double fallback) const {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) type_error(std::string(key) + " must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) range_error(std::string(key) + " must be finite, got " + describe(v));
  return d;
}

bool Args::boolean(const Napi::Object& opts, const char* key, bool fallback) const {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) type_error(std::string(key) + " must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

int Args::choice(Napi::Value v, const std::string& name,
                 std::initializer_list<const char*> choices) const {
  std::string allowed;
  for (const char* c : choices) allowed += (allowed.empty() ? "'" : ", '") + std::string(c) + "'";
  if (!v.IsString()) type_error(name + " must be one of " + allowed + ", got " + describe(v));
  const std::string s = v.As<Napi::String>().Utf8Value();
  int i = 0;
  for (const char* c : choices) {
    if (s == c) return i;
    ++i;
  }
  range_error(name + " must be one of " + allowed + ", got '" + s + "'");
}

int Args::choice(const Napi::Object& opts, const char* key,
                 std::initializer_list<const char*> choices, int fallback) const {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return fallback;
  return choice(v, key, choices);
}

TypedView Args::typed(Napi::Value v, const std::string& name,
                      std::initializer_list<napi_typedarray_type> types,
                      const char* expected) const {
  if (!v.IsTypedArray()) type_error(name + " must be " + expected + ", got " + describe(v));
  napi_typedarray_type type;
  TypedView view;
  bool detached = false;
  if (!typed_array_info(env_, v, &type, &view.data, &view.length, &detached))
    type_error(name + " must be " + expected + ", got " + describe(v));
  bool ok = false;
  for (napi_typedarray_type t : types) ok = ok || t == type;
  if (!ok) type_error(name + " must be " + expected + ", got " + describe(v));
  if (detached) type_error(name + " is backed by a detached ArrayBuffer");
  view.js = v;
  taken_.push_back({v, name, view.data, view.length});
  if (values_.ledger() != nullptr) values_.ledger()->push_back({v, std::string(fn_) + ": " + name, view.data, view.length});
  return view;
}

void Args::verify_unchanged() const { verify_taken(env_, fn_, taken_); }

void verify_taken(Napi::Env env, const std::string& fn, const std::vector<TakenArray>& taken) {
  for (const TakenArray& t : taken) {
    napi_typedarray_type type;
    void* data = nullptr;
    size_t length = 0;
    bool detached = false;
    if (!typed_array_info(env, t.value, &type, &data, &length, &detached) || detached ||
        data != t.data || length != t.length) {
      throw Napi::TypeError::New(
          env, (fn.empty() ? "" : fn + ": ") + t.name +
                   " was detached or resized while the arguments were being read");
    }
  }
}

namespace {

const char* tensor_kind(DType t) {
  switch (t) {
    case DType::F16:
      return "an f16 Tensor";
    case DType::BF16:
      return "a bf16 Tensor (bf16 tensors are accepted only as the weight w of linear)";
    case DType::F32:
      break;
  }
  return "an f32 Tensor";
}

Buffer from_tensor(const Args& a, Tensor* t, const std::string& name) {
  if (t->storage() == nullptr) a.type_error(name + " is a disposed Tensor");
  Buffer b;
  b.data = t->storage()->data();
  b.size = t->size();
  b.dtype = t->dtype();
  b.device = t->device();
  b.storage = t->storage();
  return b;
}

}  // namespace

Buffer Args::f32(Napi::Value v, const std::string& name) const {
  if (Tensor* t = Tensor::from(v)) {
    Buffer b = from_tensor(*this, t, name);
    if (b.dtype != DType::F32)
      type_error(name + " must be an f32 Tensor, got " + tensor_kind(b.dtype));
    b.js = v;
    return b;
  }
  const TypedView view = typed(v, name, {napi_float32_array}, "a Float32Array or f32 Tensor");
  Buffer b;
  b.data = view.data;
  b.size = view.length;
  b.js = v;
  return b;
}

Buffer Args::f32_or_f16(Napi::Value v, const std::string& name) const {
  if (Tensor* t = Tensor::from(v)) {
    Buffer b = from_tensor(*this, t, name);
    if (b.dtype == DType::BF16)
      type_error(name + " must be an f32 or f16 Tensor, got " + tensor_kind(b.dtype));
    b.js = v;
    return b;
  }
  const TypedView view = typed(v, name, {napi_float32_array, napi_uint16_array},
                               "a Float32Array, Uint16Array (f16 bits) or Tensor");
  Buffer b;
  b.data = view.data;
  b.size = view.length;
  b.dtype = v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array ? DType::F16
                                                                            : DType::F32;
  b.js = v;
  return b;
}

Buffer Args::linear_weight(Napi::Value v, const std::string& name) const {
  if (Tensor* t = Tensor::from(v)) {
    Buffer b = from_tensor(*this, t, name);
    if (b.dtype == DType::F16)
      type_error(name + " must be an f32 or bf16 Tensor, got " + tensor_kind(b.dtype));
    b.js = v;
    return b;
  }
  return f32(v, name);
}

uint64_t Args::product(std::initializer_list<int64_t> dims, const char* expr) const {
  uint64_t p = 1;
  for (int64_t d : dims) {
    if (__builtin_mul_overflow(p, static_cast<uint64_t>(d), &p) ||
        p > static_cast<uint64_t>(INT64_MAX)) {
      range_error(std::string(expr) + " is too large (overflows 64 bits)");
    }
  }
  return p;
}

void Args::need(const Buffer& b, const std::string& name, uint64_t want, const char* expr,
                bool exact) const {
  if (exact ? b.size == want : b.size >= want) return;
  range_error(name + " has " + std::to_string(b.size) + " elements, expected " +
              (exact ? "" : "at least ") + expr + " = " + std::to_string(want));
}

Device Args::device_of(std::initializer_list<const Buffer*> buffers) const {
  bool cpu = false;
  bool cuda = false;
  for (const Buffer* b : buffers) {
    if (b == nullptr) continue;
    (b->device == Device::Cuda ? cuda : cpu) = true;
  }
  if (cpu && cuda)
    type_error("arguments mix 'cpu' and 'cuda' memory; move them to one device first");
  return cuda ? Device::Cuda : Device::Cpu;
}

void Args::no_overlap(const Buffer& out, const char* out_name, const Buffer& in,
                      const char* in_name, bool may_alias) const {
  const auto* o = static_cast<const char*>(out.data);
  const auto* i = static_cast<const char*>(in.data);
  if (o == nullptr || i == nullptr) return;
  const bool overlap = o < i + in.bytes() && i < o + out.bytes();
  if (!overlap) return;
  if (may_alias && o == i && out.bytes() == in.bytes()) return;
  range_error(std::string(out_name) + " overlaps " + in_name +
              (may_alias ? " (only the very same buffer is allowed)" : " (must be separate memory)"));
}

void Args::no_overlap(const Buffer& out, const char* out_name, const void* in, size_t in_bytes,
                      const std::string& in_name) const {
  const auto* o = static_cast<const char*>(out.data);
  const auto* i = static_cast<const char*>(in);
  if (o == nullptr || i == nullptr) return;
  if (o < i + in_bytes && i < o + out.bytes())
    range_error(std::string(out_name) + " overlaps " + in_name + " (must be separate memory)");
}

}  // namespace clipkit::binding
