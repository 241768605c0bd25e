// JPEG at 1/8 scale from the DC coefficients alone.
//
// At 1/8, libjpeg's scaled IDCT of a block is its DC term: (DC*q0 + 4) >> 3, plus 128. Everything
// else libjpeg does for a 12-MP photo at that scale is Huffman-decoding the AC coefficients only
// to drop them, and that is where its time goes (branchy per-symbol decoding, ~60 ms for a 12-MP
// quality-90 photo here). This decoder never materialises an AC coefficient: one table lookup on
// the next 10 bits gives "skip this many bits, advance this many coefficients" for every code of
// up to 10 bits, so skipping a block costs a few instructions per symbol.
//
// Scope: baseline/extended sequential Huffman, 8-bit, 1 (gray) or 3 (YCbCr) components in one
// interleaved scan, power-of-two sampling factors, restart markers. Anything else (progressive,
// arithmetic, 12-bit, CMYK, Adobe RGB transform, several scans, corrupt or truncated data) returns
// false with the reason, and the caller decodes the file another way, so broken files are judged
// by the full decoder. Every read is bounds-checked: the input is untrusted.
//
// Output differs from libjpeg's 1/8 only in subsampled chroma: libjpeg-turbo scales 4:2:0 chroma
// up with a 2x2 IDCT inside each block, this interpolates the chroma DCs bilinearly across blocks
// (luma, gray and 4:4:4 files are identical).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "clipkit/kernels.h"

