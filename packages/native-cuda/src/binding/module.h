// The addon's per-environment state and the registration function of each binding file.
#pragma once

#include <napi.h>

namespace clipkit::binding {

struct AddonData {
  Napi::FunctionReference tensor_class;
};

AddonData& addon_data(Napi::Env env);

// Each adds its functions to `exports`.
void register_info(Napi::Env env, Napi::Object exports);        // info.cc
void register_tensor(Napi::Env env, Napi::Object exports);      // tensor.cc
void register_half(Napi::Env env, Napi::Object exports);        // half.cc
void register_linear(Napi::Env env, Napi::Object exports);      // linear.cc
void register_layers(Napi::Env env, Napi::Object exports);      // layers.cc
void register_attention(Napi::Env env, Napi::Object exports);   // attention.cc
void register_similarity(Napi::Env env, Napi::Object exports);  // similarity.cc
void register_preprocess(Napi::Env env, Napi::Object exports);  // preprocess.cc
void register_chain(Napi::Env env, Napi::Object exports);       // chain.cc

}  // namespace clipkit::binding
