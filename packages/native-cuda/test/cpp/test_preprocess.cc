// cpu::preprocess: Pillow's arithmetic checked against hand-derived values, and the fused,
// crop-window-only kernel checked bit-exactly against a straightforward whole-image version of
// OpenAI's pipeline (convert -> full resize -> convert back -> crop -> RGB -> normalise).
// Conformance with real Pillow output lives in packages/core/test/image-reference.test.ts.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/preprocess_pillow.h"
#include "clipkit/kernels.h"
#include "harness.h"

namespace {

using namespace clipkit;
namespace pil = clipkit::cpu::pillow;
using clipkit::test::Rng;

constexpr float kMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

PreprocessParams params(int shortest, int crop) {
  PreprocessParams p{shortest, crop, {kMean[0], kMean[1], kMean[2]}, {kStd[0], kStd[1], kStd[2]},
                     AlphaMode::Reference, CropRounding::Round};
  return p;
}

// A whole image in a Pillow mode: `ch` interleaved bytes per pixel.
struct Plane {
  int64_t w = 0;
  int64_t h = 0;
  int ch = 0;
  std::vector<uint8_t> px;
  uint8_t* at(int64_t x, int64_t y) { return &px[static_cast<size_t>((y * w + x) * ch)]; }
};

// Straightforward separable resize of the whole image, the way ImagingResampleInner does it.
Plane resize_whole(const Plane& in, int64_t ow, int64_t oh) {
  auto pass = [](const Plane& src, int64_t out_len, bool horizontal) {
    const pil::Taps t = pil::bicubic_taps(horizontal ? src.w : src.h, out_len);
    Plane dst{horizontal ? out_len : src.w, horizontal ? src.h : out_len, src.ch, {}};
    dst.px.resize(static_cast<size_t>(dst.w * dst.h * dst.ch));
    for (int64_t y = 0; y < dst.h; ++y)
      for (int64_t x = 0; x < dst.w; ++x)
        for (int c = 0; c < src.ch; ++c) {
          const size_t o = static_cast<size_t>(horizontal ? x : y);
          int ss = 1 << (pil::kPrecisionBits - 1);
          for (int j = 0; j < t.count[o]; ++j) {
            const int64_t s = t.first[o] + j;
            const int64_t sx = horizontal ? s : x;
            const int64_t sy = horizontal ? y : s;
            ss += src.px[static_cast<size_t>((sy * src.w + sx) * src.ch + c)] *
                  t.k[o * static_cast<size_t>(t.ksize) + static_cast<size_t>(j)];
          }
          dst.px[static_cast<size_t>((y * dst.w + x) * dst.ch + c)] = pil::clip8(ss >> pil::kPrecisionBits);
        }
    return dst;
  };
  Plane out = in;
  if (ow != in.w) out = pass(out, ow, true);
  if (oh != in.h) out = pass(out, oh, false);
  return out;
}

Plane premultiply(Plane img) {
  for (int64_t i = 0; i < img.w * img.h; ++i)
    for (int c = 0; c < img.ch - 1; ++c)
      img.px[static_cast<size_t>(i * img.ch + c)] =
          pil::muldiv255(img.px[static_cast<size_t>(i * img.ch + c)], img.px[static_cast<size_t>(i * img.ch + img.ch - 1)]);
  return img;
}

// The reference pipeline on whole images, following Image.resize / CenterCrop / convert('RGB').
std::vector<uint8_t> reference_crop(const Plane& img, const PreprocessParams& p) {
  const pil::Size rs = pil::resized_size(img.w, img.h, p.resize_shortest);
  const bool alpha = !p.cmyk && (img.ch == 2 || img.ch == 4);
  Plane r = img;
  bool premultiplied = false;
  if (rs.width != img.w || rs.height != img.h) {
    if (p.resample == Resample::Nearest) {
      const auto xs = pil::nearest_index(img.w, rs.width);
      const auto ys = pil::nearest_index(img.h, rs.height);
      r = Plane{rs.width, rs.height, img.ch, std::vector<uint8_t>(static_cast<size_t>(rs.width * rs.height * img.ch))};
      for (int64_t y = 0; y < rs.height; ++y)
        for (int64_t x = 0; x < rs.width; ++x)
          std::memcpy(r.at(x, y), &img.px[static_cast<size_t>((ys[static_cast<size_t>(y)] * img.w + xs[static_cast<size_t>(x)]) * img.ch)],
                      static_cast<size_t>(img.ch));
    } else if (alpha) {
      r = resize_whole(premultiply(img), rs.width, rs.height);  // RGBA -> RGBa -> resize
      premultiplied = true;
    } else {
      r = resize_whole(img, rs.width, rs.height);
    }
  }
  if (alpha && p.alpha == AlphaMode::Reference && premultiplied) {  // RGBa -> RGBA
    for (int64_t i = 0; i < r.w * r.h; ++i)
      for (int c = 0; c < r.ch - 1; ++c)
        r.px[static_cast<size_t>(i * r.ch + c)] =
            pil::unpremultiply(r.px[static_cast<size_t>(i * r.ch + c)], r.px[static_cast<size_t>(i * r.ch + r.ch - 1)]);
  }
  if (alpha && p.alpha != AlphaMode::Reference && !premultiplied) r = premultiply(r);
  // Here colour channels are straight for 'reference' and premultiplied for white/black.
  const int64_t c = p.crop_size;
  const int64_t ox = pil::crop_offset(rs.width, c, p.crop);
  const int64_t oy = pil::crop_offset(rs.height, c, p.crop);
  std::vector<uint8_t> rgb(static_cast<size_t>(c * c * 3));
  for (int64_t y = 0; y < c; ++y)
    for (int64_t x = 0; x < c; ++x) {
      const int64_t sx = ox + x;
      const int64_t sy = oy + y;
      uint8_t px[4] = {0, 0, 0, 0};
      if (sx >= 0 && sy >= 0 && sx < r.w && sy < r.h) std::memcpy(px, r.at(sx, sy), static_cast<size_t>(r.ch));
      uint8_t* o = &rgb[static_cast<size_t>((y * c + x) * 3)];
      for (int k = 0; k < 3; ++k) {
        if (p.cmyk) {
          const int nk = 255 - px[3];
          o[k] = pil::clip8(nk - pil::muldiv255(px[k], static_cast<unsigned>(nk)));
        } else if (alpha && p.alpha != AlphaMode::Reference) {
          const unsigned bg = p.alpha == AlphaMode::White ? 255 : 0;
          o[k] = pil::clip8(px[img.ch == 2 ? 0 : k] + pil::muldiv255(bg, 255u - px[img.ch - 1]));
        } else {
          o[k] = px[img.ch <= 2 ? 0 : k];
        }
      }
    }
  return rgb;
}

Plane random_plane(Rng& rng, int64_t w, int64_t h, int ch) {
  Plane p{w, h, ch, clipkit::test::random_bytes(rng, static_cast<size_t>(w * h * ch))};
  // Smooth-ish content too: random bytes alone hide errors that only show on gradients.
  if (rng.range(0, 1) == 1)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int c = 0; c < ch; ++c)
          *(p.at(x, y) + c) = static_cast<uint8_t>((x * 7 + y * 3 + c * 50) % 256);
  return p;
}

