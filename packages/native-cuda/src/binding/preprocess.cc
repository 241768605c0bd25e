// preprocess / preprocessAsync (batch of decoded images -> normalised CHW slots of `out`),
// preprocessJpeg / preprocessJpegAsync (fast mode: one JPEG file's bytes decoded at the largest
// DCT scale that keeps the shorter side >= resizeShortest, into one slot) and preprocessCrop (the
// uint8 RGB crop, for exactness checks).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/module.h"
#include "clipkit/kernels.h"
#include "cpu/preprocess_pillow.h"

namespace clipkit::binding {
namespace {

// Pillow's resampling boxes are float: sides stay below 2^24 so they are exact.
constexpr int64_t kMaxSide = (1 << 24) - 1;
constexpr int64_t kMaxOutputSide = 8192;

struct Image {
  ImageU8 img;
  Resample resample;
  bool cmyk;
  Napi::Value data_js;
};

Image read_image(const Args& args, Napi::Value value, const std::string& name,
                 int resize_shortest) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray())
    args.type_error(name + " must be an object {data, width, height, channels}");
  const Napi::Object o = value.As<Napi::Object>();
  const TypedView data = args.typed(o.Get("data"), name + ".data",
                                    {napi_uint8_array, napi_uint8_clamped_array}, "a Uint8Array");
  const int64_t width = args.integer(o.Get("width"), name + ".width", 1, kMaxSide);
  const int64_t height = args.integer(o.Get("height"), name + ".height", 1, kMaxSide);
  const int64_t channels = args.integer(o.Get("channels"), name + ".channels", 1, 4);
  const uint64_t need = static_cast<uint64_t>(width) * static_cast<uint64_t>(height) *
                        static_cast<uint64_t>(channels);  // < 2^50: no overflow
  if (data.length < need) {
    args.range_error(name + ".data has " + std::to_string(data.length) +
                     " bytes, expected width*height*channels = " + std::to_string(need));
  }
  const cpu::pillow::Size rs = cpu::pillow::resized_size(width, height, resize_shortest);
  if (rs.width > kMaxSide || rs.height > kMaxSide) {
    args.range_error(name + ": resizing " + std::to_string(width) + "x" + std::to_string(height) +
                     " to a shorter side of " + std::to_string(resize_shortest) + " gives " +
                     std::to_string(rs.width) + "x" + std::to_string(rs.height) +
                     ", beyond the supported " + std::to_string(kMaxSide) + " per side");
  }
  Image im{};
  im.img = ImageU8{static_cast<const uint8_t*>(data.data), width, height,
                   static_cast<int>(channels), width * channels};
  const Napi::Value resample = o.Get("resample");
  im.resample = resample.IsUndefined()
                    ? Resample::Bicubic
                    : static_cast<Resample>(args.choice(resample, name + ".resample",
                                                        {"bicubic", "nearest"}));
  const Napi::Value cmyk = o.Get("cmyk");
  if (!cmyk.IsUndefined() && !cmyk.IsBoolean())
    args.type_error(name + ".cmyk must be a boolean");
  im.cmyk = cmyk.IsBoolean() && cmyk.As<Napi::Boolean>().Value();
  if (im.cmyk && channels != 4)
    args.range_error(name + ".cmyk needs 4 channels, got " + std::to_string(channels));
  im.data_js = data.js;
  return im;
}

void read_triple(const Args& args, const Napi::Object& opts, const char* key, const float* fallback,
                 bool positive, float* out) {
  const Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) {
    for (int i = 0; i < 3; ++i) out[i] = fallback[i];
    return;
  }
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
    args.type_error(std::string(key) + " must be an array of 3 numbers");
  const Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < 3; ++i) {
    const Napi::Value e = a.Get(i);
    const std::string name = std::string(key) + "[" + std::to_string(i) + "]";
    if (!e.IsNumber()) args.type_error(name + " must be a number");
    const double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || (positive && !(d > 0.0)))
      args.range_error(name + (positive ? " must be finite and > 0" : " must be finite"));
    out[i] = static_cast<float>(d);
  }
}

// OpenAI CLIP's normalisation constants.
constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

PreprocessParams read_params(const Args& args, const Napi::Object& opts) {
  PreprocessParams p{};
  p.resize_shortest = static_cast<int>(args.integer(opts, "resizeShortest", 1, kMaxOutputSide, 224));
  p.crop_size = static_cast<int>(args.integer(opts, "cropSize", 1, kMaxOutputSide, p.resize_shortest));
  read_triple(args, opts, "mean", kClipMean, false, p.mean);
  read_triple(args, opts, "std", kClipStd, true, p.std);
  p.alpha = static_cast<AlphaMode>(args.choice(opts, "alpha", {"reference", "white", "black"}, 0));
  p.crop = static_cast<CropRounding>(args.choice(opts, "crop", {"round", "floor"}, 0));
  return p;
}

