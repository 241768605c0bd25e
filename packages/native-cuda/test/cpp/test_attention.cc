// attention() vs a double-precision softmax(QKᵀ·scale)·V reference, packed QKV in place.
#include <cmath>
#include <string>
#include <vector>

#include "clipkit/kernels.h"
#include "each_isa.h"
#include "harness.h"

using namespace clipkit;
using namespace clipkit::test;

namespace {

// qkv: [b, t, 3*h*d] (q, k, v at offsets 0, hd, 2hd); reference out: [b, t, h*d].
std::vector<double> attention_ref(const std::vector<float>& qkv, const AttentionShape& s) {
  const int64_t hd = s.heads * s.head_dim;
  const int64_t stride = 3 * hd;
  std::vector<double> out(static_cast<size_t>(s.batch * s.tokens * hd));
  std::vector<double> p(static_cast<size_t>(s.tokens));
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      for (int64_t i = 0; i < s.tokens; ++i) {
        const float* q = &qkv[(b * s.tokens + i) * stride + h * s.head_dim];
        const int64_t keys = s.causal ? i + 1 : s.tokens;
        double mx = -INFINITY;
        for (int64_t j = 0; j < keys; ++j) {
          const float* k = &qkv[(b * s.tokens + j) * stride + hd + h * s.head_dim];
          double dot = 0.0;
          for (int64_t c = 0; c < s.head_dim; ++c) dot += static_cast<double>(q[c]) * k[c];
          p[j] = dot * s.scale;
          mx = std::max(mx, p[j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j < keys; ++j) sum += (p[j] = std::exp(p[j] - mx));
        for (int64_t c = 0; c < s.head_dim; ++c) {
          double acc = 0.0;
          for (int64_t j = 0; j < keys; ++j) {
            acc += p[j] * qkv[(b * s.tokens + j) * stride + 2 * hd + h * s.head_dim + c];
          }
          out[(b * s.tokens + i) * hd + h * s.head_dim + c] = acc / sum;
        }
      }
    }
  }
  return out;
}

void check(Rng& rng, int64_t batch, int64_t tokens, int64_t heads, int64_t dim, bool causal) {
  const AttentionShape s{batch, tokens, heads, dim, causal,
                         1.0f / std::sqrt(static_cast<float>(dim))};
  const int64_t hd = heads * dim;
  // Larger than unit scale so the softmax is peaked, as in trained models.
  const auto qkv = random_normals(rng, batch * tokens * 3 * hd, 1.5f);
  const auto ref = attention_ref(qkv, s);
  for_each_isa([&](Isa isa) {
    std::vector<float> out(ref.size(), NAN);
    cpu::attention(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, 3 * hd, out.data(), hd, s);
    CHECK_REL_MSG(out, ref, 2e-6,
                  std::string("attention ") + isa_name(isa) + " b=" + std::to_string(batch) +
                      " t=" + std::to_string(tokens) + " h=" + std::to_string(heads) +
                      " d=" + std::to_string(dim) + (causal ? " causal" : ""));
  });
}

}  // namespace

TEST(attention_small_and_odd_shapes) {
  Rng rng(41);
  check(rng, 1, 1, 1, 1, false);
  check(rng, 1, 1, 1, 1, true);
  check(rng, 2, 3, 2, 5, false);
  check(rng, 1, 7, 3, 17, true);
  check(rng, 3, 65, 2, 8, false);  // crosses a key block
  check(rng, 1, 130, 1, 33, true);
  // Causal query blocks score only the key vectors they can see: 1, 2, 3 or all 4 of a block.
  for (const int64_t t : {16, 17, 33, 49, 64, 100}) check(rng, 1, t, 2, 16, true);
}

TEST(attention_clip_shapes) {
  Rng rng(42);
  check(rng, 2, 50, 12, 64, false);   // ViT-B/32
  check(rng, 2, 77, 8, 64, true);     // text transformer
  check(rng, 1, 257, 4, 64, false);   // ViT-L/14 token count (fewer heads keeps it quick)
}

TEST(attention_separate_tensors_and_output_stride) {
  Rng rng(43);
  const AttentionShape s{2, 9, 3, 4, false, 0.5f};
  const int64_t hd = 12;
  const auto q = random_floats(rng, 2 * 9 * hd);
  const auto k = random_floats(rng, 2 * 9 * hd);
  const auto v = random_floats(rng, 2 * 9 * hd);
  // Reference through the packed layout.
  std::vector<float> packed(2 * 9 * 3 * hd);
  for (int64_t r = 0; r < 2 * 9; ++r) {
    for (int64_t c = 0; c < hd; ++c) {
      packed[r * 3 * hd + c] = q[r * hd + c];
      packed[r * 3 * hd + hd + c] = k[r * hd + c];
      packed[r * 3 * hd + 2 * hd + c] = v[r * hd + c];
    }
  }
  const auto ref = attention_ref(packed, s);
  for_each_isa([&](Isa) {
    // Output rows padded to 20 floats: the padding must stay untouched.
    std::vector<float> out(2 * 9 * 20, -7.0f);
    cpu::attention(q.data(), k.data(), v.data(), hd, out.data(), 20, s);
    std::vector<float> dense(ref.size());
    for (int64_t r = 0; r < 2 * 9; ++r) {
      for (int64_t c = 0; c < 20; ++c) {
        if (c < hd) {
          dense[r * hd + c] = out[r * 20 + c];
        } else {
          CHECK_EQ(out[r * 20 + c], -7.0f);
        }
      }
    }
    CHECK_REL(dense, ref, 2e-6);
  });
}

TEST(attention_causal_ignores_future_tokens) {
  Rng rng(44);
  const AttentionShape s{1, 6, 1, 8, true, 0.3f};
  auto qkv = random_floats(rng, 6 * 24);
  for_each_isa([&](Isa) {
    std::vector<float> before(6 * 8), after(6 * 8);
    cpu::attention(qkv.data(), qkv.data() + 8, qkv.data() + 16, 24, before.data(), 8, s);
    auto poisoned = qkv;
    for (int64_t c = 8; c < 24; ++c) poisoned[5 * 24 + c] = NAN;  // last token's k and v
    cpu::attention(poisoned.data(), poisoned.data() + 8, poisoned.data() + 16, 24, after.data(),
                   8, s);
    for (int64_t i = 0; i < 5 * 8; ++i) CHECK_EQ(after[i], before[i]);
    for (int64_t i = 5 * 8; i < 6 * 8; ++i) CHECK(std::isnan(after[i]));
  });
}
