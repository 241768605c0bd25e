// CPU kernel cases at CLIP shapes: ViT-B/32 at batch 32 (32 × 50 tokens, width 768, 12 heads),
// the text transformer at batch 32 (32 × 77 tokens, width 512, 8 heads, causal), ViT-L/14's
// 257 tokens, and catalogue search over 10^5 / 10^6 embeddings of 512.
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "clipkit/bf16.h"

namespace clipkit::bench {
namespace {

std::shared_ptr<std::vector<float>> randoms(size_t n, uint64_t seed) {
  auto v = std::make_shared<std::vector<float>>(n);
  fill_random(v->data(), n, seed);
  return v;
}

// Operands live where clipkit keeps them: weights in addon tensors, activations and the
// library's search matrix in hostArray()s, all alloc_host_memory (huge pages when large).
template <typename T>
class HostArray {
 public:
  explicit HostArray(size_t n)
      : n_(n), data_(static_cast<T*>(cpu::alloc_host_memory(n * sizeof(T)))) {}
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
  ~HostArray() { cpu::free_host_memory(data_, n_ * sizeof(T)); }
  T* data() const { return data_; }
  size_t size() const { return n_; }

 private:
  size_t n_;
  T* data_;
};

std::shared_ptr<HostArray<float>> host_randoms(size_t n, uint64_t seed) {
  auto v = std::make_shared<HostArray<float>>(n);
  fill_random(v->data(), n, seed);
  return v;
}

struct LinearShape {
  const char* label;
  int64_t m, n, k;
  Activation act;
  bool residual;
};

// packed: the weight is packed once, as the native encoders' weight tensors are (linear_packed);
// otherwise linear() packs it on every call, as for a plain Float32Array weight. cold_weights > 1:
// that many packed weights are used in turn, so each call streams its weight from DRAM as an
// encoder at batch 1 does (one layer's weights are long out of cache when the next image comes).
void add_linear(std::vector<Case>& cases, const LinearShape& s, bool packed = false,
                int cold_weights = 1) {
  Case c;
  c.kernel = packed ? "linear_packed" : "linear";
  c.device = "cpu";
  c.shape = std::string(s.label) + " " + dims(s.m, s.n, s.k) +
            (cold_weights > 1 ? " cold" : "");
  c.bound = Bound::Compute;
  c.work = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  c.prepare = [s, packed, cold_weights] {
    auto x = host_randoms(static_cast<size_t>(s.m * s.k), 1);
    auto w = host_randoms(static_cast<size_t>(s.n * s.k), 2);
    auto bias = host_randoms(static_cast<size_t>(s.n), 3);
    auto res = host_randoms(static_cast<size_t>(s.m * s.n), 4);
    auto out = host_randoms(static_cast<size_t>(s.m * s.n), 5);
    if (packed) {
      auto pws = std::make_shared<std::vector<std::shared_ptr<const cpu::PackedLinearWeight>>>();
      for (int i = 0; i < cold_weights; ++i) {
        pws->push_back(cpu::pack_linear_weight(w->data(), s.n, s.k, cpu::detected_isa()));
      }
      auto turn = std::make_shared<size_t>(0);
      return Runner([=] {
        const cpu::PackedLinearWeight& pw = *(*pws)[(*turn)++ % pws->size()];
        cpu::linear_packed(x->data(), pw, bias->data(), s.residual ? res->data() : nullptr,
                           out->data(), s.m, s.n, s.k, s.act);
      });
    }
    return Runner([=] {
      cpu::linear(x->data(), w->data(), bias->data(), s.residual ? res->data() : nullptr,
                  out->data(), s.m, s.n, s.k, s.act);
    });
  };
  cases.push_back(std::move(c));
}

// A bf16 weight packed once for the bf16 path this CPU runs (as the encoders' bf16 weights are),
// rated against that path's peak.
void add_linear_bf16(std::vector<Case>& cases, const LinearShape& s, int cold_weights = 1) {
  Case c;
  c.kernel = "linear_bf16";
  c.device = "cpu";
  c.shape = std::string(s.label) + " " + dims(s.m, s.n, s.k) + (cold_weights > 1 ? " cold" : "");
  c.bound = Bound::Bf16;
  c.work = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  c.prepare = [s, cold_weights] {
    auto x = host_randoms(static_cast<size_t>(s.m * s.k), 1);
    auto w = host_randoms(static_cast<size_t>(s.n * s.k), 2);
    auto bias = host_randoms(static_cast<size_t>(s.n), 3);
    auto res = host_randoms(static_cast<size_t>(s.m * s.n), 4);
    auto out = host_randoms(static_cast<size_t>(s.m * s.n), 5);
    std::vector<uint16_t> wb(static_cast<size_t>(s.n * s.k));
    floats_to_bf16(w->data(), wb.data(), wb.size());
    auto pws = std::make_shared<std::vector<std::shared_ptr<const cpu::PackedBf16Weight>>>();
    for (int i = 0; i < cold_weights; ++i) {
      pws->push_back(cpu::pack_linear_weight_bf16(wb.data(), s.n, s.k, cpu::bf16_path()));
    }
    auto turn = std::make_shared<size_t>(0);
    return Runner([=] {
      const cpu::PackedBf16Weight& pw = *(*pws)[(*turn)++ % pws->size()];
      cpu::linear_bf16(x->data(), pw, bias->data(), s.residual ? res->data() : nullptr,
                       out->data(), s.m, s.n, s.k, s.act);
    });
  };
  cases.push_back(std::move(c));
}

void add_attention(std::vector<Case>& cases, const char* label, const AttentionShape& s) {
  Case c;
  c.kernel = "attention";
  c.device = "cpu";
  c.shape = attention_shape(label, s);
  c.bound = Bound::Compute;
  c.work = attention_flops(s);
  c.prepare = [s] {
    const int64_t hd = s.heads * s.head_dim;
    auto qkv = host_randoms(static_cast<size_t>(s.batch * s.tokens * 3 * hd), 6);
    auto out = host_randoms(static_cast<size_t>(s.batch * s.tokens * hd), 7);
    return Runner([=] {
      cpu::attention(qkv->data(), qkv->data() + hd, qkv->data() + 2 * hd, 3 * hd, out->data(),
                     hd, s);
    });
  };
  cases.push_back(std::move(c));
}

void add_rowwise(std::vector<Case>& cases, const char* kernel, const std::string& shape,
                 int64_t rows, int64_t cols) {
  Case c;
  c.kernel = kernel;
  c.device = "cpu";
  c.shape = shape + " " + dims(rows, cols);
  c.bound = Bound::ReadWrite;
  c.work = 2.0 * 4.0 * static_cast<double>(rows * cols);
  const std::string k = kernel;
  c.prepare = [k, rows, cols] {
    auto x = host_randoms(static_cast<size_t>(rows * cols), 8);
    auto out = host_randoms(static_cast<size_t>(rows * cols), 9);
    auto gamma = host_randoms(static_cast<size_t>(cols), 10);
    auto beta = host_randoms(static_cast<size_t>(cols), 11);
    if (k == "layer_norm") {
      return Runner([=] {
        cpu::layer_norm(x->data(), gamma->data(), beta->data(), out->data(), rows, cols, 1e-5f);
      });
    }
    if (k == "softmax") return Runner([=] { cpu::softmax(x->data(), out->data(), rows, cols); });
    if (k == "add") {
      return Runner([=] { cpu::add(x->data(), out->data(), out->data(), rows * cols); });
    }
    return Runner([=] {
      cpu::activation(x->data(), out->data(), rows * cols, Activation::QuickGelu);
    });
  };
  cases.push_back(std::move(c));
}

// fma_only: the same many-query top-k with the AMX first pass off (the fused fp32 kernel over
// every row), for the two side by side in one run. The rate is of fp32 multiply-adds either way.
void add_topk(std::vector<Case>& cases, int64_t queries, int64_t n, int64_t d, int64_t k,
              bool half, bool fma_only = false) {
  Case c;
  c.kernel = half ? "similarity_topk_f16" : "similarity_topk_f32";
  c.device = "cpu";
  c.shape = std::to_string(queries) + "q x " + dims(n, d) + " top" + std::to_string(k) +
            (fma_only ? " no AMX pass" : "");
  const double bytes = static_cast<double>(n * d) * (half ? 2.0 : 4.0);
  const double flops = 2.0 * static_cast<double>(queries * n * d);
  // One query reads the catalogue once: memory-bound. Many reuse it: compute-bound.
  c.bound = queries == 1 ? Bound::Read : Bound::Compute;
  c.work = queries == 1 ? bytes : flops;
  c.prepare = [queries, n, d, k, half, fma_only] {
    // Caps the bf16 path below AMX for this call only.
    struct Cap {
      bool on;
      explicit Cap(bool on) : on(on) { if (on) cpu::use_bf16_path(Bf16Path::Avx512Bf16); }
      ~Cap() { if (on) cpu::use_bf16_path(Bf16Path::Amx); }
    };
    auto a = randoms(static_cast<size_t>(queries * d), 12);
    auto idx = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(queries * k));
    auto score = std::make_shared<std::vector<float>>(static_cast<size_t>(queries * k));
    if (half) {
      auto b = std::make_shared<HostArray<uint16_t>>(static_cast<size_t>(n * d));
      fill_random_half(b->data(), b->size(), 13);
      return Runner([=] {
        const Cap cap(fma_only);
        cpu::similarity_topk_f16(a->data(), b->data(), queries, n, d, 1.0f, k, idx->data(),
                                 score->data());
      });
    }
    auto b = host_randoms(static_cast<size_t>(n * d), 13);
    return Runner([=] {
      const Cap cap(fma_only);
      cpu::similarity_topk_f32(a->data(), b->data(), queries, n, d, 1.0f, k, idx->data(),
                               score->data());
    });
  };
  cases.push_back(std::move(c));
}

void add_similarity_full(std::vector<Case>& cases, int64_t m, int64_t n, int64_t d) {
  Case c;
  c.kernel = "similarity_f32";
  c.device = "cpu";
  c.shape = "zero-shot " + dims(m, n, d);
  c.bound = Bound::Compute;
  c.work = 2.0 * static_cast<double>(m * n * d);
  c.prepare = [m, n, d] {
    auto a = randoms(static_cast<size_t>(m * d), 14);
    auto b = randoms(static_cast<size_t>(n * d), 15);
    auto out = randoms(static_cast<size_t>(m * n), 16);
    return Runner([=] { cpu::similarity_f32(a->data(), b->data(), out->data(), m, n, d, 100.0f); });
  };
  cases.push_back(std::move(c));
}

void cpu_cases(const Options& o, std::vector<Case>& cases) {
  if (o.tiny) {
    add_linear(cases, {"tiny", 64, 96, 80, Activation::QuickGelu, true});
    add_linear_bf16(cases, {"tiny", 64, 96, 80, Activation::QuickGelu, true});
    add_attention(cases, "tiny", {2, 10, 2, 16, false, 0.25f});
    add_rowwise(cases, "layer_norm", "tiny", 16, 64);
    add_rowwise(cases, "softmax", "tiny", 16, 64);
    add_topk(cases, 1, 5000, 64, 10, false);
    add_topk(cases, 8, 5000, 64, 10, true);
    return;
  }
  // ViT-B/32, batch 32: m = 1600.
  add_linear(cases, {"ViT-B/32 qkv", 1600, 2304, 768, Activation::None, false});
  add_linear(cases, {"ViT-B/32 attn-out", 1600, 768, 768, Activation::None, true});
  add_linear(cases, {"ViT-B/32 fc1", 1600, 3072, 768, Activation::QuickGelu, false});
  add_linear(cases, {"ViT-B/32 fc2", 1600, 768, 3072, Activation::None, true});
  add_linear(cases, {"ViT-B/32 b1 fc1", 50, 3072, 768, Activation::QuickGelu, false});
  add_linear(cases, {"ViT-B/32 qkv", 1600, 2304, 768, Activation::None, false}, true);
  add_linear(cases, {"ViT-B/32 fc1", 1600, 3072, 768, Activation::QuickGelu, false}, true);
  add_linear(cases, {"ViT-B/32 fc2", 1600, 768, 3072, Activation::None, true}, true);
  add_linear(cases, {"ViT-B/32 b1 fc1", 50, 3072, 768, Activation::QuickGelu, false}, true);
  add_linear(cases, {"ViT-B/32 b1 fc1", 50, 3072, 768, Activation::QuickGelu, false}, true, 24);
  // Text transformer, batch 32: m = 2464.
  add_linear(cases, {"text qkv", 2464, 1536, 512, Activation::None, false});
  add_linear(cases, {"text fc1", 2464, 2048, 512, Activation::QuickGelu, false});
  add_linear(cases, {"text fc2", 2464, 512, 2048, Activation::None, true});
  add_linear(cases, {"text qkv", 2464, 1536, 512, Activation::None, false}, true);
  add_linear(cases, {"text fc1", 2464, 2048, 512, Activation::QuickGelu, false}, true);
  add_linear(cases, {"text fc2", 2464, 512, 2048, Activation::None, true}, true);
  // The same products with bf16 weights, for bf16 vs fp32 (linear_packed) in one run.
  add_linear_bf16(cases, {"ViT-B/32 qkv", 1600, 2304, 768, Activation::None, false});
  add_linear_bf16(cases, {"ViT-B/32 attn-out", 1600, 768, 768, Activation::None, true});
  add_linear_bf16(cases, {"ViT-B/32 fc1", 1600, 3072, 768, Activation::QuickGelu, false});
  add_linear_bf16(cases, {"ViT-B/32 fc2", 1600, 768, 3072, Activation::None, true});
  add_linear_bf16(cases, {"ViT-B/32 b1 fc1", 50, 3072, 768, Activation::QuickGelu, false});
  add_linear_bf16(cases, {"ViT-B/32 b1 fc1", 50, 3072, 768, Activation::QuickGelu, false}, 24);
  add_linear_bf16(cases, {"text qkv", 2464, 1536, 512, Activation::None, false});
  add_linear_bf16(cases, {"text fc1", 2464, 2048, 512, Activation::QuickGelu, false});
  add_linear_bf16(cases, {"text fc2", 2464, 512, 2048, Activation::None, true});

  add_attention(cases, "ViT-B/32", {32, 50, 12, 64, false, 0.125f});
  add_attention(cases, "text", {32, 77, 8, 64, true, 0.125f});
  add_attention(cases, "ViT-L/14", {8, 257, 16, 64, false, 0.125f});

  add_rowwise(cases, "layer_norm", "ViT-B/32", 1600, 768);
  add_rowwise(cases, "softmax", "ViT-B/32 scores", 32 * 12 * 50, 50);
  add_rowwise(cases, "add", "ViT-B/32 residual", 1600, 768);
  add_rowwise(cases, "activation", "ViT-B/32 quick_gelu", 1600, 3072);

  add_similarity_full(cases, 32, 1000, 512);
  for (const int64_t n : {int64_t{100'000}, int64_t{1'000'000}}) {
    for (const int64_t q : {int64_t{1}, int64_t{64}}) {
      // 64 queries over 10^6 take seconds per call: full runs only.
      if (o.quick && q > 1 && n > 100'000) continue;
      add_topk(cases, q, n, 512, 10, false);
      add_topk(cases, q, n, 512, 10, true);
      if (q > 1 && cpu::bf16_path() == Bf16Path::Amx) {
        add_topk(cases, q, n, 512, 10, false, true);
        add_topk(cases, q, n, 512, 10, true, true);
      }
    }
  }
}

}  // namespace

CLIPKIT_BENCH_PROVIDER(cpu, cpu_cases);

}  // namespace clipkit::bench
