// CUDA kernel cases (device "cuda"), added only when cuda::available(): the same CLIP shapes as
// cpu_kernels.cc. Inputs are filled on the host and copied to device memory once per case; each
// timed call ends with cuda::synchronize(). GEMM-based kernels are timed per engine: "tiled"
// (clipkit's kernels, CLIPKIT_CUBLAS=0) and "cublas" (when libcublas can be loaded).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.h"

namespace clipkit::bench {
namespace {

// Device memory freed when the last runner holding it goes away.
template <typename T>
std::shared_ptr<T> device_copy(const std::vector<T>& host) {
  T* p = static_cast<T*>(cuda::malloc_device(host.size() * sizeof(T)));
  std::shared_ptr<T> owned(p, [](T* q) {
    try {
      cuda::free_device(q);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "clipkit_bench: %s\n", e.what());
    }
  });
  cuda::copy_to_device(p, host.data(), host.size() * sizeof(T));
  return owned;
}

std::shared_ptr<float> device_randoms(size_t n, uint64_t seed) {
  std::vector<float> host(n);
  fill_random(host.data(), n, seed);
  return device_copy(host);
}

// Engine for the GEMM inside a kernel: "tiled", "cublas" or "auto" (what an application gets).
void use_engine(const std::string& engine) {
  if (engine == "tiled") {
    setenv("CLIPKIT_CUBLAS", "0", 1);
  } else if (engine == "cublas") {
    setenv("CLIPKIT_CUBLAS", "require", 1);
  } else {
    unsetenv("CLIPKIT_CUBLAS");
  }
}

// Whether cuBLAS loads here: one tiny product with CLIPKIT_CUBLAS=require.
bool cublas_loads() {
  const std::vector<float> one(1, 1.0f);
  auto x = device_copy(one);
  auto out = device_copy(one);
  use_engine("cublas");
  bool ok = true;
  try {
    cuda::linear(x.get(), x.get(), nullptr, nullptr, out.get(), 1, 1, 1, Activation::None);
    cuda::synchronize();
  } catch (const std::runtime_error& e) {
    std::printf("  cuda: no cuBLAS rows (%s)\n", e.what());
    ok = false;
  }
  use_engine("auto");
  return ok;
}

Case make_case(const std::string& kernel, const std::string& shape, Bound bound, double work) {
  Case c;
  c.kernel = kernel;
  c.device = "cuda";
  c.shape = shape;
  c.bound = bound;
  c.work = work;
  return c;
}

void add_linear(std::vector<Case>& cases, const char* label, int64_t m, int64_t n, int64_t k,
                Activation act, bool residual, const std::string& engine) {
  Case c = make_case("linear", std::string(label) + " " + dims(m, n, k) + " " + engine,
                     Bound::Compute, 2.0 * static_cast<double>(m * n) * static_cast<double>(k));
  c.prepare = [=] {
    auto x = device_randoms(static_cast<size_t>(m * k), 1);
    auto w = device_randoms(static_cast<size_t>(n * k), 2);
    auto bias = device_randoms(static_cast<size_t>(n), 3);
    auto out = device_randoms(static_cast<size_t>(m * n), 4);
    return Runner([=] {
      use_engine(engine);
      cuda::linear(x.get(), w.get(), bias.get(), residual ? out.get() : nullptr, out.get(), m, n,
                   k, act);
      cuda::synchronize();
    });
  };
  cases.push_back(std::move(c));
}

void add_attention(std::vector<Case>& cases, const char* label, const AttentionShape& s) {
  Case c = make_case("attention", attention_shape(label, s), Bound::Compute, attention_flops(s));
  c.prepare = [s] {
    const int64_t hd = s.heads * s.head_dim;
    auto qkv = device_randoms(static_cast<size_t>(s.batch * s.tokens * 3 * hd), 6);
    auto out = device_randoms(static_cast<size_t>(s.batch * s.tokens * hd), 7);
    return Runner([=] {
      cuda::attention(qkv.get(), qkv.get() + hd, qkv.get() + 2 * hd, 3 * hd, out.get(), hd, s);
      cuda::synchronize();
    });
  };
  cases.push_back(std::move(c));
}

void add_rowwise(std::vector<Case>& cases, const std::string& kernel, const std::string& label,
                 int64_t rows, int64_t cols) {
  Case c = make_case(kernel, label + " " + dims(rows, cols), Bound::ReadWrite,
                     2.0 * 4.0 * static_cast<double>(rows * cols));
  c.prepare = [=] {
    auto x = device_randoms(static_cast<size_t>(rows * cols), 8);
    auto out = device_randoms(static_cast<size_t>(rows * cols), 9);
    auto gamma = device_randoms(static_cast<size_t>(cols), 10);
    auto beta = device_randoms(static_cast<size_t>(cols), 11);
    return Runner([=] {
      if (kernel == "layer_norm") {
        cuda::layer_norm(x.get(), gamma.get(), beta.get(), out.get(), rows, cols, 1e-5f);
      } else if (kernel == "softmax") {
        cuda::softmax(x.get(), out.get(), rows, cols);
      } else if (kernel == "add") {
        cuda::add(x.get(), out.get(), out.get(), rows * cols);
      } else {
        cuda::activation(x.get(), out.get(), rows * cols, Activation::QuickGelu);
      }
      cuda::synchronize();
    });
  };
  cases.push_back(std::move(c));
}

void add_similarity_full(std::vector<Case>& cases, int64_t m, int64_t n, int64_t d,
                         const std::string& engine) {
  Case c = make_case("similarity_f32", "zero-shot " + dims(m, n, d) + " " + engine,
                     Bound::Compute, 2.0 * static_cast<double>(m * n * d));
  c.prepare = [=] {
    auto a = device_randoms(static_cast<size_t>(m * d), 14);
    auto b = device_randoms(static_cast<size_t>(n * d), 15);
    auto out = device_randoms(static_cast<size_t>(m * n), 16);
    return Runner([=] {
      use_engine(engine);
      cuda::similarity_f32(a.get(), b.get(), out.get(), m, n, d, 100.0f);
      cuda::synchronize();
    });
  };
  cases.push_back(std::move(c));
}

void add_topk(std::vector<Case>& cases, int64_t queries, int64_t n, int64_t d, int64_t k,
              bool half, const std::string& engine) {
  const double bytes = static_cast<double>(n * d) * (half ? 2.0 : 4.0);
  const double flops = 2.0 * static_cast<double>(queries * n * d);
  Case c = make_case(half ? "similarity_topk_f16" : "similarity_topk_f32",
                     std::to_string(queries) + "q x " + dims(n, d) + " top" + std::to_string(k) +
                         (half ? "" : " " + engine),
                     queries == 1 ? Bound::Read : Bound::Compute, queries == 1 ? bytes : flops);
  c.prepare = [=] {
    auto a = device_randoms(static_cast<size_t>(queries * d), 12);
    auto idx = device_copy(std::vector<int32_t>(static_cast<size_t>(queries * k)));
    auto score = device_randoms(static_cast<size_t>(queries * k), 17);
    if (half) {
      std::vector<uint16_t> host(static_cast<size_t>(n * d));
      fill_random_half(host.data(), host.size(), 13);
      auto b = device_copy(host);
      return Runner([=] {
        cuda::similarity_topk_f16(a.get(), b.get(), queries, n, d, 1.0f, k, idx.get(),
                                  score.get());
        cuda::synchronize();
      });
    }
    auto b = device_randoms(static_cast<size_t>(n * d), 13);
    return Runner([=] {
      use_engine(engine);
      cuda::similarity_topk_f32(a.get(), b.get(), queries, n, d, 1.0f, k, idx.get(), score.get());
      cuda::synchronize();
    });
  };
  cases.push_back(std::move(c));
}

// One 12-megapixel RGB photo-sized image -> 224 crop: upload + resample + normalise.
void add_preprocess(std::vector<Case>& cases, int64_t width, int64_t height) {
  Case c = make_case("preprocess", dims(width, height) + " RGB -> 224", Bound::ReadWrite,
                     3.0 * static_cast<double>(width * height));
  c.prepare = [=] {
    auto pixels = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(width * height * 3));
    for (size_t i = 0; i < pixels->size(); ++i) {
      (*pixels)[i] = static_cast<uint8_t>(i * 2654435761u >> 24);  // arbitrary, fixed
    }
    auto out = device_randoms(3 * 224 * 224, 18);
    const ImageU8 img{pixels->data(), width, height, 3, width * 3};
    const PreprocessParams p{224, 224, {0.48145466f, 0.4578275f, 0.40821073f},
                             {0.26862954f, 0.26130258f, 0.27577711f}, AlphaMode::Reference,
                             CropRounding::Round};
    return Runner([pixels, img, p, out] {  // pixels: img points into it
      cuda::preprocess(img, p, out.get());
      cuda::synchronize();
    });
  };
  cases.push_back(std::move(c));
}

