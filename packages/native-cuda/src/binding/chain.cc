// chainAsync: several kernel calls run in order as one job on a libuv worker. Each async call
// costs two cross-thread wake-ups (~80 µs on these VMs); an encoder layer is six or seven
// kernels, so at batch 1 the hops alone were a tenth of a forward pass. Every call is
// validated, and every typed array re-checked, before the first one runs.
#include <string>
#include <utility>
#include <vector>

#include "binding/args.h"
#include "binding/kernel_calls.h"
#include "binding/module.h"

namespace clipkit::binding {
namespace {

constexpr uint32_t kMaxCalls = 4096;

struct Chainable {
  const char* name;
  Prepare prepare;
};

constexpr Chainable kChainable[] = {
    {"linear", prepare_linear},        {"attention", prepare_attention},
    {"layerNorm", prepare_layer_norm}, {"add", prepare_add},
    {"activation", prepare_activation}, {"softmax", prepare_softmax},
};

std::string chainable_names() {
  std::string s;
  for (const Chainable& c : kChainable) s += (s.empty() ? "'" : ", '") + std::string(c.name) + "'";
  return s;
}

Napi::Value chain_async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args args(info, "chainAsync");
  if (!info[0].IsArray()) args.type_error("calls must be an array of [kernel, ...arguments] arrays");
  const Napi::Array calls = info[0].As<Napi::Array>();
  const uint32_t count = calls.Length();
  if (count == 0 || count > kMaxCalls) {
    args.range_error("calls must hold 1 to " + std::to_string(kMaxCalls) + " calls, got " +
                     std::to_string(count));
  }
  std::vector<TakenArray> ledger;
  std::vector<std::function<void()>> runs;
  Job chain;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string at = "calls[" + std::to_string(i) + "]";
    const Napi::Value call = calls.Get(i);
    if (!call.IsArray() || call.As<Napi::Array>().Length() == 0) {
      args.type_error(at + " must be a [kernel, ...arguments] array");
    }
    const Napi::Array parts = call.As<Napi::Array>();
    const Napi::Value kernel = parts.Get(0u);
    const Chainable* found = nullptr;
    if (kernel.IsString()) {
      const std::string name = kernel.As<Napi::String>().Utf8Value();
      for (const Chainable& c : kChainable) found = name == c.name ? &c : found;
    }
    if (found == nullptr) args.range_error(at + "[0] must be one of " + chainable_names());
    const uint32_t length = parts.Length();  // read once: a getter could keep appending
    std::vector<Napi::Value> values;
    for (uint32_t j = 1; j < length; ++j) values.push_back(parts.Get(j));
    const std::string fn = "chainAsync " + at + " (" + found->name + ")";
    Job job = found->prepare(CallValues(env, std::move(values), &ledger), fn.c_str());
    runs.push_back(std::move(job.run));
    for (Napi::Value& v : job.keep) chain.keep.push_back(v);
    for (auto& o : job.owners) chain.owners.push_back(std::move(o));
  }
  // A later call's option getters may have detached an earlier call's array.
  verify_taken(env, "", ledger);
  chain.run = [runs = std::move(runs)] {
    for (const auto& run : runs) run();
  };
  return run_async(env, "clipkit.chain", std::move(chain));
}

}  // namespace

void register_chain(Napi::Env env, Napi::Object exports) {
  exports.Set("chainAsync", Napi::Function::New<chain_async>(env, "chainAsync"));
}

}  // namespace clipkit::binding
