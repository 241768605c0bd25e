// Fused CLIP preprocessing on the GPU, the same arithmetic as src/cpu/preprocess.cc (bit-exact
// with Pillow 9.4 + torchvision 0.14): the resampling taps, sizes and crop offsets come from the
// CPU kernel's own helpers (cpu/preprocess_pillow.h, computed on the host in double precision),
// and the device does only integer work plus a float lookup table built on the host, so there is
// no device floating-point rounding to diverge from the CPU.
//
// Steps: copy the source rows the crop window needs to the device; (bicubic) horizontal pass into
// a uint8 intermediate [rows, window cols, channels] with Pillow's rounding, premultiplying alpha
// on the fly as Pillow's RGBa/La conversion does; then one thread per output pixel runs the
// vertical pass (or the nearest / no-resize fetch), convert('RGB') / alpha handling, and the
// normalisation table, writing float32 CHW.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "clipkit/kernels.h"
#include "cpu/preprocess_pillow.h"
#include "runtime.cuh"

namespace clipkit::cuda {
namespace {

namespace pillow = clipkit::cpu::pillow;

constexpr int kThreads = 256;
constexpr int kHalf = 1 << (pillow::kPrecisionBits - 1);

enum class Fetch : int { Copy = 0, Nearest = 1, Bicubic = 2 };

// Device-side copies of the host-computed tables (all device pointers).
struct Tables {
  const int32_t* h_first;
  const int32_t* h_count;
  const int32_t* h_k;
  int h_ksize;
  const int32_t* v_first;
  const int32_t* v_count;
  const int32_t* v_k;
  int v_ksize;
  const int64_t* xs;  // nearest source column per resized column
  const int64_t* ys;  // nearest source row per resized row
  const float* lut;   // [3][256] normalised value per channel and byte
};

// Geometry shared by both kernels. Source rows [r0, r1) are on the device, tightly packed.
struct Geometry {
  int64_t width;  // source width
  int ch;
  int64_t r0;
  int64_t x0, y0;      // window origin in the resized image
  int64_t cols, rows;  // window size (inside the resized image)
  int64_t ox, oy;      // crop origin in the resized image (may be negative: padding)
  int64_t crop;
  bool need_h, need_v, premultiply, cmyk;
  Fetch fetch;
  AlphaMode alpha;
};

using pillow::clip8;
using pillow::muldiv255;

// Byte c of a source pixel in the mode Pillow resamples in (premultiplied when asked).
__device__ __forceinline__ int source_byte(const uint8_t* px, int c, int ch, bool premultiply) {
  return (premultiply && c < ch - 1) ? muldiv255(px[c], px[ch - 1]) : px[c];
}

// Horizontal pass over source rows [r0, r0 + mid_rows) for the window's columns.
__global__ void horizontal_kernel(const uint8_t* src, uint8_t* mid, int64_t mid_rows,
                                  Geometry g, Tables t) {
  const int64_t total = mid_rows * g.cols;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t y = i / g.cols;
    const int64_t xx = i % g.cols;
    const uint8_t* row = src + y * g.width * g.ch;
    uint8_t* dst = mid + i * g.ch;
    const int64_t o = g.x0 + xx;
    if (!g.need_h) {
      for (int c = 0; c < g.ch; ++c) dst[c] = source_byte(row + o * g.ch, c, g.ch, g.premultiply);
      continue;
    }
    const int32_t* k = t.h_k + o * t.h_ksize;
    const uint8_t* p = row + int64_t{t.h_first[o]} * g.ch;
    const int n = t.h_count[o];
    int ss[4] = {kHalf, kHalf, kHalf, kHalf};
    for (int j = 0; j < n; ++j) {
      for (int c = 0; c < g.ch; ++c) {
        ss[c] += source_byte(p + j * g.ch, c, g.ch, g.premultiply) * k[j];
      }
    }
    for (int c = 0; c < g.ch; ++c) dst[c] = clip8(ss[c] >> pillow::kPrecisionBits);
  }
}

// One thread per crop pixel: the resized pixel (zero outside the resized image, as torchvision
// pads), converted to RGB and normalised into out [3, crop, crop].
__global__ void finish_kernel(const uint8_t* src, const uint8_t* mid, float* out, Geometry g,
                              Tables t) {
  const int64_t plane = g.crop * g.crop;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t src_row = g.width * g.ch;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < plane; i += step) {
    const int64_t wy = g.oy + i / g.crop - g.y0;
    const int64_t wx = g.ox + i % g.crop - g.x0;
    uint8_t px[4] = {0, 0, 0, 0};
    if (wy >= 0 && wy < g.rows && wx >= 0 && wx < g.cols) {
      const int64_t ry = g.y0 + wy;  // row and column in the resized image
      const int64_t rx = g.x0 + wx;
      if (g.fetch == Fetch::Copy) {
        const uint8_t* p = src + (ry - g.r0) * src_row + rx * g.ch;
        for (int c = 0; c < g.ch; ++c) px[c] = p[c];
      } else if (g.fetch == Fetch::Nearest) {
        const int64_t sy = t.ys[ry];
        const int64_t sx = t.xs[rx];
        if (sy >= 0 && sx >= 0) {
          const uint8_t* p = src + (sy - g.r0) * src_row + sx * g.ch;
          for (int c = 0; c < g.ch; ++c) px[c] = p[c];
        }
      } else if (!g.need_v) {
        const uint8_t* p = mid + ((ry - g.r0) * g.cols + wx) * g.ch;
        for (int c = 0; c < g.ch; ++c) px[c] = p[c];
      } else {
        const int32_t* k = t.v_k + ry * t.v_ksize;
        const int64_t first = t.v_first[ry] - g.r0;
        const int n = t.v_count[ry];
        int acc[4] = {kHalf, kHalf, kHalf, kHalf};
        for (int j = 0; j < n; ++j) {
          const uint8_t* p = mid + ((first + j) * g.cols + wx) * g.ch;
          for (int c = 0; c < g.ch; ++c) acc[c] += p[c] * k[j];
        }
        for (int c = 0; c < g.ch; ++c) px[c] = clip8(acc[c] >> pillow::kPrecisionBits);
      }
    }
    uint8_t rgb[3];
    pillow::to_rgb(px, g.ch, g.cmyk, g.premultiply, g.alpha, rgb);
    for (int c = 0; c < 3; ++c) out[c * plane + i] = t.lut[c * 256 + rgb[c]];
  }
}