namespace clipkit::cpu {
namespace {

constexpr int kFastBits = 10;
// AC coefficients are mostly short (a photo averages ~4 bits per code plus magnitude), so one
// lookup on the next kMultiBits bits skips every whole symbol they hold (up to 3) at once.
constexpr int kMultiBits = 11;

struct HuffTable {
  bool defined = false;
  // Fast lookup by the next kFastBits bits; 0 = code longer than kFastBits.
  // DC: code length | symbol << 5.  AC: bits to skip (code + magnitude) | coefficients to advance << 5.
  std::array<uint16_t, 1 << kFastBits> fast{};
  // AC only: bits to skip | coefficients advanced << 5 | advanced before the last symbol << 13;
  // 0 = the first symbol does not fit (use `fast`).
  std::array<uint32_t, 1 << kMultiBits> multi{};
  // Canonical decoding of longer codes: codes of length l are [mincode[l], maxcode[l]].
  std::array<int32_t, 17> mincode{};
  std::array<int32_t, 17> maxcode{};
  std::array<int32_t, 17> valptr{};
  std::array<uint8_t, 256> values{};
};

struct Component {
  int id = 0;
  int h = 1, v = 1;
  int tq = 0;
  int td = 0, ta = 0;
  int64_t blocks_w = 0, blocks_h = 0;  // the component's block grid, padded to whole MCUs
  std::vector<int16_t> dc;             // one decoded pixel value (0..255) per block
};

struct Parser {
  const uint8_t* data;
  size_t size;
  std::string* why;
  bool fail(const char* reason) {
    if (why) *why = reason;
    return false;
  }
};

// Builds the canonical Huffman code from the 16 counts and the symbol list (JPEG Annex C).
bool build_table(const uint8_t* counts, const uint8_t* symbols, int nsym, bool ac, HuffTable* t) {
  *t = HuffTable{};
  int code = 0, k = 0;
  for (int len = 1; len <= 16; ++len) {
    const int n = counts[len - 1];
    t->valptr[len] = k;
    t->mincode[len] = code;
    t->maxcode[len] = n > 0 ? code + n - 1 : -1;
    for (int i = 0; i < n; ++i, ++code, ++k) {
      if (code >= (1 << len)) return false;  // more codes than the length allows
      const uint8_t sym = symbols[k];
      if (len <= kFastBits) {
        uint16_t entry;
        if (ac) {
          const int run = sym >> 4, mag = sym & 15;
          const int advance = mag == 0 ? (run == 15 ? 16 : 64) : run + 1;  // ZRL, EOB, coefficient
          entry = static_cast<uint16_t>((len + mag) | (advance << 5));
        } else {
          entry = static_cast<uint16_t>(len | (sym << 5));
        }
        const int shift = kFastBits - len;
        for (int j = 0; j < (1 << shift); ++j) t->fast[static_cast<size_t>((code << shift) | j)] = entry;
      }
    }
    code <<= 1;
  }
  if (k != nsym) return false;
  std::memcpy(t->values.data(), symbols, static_cast<size_t>(nsym));
  t->defined = true;
  if (ac) {
    for (uint32_t x = 0; x < (1u << kMultiBits); ++x) {
      int used = 0, advanced = 0, before_last = 0, count = 0;
      while (count < 3) {
        const int left = kMultiBits - used;
        const uint32_t next = ((x << used) & ((1u << kMultiBits) - 1)) >> (kMultiBits - kFastBits);
        const uint16_t e = t->fast[next];
        if (e == 0 || (e & 31) > left) break;
        before_last = advanced;
        used += e & 31;
        advanced += e >> 5;
        ++count;
        if ((e >> 5) >= 64) break;  // EOB ends the block
      }
      if (count > 0) t->multi[x] = static_cast<uint32_t>(used | (advanced << 5) | (before_last << 13));
    }
  }
  return true;
}

// The scan's entropy-coded bytes with byte stuffing removed, split at restart markers, followed
// by zero padding, so that the bit reader below can load 8 bytes at any position without a
// branch per byte. One buffer per thread, reused: a photo library decodes on a few threads.
struct Unstuffed {
  std::vector<uint8_t> bytes;
  std::vector<size_t> segment_end;  // end offset of each restart interval's bytes
  size_t length = 0;                // data bytes (the padding follows)
};

// Enough zero bytes that a corrupt stream, checked for overrun after every MCU, cannot read past
// the buffer: an MCU has at most 10 blocks of 64 symbols of at most 31 bits.
constexpr size_t kPadding = 4096;

bool unstuff(const uint8_t* p, const uint8_t* end, Unstuffed* u) {
  u->segment_end.clear();
  u->bytes.resize(static_cast<size_t>(end - p) + kPadding);
  uint8_t* out = u->bytes.data();
  size_t n = 0;
  int next_rst = 0;
  for (;;) {
    const auto* ff = static_cast<const uint8_t*>(std::memchr(p, 0xFF, static_cast<size_t>(end - p)));
    const uint8_t* stop = ff != nullptr ? ff : end;
    std::memcpy(out + n, p, static_cast<size_t>(stop - p));
    n += static_cast<size_t>(stop - p);
    if (ff == nullptr || end - ff < 2) break;  // no end marker: truncated, caught by overrun
    const uint8_t m = ff[1];
    if (m == 0x00) {
      out[n++] = 0xFF;
      p = ff + 2;
    } else if (m == 0xFF) {
      p = ff + 1;  // fill byte before a marker
    } else if (m >= 0xD0 && m <= 0xD7) {
      if (m != 0xD0 + next_rst) return false;
      next_rst = (next_rst + 1) & 7;
      u->segment_end.push_back(n);
      p = ff + 2;
    } else {
      break;  // EOI, or another marker ends the scan
    }
  }
  u->length = n;
  std::memset(out + n, 0, kPadding);
  return true;
}

// MSB-first bit reader over an Unstuffed buffer ("variant 4" of Giesen's bit readers): refill is
// branch-free and leaves 56..63 bits, enough for any one code plus its magnitude bits (<= 31).
class BitReader {
 public:
  explicit BitReader(const uint8_t* p) : p_(p) {}
  void refill() {
    uint64_t v;
    std::memcpy(&v, p_, 8);
    buf_ |= __builtin_bswap64(v) >> bits_;
    p_ += (63 - bits_) >> 3;
    bits_ |= 56;
  }
  uint32_t peek(int n) const { return static_cast<uint32_t>(buf_ >> (64 - n)); }
  void skip(int n) {
    buf_ <<= n;
    bits_ -= n;
  }
  // Bytes consumed, counting a partly used byte.
  size_t consumed(const uint8_t* base) const { return static_cast<size_t>(p_ - base) - static_cast<size_t>(bits_ >> 3); }
  void seek(const uint8_t* p) {
    p_ = p;
    buf_ = 0;
    bits_ = 0;
  }