struct Result {
  std::vector<float> out;
  std::vector<uint8_t> crop;
};

Result run(const Plane& img, const PreprocessParams& p, int64_t stride_pad = 0) {
  // Copy rows into a padded buffer so the kernel must honour the stride.
  const int64_t stride = img.w * img.ch + stride_pad;
  std::vector<uint8_t> buf(static_cast<size_t>(stride * img.h), 0xAB);
  for (int64_t y = 0; y < img.h; ++y)
    std::memcpy(&buf[static_cast<size_t>(y * stride)], &img.px[static_cast<size_t>(y * img.w * img.ch)],
                static_cast<size_t>(img.w * img.ch));
  const ImageU8 u{buf.data(), img.w, img.h, img.ch, stride};
  Result r{std::vector<float>(static_cast<size_t>(3 * p.crop_size * p.crop_size)),
           std::vector<uint8_t>(static_cast<size_t>(3 * p.crop_size * p.crop_size))};
  cpu::preprocess(u, p, r.out.data(), r.crop.data());
  return r;
}

}  // namespace

TEST(preprocess_resized_size_matches_torchvision) {
  const struct { int64_t w, h; int s; int64_t ew, eh; } cases[] = {
      {360, 320, 224, 252, 224},   // 224*360/320 = 252 exactly (252.0 in double, not 251.99..)
      {5000, 300, 224, 3733, 224}, // 3733.33 truncated
      {300, 5000, 224, 224, 3733}, {1, 1, 224, 224, 224}, {128, 128, 224, 224, 224},
      {449, 224, 224, 449, 224},   {480, 360, 224, 298, 224}, {2162, 762, 224, 635, 224},
      {7, 3, 5, 11, 5},
  };
  for (const auto& c : cases) {
    const pil::Size s = pil::resized_size(c.w, c.h, c.s);
    CHECK_EQ(s.width, c.ew);
    CHECK_EQ(s.height, c.eh);
  }
}

