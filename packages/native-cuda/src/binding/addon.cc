// Module entry: one AddonData per environment (worker threads each load their own).
#include <napi.h>

#include "binding/module.h"

namespace clipkit::binding {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  register_info(env, exports);
  register_tensor(env, exports);
  register_half(env, exports);
  register_linear(env, exports);
  register_layers(env, exports);
  register_attention(env, exports);
  register_similarity(env, exports);
  register_preprocess(env, exports);
  register_chain(env, exports);
  return exports;
}

}  // namespace clipkit::binding

// NODE_API_MODULE pastes the init function's name into an identifier: it must be unqualified.
static Napi::Object InitClipkit(Napi::Env env, Napi::Object exports) {
  return clipkit::binding::init(env, exports);
}

NODE_API_MODULE(clipkit_native, InitClipkit)
