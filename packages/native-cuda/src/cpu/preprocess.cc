// Fused CLIP preprocessing, bit-exact with OpenAI's PIL pipeline (Pillow 9.4 + torchvision 0.14):
//   Resize(S, BICUBIC) on the image's own mode -> CenterCrop(C) -> convert('RGB') -> /255 -> normalise.
// Only the crop window is computed: every resized pixel depends on the input alone, so skipping the
// pixels the crop discards changes nothing. Rows are converted (premultiplied) one at a time, so
// the only full-size buffer is the caller's decoded image.
//
// The coefficient arithmetic must stay double precision without FMA contraction (build flags must
// not enable -ffp-contract=fast together with FMA instructions for this file), as Pillow's build.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "clipkit/kernels.h"
#include "preprocess_pillow.h"

namespace clipkit::cpu {
namespace pillow {

namespace {

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

}  // namespace

Taps bicubic_taps(int64_t in_size, int64_t out_size) {
  constexpr double kSupport = 2.0;
  // Pillow's box edges are floats; whole-image boxes are exact for sizes below 2^24.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(static_cast<size_t>(out_size));
  t.count.resize(static_cast<size_t>(out_size));
  t.k.assign(static_cast<size_t>(out_size) * static_cast<size_t>(t.ksize), 0);
  std::vector<double> w(static_cast<size_t>(t.ksize));
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (static_cast<double>(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double v = bicubic((x + xmin - center + 0.5) * ss);
      w[static_cast<size_t>(x)] = v;
      ww += v;
    }
    int32_t* k = &t.k[static_cast<size_t>(xx) * static_cast<size_t>(t.ksize)];
    for (int x = 0; x < xmax; ++x) {
      double v = w[static_cast<size_t>(x)];
      if (ww != 0.0) v /= ww;
      k[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                   : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    t.first[static_cast<size_t>(xx)] = xmin;
    t.count[static_cast<size_t>(xx)] = xmax;
  }
  return t;
}

Range input_range(const Taps& t, int64_t from, int64_t n) {
  // first[] never decreases, so the first output reads the lowest input.
  Range r{t.first[static_cast<size_t>(from)], 0};
  for (int64_t o = from; o < from + n; ++o) {
    const auto i = static_cast<size_t>(o);
    r.end = std::max<int64_t>(r.end, int64_t{t.first[i]} + t.count[i]);
  }
  return r;
}

std::vector<int64_t> nearest_index(int64_t in_size, int64_t out_size) {
  // ImagingScaleAffine accumulates the source coordinate in double; repeat the same additions.
  const float box1 = static_cast<float>(in_size);
  const double step = static_cast<double>(box1 - 0.0f) / static_cast<double>(out_size);
  double pos = 0.0 + step * 0.5;
  std::vector<int64_t> index(static_cast<size_t>(out_size));
  for (int64_t i = 0; i < out_size; ++i) {
    const int64_t src = pos < 0.0 ? -1 : static_cast<int64_t>(static_cast<int>(pos));
    index[static_cast<size_t>(i)] = (src >= 0 && src < in_size) ? src : -1;
    pos += step;
  }
  return index;
}

Size resized_size(int64_t width, int64_t height, int shortest) {
  const bool portrait = width <= height;
  const int64_t shorter = portrait ? width : height;
  const int64_t longer = portrait ? height : width;
  // Python's int(S * long / short): true division of exact integers, truncated.
  const auto other = static_cast<int64_t>(static_cast<double>(static_cast<int64_t>(shortest) * longer) /
                                          static_cast<double>(shorter));
  return portrait ? Size{shortest, other} : Size{other, shortest};
}

int64_t crop_offset(int64_t n, int64_t crop, CropRounding rounding) {
  if (crop > n) return -((crop - n) / 2);
  const int64_t d = n - crop;
  const int64_t half = d / 2;
  if (d % 2 == 0 || rounding == CropRounding::Floor) return half;
  return half % 2 == 0 ? half : half + 1;  // x.5 rounds to the even neighbour
}

void normalisation_table(const PreprocessParams& p, float (&lut)[3][256]) {
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut[c][v] = (static_cast<float>(v) / 255.0f - p.mean[c]) / p.std[c];
}

}  // namespace pillow

namespace {

using pillow::clip8;

constexpr int kHalf = 1 << (pillow::kPrecisionBits - 1);

// Source columns [from, to) of row y, deinterleaved into CH planes `stride` bytes apart and
// converted to the mode Pillow resamples in: RGBa / La (premultiplied) when PREMUL.
template <int CH, bool PREMUL>
void source_planes(const ImageU8& img, int64_t y, int64_t from, int64_t to, size_t stride, uint8_t* planes) {
  const uint8_t* __restrict row = img.data + y * img.stride + from * CH;
  uint8_t* __restrict out[CH];
  for (int c = 0; c < CH; ++c) out[c] = planes + static_cast<size_t>(c) * stride;
  const int64_t len = to - from;
  for (int64_t x = 0; x < len; ++x) {
    const uint8_t* p = row + x * CH;
    for (int c = 0; c < CH; ++c) out[c][x] = (PREMUL && c < CH - 1) ? pillow::muldiv255(p[c], p[CH - 1]) : p[c];
  }
}

using PlanesFn = void (*)(const ImageU8&, int64_t, int64_t, int64_t, size_t, uint8_t*);

PlanesFn planes_fn(int ch, bool premultiply) {
  switch (ch) {
    case 1: return source_planes<1, false>;
    case 2: return premultiply ? source_planes<2, true> : source_planes<2, false>;
    case 3: return source_planes<3, false>;
    default: return premultiply ? source_planes<4, true> : source_planes<4, false>;
  }
}

// The horizontal taps of outputs [x0, x0+cols) over one channel plane that starts at source
// column `from`. Integer sums are exact in any order, so the vector clones give Pillow's result.
// Every output runs all `t.ksize` taps (a fixed trip count the compiler vectorises without a
// remainder): taps past count[o] have weight 0, and the plane is padded so their reads stay inside.
__attribute__((target_clones("avx2", "default")))
void horizontal_taps(const uint8_t* plane, int64_t from, const pillow::Taps& t, int64_t x0, int64_t cols,
                     uint8_t* dst, int stride) {
  const size_t ksize = static_cast<size_t>(t.ksize);
  for (int64_t xx = 0; xx < cols; ++xx) {
    const size_t o = static_cast<size_t>(x0 + xx);
    const int32_t* k = &t.k[o * ksize];
    const uint8_t* p = plane + (t.first[o] - from);
    int32_t ss = kHalf;
    for (size_t j = 0; j < ksize; ++j) ss += p[j] * k[j];
    dst[xx * stride] = clip8(ss >> pillow::kPrecisionBits);
  }
}

// One output row of the vertical pass: n intermediate rows of `len` bytes, `len` apart.
__attribute__((target_clones("avx2", "default")))
void vertical_taps(const uint8_t* base, size_t len, const int32_t* k, int n, int32_t* acc, uint8_t* dst) {
  for (size_t i = 0; i < len; ++i) acc[i] = kHalf;
  for (int j = 0; j < n; ++j) {
    const uint8_t* line = base + static_cast<size_t>(j) * len;
    const int32_t kj = k[j];
    for (size_t i = 0; i < len; ++i) acc[i] += line[i] * kj;
  }
  for (size_t i = 0; i < len; ++i) dst[i] = clip8(acc[i] >> pillow::kPrecisionBits);
}

// Resamples the crop window [x0, x0+cols) x [y0, y0+rows) of the resized image into `work`
// (rows x cols x channels, the image's own layout). The window lies inside the resized image.
void resample_window(const ImageU8& img, int64_t out_w, int64_t out_h, int64_t x0, int64_t y0,
                     int64_t cols, int64_t rows, bool premultiply, uint8_t* work) {
  const int ch = img.channels;
  const bool need_h = out_w != img.width;
  const bool need_v = out_h != img.height;
  const pillow::Taps ht = need_h ? pillow::bicubic_taps(img.width, out_w) : pillow::Taps{};
  const pillow::Taps vt = need_v ? pillow::bicubic_taps(img.height, out_h) : pillow::Taps{};

  // Source rows the vertical pass reads for the window's rows, and source columns the
  // horizontal pass reads for its columns.
  const pillow::Range src_rows = need_v ? pillow::input_range(vt, y0, rows) : pillow::Range{y0, y0 + rows};
  const pillow::Range src_cols = need_h ? pillow::input_range(ht, x0, cols) : pillow::Range{x0, x0 + cols};
  const int64_t r0 = src_rows.begin;
  const int64_t r1 = src_rows.end;
  const int64_t c0 = src_cols.begin;
  const int64_t c1 = src_cols.end;

  // Horizontal pass: uint8 intermediate [r1-r0, cols, ch] with Pillow's rounding.
  const size_t mid_row = static_cast<size_t>(cols) * static_cast<size_t>(ch);
  const size_t plane_len = static_cast<size_t>(c1 - c0) + static_cast<size_t>(ht.ksize);  // + zero padding
  std::vector<uint8_t> planes(plane_len * static_cast<size_t>(ch), 0);
  std::vector<uint8_t> mid(static_cast<size_t>(r1 - r0) * mid_row);
  const PlanesFn to_planes = planes_fn(ch, premultiply);
  for (int64_t y = r0; y < r1; ++y) {
    to_planes(img, y, c0, c1, plane_len, planes.data());
    uint8_t* dst = &mid[static_cast<size_t>(y - r0) * mid_row];
    for (int c = 0; c < ch; ++c) {
      const uint8_t* plane = &planes[static_cast<size_t>(c) * plane_len];
      if (need_h) {
        horizontal_taps(plane, c0, ht, x0, cols, dst + c, ch);
      } else {
        for (int64_t x = 0; x < cols; ++x) dst[x * ch + c] = plane[x];
      }
    }
  }

  // Vertical pass over the intermediate.
  std::vector<int32_t> acc(mid_row);
  for (int64_t yy = 0; yy < rows; ++yy) {
    uint8_t* dst = work + static_cast<size_t>(yy) * mid_row;
    if (!need_v) {
      std::memcpy(dst, &mid[static_cast<size_t>(yy) * mid_row], mid_row);
      continue;
    }
    const size_t o = static_cast<size_t>(y0 + yy);
    vertical_taps(&mid[static_cast<size_t>(vt.first[o] - r0) * mid_row], mid_row,
                  &vt.k[o * static_cast<size_t>(vt.ksize)], vt.count[o], acc.data(), dst);
  }
}

void nearest_window(const ImageU8& img, int64_t out_w, int64_t out_h, int64_t x0, int64_t y0,
                    int64_t cols, int64_t rows, uint8_t* work) {
  const int ch = img.channels;
  const std::vector<int64_t> xs = pillow::nearest_index(img.width, out_w);
  const std::vector<int64_t> ys = pillow::nearest_index(img.height, out_h);
  for (int64_t yy = 0; yy < rows; ++yy) {
    uint8_t* dst = work + yy * cols * ch;
    const int64_t sy = ys[static_cast<size_t>(y0 + yy)];
    for (int64_t xx = 0; xx < cols; ++xx) {
      const int64_t sx = xs[static_cast<size_t>(x0 + xx)];
      if (sy < 0 || sx < 0) {  // Pillow fills what maps outside the source with zeros
        std::memset(dst + xx * ch, 0, static_cast<size_t>(ch));
      } else {
        std::memcpy(dst + xx * ch, img.data + sy * img.stride + sx * ch, static_cast<size_t>(ch));
      }
    }
  }
}

}  // namespace

void preprocess(const ImageU8& img, const PreprocessParams& p, float* out, uint8_t* crop_rgb) {
  const int ch = img.channels;
  const int64_t c = p.crop_size;
  const pillow::Size rs = pillow::resized_size(img.width, img.height, p.resize_shortest);
  const bool resize = rs.width != img.width || rs.height != img.height;
  const bool nearest = p.resample == Resample::Nearest;
  const bool has_alpha = !p.cmyk && (ch == 2 || ch == 4);
  // Pillow resamples LA/RGBA premultiplied (La/RGBa), except with NEAREST or when no resize happens.
  const bool premultiply = has_alpha && resize && !nearest;

  // The crop window clipped to the resized image; anything outside is torchvision's zero padding.
  const int64_t ox = pillow::crop_offset(rs.width, c, p.crop);
  const int64_t oy = pillow::crop_offset(rs.height, c, p.crop);
  const int64_t x0 = std::max<int64_t>(ox, 0);
  const int64_t y0 = std::max<int64_t>(oy, 0);
  const int64_t cols = std::min<int64_t>(ox + c, rs.width) - x0;
  const int64_t rows = std::min<int64_t>(oy + c, rs.height) - y0;

  std::vector<uint8_t> work(static_cast<size_t>(cols) * static_cast<size_t>(rows) * ch);
  if (!resize) {
    for (int64_t y = 0; y < rows; ++y)
      std::memcpy(&work[static_cast<size_t>(y * cols * ch)], img.data + (y0 + y) * img.stride + x0 * ch,
                  static_cast<size_t>(cols * ch));
  } else if (nearest) {
    nearest_window(img, rs.width, rs.height, x0, y0, cols, rows, work.data());
  } else {
    resample_window(img, rs.width, rs.height, x0, y0, cols, rows, premultiply, work.data());
  }

  float lut[3][256];
  pillow::normalisation_table(p, lut);

  const uint8_t zero[4] = {0, 0, 0, 0};
  const size_t plane = static_cast<size_t>(c) * static_cast<size_t>(c);
  for (int64_t y = 0; y < c; ++y) {
    const int64_t wy = oy + y - y0;
    for (int64_t x = 0; x < c; ++x) {
      const int64_t wx = ox + x - x0;
      const bool inside = wy >= 0 && wy < rows && wx >= 0 && wx < cols;
      const uint8_t* px = inside ? &work[static_cast<size_t>((wy * cols + wx) * ch)] : zero;
      uint8_t rgb[3];
      pillow::to_rgb(px, ch, p.cmyk, premultiply, p.alpha, rgb);
      const size_t i = static_cast<size_t>(y * c + x);
      for (int k = 0; k < 3; ++k) out[static_cast<size_t>(k) * plane + i] = lut[k][rgb[k]];
      if (crop_rgb != nullptr) std::memcpy(crop_rgb + i * 3, rgb, 3);
    }
  }
}

}  // namespace clipkit::cpu