TEST(preprocess_crop_offset_round_half_even_and_floor) {
  CHECK_EQ(pil::crop_offset(449, 224, CropRounding::Round), 112);  // 112.5 -> 112 (even)
  CHECK_EQ(pil::crop_offset(3733, 224, CropRounding::Round), 1754); // 1754.5 -> 1754
  CHECK_EQ(pil::crop_offset(227, 224, CropRounding::Round), 2);     // 1.5 -> 2
  CHECK_EQ(pil::crop_offset(227, 224, CropRounding::Floor), 1);
  CHECK_EQ(pil::crop_offset(231, 224, CropRounding::Round), 4);     // 3.5 -> 4
  CHECK_EQ(pil::crop_offset(231, 224, CropRounding::Floor), 3);
  CHECK_EQ(pil::crop_offset(298, 224, CropRounding::Round), 37);
  CHECK_EQ(pil::crop_offset(224, 224, CropRounding::Round), 0);
  CHECK_EQ(pil::crop_offset(100, 224, CropRounding::Round), -62);   // padded, torchvision style
  CHECK_EQ(pil::crop_offset(101, 224, CropRounding::Floor), -61);
}

TEST(preprocess_bicubic_taps_hand_derived) {
  // Halving: support 4, output 2 is centred on input 5; weights bicubic((x-4.5)/2)/2 are exact
  // binary fractions, so the 22-bit fixed-point values are exact too.
  const pil::Taps t = pil::bicubic_taps(20, 10);
  REQUIRE(t.ksize == 9);
  CHECK_EQ(t.first[2], 1);
  CHECK_EQ(t.count[2], 8);
  const int32_t expect[8] = {-49152, -147456, 475136, 1818624, 1818624, 475136, -147456, -49152};
  for (int j = 0; j < 8; ++j) CHECK_EQ(t.k[2 * 9 + static_cast<size_t>(j)], expect[j]);
  // At the border the taps are clipped and renormalised: output 0 reads inputs 0..4.
  CHECK_EQ(t.first[0], 0);
  CHECK_EQ(t.count[0], 5);
  // Same size: identity taps (weight 1.0 on the pixel itself, zero on its neighbours).
  const pil::Taps id = pil::bicubic_taps(9, 9);
  for (int64_t i = 0; i < 9; ++i) {
    int64_t sum = 0;
    for (int j = 0; j < id.count[static_cast<size_t>(i)]; ++j) {
      const int32_t k = id.k[static_cast<size_t>(i) * static_cast<size_t>(id.ksize) + static_cast<size_t>(j)];
      sum += k;
      if (id.first[static_cast<size_t>(i)] + j == i) CHECK_EQ(k, 1 << pil::kPrecisionBits);
      else CHECK_EQ(k, 0);
    }
    CHECK_EQ(sum, int64_t{1} << pil::kPrecisionBits);
  }
}

TEST(preprocess_nearest_index_matches_scale_affine) {
  // 3 -> 7: source x = int((i + 0.5) * 3/7)
  const auto up = pil::nearest_index(3, 7);
  const int64_t expect_up[7] = {0, 0, 1, 1, 1, 2, 2};
  for (int i = 0; i < 7; ++i) CHECK_EQ(up[static_cast<size_t>(i)], expect_up[i]);
  const auto down = pil::nearest_index(10, 4);  // 1.25, 3.75, 6.25, 8.75
  const int64_t expect_down[4] = {1, 3, 6, 8};
  for (int i = 0; i < 4; ++i) CHECK_EQ(down[static_cast<size_t>(i)], expect_down[i]);
}

TEST(preprocess_constant_image_normalises_exactly) {
  // A constant image stays constant through any bicubic resize (weights sum to one).
  for (const int64_t w : {1, 5, 300}) {
    Plane img{w, 7, 3, {}};
    for (int64_t i = 0; i < w * 7; ++i) img.px.insert(img.px.end(), {200, 100, 0});
    const Result r = run(img, params(16, 16));
    for (int k = 0; k < 3; ++k) {
      const float v = k == 0 ? 200.0f : (k == 1 ? 100.0f : 0.0f);
      const float expect = (v / 255.0f - kMean[k]) / kStd[k];
      for (size_t i = 0; i < 256; ++i) CHECK_EQ(r.out[static_cast<size_t>(k) * 256 + i], expect);
    }
  }
}

