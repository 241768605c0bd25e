// CUDA kernels vs the CPU kernels (themselves tested against double-precision references) on
// fresh random inputs over several shapes. When no usable CUDA device exists (CPU-only build,
// no driver, no GPU) every test is reported as SKIP with the reason.
// GEMM-based kernels run with both engines: the tiled kernel (CLIPKIT_CUBLAS=0) and cuBLAS
// (CLIPKIT_CUBLAS=require) when the machine has it.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "binding/half.h"
#include "clipkit/bf16.h"
#include "clipkit/kernels.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

// SKIPs the calling test when there is no usable CUDA device, saying why.
void require_cuda() {
  static std::string why;
  static const bool ok = cuda::available(&why);
  if (!ok) SKIP("CUDA unavailable: " + why);
}

// Device copy of a host vector, freed on scope exit.
template <typename T>
class Device {
 public:
  explicit Device(size_t n) : n_(n), p_(static_cast<T*>(cuda::malloc_device(n * sizeof(T)))) {}
  explicit Device(const std::vector<T>& host) : Device(host.size()) {
    cuda::copy_to_device(p_, host.data(), n_ * sizeof(T));
  }
  ~Device() {
    try {
      cuda::free_device(p_);
    } catch (const std::exception& e) {
      record_failure(__FILE__, __LINE__, std::string("free_device: ") + e.what());
    }
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  T* get() const { return p_; }
  std::vector<T> host() const {
    cuda::synchronize();
    std::vector<T> out(n_);
    cuda::copy_to_host(out.data(), p_, n_ * sizeof(T));
    return out;
  }

 private:
  size_t n_;
  T* p_;
};

// Puts CLIPKIT_CUBLAS back as it was however the scope is left, so a test that throws midway
// does not choose the engine for the tests after it.
class CublasEnvGuard {
 public:
  CublasEnvGuard() {
    if (const char* v = std::getenv("CLIPKIT_CUBLAS")) saved_ = v;
  }
  ~CublasEnvGuard() {
    if (saved_) {
      setenv("CLIPKIT_CUBLAS", saved_->c_str(), 1);
    } else {
      unsetenv("CLIPKIT_CUBLAS");
    }
  }
  CublasEnvGuard(const CublasEnvGuard&) = delete;
  CublasEnvGuard& operator=(const CublasEnvGuard&) = delete;

 private:
  std::optional<std::string> saved_;
};

// Runs body(engine name) once per GEMM engine available: "tiled", then "cublas" if loadable.
template <typename Fn>
void for_each_engine(Fn&& body) {
  const CublasEnvGuard restore;
  setenv("CLIPKIT_CUBLAS", "0", 1);
  body("tiled");
  setenv("CLIPKIT_CUBLAS", "require", 1);
  try {
    body("cublas");
  } catch (const std::runtime_error& e) {
    static bool told = false;
    if (std::strstr(e.what(), "CLIPKIT_CUBLAS=require") == nullptr) throw;
    if (!told) std::printf("  cuBLAS engine not tested: %s\n", e.what());
    told = true;
  }
}

// Random IEEE half bits of magnitude in [2^-5, 1) and random sign (no inf/NaN/subnormal).
std::vector<uint16_t> random_halves(Rng& rng, size_t n) {
  std::vector<uint16_t> v(n);
  for (auto& h : v) {
    const auto sign = static_cast<uint16_t>(rng.next() & 1);
    const auto exp = static_cast<uint16_t>(rng.range(10, 14));
    const auto mant = static_cast<uint16_t>(rng.next() & 0x3ff);
    h = static_cast<uint16_t>((sign << 15) | (exp << 10) | mant);
  }
  return v;
}

}  // namespace