 private:
  const uint8_t* p_;
  uint64_t buf_ = 0;
  int bits_ = 0;
};

// Codes longer than kFastBits: the canonical search. Returns the symbol, or -1 for no such code.
inline int slow_symbol(const HuffTable& t, BitReader& br) {
  for (int len = kFastBits + 1; len <= 16; ++len) {
    const int32_t code = static_cast<int32_t>(br.peek(len));
    if (code <= t.maxcode[len]) {
      br.skip(len);
      return t.values[static_cast<size_t>(t.valptr[len] + code - t.mincode[len])];
    }
  }
  return -1;
}

inline int32_t extend(uint32_t v, int s) { return v < (1u << (s - 1)) ? static_cast<int32_t>(v) - (1 << s) + 1 : static_cast<int32_t>(v); }

struct Frame {
  int64_t width = 0, height = 0;
  int ncomp = 0;
  Component comp[3];
  int hmax = 1, vmax = 1;
  std::array<uint16_t, 4> q0{};
  std::array<bool, 4> q_defined{};
  HuffTable dc[4], ac[4];
  int restart_interval = 0;
  bool adobe_rgb = false;
  size_t scan_start = 0;  // first byte of entropy-coded data
  int scan_order[3] = {0, 1, 2};
  int orientation = 1;
  bool sequential = false;  // SOF0/SOF1: what this decoder reads
};

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// EXIF orientation (tag 0x0112 of IFD0) from an APP1 payload; 1 when absent or malformed.
int exif_orientation(const uint8_t* p, size_t n) {
  if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const uint8_t* t = p + 6;
  const size_t tn = n - 6;
  bool le;
  if (t[0] == 'I' && t[1] == 'I') le = true;
  else if (t[0] == 'M' && t[1] == 'M') le = false;
  else return 1;
  auto u16 = [&](size_t off) -> uint32_t { return le ? t[off] | (t[off + 1] << 8) : (t[off] << 8) | t[off + 1]; };
  auto u32 = [&](size_t off) -> uint64_t { return le ? (u16(off) | (uint64_t{u16(off + 2)} << 16)) : ((uint64_t{u16(off)} << 16) | u16(off + 2)); };
  if (u16(2) != 42) return 1;
  const uint64_t ifd = u32(4);
  if (ifd > tn || tn - ifd < 2) return 1;
  const uint32_t entries = u16(static_cast<size_t>(ifd));
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t e = ifd + 2 + 12ull * i;
    if (e + 12 > tn) return 1;
    if (u16(static_cast<size_t>(e)) == 0x0112) {
      const uint32_t v = u16(static_cast<size_t>(e) + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

// Reads markers up to the first SOS.
bool parse_header(Parser& ps, Frame* f) {
  const uint8_t* d = ps.data;
  const size_t n = ps.size;
  if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) return ps.fail("not a JPEG file");
  size_t pos = 2;
  bool have_frame = false;
  for (;;) {
    while (pos < n && d[pos] == 0xFF && pos + 1 < n && d[pos + 1] == 0xFF) ++pos;  // fill bytes
    if (n - pos < 4 || d[pos] != 0xFF) return ps.fail("corrupt marker structure");
    const uint8_t m = d[pos + 1];
    const size_t len = be16(d + pos + 2);
    if (len < 2 || len > n - pos - 2) return ps.fail("marker segment runs past the end");
    const uint8_t* s = d + pos + 4;
    const size_t sn = len - 2;
    pos += 2 + len;
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (have_frame || sn < 6) return ps.fail("bad frame header");
      f->sequential = (m == 0xC0 || m == 0xC1) && s[0] == 8;
      f->height = be16(s + 1);
      f->width = be16(s + 3);
      f->ncomp = s[5];
      if (f->width == 0 || f->height == 0) return ps.fail("no image dimensions in the frame header");
      have_frame = true;
      if (!f->sequential) continue;  // dimensions known; the scan is another decoder's
      if (f->ncomp != 1 && f->ncomp != 3) { f->sequential = false; continue; }
      if (sn < 6 + 3u * static_cast<size_t>(f->ncomp)) return ps.fail("bad frame header");
      for (int c = 0; c < f->ncomp; ++c) {
        Component& cc = f->comp[c];
        cc.id = s[6 + 3 * c];
        cc.h = s[7 + 3 * c] >> 4;
        cc.v = s[7 + 3 * c] & 15;
        cc.tq = s[8 + 3 * c];
        if (cc.h < 1 || cc.h > 4 || cc.v < 1 || cc.v > 4 || cc.tq > 3) return ps.fail("bad sampling factors");
        f->hmax = std::max(f->hmax, cc.h);
        f->vmax = std::max(f->vmax, cc.v);
      }
      for (int c = 0; c < f->ncomp; ++c) {
        if (f->hmax % f->comp[c].h != 0 || f->vmax % f->comp[c].v != 0) f->sequential = false;
      }
    } else if (m == 0xDB) {
      size_t i = 0;
      while (i < sn) {
        const int pq = s[i] >> 4, tq = s[i] & 15;
        if (tq > 3 || pq > 1) return ps.fail("bad quantisation table");
        const size_t bytes = pq ? 128 : 64;
        if (sn - i - 1 < bytes) return ps.fail("bad quantisation table");
        f->q0[tq] = pq ? be16(s + i + 1) : s[i + 1];
        f->q_defined[tq] = true;
        i += 1 + bytes;
      }
    } else if (m == 0xC4) {
      size_t i = 0;
      while (i < sn) {
        if (sn - i < 17) return ps.fail("bad Huffman table");
        const int tc = s[i] >> 4, th = s[i] & 15;
        if (tc > 1 || th > 3) return ps.fail("bad Huffman table");
        int total = 0;
        for (int l = 0; l < 16; ++l) total += s[i + 1 + l];
        if (total > 256 || sn - i - 17 < static_cast<size_t>(total)) return ps.fail("bad Huffman table");
        if (!build_table(s + i + 1, s + i + 17, total, tc == 1, tc ? &f->ac[th] : &f->dc[th])) return ps.fail("bad Huffman table");
        i += 17 + static_cast<size_t>(total);
      }
    } else if (m == 0xDD) {
      if (sn < 2) return ps.fail("bad restart interval");
      f->restart_interval = be16(s);
    } else if (m == 0xE1) {
      const int o = exif_orientation(s, sn);
      if (o != 1 || f->orientation == 1) f->orientation = o;
    } else if (m == 0xEE) {
      // Adobe APP14: transform 0 with 3 components means RGB, not YCbCr.
      if (sn >= 12 && std::memcmp(s, "Adobe", 5) == 0 && s[11] == 0) f->adobe_rgb = true;
    } else if (m == 0xDA) {
      if (!have_frame) return ps.fail("scan before frame header");
      if (!f->sequential) return ps.fail("not an 8-bit sequential Huffman gray or YCbCr JPEG with plain sampling");
      if (sn < 1) return ps.fail("bad scan header");
      const int ns = s[0];
      if (ns != f->ncomp) return ps.fail("components in separate scans");
      if (sn < 1 + 2u * static_cast<size_t>(ns) + 3) return ps.fail("bad scan header");
      for (int i = 0; i < ns; ++i) {
        const int id = s[1 + 2 * i];
        int c = 0;
        while (c < f->ncomp && f->comp[c].id != id) ++c;
        if (c == f->ncomp) return ps.fail("scan names an unknown component");
        for (int j = 0; j < i; ++j) {
          if (f->scan_order[j] == c) return ps.fail("scan names a component twice");
        }
        f->scan_order[i] = c;
        f->comp[c].td = s[2 + 2 * i] >> 4;
        f->comp[c].ta = s[2 + 2 * i] & 15;
        if (f->comp[c].td > 3 || f->comp[c].ta > 3 || !f->dc[f->comp[c].td].defined || !f->ac[f->comp[c].ta].defined)
          return ps.fail("scan uses an undefined Huffman table");
        if (!f->q_defined[f->comp[c].tq]) return ps.fail("frame uses an undefined quantisation table");
      }
      const uint8_t* t = s + 1 + 2 * ns;
      if (t[0] != 0 || t[1] != 63 || t[2] != 0) return ps.fail("not a baseline scan");
      if (f->ncomp == 3 && (f->adobe_rgb || (f->comp[0].id == 'R' && f->comp[1].id == 'G' && f->comp[2].id == 'B')))
        return ps.fail("RGB, not YCbCr");
      f->scan_start = pos;
      return true;
    } else if (m == 0xD9) {
      return ps.fail("no image data");
    }
    // Anything else (APPn, COM, DNL...) is skipped.
  }
}

inline uint8_t clamp255(int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

// One block: its DC difference decoded, every AC coefficient skipped. False on an invalid code.
inline bool block(BitReader& br, const HuffTable& dct, const HuffTable& act, int32_t* pred) {
  br.refill();
  int s;
  uint16_t e = dct.fast[br.peek(kFastBits)];
  if (e != 0) {
    br.skip(e & 31);
    s = e >> 5;
  } else {
    s = slow_symbol(dct, br);
    if (s < 0) return false;
  }
  if (s > 11) return false;
  if (s > 0) {
    *pred += extend(br.peek(s), s);
    br.skip(s);
  }
  for (int k = 1; k < 64;) {
    br.refill();
    // Several symbols at once, unless the block could end before the last of them.
    const uint32_t m = act.multi[br.peek(kMultiBits)];
    if (m != 0 && k + static_cast<int>(m >> 13) < 64) {
      br.skip(static_cast<int>(m & 31));
      k += static_cast<int>((m >> 5) & 255);
      continue;
    }
    e = act.fast[br.peek(kFastBits)];
    if (e != 0) {
      br.skip(e & 31);
      k += e >> 5;
      continue;
    }
    const int rs = slow_symbol(act, br);
    if (rs < 0) return false;
    const int run = rs >> 4, mag = rs & 15;
    if (mag == 0) {
      k += run == 15 ? 16 : 64;
    } else {
      br.skip(mag);
      k += run + 1;
    }
  }
  return true;
}

}  // namespace

bool jpeg_read_info(const uint8_t* data, size_t size, JpegInfo* info) {
  Frame f;
  std::string why;
  Parser ps{data, size, &why};
  info->dc_decodable = parse_header(ps, &f);
  info->dc_why = why;
  info->width = f.width;
  info->height = f.height;
  info->channels = f.ncomp;
  info->orientation = f.orientation;
  return f.width > 0 && f.height > 0;
}

bool jpeg_dc_decode(const uint8_t* data, size_t size, uint8_t* out, size_t out_size,
                    std::string* why) {
  Frame f;
  Parser ps{data, size, why};
  if (!parse_header(ps, &f)) return false;
  // The caller sized out from jpeg_read_info; the header is read again here, so check it holds.
  if (static_cast<uint64_t>((f.width + 7) / 8) * static_cast<uint64_t>((f.height + 7) / 8) *
          static_cast<uint64_t>(f.ncomp) > out_size) {
    return ps.fail("output buffer smaller than the image at 1/8 scale");
  }
  const int64_t mcu_w = 8 * f.hmax, mcu_h = 8 * f.vmax;
  // A single-component scan is not interleaved: one block per "MCU", over the component's own grid.
  const bool interleaved = f.ncomp > 1;
  const int64_t mcus_x = interleaved ? (f.width + mcu_w - 1) / mcu_w : (f.width + 7) / 8;
  const int64_t mcus_y = interleaved ? (f.height + mcu_h - 1) / mcu_h : (f.height + 7) / 8;
  for (int c = 0; c < f.ncomp; ++c) {
    Component& cc = f.comp[c];
    cc.blocks_w = interleaved ? mcus_x * cc.h : mcus_x;
    cc.blocks_h = interleaved ? mcus_y * cc.v : mcus_y;
    cc.dc.resize(static_cast<size_t>(cc.blocks_w * cc.blocks_h));
  }
  thread_local Unstuffed u;
  if (!unstuff(data + f.scan_start, data + size, &u)) return ps.fail("restart markers out of order");
  const uint8_t* base = u.bytes.data();
  BitReader br(base);
  int32_t pred[3] = {0, 0, 0};
  size_t segment = 0;
  size_t segment_end = u.segment_end.empty() ? u.length : u.segment_end[0];
  int64_t until_restart = f.restart_interval;
  const int64_t total = mcus_x * mcus_y;
  for (int64_t mcu = 0; mcu < total; ++mcu) {
    if (f.restart_interval > 0 && until_restart == 0) {
      if (segment >= u.segment_end.size()) return ps.fail("missing restart marker");
      br.seek(base + u.segment_end[segment]);
      ++segment;
      segment_end = segment < u.segment_end.size() ? u.segment_end[segment] : u.length;
      until_restart = f.restart_interval;
      pred[0] = pred[1] = pred[2] = 0;
    }
    --until_restart;
    const int64_t mx = mcu % mcus_x, my = mcu / mcus_x;
    for (int i = 0; i < f.ncomp; ++i) {
      const int c = f.scan_order[i];
      Component& cc = f.comp[c];
      const int bh = interleaved ? cc.h : 1, bv = interleaved ? cc.v : 1;
      const int q = f.q0[static_cast<size_t>(cc.tq)];
      for (int by = 0; by < bv; ++by) {
        for (int bx = 0; bx < bh; ++bx) {
          if (!block(br, f.dc[cc.td], f.ac[cc.ta], &pred[c])) return ps.fail("corrupt entropy-coded data");
          // libjpeg's 1x1 IDCT: DESCALE(DC * q0, 3) + 128, clamped. 64-bit: a hostile file can
          // drive the predictor far out of range without overflow.
          const int64_t v = ((static_cast<int64_t>(pred[c]) * q + 4) >> 3) + 128;
          const int64_t x = mx * bh + bx, y = my * bv + by;
          cc.dc[static_cast<size_t>(y * cc.blocks_w + x)] = static_cast<int16_t>(v < 0 ? 0 : v > 255 ? 255 : v);
        }
      }
    }
    if (br.consumed(base) > segment_end) return ps.fail("truncated data");
  }
  const int64_t ow = (f.width + 7) / 8, oh = (f.height + 7) / 8;
  if (f.ncomp == 1) {
    const Component& y = f.comp[0];
    for (int64_t r = 0; r < oh; ++r) {
      for (int64_t x = 0; x < ow; ++x) out[r * ow + x] = static_cast<uint8_t>(y.dc[static_cast<size_t>(r * y.blocks_w + x)]);
    }
    return true;
  }
  // Each component at output resolution. A subsampled one (chroma of 4:2:0, 4:2:2) is
  // interpolated bilinearly between block centres, as libjpeg's "fancy" upsampling does between
  // samples: replicating one DC per 2x2 output pixels is visibly blockier.
  std::vector<int16_t> planes[3];
  const int16_t* plane[3];
  for (int c = 0; c < 3; ++c) {
    const Component& cc = f.comp[c];
    const int sx = f.hmax / cc.h, sy = f.vmax / cc.v;
    if (sx == 1 && sy == 1) {
      plane[c] = cc.dc.data();
      continue;
    }
    const int64_t cw = (ow + sx - 1) / sx, ch = (oh + sy - 1) / sy;  // blocks holding image pixels
    planes[c].resize(static_cast<size_t>(ow * oh));
    std::vector<int64_t> x0s(static_cast<size_t>(ow)), x1s(static_cast<size_t>(ow));
    std::vector<float> wxs(static_cast<size_t>(ow));
    for (int64_t x = 0; x < ow; ++x) {
      const double px = (x + 0.5) / sx - 0.5;
      const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(px)), 0, cw - 1);
      x0s[static_cast<size_t>(x)] = x0;
      x1s[static_cast<size_t>(x)] = std::min<int64_t>(x0 + 1, cw - 1);
      wxs[static_cast<size_t>(x)] = static_cast<float>(std::clamp(px - static_cast<double>(x0), 0.0, 1.0));
    }
    for (int64_t r = 0; r < oh; ++r) {
      const double py = (r + 0.5) / sy - 0.5;
      const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(py)), 0, ch - 1);
      const int64_t y1 = std::min<int64_t>(y0 + 1, ch - 1);
      const float wy = static_cast<float>(std::clamp(py - static_cast<double>(y0), 0.0, 1.0));
      const int16_t* a = &cc.dc[static_cast<size_t>(y0 * cc.blocks_w)];
      const int16_t* b = &cc.dc[static_cast<size_t>(y1 * cc.blocks_w)];
      int16_t* dst = &planes[c][static_cast<size_t>(r * ow)];
      for (int64_t x = 0; x < ow; ++x) {
        const size_t i0 = static_cast<size_t>(x0s[static_cast<size_t>(x)]), i1 = static_cast<size_t>(x1s[static_cast<size_t>(x)]);
        const float wx = wxs[static_cast<size_t>(x)];
        const float top = a[i0] + wx * static_cast<float>(a[i1] - a[i0]);
        const float bottom = b[i0] + wx * static_cast<float>(b[i1] - b[i0]);
        dst[x] = static_cast<int16_t>(top + wy * (bottom - top) + 0.5f);  // values are 0..255
      }
    }
    plane[c] = planes[c].data();
  }
  // libjpeg's YCbCr -> RGB (jdcolor.c): 16-bit fixed point, rounded.
  constexpr int kBits = 16;
  constexpr int32_t kHalf = 1 << (kBits - 1);
  auto fix = [](double x) { return static_cast<int32_t>(x * (1 << kBits) + 0.5); };
  const int32_t cr_r = fix(1.40200), cb_b = fix(1.77200), cr_g = fix(0.71414), cb_g = fix(0.34414);
  for (int64_t r = 0; r < oh; ++r) {
    uint8_t* row = out + r * ow * 3;
    // A full-resolution component's grid is padded to whole MCUs: rows are blocks_w apart.
    const int16_t* yr = plane[0] + r * (plane[0] == f.comp[0].dc.data() ? f.comp[0].blocks_w : ow);
    const int16_t* br_ = plane[1] + r * (plane[1] == f.comp[1].dc.data() ? f.comp[1].blocks_w : ow);
    const int16_t* rr = plane[2] + r * (plane[2] == f.comp[2].dc.data() ? f.comp[2].blocks_w : ow);
    for (int64_t x = 0; x < ow; ++x) {
      const int yy = yr[x];
      const int cb = br_[x] - 128, cr = rr[x] - 128;
      row[3 * x + 0] = clamp255(yy + ((cr_r * cr + kHalf) >> kBits));
      row[3 * x + 1] = clamp255(yy + ((-cb_g * cb - cr_g * cr + kHalf) >> kBits));
      row[3 * x + 2] = clamp255(yy + ((cb_b * cb + kHalf) >> kBits));
    }
  }
  return true;
}

}  // namespace clipkit::cpu
