// Private to src/cpu/preprocess.cc, its test and src/cuda/preprocess.cu (which reuses these so the
// GPU kernel stays bit-identical): the pieces of OpenAI CLIP's PIL pipeline whose
// exact integer/double arithmetic decides bit-exactness (Pillow 9.4 Resample.c, Geometry.c,
// Convert.c; torchvision 0.14 Resize/CenterCrop/Normalize). Kept separate so the test can check each
// piece against hand-derived values, not only the fused result.
#pragma once

#include <cstdint>
#include <vector>

#include "clipkit/kernels.h"

namespace clipkit::cpu::pillow {

// Pillow's fixed-point precision for 8-bit resampling: 8 bits of result, 2 bits of headroom for
// filters whose partial sums leave [0, 1].
constexpr int kPrecisionBits = 32 - 8 - 2;

// Resampling taps for one axis: output i reads `count[i]` inputs starting at `first[i]`, with
// fixed-point weights k[i * ksize + j].
struct Taps {
  int ksize = 0;
  std::vector<int32_t> first;
  std::vector<int32_t> count;
  std::vector<int32_t> k;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for BICUBIC (a = -0.5), whole-image box.
Taps bicubic_taps(int64_t in_size, int64_t out_size);

// Inputs [begin, end) that outputs [from, from + n) of `t` read, n >= 1: what a window of the
// resized image needs of the source.
struct Range {
  int64_t begin;
  int64_t end;
};
Range input_range(const Taps& t, int64_t from, int64_t n);

// Pillow's NEAREST resize (ImagingScaleAffine): source index per output index, -1 when outside.
std::vector<int64_t> nearest_index(int64_t in_size, int64_t out_size);

// torchvision Resize(int): the shorter side becomes `shortest`, the longer int(shortest*long/short).
struct Size {
  int64_t width;
  int64_t height;
};
Size resized_size(int64_t width, int64_t height, int shortest);

// Left/top offset of a centred crop of `crop` in `n`: round-half-even((n-crop)/2) (torchvision) or
// floor (Hugging Face). When crop > n both pad equally: the offset is -((crop-n)/2).
int64_t crop_offset(int64_t n, int64_t crop, CropRounding rounding);

// torchvision's ToTensor + Normalize in float32, (v / 255 - mean) / std, for every byte v of
// each channel: lut[channel][v].
void normalisation_table(const PreprocessParams& p, float (&lut)[3][256]);

// The 8-bit helpers of Pillow's Convert.c, compiled for the host and, under nvcc, the device, so
// the CPU and CUDA kernels share one copy of the arithmetic that decides bit-exactness.
#if defined(__CUDACC__)
#define CLIPKIT_PIXEL_FN __host__ __device__ __forceinline__
#else
#define CLIPKIT_PIXEL_FN inline
#endif

CLIPKIT_PIXEL_FN uint8_t clip8(int v) { return static_cast<uint8_t>(v <= 0 ? 0 : (v < 256 ? v : 255)); }
CLIPKIT_PIXEL_FN uint8_t muldiv255(unsigned a, unsigned b) {
  const unsigned t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}
// RGBa/La -> RGBA/LA (remove premultiplication), per colour channel.
CLIPKIT_PIXEL_FN uint8_t unpremultiply(uint8_t c, uint8_t alpha) {
  return (alpha == 255 || alpha == 0) ? c : clip8((255 * static_cast<int>(c)) / alpha);
}

// convert('RGB') of one working pixel (ch bytes), or the alpha composite chosen instead of it.
// Pillow drops alpha without compositing (after undoing the resize's premultiplication).
CLIPKIT_PIXEL_FN void to_rgb(const uint8_t* p, int ch, bool cmyk, bool premultiplied, AlphaMode alpha,
                             uint8_t rgb[3]) {
  if (cmyk) {
    const int nk = 255 - p[3];
    for (int c = 0; c < 3; ++c) rgb[c] = clip8(nk - muldiv255(p[c], static_cast<unsigned>(nk)));
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
      rgb[c] = premultiplied ? unpremultiply(v, a) : v;
    } else {
      const uint8_t bg = alpha == AlphaMode::White ? 255 : 0;
      const uint8_t fg = premultiplied ? v : muldiv255(v, a);
      rgb[c] = clip8(fg + muldiv255(bg, 255u - a));
    }
  }
}

#undef CLIPKIT_PIXEL_FN

}  // namespace clipkit::cpu::pillow