TEST(cuda_linear_vs_cpu) {
  require_cuda();
  Rng rng(301);
  struct Shape {
    int64_t m, n, k;
  };
  // m <= 8 with a small enough x runs the skinny kernel, the rest the tiled one.
  const Shape shapes[] = {{1, 1, 1},      {3, 5, 7},      {17, 33, 65},   {128, 128, 8},
                          {129, 257, 31}, {50, 768, 768}, {200, 64, 3},   {7, 300, 1000},
                          {2, 50, 7000},  {8, 1000, 64}};
  const Activation acts[] = {Activation::None, Activation::QuickGelu, Activation::GeluErf};
  for (const Shape& s : shapes) {
    const auto x = random_floats(rng, s.m * s.k);
    const auto w = random_floats(rng, s.n * s.k, -0.5f, 0.5f);
    const auto bias = random_floats(rng, s.n);
    const auto residual = random_floats(rng, s.m * s.n);
    Device<float> dx(x), dw(w), dbias(bias), dres(residual);
    for (Activation act : acts) {
      // 0: plain, 1: bias, 2: bias + residual, 3: residual aliased with out.
      for (int variant = 0; variant < 4; ++variant) {
        const bool with_bias = variant == 1 || variant == 2;
        const bool with_res = variant >= 2;
        std::vector<float> want(static_cast<size_t>(s.m * s.n));
        if (variant == 3) want = residual;
        cpu::linear(x.data(), w.data(), with_bias ? bias.data() : nullptr,
                    with_res ? (variant == 3 ? want.data() : residual.data()) : nullptr,
                    want.data(), s.m, s.n, s.k, act);
        for_each_engine([&](const char* engine) {
          Device<float> out(variant == 3 ? residual : std::vector<float>(s.m * s.n, NAN));
          const float* res = with_res ? (variant == 3 ? out.get() : dres.get()) : nullptr;
          cuda::linear(dx.get(), dw.get(), with_bias ? dbias.get() : nullptr, res, out.get(), s.m,
                       s.n, s.k, act);
          CHECK_REL_MSG(out.host(), want, 1e-5,
                        std::string("linear ") + engine + " " + dims({s.m, s.n, s.k}) + " act " +
                            std::to_string(static_cast<int>(act)) + " variant " +
                            std::to_string(variant));
        });
      }
    }
  }
}

// The bf16 GEMM (cuBLAS GemmEx, CUBLAS_COMPUTE_32F; the tiled kernel on widened values without
// cuBLAS) against its CPU twin, linear_bf16 on the CPU's bf16 path: both round x to bf16 and sum
// exact bf16 products in fp32, so they differ only by summation order.
TEST(cuda_linear_bf16_vs_cpu) {
  require_cuda();
  Rng rng(309);
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{1, 1, 1},     {3, 5, 7},      {17, 33, 65}, {129, 257, 31},
                          {50, 768, 768}, {7, 300, 1000}, {2, 50, 7000}};
  for (const Shape& s : shapes) {
    const auto x = random_floats(rng, s.m * s.k);
    const auto w = random_floats(rng, s.n * s.k, -0.5f, 0.5f);
    const auto bias = random_floats(rng, s.n);
    const auto residual = random_floats(rng, s.m * s.n);
    std::vector<uint16_t> wb(w.size());
    floats_to_bf16(w.data(), wb.data(), w.size());
    const auto packed = cpu::pack_linear_weight_bf16(wb.data(), s.n, s.k, cpu::bf16_path());
    Device<float> dx(x), dbias(bias);
    Device<uint16_t> dw(wb);
    for (const bool alias : {false, true}) {
      std::vector<float> want = residual;
      cpu::linear_bf16(x.data(), *packed, bias.data(), alias ? want.data() : nullptr, want.data(),
                       s.m, s.n, s.k, Activation::QuickGelu);
      for_each_engine([&](const char* engine) {
        Device<float> out(residual);
        cuda::linear_bf16(dx.get(), dw.get(), dbias.get(), alias ? out.get() : nullptr, out.get(),
                          s.m, s.n, s.k, Activation::QuickGelu);
        CHECK_REL_MSG(out.host(), want, 1e-5,
                      std::string("linear_bf16 ") + engine + " " + dims({s.m, s.n, s.k}) +
                          (alias ? " residual=out" : ""));
      });
    }
  }
}

