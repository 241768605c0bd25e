// A validated kernel call, runnable now (sync API) or on a libuv worker thread (async API).
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <vector>

#include "binding/call_values.h"

namespace clipkit::binding {

struct Job {
  // The kernel work. Touches only native memory captured by value (raw pointers into typed
  // arrays listed in `keep`, and shared_ptr<Storage> of Tensors), never JS values.
  std::function<void()> run;
  // JS objects whose memory `run` reads or writes: referenced until the job settles.
  std::vector<Napi::Value> keep;
  // Native allocations (Tensor storage) `run` uses: a dispose() meanwhile cannot free them.
  std::vector<std::shared_ptr<void>> owners;
  // What the call returns / the promise resolves with, built on the main thread from the
  // `keep` values (same order; napi_value handles do not outlive the call, so the async path
  // passes them back from its references). Undefined when empty.
  std::function<Napi::Value(Napi::Env, const std::vector<Napi::Value>& keep)> result;
};

// Runs on the calling thread and returns the result.
Napi::Value run_now(Napi::Env env, Job job);
// Queues on the libuv pool; returns a promise. Kernel exceptions reject it with an Error.
Napi::Value run_async(Napi::Env env, const char* name, Job job);

// Validates one call's arguments into a Job; `fn` names the function in error messages.
using Prepare = Job (*)(const CallValues& values, const char* fn);
// Exports `name` as a function running prepare's job on the calling thread.
void export_sync(Napi::Object exports, const char* name, Prepare prepare);
// Exports `name` as a function queueing prepare's job on the libuv pool (returns a promise).
void export_async(Napi::Object exports, const char* name, Prepare prepare);

}  // namespace clipkit::binding