Job prepare_batch(const CallValues& info, const char* fn) {
  Args args(info, fn);
  if (!info[0].IsArray()) args.type_error("images must be an array of images");
  const Napi::Array list = info[0].As<Napi::Array>();
  const Buffer out = args.f32(info[1], "out");
  const Napi::Object opts = args.options(2, "opts", false);
  const PreprocessParams params = read_params(args, opts);
  const int64_t offset = args.integer(opts, "offset", 0, kMaxDim, 0);

  // Read once: an element getter that appends would otherwise keep the loop going.
  const uint32_t count = list.Length();
  std::vector<Image> images;
  images.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    images.push_back(
        read_image(args, list.Get(i), "images[" + std::to_string(i) + "]", params.resize_shortest));
  }
  if (list.Length() != count) args.type_error("images changed while being read");
  const int64_t c = params.crop_size;
  const uint64_t slot = args.product({3, c, c}, "3*cropSize*cropSize");
  const uint64_t slots = static_cast<uint64_t>(offset) + images.size();
  uint64_t want = 0;
  if (__builtin_mul_overflow(slots, slot, &want)) args.range_error("offset is too large");
  args.need(out, "out", want, "(offset+images.length)*3*cropSize*cropSize", false);
  const Device device = args.device_of({&out});
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageU8& im = images[i].img;
    args.no_overlap(out, "out", im.data, static_cast<size_t>(im.height * im.stride),
                    "images[" + std::to_string(i) + "].data");
  }

  args.verify_unchanged();

  Job job;
  keep_alive(job, out);
  for (const Image& im : images) job.keep.push_back(im.data_js);
  float* base = out.f32_mut() + static_cast<size_t>(offset) * slot;
  job.run = [=] {
    for (size_t i = 0; i < images.size(); ++i) {
      PreprocessParams p = params;
      p.resample = images[i].resample;
      p.cmyk = images[i].cmyk;
      float* dst = base + i * slot;
      if (device == Device::Cuda) {
        cuda::preprocess(images[i].img, p, dst);
      } else {
        cpu::preprocess(images[i].img, p, dst, nullptr);
      }
    }
    if (device == Device::Cuda) cuda::synchronize();
  };
  drop_pack_after(job, out);
  return job;
}

// sharp's default input limit (0x3FFF * 0x3FFF), as core's DEFAULT_MAX_PIXELS.
constexpr int64_t kDefaultMaxPixels = 268402689;
// Per-thread decode buffers above this are freed after use instead of kept for the next image.
constexpr size_t kKeepScratchBytes = size_t{64} << 20;

struct JpegOutcome {
  bool decoded = false;
  std::string reason;  // why not, when not decoded
  const char* path = "";
  int scale = 1;
  int64_t width = 0, height = 0;  // as displayed (after EXIF orientation)
  double preprocess_seconds = 0;  // the resize + crop + normalise part
};

// Largest of 1/8, 1/4, 1/2 that keeps the shorter side >= target (libjpeg rounds sizes up).
int dct_scale(int64_t shorter, int target) {
  for (int d : {8, 4, 2}) {
    if ((shorter + d - 1) / d >= target) return d;
  }
  return 1;
}

void release_if_large(std::vector<uint8_t>& v) {
  if (v.capacity() > kKeepScratchBytes) std::vector<uint8_t>().swap(v);
}

