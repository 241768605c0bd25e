// clipkit kernels: one signature per kernel, shared by the CPU (src/cpu) and CUDA (src/cuda)
// implementations. Kernels trust their arguments: every pointer, shape and index is validated
// once, in the binding (src/binding) or the C++ test harness, before a kernel is called.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clipkit {

enum class Activation : int { None = 0, QuickGelu = 1, GeluErf = 2 };
enum class AlphaMode : int { Reference = 0, White = 1, Black = 2 };
enum class CropRounding : int { Round = 0, Floor = 1 };
enum class Isa : int { Generic = 0, Avx2 = 1, Avx512 = 2 };
const char* isa_name(Isa isa);  // "generic" | "avx2" | "avx512" (nativeInfo, benches, tests)
// The GEMM a bf16 linear weight runs on: None = the fp32 kernels on the bf16-rounded values.
enum class Bf16Path : int { None = 0, Avx512Bf16 = 1, Amx = 2 };
const char* bf16_path_name(Bf16Path path);  // "none" | "avx512_bf16" | "amx"
// Pillow resizes palette ("P") and bilevel ("1") images with NEAREST whatever filter is asked for.
enum class Resample : int { Bicubic = 0, Nearest = 1 };

// A decoded image: uint8, interleaved HWC, rows `stride` bytes apart (stride >= width*channels).
struct ImageU8 {
  const uint8_t* data;
  int64_t width;
  int64_t height;
  int channels;  // 1 (L), 2 (LA), 3 (RGB), 4 (RGBA)
  int64_t stride;
};

struct PreprocessParams {
  int resize_shortest;  // shorter side after Pillow bicubic resize
  int crop_size;        // centre crop, square
  float mean[3];
  float std[3];
  AlphaMode alpha;
  CropRounding crop;
  Resample resample = Resample::Bicubic;
  // 4 channels hold CMYK (not RGBA): resized as-is, then converted like Pillow's naive cmyk2rgb.
  bool cmyk = false;
};

struct AttentionShape {
  int64_t batch;
  int64_t tokens;
  int64_t heads;
  int64_t head_dim;
  bool causal;
  float scale;  // usually 1/sqrt(head_dim)
};

