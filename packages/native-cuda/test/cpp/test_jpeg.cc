// Fast mode's JPEG decoders: the DC-only 1/8 decoder against libjpeg's own 1/8 decode (bit-exact
// where both compute the same thing: gray, 4:4:4, flat subsampled chroma), on every sampling,
// odd sizes, restart intervals and optimised Huffman tables; damaged input (every truncation, random
// byte corruption) never read out of bounds (the ASan build runs this too); EXIF orientation parsed
// from hand-built APP1 segments; orient_image against the definitions of the eight orientations.
// Fixtures are encoded here with libjpeg: a build without it skips, saying so.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "clipkit/kernels.h"
#include "harness.h"

#ifdef CLIPKIT_HAVE_LIBJPEG
#include <cstdio>

#include <jpeglib.h>
#endif

#define CHECK_MSG(cond, msg)                                                           \
  do {                                                                                 \
    if (!(cond)) ::clipkit::test::record_failure(__FILE__, __LINE__, std::string(#cond) + ": " + (msg)); \
  } while (0)

namespace {

using namespace clipkit;
using clipkit::test::Rng;

// ---- orient_image (no libjpeg needed) ---------------------------------------------------------

// 3x2 RGB image whose pixel (x, y) holds (x, y, 7).
std::vector<uint8_t> coords3x2() {
  std::vector<uint8_t> v;
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) v.insert(v.end(), {static_cast<uint8_t>(x), static_cast<uint8_t>(y), 7});
  return v;
}

TEST(orient_image_follows_the_eight_tiff_orientations) {
  const std::vector<uint8_t> in = coords3x2();
  const ImageU8 img{in.data(), 3, 2, 3, 9};
  // Where displayed pixel (x, y) comes from in the stored image, straight from the TIFF/EXIF
  // definitions: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 CW, 7 transverse,
  // 8 rotate 90 CCW (w = 3, h = 2).
  auto source = [](int o, int x, int y, int* sx, int* sy) {
    const int w = 3, h = 2;
    switch (o) {
      case 1: *sx = x; *sy = y; break;
      case 2: *sx = w - 1 - x; *sy = y; break;
      case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;
      case 4: *sx = x; *sy = h - 1 - y; break;
      case 5: *sx = y; *sy = x; break;
      case 6: *sx = y; *sy = h - 1 - x; break;
      case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;
      default: *sx = w - 1 - y; *sy = x; break;
    }
  };
  for (int o = 1; o <= 8; ++o) {
    std::vector<uint8_t> out(18, 0xEE);
    cpu::orient_image(img, o, out.data());
    const int ow = o >= 5 ? 2 : 3, oh = o >= 5 ? 3 : 2;
    for (int y = 0; y < oh; ++y) {
      for (int x = 0; x < ow; ++x) {
        int sx, sy;
        source(o, x, y, &sx, &sy);
        const uint8_t* p = &out[static_cast<size_t>((y * ow + x) * 3)];
        CHECK(p[0] == sx && p[1] == sy && p[2] == 7);
      }
    }
  }
  // Orientation 6 shown as a picture: the stored left column becomes the top row, bottom first.
  std::vector<uint8_t> out(18);
  cpu::orient_image(img, 6, out.data());
  CHECK(out[0] == 0 && out[1] == 1);  // top-left displayed = stored (0, 1)
  CHECK(out[3] == 0 && out[4] == 0);  // top-right displayed = stored (0, 0)
}

// ---- EXIF orientation inside a JPEG header (no libjpeg needed) -----------------------------------

// SOI, an APP1 "Exif" segment with `tiff`, then a minimal SOF0 (8x8 gray) and EOI: enough for
// jpeg_read_info, which reads the header only.
std::vector<uint8_t> with_app1(const std::vector<uint8_t>& tiff) {
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xE1};
  const size_t len = 2 + 6 + tiff.size();
  j.push_back(static_cast<uint8_t>(len >> 8));
  j.push_back(static_cast<uint8_t>(len & 255));
  j.insert(j.end(), {'E', 'x', 'i', 'f', 0, 0});
  j.insert(j.end(), tiff.begin(), tiff.end());
  j.insert(j.end(), {0xFF, 0xC0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0, 0xFF, 0xD9});
  return j;
}

std::vector<uint8_t> tiff_with_orientation(bool little, uint32_t value, uint32_t ifd_offset = 8) {
  auto u16 = [&](std::vector<uint8_t>& v, uint32_t x) {
    if (little) v.insert(v.end(), {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8)});
    else v.insert(v.end(), {static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x)});
  };
  std::vector<uint8_t> t = little ? std::vector<uint8_t>{'I', 'I'} : std::vector<uint8_t>{'M', 'M'};
  u16(t, 42);
  u16(t, ifd_offset >> (little ? 0 : 16));
  u16(t, ifd_offset >> (little ? 16 : 0));
  u16(t, 2);                      // two entries: an unrelated tag, then Orientation
  u16(t, 0x010F); u16(t, 2); u16(t, 4); u16(t, 0); u16(t, 0); u16(t, 0);
  u16(t, 0x0112); u16(t, 3); u16(t, 1); u16(t, 0); u16(t, value); u16(t, 0);
  u16(t, 0); u16(t, 0);           // no next IFD
  return t;
}

