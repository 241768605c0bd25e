#include "binding/job.h"

#include <exception>
#include <string>

namespace clipkit::binding {
namespace {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name, Job job)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)) {
    refs_.reserve(job_.keep.size());
    for (const Napi::Value& v : job_.keep) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    job_.keep.clear();
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      job_.run();
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }

  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (!job_.result) {
      deferred_.Resolve(Env().Undefined());
      return;
    }
    std::vector<Napi::Value> kept;
    kept.reserve(refs_.size());
    for (const Napi::ObjectReference& r : refs_) kept.push_back(r.Value());
    deferred_.Resolve(job_.result(Env(), kept));
  }

  void OnError(const Napi::Error& e) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Job job_;
  std::vector<Napi::ObjectReference> refs_;
};

}  // namespace

Napi::Value run_now(Napi::Env env, Job job) {
  job.run();
  return job.result ? job.result(env, job.keep) : env.Undefined();
}

Napi::Value run_async(Napi::Env env, const char* name, Job job) {
  auto* worker = new PromiseWorker(env, name, std::move(job));  // deletes itself when settled
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

void export_sync(Napi::Object exports, const char* name, Prepare prepare) {
  exports.Set(name, Napi::Function::New(
                        exports.Env(),
                        [name, prepare](const Napi::CallbackInfo& info) {
                          return run_now(info.Env(), prepare(info, name));
                        },
                        name));
}

void export_async(Napi::Object exports, const char* name, Prepare prepare) {
  exports.Set(name, Napi::Function::New(
                        exports.Env(),
                        [name, prepare](const Napi::CallbackInfo& info) {
                          return run_async(info.Env(), name, prepare(info, name));
                        },
                        name));
}

}  // namespace clipkit::binding