TEST(cuda_layer_norm_vs_cpu) {
  require_cuda();
  Rng rng(302);
  const int64_t shapes[][2] = {{1, 1}, {3, 7}, {50, 768}, {77, 512}, {5, 1000}, {2, 4097}};
  for (const auto& s : shapes) {
    const int64_t rows = s[0];
    const int64_t dim = s[1];
    const auto x = random_normals(rng, rows * dim, 3.0f);
    const auto gamma = random_floats(rng, dim, 0.5f, 1.5f);
    const auto beta = random_floats(rng, dim);
    std::vector<float> want(x.size());
    cpu::layer_norm(x.data(), gamma.data(), beta.data(), want.data(), rows, dim, 1e-5f);
    Device<float> dx(x), dg(gamma), db(beta), out(x.size());
    cuda::layer_norm(dx.get(), dg.get(), db.get(), out.get(), rows, dim, 1e-5f);
    CHECK_REL_MSG(out.host(), want, 1e-5, "layer_norm " + dims({rows, dim}));
    cuda::layer_norm(dx.get(), dg.get(), db.get(), dx.get(), rows, dim, 1e-5f);  // in place
    CHECK_REL_MSG(dx.host(), want, 1e-5, "layer_norm in place " + dims({rows, dim}));
  }
}

TEST(cuda_elementwise_vs_cpu) {
  require_cuda();
  Rng rng(303);
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{12345}, int64_t{1} << 20}) {
    const auto a = random_normals(rng, n, 4.0f);
    const auto b = random_normals(rng, n);
    std::vector<float> want(a.size());
    cpu::add(a.data(), b.data(), want.data(), n);
    Device<float> da(a), db(b), out(a.size());
    cuda::add(da.get(), db.get(), out.get(), n);
    CHECK_REL_MSG(out.host(), want, 1e-6, "add n=" + std::to_string(n));
    for (Activation act : {Activation::None, Activation::QuickGelu, Activation::GeluErf}) {
      cpu::activation(a.data(), want.data(), n, act);
      cuda::activation(da.get(), out.get(), n, act);
      CHECK_REL_MSG(out.host(), want, 1e-5,
                    "activation " + std::to_string(static_cast<int>(act)) +
                        " n=" + std::to_string(n));
    }
    cpu::add(a.data(), b.data(), want.data(), n);
    cuda::add(da.get(), db.get(), da.get(), n);  // out aliases a
    CHECK_REL_MSG(da.host(), want, 1e-6, "add in place n=" + std::to_string(n));
  }
}

TEST(cuda_softmax_vs_cpu) {
  require_cuda();
  Rng rng(304);
  const int64_t shapes[][2] = {{1, 1}, {7, 50}, {600, 50}, {3, 5000}, {4, 77}};
  for (const auto& s : shapes) {
    const auto x = random_normals(rng, s[0] * s[1], 5.0f);
    std::vector<float> want(x.size());
    cpu::softmax(x.data(), want.data(), s[0], s[1]);
    Device<float> dx(x), out(x.size());
    cuda::softmax(dx.get(), out.get(), s[0], s[1]);
    CHECK_REL_MSG(out.host(), want, 1e-5, "softmax " + dims({s[0], s[1]}));
  }
}