TEST(jpeg_info_reads_exif_orientation_and_survives_malformed_exif) {
  for (bool little : {true, false}) {
    for (uint32_t o = 1; o <= 8; ++o) {
      const std::vector<uint8_t> j = with_app1(tiff_with_orientation(little, o));
      cpu::JpegInfo info;
      REQUIRE(cpu::jpeg_read_info(j.data(), j.size(), &info));
      CHECK(info.orientation == static_cast<int>(o));
      CHECK(info.width == 8 && info.height == 8 && info.channels == 1);
    }
  }
  // Out-of-range value, an IFD offset past the segment, and every truncation of the segment.
  const std::vector<uint8_t> bad_value = with_app1(tiff_with_orientation(true, 9));
  const std::vector<uint8_t> bad_offset = with_app1(tiff_with_orientation(false, 6, 0x7FFFFFF0u));
  for (const auto* j : {&bad_value, &bad_offset}) {
    cpu::JpegInfo info;
    REQUIRE(cpu::jpeg_read_info(j->data(), j->size(), &info));
    CHECK(info.orientation == 1);
  }
  const std::vector<uint8_t> tiff = tiff_with_orientation(true, 6);
  for (size_t cut = 0; cut < tiff.size(); ++cut) {
    const std::vector<uint8_t> j = with_app1(std::vector<uint8_t>(tiff.begin(), tiff.begin() + static_cast<long>(cut)));
    cpu::JpegInfo info;
    REQUIRE(cpu::jpeg_read_info(j.data(), j.size(), &info));
    CHECK(info.orientation == 1 || info.orientation == 6);
  }
}

TEST(jpeg_info_rejects_what_is_not_a_jpeg_header) {
  cpu::JpegInfo info;
  const uint8_t png[] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
  CHECK(!cpu::jpeg_read_info(png, sizeof png, &info));
  const uint8_t soi_only[] = {0xFF, 0xD8};
  CHECK(!cpu::jpeg_read_info(soi_only, sizeof soi_only, &info));
  const uint8_t segment_past_end[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x40, 0x00, 1, 2, 3};
  CHECK(!cpu::jpeg_read_info(segment_past_end, sizeof segment_past_end, &info));
  std::string why;
  CHECK(!cpu::jpeg_dc_decode(segment_past_end, sizeof segment_past_end, nullptr, 0, &why));
  CHECK(!why.empty());
}

#ifdef CLIPKIT_HAVE_LIBJPEG

struct Spec {
  int width, height;
  int components;  // 1 gray, 3 YCbCr
  int h0, v0;      // luma sampling (chroma 1x1)
  int quality;
  int restart;     // MCUs per restart interval, 0 for none
  bool optimize;   // optimised Huffman tables (long codes, different table shapes)
  bool progressive;
  bool flat_chroma;  // chroma constant over each 16x16 tile: subsampled chroma blocks hold DC only
};

std::string describe(const Spec& s) {
  return std::to_string(s.width) + "x" + std::to_string(s.height) + " c" + std::to_string(s.components) +
         " " + std::to_string(s.h0) + "x" + std::to_string(s.v0) + " q" + std::to_string(s.quality) +
         " rst" + std::to_string(s.restart) + (s.optimize ? " opt" : "") + (s.progressive ? " prog" : "");
}