// Host tables packed into one buffer (one copy to the device), 8-byte aligned sections.
class Blob {
 public:
  template <typename T>
  size_t add(const T* data, size_t count) {
    const size_t at = (bytes_.size() + 7) & ~size_t{7};
    bytes_.resize(at + sizeof(T) * count);
    if (count > 0) {
      std::copy_n(reinterpret_cast<const uint8_t*>(data), sizeof(T) * count, &bytes_[at]);
    }
    return at;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace

void preprocess(const ImageU8& img, const PreprocessParams& p, float* out_device) {
  if (img.channels < 1 || img.channels > 4 || img.width < 1 || img.height < 1 ||
      p.crop_size < 1 || p.resize_shortest < 1) {
    throw std::invalid_argument("cuda preprocess: invalid image or parameters");
  }
  Geometry g{};
  g.width = img.width;
  g.ch = img.channels;
  g.crop = p.crop_size;
  g.cmyk = p.cmyk;
  g.alpha = p.alpha;
  const pillow::Size rs = pillow::resized_size(img.width, img.height, p.resize_shortest);
  const bool resize = rs.width != img.width || rs.height != img.height;
  const bool nearest = p.resample == Resample::Nearest;
  const bool has_alpha = !p.cmyk && (g.ch == 2 || g.ch == 4);
  g.premultiply = has_alpha && resize && !nearest;
  g.fetch = !resize ? Fetch::Copy : (nearest ? Fetch::Nearest : Fetch::Bicubic);
  g.ox = pillow::crop_offset(rs.width, g.crop, p.crop);
  g.oy = pillow::crop_offset(rs.height, g.crop, p.crop);
  g.x0 = std::max<int64_t>(g.ox, 0);
  g.y0 = std::max<int64_t>(g.oy, 0);
  g.cols = std::min<int64_t>(g.ox + g.crop, rs.width) - g.x0;
  g.rows = std::min<int64_t>(g.oy + g.crop, rs.height) - g.y0;

  Blob blob;
  Tables t{};
  size_t off_h_first = 0, off_h_count = 0, off_h_k = 0, off_v_first = 0, off_v_count = 0,
         off_v_k = 0, off_xs = 0, off_ys = 0;
  // Source rows [r0, r1) that the window reads.
  int64_t r0 = g.y0;
  int64_t r1 = g.y0 + g.rows;
  if (g.fetch == Fetch::Bicubic) {
    g.need_h = rs.width != img.width;
    g.need_v = rs.height != img.height;
    if (g.need_h) {
      const pillow::Taps h = pillow::bicubic_taps(img.width, rs.width);
      t.h_ksize = h.ksize;
      off_h_first = blob.add(h.first.data(), h.first.size());
      off_h_count = blob.add(h.count.data(), h.count.size());
      off_h_k = blob.add(h.k.data(), h.k.size());
    }
    if (g.need_v) {
      const pillow::Taps v = pillow::bicubic_taps(img.height, rs.height);
      t.v_ksize = v.ksize;
      const pillow::Range read = pillow::input_range(v, g.y0, g.rows);
      r0 = read.begin;
      r1 = read.end;
      off_v_first = blob.add(v.first.data(), v.first.size());
      off_v_count = blob.add(v.count.data(), v.count.size());
      off_v_k = blob.add(v.k.data(), v.k.size());
    }
  } else if (g.fetch == Fetch::Nearest) {
    const std::vector<int64_t> xs = pillow::nearest_index(img.width, rs.width);
    const std::vector<int64_t> ys = pillow::nearest_index(img.height, rs.height);
    r0 = img.height;
    r1 = 0;
    for (int64_t y = g.y0; y < g.y0 + g.rows; ++y) {
      const int64_t sy = ys[static_cast<size_t>(y)];
      if (sy < 0) continue;
      r0 = std::min(r0, sy);
      r1 = std::max(r1, sy + 1);
    }
    if (r1 <= r0) r0 = r1 = 0;  // every row maps outside the source: all padding
    off_xs = blob.add(xs.data(), xs.size());
    off_ys = blob.add(ys.data(), ys.size());
  }
  g.r0 = r0;

  // Normalisation table: the CPU kernel's own, computed on the host.
  float lut[3][256];
  pillow::normalisation_table(p, lut);
  const size_t off_lut = blob.add(&lut[0][0], 3 * 256);

  const cudaStream_t st = detail::stream();
  detail::Scratch tables(blob.bytes().size());
  const auto* base = tables.as<uint8_t>();
  t.h_first = reinterpret_cast<const int32_t*>(base + off_h_first);
  t.h_count = reinterpret_cast<const int32_t*>(base + off_h_count);
  t.h_k = reinterpret_cast<const int32_t*>(base + off_h_k);
  t.v_first = reinterpret_cast<const int32_t*>(base + off_v_first);
  t.v_count = reinterpret_cast<const int32_t*>(base + off_v_count);
  t.v_k = reinterpret_cast<const int32_t*>(base + off_v_k);
  t.xs = reinterpret_cast<const int64_t*>(base + off_xs);
  t.ys = reinterpret_cast<const int64_t*>(base + off_ys);
  t.lut = reinterpret_cast<const float*>(base + off_lut);
  detail::check(cudaMemcpyAsync(tables.as<uint8_t>(), blob.bytes().data(), blob.bytes().size(),
                                cudaMemcpyHostToDevice, st),
                "cudaMemcpy (preprocess tables)");

  const int64_t src_rows = r1 - r0;
  const size_t row_bytes = static_cast<size_t>(img.width) * static_cast<size_t>(g.ch);
  detail::Scratch src(row_bytes * static_cast<size_t>(src_rows));
  if (src_rows > 0) {
    detail::check(cudaMemcpy2DAsync(src.as<uint8_t>(), row_bytes, img.data + r0 * img.stride,
                                    static_cast<size_t>(img.stride), row_bytes,
                                    static_cast<size_t>(src_rows), cudaMemcpyHostToDevice, st),
                  "cudaMemcpy2D (preprocess image)");
  }
  // The host image and tables belong to this call's caller / frame: done with them on return.
  detail::check(cudaStreamSynchronize(st), "preprocess upload");

  const bool bicubic = g.fetch == Fetch::Bicubic;
  detail::Scratch mid(bicubic ? static_cast<size_t>(src_rows * g.cols * g.ch) : 0);
  if (bicubic) {
    horizontal_kernel<<<detail::grid_for(src_rows * g.cols, kThreads), kThreads, 0, st>>>(
        src.as<uint8_t>(), mid.as<uint8_t>(), src_rows, g, t);
    detail::check_launch("preprocess horizontal kernel");
  }
  finish_kernel<<<detail::grid_for(g.crop * g.crop, kThreads), kThreads, 0, st>>>(
      src.as<uint8_t>(), mid.as<uint8_t>(), out_device, g, t);
  detail::check_launch("preprocess finish kernel");
}

}  // namespace clipkit::cuda