TEST(cuda_attention_vs_cpu) {
  require_cuda();
  Rng rng(305);
  struct Case {
    int64_t b, t, h, d;
    bool causal;
  };
  const Case cases[] = {{1, 1, 1, 1, false},  {2, 50, 12, 64, false}, {1, 77, 8, 64, true},
                        {3, 17, 3, 40, true},  {1, 257, 2, 64, false}, {2, 5, 2, 100, false},
                        {1, 33, 1, 200, true}};
  for (const Case& c : cases) {
    const AttentionShape s{c.b, c.t, c.h, c.d, c.causal, 1.0f / std::sqrt(static_cast<float>(c.d))};
    const int64_t hd = c.h * c.d;
    // Packed QKV [b, t, 3·h·d] read in place, out [b, t, h·d].
    const auto qkv = random_normals(rng, c.b * c.t * 3 * hd);
    std::vector<float> want(static_cast<size_t>(c.b * c.t * hd));
    cpu::attention(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, 3 * hd, want.data(), hd, s);
    Device<float> dqkv(qkv), out(want.size());
    cuda::attention(dqkv.get(), dqkv.get() + hd, dqkv.get() + 2 * hd, 3 * hd, out.get(), hd, s);
    const std::string what = "attention " + dims({c.b, c.t, c.h, c.d}) +
                             (c.causal ? " causal" : "");
    CHECK_REL_MSG(out.host(), want, 1e-5, what);
    // Separate q, k, v with stride h·d, out with a wider stride (every other slot untouched).
    const auto q = random_normals(rng, c.b * c.t * hd);
    const auto k = random_normals(rng, c.b * c.t * hd);
    const auto v = random_normals(rng, c.b * c.t * hd);
    std::vector<float> want2(static_cast<size_t>(c.b * c.t * 2 * hd), 7.0f);
    cpu::attention(q.data(), k.data(), v.data(), hd, want2.data(), 2 * hd, s);
    Device<float> dq(q), dk(k), dv(v), out2(want2);
    cuda::attention(dq.get(), dk.get(), dv.get(), hd, out2.get(), 2 * hd, s);
    CHECK_REL_MSG(out2.host(), want2, 1e-5, what + " strided");
  }
}

TEST(cuda_similarity_vs_cpu) {
  require_cuda();
  Rng rng(306);
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 100, 17}, {64, 1000, 512}, {130, 300, 64}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], d = s[2];
    const auto a = random_floats(rng, m * d);
    const auto b = random_floats(rng, n * d);
    const auto bh = random_halves(rng, n * d);
    std::vector<float> want(static_cast<size_t>(m * n));
    std::vector<float> want_h(want.size());
    cpu::similarity_f32(a.data(), b.data(), want.data(), m, n, d, 2.5f);
    cpu::similarity_f16(a.data(), bh.data(), want_h.data(), m, n, d, 2.5f);
    Device<float> da(a), db(b), out(want.size());
    Device<uint16_t> dbh(bh);
    for_each_engine([&](const char* engine) {
      cuda::similarity_f32(da.get(), db.get(), out.get(), m, n, d, 2.5f);
      CHECK_REL_MSG(out.host(), want, 1e-5,
                    std::string("similarity_f32 ") + engine + " " + dims({m, n, d}));
    });
    cuda::similarity_f16(da.get(), dbh.get(), out.get(), m, n, d, 2.5f);
    CHECK_REL_MSG(out.host(), want_h, 1e-5, "similarity_f16 " + dims({m, n, d}));
  }
}

namespace {

// Top-k equal to the CPU's up to near-ties: same scores position by position, and every returned
// index (distinct, in range) really has that score (double-precision dot product).
void check_topk(const std::vector<float>& a, const std::vector<float>& b_f32, int64_t m, int64_t n,
                int64_t d, float scale, int64_t k, const std::vector<int32_t>& idx,
                const std::vector<float>& score, const std::vector<int32_t>& want_idx,
                const std::vector<float>& want_score, const std::string& what) {
  int bad = 0;
  for (int64_t r = 0; r < m && bad < 5; ++r) {
    std::set<int32_t> seen;
    for (int64_t t = 0; t < k && bad < 5; ++t) {
      const size_t at = static_cast<size_t>(r * k + t);
      const int32_t j = idx[at];
      const double ws = want_score[at];
      const double tol = 1e-5 * (1.0 + std::fabs(ws));
      bool ok = j >= 0 && j < n && seen.insert(j).second && std::fabs(score[at] - ws) <= tol;
      if (ok && j != want_idx[at]) {
        double dot = 0.0;
        for (int64_t i = 0; i < d; ++i) dot += double{a[r * d + i]} * b_f32[j * d + i];
        ok = std::fabs(scale * dot - ws) <= tol;
      }
      if (!ok) {
        ++bad;
        record_failure(__FILE__, __LINE__,
                       what + ": row " + std::to_string(r) + " rank " + std::to_string(t) +
                           ": got index " + std::to_string(j) + " score " + show(score[at]) +
                           ", cpu index " + std::to_string(want_idx[at]) + " score " + show(ws));
      }
    }
  }
}

}  // namespace