namespace cpu {

Isa detected_isa();  // what kernels dispatch to: hardware_isa(), lowered by CLIPKIT_ISA / use_isa
Isa hardware_isa();  // the best ISA this CPU supports
void use_isa(Isa isa);  // dispatch to min(isa, hardware_isa()) from now on (tests, benchmarks)
int thread_count();
void set_thread_count(int n);  // n <= 0: one per hardware thread

// Zero-filled host memory for the buffers kernels stream through (weights, packs, activations):
// 64-byte aligned; blocks of 2 MiB and more are 2 MiB aligned and asked to be backed by
// transparent huge pages. On these VMs a TLB miss is a two-level page walk, and the GEMM runs
// about a fifth slower over 4 KiB pages. Throws std::bad_alloc. Free with the same byte count.
void* alloc_host_memory(size_t bytes);
void free_host_memory(void* p, size_t bytes);

// One image -> float32 CHW [3, crop, crop] at `out` (normalised). If crop_rgb is non-null the
// uint8 RGB crop [crop, crop, 3] before normalisation is written there too (for exactness tests).
void preprocess(const ImageU8& img, const PreprocessParams& p, float* out, uint8_t* crop_rgb);

// JPEG decoding for fast-mode preprocessing (shrink-on-load). jpeg_read_info reads the header:
// false when the data is not a JPEG whose frame header can be read. jpeg_dc_decode (jpeg_dc.cc)
// writes the image at 1/8 scale, ceil(width/8) x ceil(height/8) x channels bytes (gray or RGB),
// from the DC coefficients alone, for the files info.dc_decodable says; jpeg_decode_scaled
// (jpeg_scaled.cc) is libjpeg's decode at 1/denom (1, 2, 4, 8) of any JPEG it reads cleanly,
// resizing *out. Both return false, with the reason in *why, for files they do not decode
// (corrupt or truncated data, any libjpeg warning, CMYK, a build without libjpeg): the caller
// decodes those another way, so a broken file is judged by the full decoder.
struct JpegInfo {
  int64_t width = 0;       // full size, from the frame header
  int64_t height = 0;
  int channels = 0;        // components in the frame
  int orientation = 1;     // EXIF Orientation, 1..8 (1 when absent or unreadable)
  bool dc_decodable = false;
  std::string dc_why;      // why not, when not
};
bool jpeg_read_info(const uint8_t* data, size_t size, JpegInfo* info);
// out_size: the bytes at out; a header asking for more is refused before anything is written.
bool jpeg_dc_decode(const uint8_t* data, size_t size, uint8_t* out, size_t out_size,
                    std::string* why);
bool jpeg_scaled_available();  // false in builds without libjpeg
struct JpegScaled {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;  // 1 or 3
};
bool jpeg_decode_scaled(const uint8_t* data, size_t size, int denom, std::vector<uint8_t>* out,
                        JpegScaled* image, std::string* why);

// The stored pixels as displayed under EXIF Orientation 1..8 (5..8 swap width and height);
// `out` holds width*height*channels bytes, tightly packed.
void orient_image(const ImageU8& img, int orientation, uint8_t* out);

// out[m,n] = act(x[m,k] · w[n,k]^T + bias[n]) + residual[m,n]; bias/residual may be null.
// w is a PyTorch Linear weight (row-major [out_features, in_features]). out may alias residual.
void linear(const float* x, const float* w, const float* bias, const float* residual, float* out,
            int64_t m, int64_t n, int64_t k, Activation act);

// A linear weight [n,k] packed once into the GEMM's panel layout for one ISA (the panel width
// depends on it), so that linear_packed() never packs per call and runs the same summation
// order for every m: a row of out does not depend on how many rows are in the batch (linear()
// switches to an unpacked order for few rows). Holds n*k floats plus panel padding. Immutable.
struct PackedLinearWeight;
// Packs for min(isa, hardware_isa()).
std::shared_ptr<const PackedLinearWeight> pack_linear_weight(const float* w, int64_t n, int64_t k,
                                                            Isa isa);
// linear() with a packed weight; throws std::invalid_argument when n, k differ from the pack's.
void linear_packed(const float* x, const PackedLinearWeight& w, const float* bias,
                   const float* residual, float* out, int64_t m, int64_t n, int64_t k,
                   Activation act);

// bf16 linear weights (clipkit/bf16.h has the conversions). x is rounded to bf16 (nearest
// even), products are summed in fp32, and bias, activation and residual are applied in fp32.
// bf16_hardware(): the best path this CPU and OS offer (AMX needs amx-tile + amx-bf16 + the
// kernel's permission for tile data). bf16_path(): what bf16 weights run on now: the hardware
// path lowered by CLIPKIT_ISA (generic|avx2|avx512: none; avx512_bf16: no AMX), by use_isa()
// below avx512 and by use_bf16_path(); a fast path is taken only once its known-answer
// self-test (a small GEMM against an fp64 reference, run once per process) has passed.
// bf16_note(): why a faster path than bf16_path() is not taken ("" when none is missed).
Bf16Path bf16_hardware();
Bf16Path bf16_path();
std::string bf16_note();
void use_bf16_path(Bf16Path cap);  // cap at min(cap, what the CPU has) from now on (tests, benches)

// A bf16 weight [n,k] (bits) packed once for one path (the fp32 pack of its widened values for
// Bf16Path::None). Immutable; as large as the bf16 weight plus padding (4 bytes an element
// for None).
struct PackedBf16Weight;
// Packs for `path`, lowered to what bf16_path() allows now.
std::shared_ptr<const PackedBf16Weight> pack_linear_weight_bf16(const uint16_t* w, int64_t n,
                                                               int64_t k, Bf16Path path);
Bf16Path packed_path(const PackedBf16Weight& w);
// out[m,n] = act(bf16(x)[m,k] · w[n,k]^T + bias[n]) + residual[m,n], on the pack's path.
// out may alias residual; throws std::invalid_argument when n, k differ from the pack's.
void linear_bf16(const float* x, const PackedBf16Weight& w, const float* bias,
                 const float* residual, float* out, int64_t m, int64_t n, int64_t k,
                 Activation act);

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t rows,
                int64_t dim, float eps);  // out may alias x