// Decodes and preprocesses one JPEG into dst, or says why it did not (the caller then decodes the
// file with sharp). Runs on a libuv worker: touches no JS value.
void decode_jpeg_into(const uint8_t* data, size_t size, int64_t max_pixels, bool exif,
                      PreprocessParams p, float* dst, Device device, JpegOutcome* r) {
  thread_local std::vector<uint8_t> decoded, oriented;
  // On every way out, the failed ones too: a refused 200 MP file must not pin its pixels on this
  // libuv thread until the next JPEG comes along.
  struct Release {
    ~Release() {
      release_if_large(decoded);
      release_if_large(oriented);
    }
  } release;
  cpu::JpegInfo info;
  if (!cpu::jpeg_read_info(data, size, &info)) {
    r->reason = "no readable JPEG frame header";
    return;
  }
  if (info.width * info.height > max_pixels) {
    r->reason = "more pixels than maxPixels";
    return;
  }
  const int scale = dct_scale(std::min(info.width, info.height), p.resize_shortest);
  ImageU8 img{};
  try {
    std::string why;
    if (scale == 8 && info.dc_decodable) {
      const int64_t w = (info.width + 7) / 8, h = (info.height + 7) / 8;
      decoded.resize(static_cast<size_t>(w * h * info.channels));
      if (!cpu::jpeg_dc_decode(data, size, decoded.data(), decoded.size(), &why)) {
        r->reason = why;
        return;
      }
      img = ImageU8{decoded.data(), w, h, info.channels, w * info.channels};
      r->path = "dc";
    } else {
      cpu::JpegScaled s;
      if (!cpu::jpeg_decode_scaled(data, size, scale, &decoded, &s, &why)) {
        r->reason = why;
        return;
      }
      img = ImageU8{decoded.data(), s.width, s.height, s.channels, s.width * s.channels};
      r->path = "libjpeg";
    }
    if (exif && info.orientation != 1) {
      oriented.resize(static_cast<size_t>(img.width * img.height * img.channels));
      cpu::orient_image(img, info.orientation, oriented.data());
      if (info.orientation >= 5) std::swap(img.width, img.height);
      img = ImageU8{oriented.data(), img.width, img.height, img.channels, img.width * img.channels};
    }
  } catch (const std::bad_alloc&) {
    r->reason = "out of memory for the decoded image";
    return;
  }
  const cpu::pillow::Size rs = cpu::pillow::resized_size(img.width, img.height, p.resize_shortest);
  if (rs.width > kMaxSide || rs.height > kMaxSide) {
    r->reason = "resized size beyond the kernel's limits";
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  if (device == Device::Cuda) {
    cuda::preprocess(img, p, dst);
    cuda::synchronize();
  } else {
    cpu::preprocess(img, p, dst, nullptr);
  }
  r->preprocess_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r->decoded = true;
  r->scale = scale;
  const bool swapped = exif && info.orientation >= 5;
  r->width = swapped ? info.height : info.width;
  r->height = swapped ? info.width : info.height;
}

Job prepare_jpeg(const CallValues& info, const char* fn) {
  Args args(info, fn);
  const TypedView bytes = args.typed(info[0], "bytes", {napi_uint8_array}, "a Uint8Array");
  const Buffer out = args.f32(info[1], "out");
  const Napi::Object opts = args.options(2, "opts", false);
  PreprocessParams params = read_params(args, opts);
  const int64_t offset = args.integer(opts, "offset", 0, kMaxDim, 0);
  const int64_t max_pixels = args.integer(opts, "maxPixels", 1, kMaxDim, kDefaultMaxPixels);
  const bool exif = args.choice(opts, "orientation", {"exif", "ignore"}, 0) == 0;
  const int64_t c = params.crop_size;
  const uint64_t slot = args.product({3, c, c}, "3*cropSize*cropSize");
  uint64_t want = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(offset) + 1, slot, &want)) args.range_error("offset is too large");
  args.need(out, "out", want, "(offset+1)*3*cropSize*cropSize", false);
  const Device device = args.device_of({&out});
  args.no_overlap(out, "out", bytes.data, bytes.length, "bytes");
  args.verify_unchanged();

  Job job;
  keep_alive(job, out);
  job.keep.push_back(bytes.js);
  auto outcome = std::make_shared<JpegOutcome>();
  const auto* data = static_cast<const uint8_t*>(bytes.data);
  const size_t size = bytes.length;
  float* dst = out.f32_mut() + static_cast<size_t>(offset) * slot;
  job.run = [=] { decode_jpeg_into(data, size, max_pixels, exif, params, dst, device, outcome.get()); };
  job.result = [outcome](Napi::Env env, const std::vector<Napi::Value>&) -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("decoded", outcome->decoded);
    if (outcome->decoded) {
      o.Set("path", outcome->path);
      o.Set("scale", outcome->scale);
      o.Set("width", static_cast<double>(outcome->width));
      o.Set("height", static_cast<double>(outcome->height));
      o.Set("preprocessSeconds", outcome->preprocess_seconds);
    } else {
      o.Set("reason", outcome->reason);
    }
    return o;
  };
  drop_pack_after(job, out);
  return job;
}

Napi::Value preprocess_crop(const Napi::CallbackInfo& info) {
  Args args(info, "preprocessCrop");
  const Napi::Object opts = args.options(1, "opts", false);
  PreprocessParams p = read_params(args, opts);
  const Image im = read_image(args, info[0], "image", p.resize_shortest);
  p.resample = im.resample;
  p.cmyk = im.cmyk;
  args.verify_unchanged();
  const auto c = static_cast<size_t>(p.crop_size);
  std::vector<float> normalised(3 * c * c);
  Napi::Uint8Array crop = Napi::Uint8Array::New(info.Env(), 3 * c * c);
  cpu::preprocess(im.img, p, normalised.data(), crop.Data());
  return crop;
}

}  // namespace

void register_preprocess(Napi::Env env, Napi::Object exports) {
  export_sync(exports, "preprocess", prepare_batch);
  export_async(exports, "preprocessAsync", prepare_batch);
  export_sync(exports, "preprocessJpeg", prepare_jpeg);
  export_async(exports, "preprocessJpegAsync", prepare_jpeg);
  exports.Set("preprocessCrop", Napi::Function::New<preprocess_crop>(env, "preprocessCrop"));
}

}  // namespace clipkit::binding