TEST(cuda_similarity_topk_vs_cpu) {
  require_cuda();
  Rng rng(307);
  // (m, n, d, k): single segment, several segments, several column groups (k = 512 and 1024
  // make groups of 17 and 8 segments of 8192), k = 1, k = n.
  const int64_t cases[][4] = {{1, 1, 4, 1},       {3, 100, 16, 10},   {5, 9000, 32, 1000},
                              {2, 70000, 16, 1024}, {4, 20000, 8, 1},  {1, 300000, 8, 512},
                              {2, 1024, 8, 1024},  {70, 5000, 24, 37}};
  for (const auto& c : cases) {
    const int64_t m = c[0], n = c[1], d = c[2], k = c[3];
    const float scale = 1.5f;
    const auto a = random_floats(rng, m * d);
    const auto b = random_floats(rng, n * d);
    const auto bh = random_halves(rng, n * d);
    std::vector<float> bh_f32(bh.size());
    for (size_t i = 0; i < bh.size(); ++i) bh_f32[i] = binding::half_to_float(bh[i]);
    std::vector<int32_t> want_idx(static_cast<size_t>(m * k));
    std::vector<float> want_score(want_idx.size());
    Device<float> da(a), db(b), dscore(want_idx.size());
    Device<uint16_t> dbh(bh);
    Device<int32_t> didx(want_idx.size());
    const std::string shape = dims({m, n, d, k});
    cpu::similarity_topk_f32(a.data(), b.data(), m, n, d, scale, k, want_idx.data(),
                             want_score.data());
    for_each_engine([&](const char* engine) {
      cuda::similarity_topk_f32(da.get(), db.get(), m, n, d, scale, k, didx.get(), dscore.get());
      check_topk(a, b, m, n, d, scale, k, didx.host(), dscore.host(), want_idx, want_score,
                 std::string("topk_f32 ") + engine + " " + shape);
    });
    cpu::similarity_topk_f16(a.data(), bh.data(), m, n, d, scale, k, want_idx.data(),
                             want_score.data());
    cuda::similarity_topk_f16(da.get(), dbh.get(), m, n, d, scale, k, didx.get(), dscore.get());
    check_topk(a, bh_f32, m, n, d, scale, k, didx.host(), dscore.host(), want_idx, want_score,
               "topk_f16 " + shape);
  }
}

TEST(cuda_similarity_topk_exact_ties) {
  require_cuda();
  Rng rng(308);
  // Small integers: every dot product is exact in fp32 on any device and in any order, and rows of
  // b repeat, so many scores tie exactly: the indices must equal the CPU's (lower index first).
  const int64_t m = 3, n = 40000, d = 16, k = 700;
  std::vector<float> pool(static_cast<size_t>(9 * d));
  for (auto& x : pool) x = static_cast<float>(rng.range(-4, 4));
  std::vector<float> a(static_cast<size_t>(m * d));
  for (auto& x : a) x = static_cast<float>(rng.range(-4, 4));
  std::vector<float> b(static_cast<size_t>(n * d));
  std::vector<uint16_t> bh(b.size());
  for (int64_t j = 0; j < n; ++j) {
    const int64_t src = rng.range(0, 8);
    for (int64_t i = 0; i < d; ++i) {
      const float v = pool[static_cast<size_t>(src * d + i)];
      b[static_cast<size_t>(j * d + i)] = v;
      // Half bits of a small integer v (|v| <= 4): exponent and 10-bit mantissa.
      uint16_t h = 0;
      if (v != 0.0f) {
        int e = 0;
        const float f = std::frexp(std::fabs(v), &e);  // |v| = f * 2^e, f in [0.5, 1)
        h = static_cast<uint16_t>(((e - 1 + 15) << 10) |
                                  static_cast<uint16_t>((f * 2.0f - 1.0f) * 1024.0f));
        if (v < 0.0f) h |= 0x8000;
      }
      bh[static_cast<size_t>(j * d + i)] = h;
    }
  }
  std::vector<int32_t> want_idx(static_cast<size_t>(m * k));
  std::vector<float> want_score(want_idx.size());
  cpu::similarity_topk_f32(a.data(), b.data(), m, n, d, 0.5f, k, want_idx.data(),
                           want_score.data());
  Device<float> da(a), db(b), dscore(want_idx.size());
  Device<uint16_t> dbh(bh);
  Device<int32_t> didx(want_idx.size());
  for_each_engine([&](const char* engine) {
    cuda::similarity_topk_f32(da.get(), db.get(), m, n, d, 0.5f, k, didx.get(), dscore.get());
    const std::string what = std::string("exact ties f32 ") + engine;
    if (didx.host() != want_idx) record_failure(__FILE__, __LINE__, what + ": indices differ");
    if (dscore.host() != want_score) record_failure(__FILE__, __LINE__, what + ": scores differ");
  });
  cuda::similarity_topk_f16(da.get(), dbh.get(), m, n, d, 0.5f, k, didx.get(), dscore.get());
  if (didx.host() != want_idx) record_failure(__FILE__, __LINE__, "exact ties f16: indices differ");
  if (dscore.host() != want_score) {
    record_failure(__FILE__, __LINE__, "exact ties f16: scores differ");
  }
}