// Encodes YCbCr (or gray) samples directly, so a test controls what the chroma planes hold.
std::vector<uint8_t> encode(const Spec& s, Rng& rng) {
  std::vector<uint8_t> px(static_cast<size_t>(s.width * s.height * s.components));
  for (int y = 0; y < s.height; ++y) {
    for (int x = 0; x < s.width; ++x) {
      uint8_t* p = &px[static_cast<size_t>((y * s.width + x) * s.components)];
      p[0] = static_cast<uint8_t>(std::min(255.0, 128 + 90 * std::sin(x / 9.0) * std::cos(y / 13.0) + rng.range(0, 40)));
      if (s.components == 3) {
        const int tx = x / 16, ty = y / 16;
        // Flat chroma: one colour per 16x16 tile at full resolution; constant when subsampled
        // (both decoders then agree up to rounding: interpolating a constant changes nothing).
        const bool tiles = s.h0 == 1 && s.v0 == 1;
        p[1] = static_cast<uint8_t>(s.flat_chroma ? (tiles ? 60 + 37 * ((tx * 7 + ty * 3) % 5) : 97) : 128 + 60 * std::sin(x / 23.0));
        p[2] = static_cast<uint8_t>(s.flat_chroma ? (tiles ? 200 - 29 * ((tx + ty * 5) % 6) : 171) : 128 + 60 * std::cos(y / 17.0 + x / 31.0));
      }
    }
  }
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&c, &buf, &len);
  c.image_width = static_cast<JDIMENSION>(s.width);
  c.image_height = static_cast<JDIMENSION>(s.height);
  c.input_components = s.components;
  c.in_color_space = s.components == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, s.components == 1 ? JCS_GRAYSCALE : JCS_YCbCr);
  jpeg_set_quality(&c, s.quality, TRUE);
  c.comp_info[0].h_samp_factor = s.h0;
  c.comp_info[0].v_samp_factor = s.v0;
  for (int i = 1; i < s.components; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  c.restart_interval = static_cast<unsigned int>(s.restart);
  c.optimize_coding = s.optimize ? TRUE : FALSE;
  if (s.progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = &px[static_cast<size_t>(c.next_scanline) * static_cast<size_t>(s.width * s.components)];
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + len);
  jpeg_destroy_compress(&c);
  free(buf);
  return out;
}

// Decodes with both decoders at 1/8; returns the largest per-byte difference (-1 if either failed).
int dc_vs_libjpeg(const std::vector<uint8_t>& j, const Spec& s) {
  cpu::JpegInfo info;
  if (!cpu::jpeg_read_info(j.data(), j.size(), &info) || !info.dc_decodable) return -1;
  if (info.width != s.width || info.height != s.height || info.channels != s.components) return -1;
  const size_t n = static_cast<size_t>(((s.width + 7) / 8) * ((s.height + 7) / 8) * s.components);
  std::vector<uint8_t> dc(n + 1, 0xA5);  // one guard byte
  std::string why;
  // One byte short of the image: refused, nothing written.
  if (cpu::jpeg_dc_decode(j.data(), j.size(), dc.data(), n - 1, &why) || dc[0] != 0xA5) return 1000;
  if (!cpu::jpeg_dc_decode(j.data(), j.size(), dc.data(), n, &why)) return -1;
  if (dc[n] != 0xA5) return 1000;  // wrote past the image
  std::vector<uint8_t> ref;
  cpu::JpegScaled scaled;
  if (!cpu::jpeg_decode_scaled(j.data(), j.size(), 8, &ref, &scaled, &why)) return -1;
  if (ref.size() != n) return 1000;
  int worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(static_cast<int>(dc[i]) - static_cast<int>(ref[i])));
  return worst;
}

