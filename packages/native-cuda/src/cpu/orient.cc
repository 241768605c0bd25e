// EXIF orientation applied to decoded pixels: out(x, y) = in(source of x, y) for each of the eight
// TIFF orientations (1 as stored, 2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed, 6 rotated
// 90° clockwise, 7 transversed, 8 rotated 90° counter-clockwise). Fast mode decodes at 1/8
// before orienting, so this runs on ~0.2 MP, not on the full photo.
#include <cstring>

#include "clipkit/kernels.h"

namespace clipkit::cpu {

void orient_image(const ImageU8& img, int orientation, uint8_t* out) {
  const int64_t w = img.width, h = img.height;
  const int ch = img.channels;
  const bool swap = orientation >= 5 && orientation <= 8;
  const int64_t ow = swap ? h : w, oh = swap ? w : h;
  for (int64_t y = 0; y < oh; ++y) {
    uint8_t* row = out + y * ow * ch;
    for (int64_t x = 0; x < ow; ++x) {
      int64_t sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        case 8: sx = w - 1 - y; sy = x; break;
        default: break;
      }
      std::memcpy(row + x * ch, img.data + sy * img.stride + sx * ch, static_cast<size_t>(ch));
    }
  }
}

}  // namespace clipkit::cpu