void add(const float* a, const float* b, float* out, int64_t n);  // out may alias a or b
void activation(const float* x, float* out, int64_t n, Activation act);
void softmax(const float* x, float* out, int64_t rows, int64_t cols);  // row-wise, stable

// q, k, v, out: [batch, tokens, heads, head_dim] with row strides (in floats) between tokens,
// so a packed QKV projection [b, t, 3*h*d] is read in place (stride 3*h*d, offsets 0/hd/2hd).
void attention(const float* q, const float* k, const float* v, int64_t qkv_token_stride,
               float* out, int64_t out_token_stride, const AttentionShape& s);

// scores[m,n] = scale * a[m,d] · b[n,d]
void similarity_f32(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale);
void similarity_f16(const float* a, const uint16_t* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale);
// Per row of a: the k best (highest score) rows of b, sorted descending (ties: lower index
// first). idx/score are [m,k]. Never materialises m x n.
void similarity_topk_f32(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score);
void similarity_topk_f16(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score);

}  // namespace cpu

namespace cuda {

struct DeviceInfo {
  std::string name;
  int major;
  int minor;
  uint64_t memory_bytes;
};

bool compiled();  // false in CPU-only builds (stubs in src/cuda/stub.cc)
bool available(std::string* error);  // compiled && a device is usable
std::vector<DeviceInfo> devices();

// Device memory. All kernels below take device pointers (top-k's idx/score outputs too; only
// preprocess's image is host memory, copied in before it returns) and run on one stream,
// synchronously from the caller's point of view once `synchronize()` returns. Every CUDA or
// cuBLAS error is thrown as std::runtime_error carrying the CUDA error string. The GEMM-based
// kernels use cuBLAS when libcublas can be loaded at run time (CLIPKIT_CUBLAS=0: never;
// CLIPKIT_CUBLAS=require: throw if it cannot), else clipkit's own kernels.
void* malloc_device(size_t bytes);
void free_device(void* p);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void synchronize();

void preprocess(const ImageU8& host_img, const PreprocessParams& p, float* out_device);
void linear(const float* x, const float* w, const float* bias, const float* residual, float* out,
            int64_t m, int64_t n, int64_t k, Activation act);
// linear() with w[n,k] as bf16 bits in device memory: x rounded to bf16, cuBLAS bf16 GEMM with
// fp32 compute (CUBLAS_COMPUTE_32F), epilogue in fp32; clipkit's own kernels without cuBLAS.
void linear_bf16(const float* x, const uint16_t* w, const float* bias, const float* residual,
                 float* out, int64_t m, int64_t n, int64_t k, Activation act);
void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t rows,
                int64_t dim, float eps);
void add(const float* a, const float* b, float* out, int64_t n);
void activation(const float* x, float* out, int64_t n, Activation act);
void softmax(const float* x, float* out, int64_t rows, int64_t cols);
void attention(const float* q, const float* k, const float* v, int64_t qkv_token_stride,
               float* out, int64_t out_token_stride, const AttentionShape& s);
void similarity_f32(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale);
void similarity_f16(const float* a, const uint16_t* b, float* out, int64_t m, int64_t n, int64_t d,
                    float scale);
void similarity_topk_f32(const float* a, const float* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score);
void similarity_topk_f16(const float* a, const uint16_t* b, int64_t m, int64_t n, int64_t d,
                         float scale, int64_t k, int32_t* idx, float* score);

}  // namespace cuda
}  // namespace clipkit