TEST(jpeg_dc_decode_equals_libjpeg_at_one_eighth) {
  Rng rng(81);
  int cases = 0;
  for (const auto& size : std::vector<std::pair<int, int>>{{1, 1}, {8, 8}, {17, 9}, {37, 29}, {203, 157}, {640, 24}}) {
    for (const auto& samp : std::vector<std::array<int, 3>>{{1, 1, 1}, {3, 1, 1}, {3, 2, 2}, {3, 2, 1}, {3, 1, 2}}) {
      for (int restart : {0, 1, 3}) {
        for (bool optimize : {false, true}) {
          const int quality = (cases % 3 == 0) ? 100 : (cases % 3 == 1 ? 90 : 40);
          const Spec s{size.first, size.second, samp[0], samp[1], samp[2], quality, restart, optimize, false, true};
          const std::vector<uint8_t> j = encode(s, rng);
          const int worst = dc_vs_libjpeg(j, s);
          // 4:4:4 and gray: the same arithmetic. Subsampled flat chroma: libjpeg's 2x2 (or 2x1)
          // IDCT of a DC-only block rounds in two passes, so allow one level there.
          const int allowed = (s.h0 == 1 && s.v0 == 1) ? 0 : 1;
          CHECK_MSG(worst >= 0 && worst <= allowed, describe(s) + ": max difference " + std::to_string(worst));
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 180);
}

TEST(jpeg_dc_decode_subsampled_photo_chroma_stays_close_to_libjpeg) {
  // Chroma with detail: libjpeg scales 4:2:0 chroma up by a 2x2 IDCT, this decoder replicates
  // the block's DC: where chroma changes by ~40 levels across a 16-pixel block, a channel can
  // differ by up to ~1.8 x half that (25 measured); a layout bug differs by hundreds.
  Rng rng(82);
  const Spec s{400, 300, 3, 2, 2, 90, 0, true, false, false};
  const std::vector<uint8_t> j = encode(s, rng);
  const int worst = dc_vs_libjpeg(j, s);
  CHECK_MSG(worst >= 0 && worst <= 32, "max difference " + std::to_string(worst));
}

TEST(jpeg_progressive_goes_to_libjpeg) {
  Rng rng(83);
  const Spec s{203, 157, 3, 2, 2, 85, 0, false, true, false};
  const std::vector<uint8_t> j = encode(s, rng);
  cpu::JpegInfo info;
  REQUIRE(cpu::jpeg_read_info(j.data(), j.size(), &info));
  CHECK(!info.dc_decodable);
  CHECK(info.width == 203 && info.height == 157);
  std::string why;
  std::vector<uint8_t> out(26 * 20 * 3);
  CHECK(!cpu::jpeg_dc_decode(j.data(), j.size(), out.data(), out.size(), &why));
  for (int denom : {1, 2, 4, 8}) {
    std::vector<uint8_t> px;
    cpu::JpegScaled img;
    REQUIRE(cpu::jpeg_decode_scaled(j.data(), j.size(), denom, &px, &img, &why));
    CHECK(img.width == (203 + denom - 1) / denom && img.height == (157 + denom - 1) / denom && img.channels == 3);
  }
}

TEST(jpeg_decoders_refuse_every_truncation_and_survive_corruption) {
  Rng rng(84);
  const Spec s{96, 80, 3, 2, 2, 75, 2, true, false, false};
  const std::vector<uint8_t> j = encode(s, rng);
  const size_t n = 12 * 10 * 3;
  std::vector<uint8_t> out(n);
  std::string why;
  // The file without its last data byte or more (the final 2 bytes are EOI): never decoded.
  for (size_t len = 0; len + 3 <= j.size(); ++len) {
    std::vector<uint8_t> cut(j.begin(), j.begin() + static_cast<long>(len));  // exact-size heap block for ASan
    CHECK_MSG(!cpu::jpeg_dc_decode(cut.data(), cut.size(), out.data(), out.size(), &why), "truncated to " + std::to_string(len));
    std::vector<uint8_t> px;
    cpu::JpegScaled img;
    CHECK_MSG(!cpu::jpeg_decode_scaled(cut.data(), cut.size(), 8, &px, &img, &why), "libjpeg, truncated to " + std::to_string(len));
  }
  // Random damage: either decoder may accept or refuse, but must stay in bounds (ASan build).
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> bad = j;
    const int flips = static_cast<int>(rng.range(1, 4));
    for (int f = 0; f < flips; ++f) bad[static_cast<size_t>(rng.range(0, static_cast<int64_t>(bad.size()) - 1))] ^= static_cast<uint8_t>(rng.range(1, 255));
    cpu::JpegInfo info;
    if (cpu::jpeg_read_info(bad.data(), bad.size(), &info) && info.dc_decodable && info.width * info.height <= 96 * 80 * 64) {
      std::vector<uint8_t> px(static_cast<size_t>(((info.width + 7) / 8) * ((info.height + 7) / 8) * info.channels));
      if (!cpu::jpeg_dc_decode(bad.data(), bad.size(), px.data(), px.size(), &why)) ++refused;
    }
  }
  CHECK(refused > 0);
}

#else

TEST(jpeg_dc_decode_equals_libjpeg_at_one_eighth) { SKIP("built without libjpeg (Debian: libjpeg62-turbo-dev): no encoder for the fixtures"); }

#endif

}  // namespace