TEST(cuda_preprocess_bit_exact_vs_cpu) {
  require_cuda();
  Rng rng(309);
  struct Case {
    int64_t w, h;
    int ch;
    int shortest, crop;
    Resample resample;
    bool cmyk;
    AlphaMode alpha;
    CropRounding rounding;
  };
  const Case cases[] = {
      {1, 1, 3, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {7, 5, 3, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {300, 200, 3, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {201, 333, 3, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Floor},
      {640, 480, 4, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {640, 481, 4, 224, 224, Resample::Bicubic, false, AlphaMode::White, CropRounding::Round},
      {480, 640, 2, 224, 224, Resample::Bicubic, false, AlphaMode::Black, CropRounding::Round},
      {500, 500, 1, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {224, 224, 3, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {224, 300, 4, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {5000, 300, 3, 224, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {100, 1000, 3, 256, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {333, 250, 3, 200, 224, Resample::Bicubic, false, AlphaMode::Reference, CropRounding::Round},
      {333, 250, 4, 224, 224, Resample::Bicubic, true, AlphaMode::Reference, CropRounding::Round},
      {333, 251, 1, 224, 224, Resample::Nearest, false, AlphaMode::Reference, CropRounding::Round},
      {97, 61, 3, 224, 224, Resample::Nearest, false, AlphaMode::Reference, CropRounding::Round},
      {97, 61, 3, 150, 224, Resample::Nearest, false, AlphaMode::White, CropRounding::Round},
  };
  for (const Case& c : cases) {
    const int64_t stride = c.w * c.ch + 5;  // padded rows
    const auto pixels = random_bytes(rng, static_cast<size_t>(stride * c.h));
    const ImageU8 img{pixels.data(), c.w, c.h, c.ch, stride};
    PreprocessParams p{c.shortest, c.crop, {0.48145466f, 0.4578275f, 0.40821073f},
                       {0.26862954f, 0.26130258f, 0.27577711f}, c.alpha, c.rounding};
    p.resample = c.resample;
    p.cmyk = c.cmyk;
    std::vector<float> want(static_cast<size_t>(3 * c.crop * c.crop));
    cpu::preprocess(img, p, want.data(), nullptr);
    Device<float> out(want.size());
    cuda::preprocess(img, p, out.get());
    const auto got = out.host();
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += std::memcmp(&got[i], &want[i], 4) != 0;
    if (mismatches != 0) {
      record_failure(__FILE__, __LINE__,
                     "preprocess " + dims({c.w, c.h, c.ch}) + " -> " + std::to_string(c.shortest) +
                         "/" + std::to_string(c.crop) + ": " + std::to_string(mismatches) +
                         " values differ from the CPU kernel");
    }
  }
}