void cuda_cases(const Options& o, std::vector<Case>& cases) {
  std::string why;
  if (!cuda::available(&why)) {
    std::printf("  cuda: no CUDA rows (%s)\n", why.c_str());
    return;
  }
  std::vector<std::string> engines{"tiled"};
  if (cublas_loads()) engines.push_back("cublas");
  if (o.tiny) {
    for (const auto& e : engines) {
      add_linear(cases, "tiny", 64, 96, 80, Activation::QuickGelu, true, e);
    }
    add_attention(cases, "tiny", {2, 10, 2, 16, false, 0.25f});
    add_rowwise(cases, "layer_norm", "tiny", 16, 64);
    add_topk(cases, 1, 5000, 64, 10, false, "auto");
    add_topk(cases, 8, 5000, 64, 10, true, "auto");
    if (o.preprocess) add_preprocess(cases, 640, 480);
    return;
  }
  for (const auto& e : engines) {
    add_linear(cases, "ViT-B/32 qkv", 1600, 2304, 768, Activation::None, false, e);
    add_linear(cases, "ViT-B/32 attn-out", 1600, 768, 768, Activation::None, true, e);
    add_linear(cases, "ViT-B/32 fc1", 1600, 3072, 768, Activation::QuickGelu, false, e);
    add_linear(cases, "ViT-B/32 fc2", 1600, 768, 3072, Activation::None, true, e);
    add_linear(cases, "ViT-B/32 b1 fc1", 50, 3072, 768, Activation::QuickGelu, false, e);
    add_linear(cases, "text fc1", 2464, 2048, 512, Activation::QuickGelu, false, e);
    add_similarity_full(cases, 32, 1000, 512, e);
  }
  add_attention(cases, "ViT-B/32", {32, 50, 12, 64, false, 0.125f});
  add_attention(cases, "text", {32, 77, 8, 64, true, 0.125f});
  add_attention(cases, "ViT-L/14", {8, 257, 16, 64, false, 0.125f});
  add_rowwise(cases, "layer_norm", "ViT-B/32", 1600, 768);
  add_rowwise(cases, "softmax", "ViT-B/32 scores", 32 * 12 * 50, 50);
  add_rowwise(cases, "add", "ViT-B/32 residual", 1600, 768);
  add_rowwise(cases, "activation", "ViT-B/32 quick_gelu", 1600, 3072);
  for (const int64_t n : {int64_t{100'000}, int64_t{1'000'000}}) {
    for (const int64_t q : {int64_t{1}, int64_t{64}}) {
      if (o.quick && q == 64 && n == 1'000'000) continue;  // as the CPU rows
      add_topk(cases, q, n, 512, 10, true, "auto");
      for (const auto& e : engines) add_topk(cases, q, n, 512, 10, false, e);
    }
  }
  if (o.preprocess) add_preprocess(cases, 4000, 3000);
}

}  // namespace

CLIPKIT_BENCH_PROVIDER(cuda, cuda_cases);

}  // namespace clipkit::bench
