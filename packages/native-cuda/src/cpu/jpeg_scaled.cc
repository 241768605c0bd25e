// libjpeg(-turbo)'s own decode with DCT scaling, for the JPEGs the DC-only decoder leaves
// (progressive, 1/2 and 1/4 scale, unusual sampling). Built when CMake finds libjpeg
// (CLIPKIT_HAVE_LIBJPEG); without it every call says so and the caller decodes another way.
//
// Strict: any warning libjpeg emits (corrupt data, premature end) aborts, so that a damaged file
// is decoded, and judged, by the full decoder instead of being half-filled with grey here.
#include <new>
#include <string>
#include <vector>

#include "clipkit/kernels.h"

#ifdef CLIPKIT_HAVE_LIBJPEG
#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>
#endif

namespace clipkit::cpu {

#ifdef CLIPKIT_HAVE_LIBJPEG
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);  // a warning: corrupt data libjpeg would paper over
}

enum class Outcome { Decoded, LibjpegError, Unsupported, OutOfMemory };

// Everything between setjmp and libjpeg's longjmp: plain data only (no std::string, nothing with
// a destructor), so the jump skips no cleanup and clobbers nothing the caller reads.
Outcome decode(const uint8_t* data, size_t size, int denom, std::vector<uint8_t>* out,
               JpegScaled* image, ErrorManager* err) {
  jpeg_decompress_struct cinfo{};
  cinfo.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_error;
  err->pub.emit_message = on_message;
  if (setjmp(err->jump) != 0) {
    jpeg_destroy_decompress(&cinfo);
    return Outcome::LibjpegError;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK ||
      (cinfo.num_components != 1 && cinfo.num_components != 3)) {
    jpeg_destroy_decompress(&cinfo);
    return Outcome::Unsupported;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned int>(denom);
  jpeg_start_decompress(&cinfo);
  const size_t w = cinfo.output_width, h = cinfo.output_height;
  const int ch = cinfo.output_components;
  try {
    out->resize(w * h * static_cast<size_t>(ch));
  } catch (const std::bad_alloc&) {
    jpeg_destroy_decompress(&cinfo);
    return Outcome::OutOfMemory;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->data() + static_cast<size_t>(cinfo.output_scanline) * w * static_cast<size_t>(ch);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  image->width = static_cast<int64_t>(w);
  image->height = static_cast<int64_t>(h);
  image->channels = ch;
  return Outcome::Decoded;
}

}  // namespace

bool jpeg_scaled_available() { return true; }

bool jpeg_decode_scaled(const uint8_t* data, size_t size, int denom, std::vector<uint8_t>* out,
                        JpegScaled* image, std::string* why) {
  const char* reason = nullptr;
  ErrorManager err{};
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8) {
    reason = "scale must be 1/1, 1/2, 1/4 or 1/8";
  } else {
    switch (decode(data, size, denom, out, image, &err)) {
      case Outcome::Decoded: return true;
      case Outcome::LibjpegError: break;
      case Outcome::Unsupported: reason = "CMYK or unusual component count"; break;
      case Outcome::OutOfMemory: reason = "out of memory for the decoded image"; break;
    }
  }
  if (why) *why = reason != nullptr ? std::string(reason) : std::string("libjpeg: ") + err.message;
  return false;
}

#else

bool jpeg_scaled_available() { return false; }

bool jpeg_decode_scaled(const uint8_t*, size_t, int, std::vector<uint8_t>*, JpegScaled*, std::string* why) {
  if (why) *why = "this build has no libjpeg";
  return false;
}

#endif

}  // namespace clipkit::cpu