TEST(preprocess_alpha_modes_on_half_transparent_colour) {
  // RGBA (255, 0, 0, 128): premultiplied red is muldiv255(255,128) = 128.
  Plane img{10, 20, 4, {}};
  for (int i = 0; i < 200; ++i) img.px.insert(img.px.end(), {255, 0, 0, 128});
  PreprocessParams p = params(8, 8);
  const Result ref = run(img, p);
  CHECK_EQ(static_cast<int>(ref.crop[0]), 255 * 128 / 128);  // unpremultiplied: 255*128/128
  CHECK_EQ(static_cast<int>(ref.crop[1]), 0);
  p.alpha = AlphaMode::Black;
  const Result black = run(img, p);
  CHECK_EQ(static_cast<int>(black.crop[0]), 128);
  CHECK_EQ(static_cast<int>(black.crop[1]), 0);
  p.alpha = AlphaMode::White;
  const Result white = run(img, p);
  CHECK_EQ(static_cast<int>(white.crop[0]), 255);
  CHECK_EQ(static_cast<int>(white.crop[1]), 127);  // 0 + (255 - 128)
}

TEST(preprocess_cmyk_uses_pillow_naive_conversion) {
  Plane img{4, 4, 4, {}};
  for (int i = 0; i < 16; ++i) img.px.insert(img.px.end(), {0, 242, 230, 0});
  PreprocessParams p = params(4, 4);
  p.cmyk = true;
  const Result r = run(img, p);
  CHECK_EQ(static_cast<int>(r.crop[0]), 255);
  CHECK_EQ(static_cast<int>(r.crop[1]), 13);
  CHECK_EQ(static_cast<int>(r.crop[2]), 25);
}

TEST(preprocess_matches_whole_image_pipeline_bit_exactly) {
  Rng rng(5);
  const int64_t sizes[][2] = {{1, 1}, {2, 9}, {37, 23}, {224, 224}, {449, 224}, {300, 301},
                              {640, 480}, {101, 1000}, {23, 64}, {500, 17}};
  int cases = 0;
  for (const auto& s : sizes) {
    for (int ch = 1; ch <= 4; ++ch) {
      const Plane img = random_plane(rng, s[0], s[1], ch);
      for (int variant = 0; variant < 4; ++variant) {
        // Variant 0 keeps the size (Pillow copies, no premultiply round trip); 2 crops larger than
        // the short side (torchvision's zero padding); 1 is NEAREST; 3 treats 4 channels as CMYK.
        const int shortest = variant == 0 ? static_cast<int>(std::min(s[0], s[1]))
                                          : static_cast<int>(rng.range(1, 3)) * 16 + (variant == 3 ? 5 : 0);
        const int crop = variant == 2 ? shortest + 6
                                      : std::max(1, shortest - static_cast<int>(rng.range(0, 5)));
        PreprocessParams p = params(shortest, crop);
        p.crop = rng.range(0, 1) == 0 ? CropRounding::Round : CropRounding::Floor;
        p.alpha = static_cast<AlphaMode>(rng.range(0, 2));
        p.resample = variant == 1 ? Resample::Nearest : Resample::Bicubic;
        p.cmyk = ch == 4 && variant == 3;
        const std::vector<uint8_t> expect = reference_crop(img, p);
        const Result got = run(img, p, rng.range(0, 7));
        ++cases;
        if (got.crop != expect) {
          size_t bad = 0;
          while (bad < expect.size() && got.crop[bad] == expect[bad]) ++bad;
          clipkit::test::record_failure(__FILE__, __LINE__,
                                        "crop differs: " + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" +
                                            std::to_string(ch) + " variant " + std::to_string(variant) +
                                            " at byte " + std::to_string(bad));
          continue;
        }
        const size_t plane = static_cast<size_t>(crop) * static_cast<size_t>(crop);
        for (size_t i = 0; i < plane; ++i)
          for (int k = 0; k < 3; ++k)
            CHECK_EQ(got.out[static_cast<size_t>(k) * plane + i],
                     (static_cast<float>(expect[i * 3 + static_cast<size_t>(k)]) / 255.0f - kMean[k]) / kStd[k]);
      }
    }
  }
  CHECK_EQ(cases, 160);
}
