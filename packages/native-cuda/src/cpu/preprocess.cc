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

}  // namespace pillow

namespace {

using pillow::clip8;

// One source row, converted to the mode Pillow resamples in: RGBa / La (premultiplied) when
// `premultiply`, otherwise the bytes as they are.
const uint8_t* source_row(const ImageU8& img, int64_t y, bool premultiply, std::vector<uint8_t>& scratch) {
  const uint8_t* row = img.data + y * img.stride;
  if (!premultiply) return row;
  const int ch = img.channels;
  uint8_t* out = scratch.data();
  for (int64_t x = 0; x < img.width; ++x) {
    const uint8_t* p = row + x * ch;
    const uint8_t a = p[ch - 1];
    for (int c = 0; c < ch - 1; ++c) out[x * ch + c] = pillow::muldiv255(p[c], a);
    out[x * ch + ch - 1] = a;
  }
  return out;
}

// Resamples the crop window [x0, x0+cols) x [y0, y0+rows) of the resized image into `work`
// (rows x cols x CH, the image's own channel layout). The window lies inside the resized image.
template <int CH>
void resample_bicubic(const ImageU8& img, int64_t out_w, int64_t out_h, int64_t x0, int64_t y0,
                      int64_t cols, int64_t rows, bool premultiply, uint8_t* work) {
  constexpr int kHalf = 1 << (pillow::kPrecisionBits - 1);
  const bool need_h = out_w != img.width;
  const bool need_v = out_h != img.height;
  const pillow::Taps ht = need_h ? pillow::bicubic_taps(img.width, out_w) : pillow::Taps{};
  const pillow::Taps vt = need_v ? pillow::bicubic_taps(img.height, out_h) : pillow::Taps{};

  // Source rows the vertical pass reads for the window's rows.
  int64_t r0 = y0;
  int64_t r1 = y0 + rows;
  if (need_v) {
    r0 = vt.first[static_cast<size_t>(y0)];
    r1 = 0;
    for (int64_t y = y0; y < y0 + rows; ++y)
      r1 = std::max<int64_t>(r1, vt.first[static_cast<size_t>(y)] + vt.count[static_cast<size_t>(y)]);
  }

  // Horizontal pass: uint8 intermediate [r1-r0, cols, CH], Pillow's rounding.
  std::vector<uint8_t> scratch(premultiply ? static_cast<size_t>(img.width) * CH : 0);
  std::vector<uint8_t> mid(static_cast<size_t>(r1 - r0) * static_cast<size_t>(cols) * CH);
  for (int64_t y = r0; y < r1; ++y) {
    const uint8_t* src = source_row(img, y, premultiply, scratch);
    uint8_t* dst = &mid[static_cast<size_t>(y - r0) * static_cast<size_t>(cols) * CH];
    if (!need_h) {
      std::memcpy(dst, src + x0 * CH, static_cast<size_t>(cols) * CH);
      continue;
    }
    for (int64_t xx = 0; xx < cols; ++xx) {
      const size_t o = static_cast<size_t>(x0 + xx);
      const int32_t* k = &ht.k[o * static_cast<size_t>(ht.ksize)];
      const uint8_t* p = src + static_cast<int64_t>(ht.first[o]) * CH;
      const int n = ht.count[o];
      int ss[CH];
      for (int c = 0; c < CH; ++c) ss[c] = kHalf;
      for (int j = 0; j < n; ++j)
        for (int c = 0; c < CH; ++c) ss[c] += p[j * CH + c] * k[j];
      for (int c = 0; c < CH; ++c) dst[xx * CH + c] = clip8(ss[c] >> pillow::kPrecisionBits);
    }
  }

  // Vertical pass over the intermediate.
  const size_t mid_row = static_cast<size_t>(cols) * CH;
  std::vector<int> acc(mid_row);
  for (int64_t yy = 0; yy < rows; ++yy) {
    uint8_t* dst = work + static_cast<size_t>(yy) * mid_row;
    if (!need_v) {
      std::memcpy(dst, &mid[static_cast<size_t>(yy) * mid_row], mid_row);
      continue;
    }
    const size_t o = static_cast<size_t>(y0 + yy);
    const int32_t* k = &vt.k[o * static_cast<size_t>(vt.ksize)];
    const uint8_t* base = &mid[static_cast<size_t>(vt.first[o] - r0) * mid_row];
    const int n = vt.count[o];
    std::fill(acc.begin(), acc.end(), kHalf);
    for (int j = 0; j < n; ++j) {
      const uint8_t* line = base + static_cast<size_t>(j) * mid_row;
      for (size_t i = 0; i < mid_row; ++i) acc[i] += line[i] * k[j];
    }
    for (size_t i = 0; i < mid_row; ++i) dst[i] = clip8(acc[i] >> pillow::kPrecisionBits);
  }
}

void resample_window(const ImageU8& img, int64_t out_w, int64_t out_h, int64_t x0, int64_t y0,
                     int64_t cols, int64_t rows, bool premultiply, uint8_t* work) {
  switch (img.channels) {
    case 1: return resample_bicubic<1>(img, out_w, out_h, x0, y0, cols, rows, premultiply, work);
    case 2: return resample_bicubic<2>(img, out_w, out_h, x0, y0, cols, rows, premultiply, work);
    case 3: return resample_bicubic<3>(img, out_w, out_h, x0, y0, cols, rows, premultiply, work);
    default: return resample_bicubic<4>(img, out_w, out_h, x0, y0, cols, rows, premultiply, work);
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

// convert('RGB') of one working pixel (or the alpha composite chosen instead of it).
void to_rgb(const uint8_t* p, int ch, bool cmyk, bool premultiplied, AlphaMode alpha, uint8_t rgb[3]) {
  if (cmyk) {
    const int nk = 255 - p[3];
    for (int c = 0; c < 3; ++c) rgb[c] = clip8(nk - pillow::muldiv255(p[c], static_cast<unsigned>(nk)));
    return;
  }
  if (ch == 1 || ch == 3) {
    for (int c = 0; c < 3; ++c) rgb[c] = p[ch == 1 ? 0 : c];
    return;
  }
  const int colours = ch - 1;
  const uint8_t a = p[colours];
  for (int c = 0; c < 3; ++c) {
    const uint8_t v = p[colours == 1 ? 0 : c];
    if (alpha == AlphaMode::Reference) {
      // Pillow drops alpha without compositing (after undoing the resize's premultiplication).
      rgb[c] = premultiplied ? pillow::unpremultiply(v, a) : v;
    } else {
      const uint8_t bg = alpha == AlphaMode::White ? 255 : 0;
      const uint8_t fg = premultiplied ? v : pillow::muldiv255(v, a);
      rgb[c] = clip8(fg + pillow::muldiv255(bg, 255u - a));
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

  // torchvision's ToTensor + Normalize in float32: (v / 255 - mean) / std, one table per channel.
  float lut[3][256];
  for (int k = 0; k < 3; ++k)
    for (int v = 0; v < 256; ++v) lut[k][v] = (static_cast<float>(v) / 255.0f - p.mean[k]) / p.std[k];

  const uint8_t zero[4] = {0, 0, 0, 0};
  const size_t plane = static_cast<size_t>(c) * static_cast<size_t>(c);
  for (int64_t y = 0; y < c; ++y) {
    const int64_t wy = oy + y - y0;
    for (int64_t x = 0; x < c; ++x) {
      const int64_t wx = ox + x - x0;
      const bool inside = wy >= 0 && wy < rows && wx >= 0 && wx < cols;
      const uint8_t* px = inside ? &work[static_cast<size_t>((wy * cols + wx) * ch)] : zero;
      uint8_t rgb[3];
      to_rgb(px, ch, p.cmyk, premultiply, p.alpha, rgb);
      const size_t i = static_cast<size_t>(y * c + x);
      for (int k = 0; k < 3; ++k) out[static_cast<size_t>(k) * plane + i] = lut[k][rgb[k]];
      if (crop_rgb != nullptr) std::memcpy(crop_rgb + i * 3, rgb, 3);
    }
  }
}

}  // namespace clipkit::cpu
