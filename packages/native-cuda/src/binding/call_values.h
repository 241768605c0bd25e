// The positional arguments of one kernel call: a JS callback's own, or one entry of runAsync's
// list of calls. Validation code reads both through this one interface.
#pragma once

#include <napi.h>

#include <cstddef>
#include <string>
#include <vector>

namespace clipkit::binding {

// A typed array whose memory a call will touch, with what validation saw of it.
struct TakenArray {
  Napi::Value value;
  std::string name;
  void* data;
  size_t length;
};

class CallValues {
 public:
  // Implicit: every binding function passes its CallbackInfo straight to Args.
  CallValues(const Napi::CallbackInfo& info) : env_(info.Env()) {
    values_.reserve(info.Length());
    for (size_t i = 0; i < info.Length(); ++i) values_.push_back(info[i]);
  }
  // `ledger`, when set, also receives every typed array taken, so a caller validating several
  // calls can re-check all of them once the last call's options have been read.
  CallValues(Napi::Env env, std::vector<Napi::Value> values, std::vector<TakenArray>* ledger)
      : env_(env), values_(std::move(values)), ledger_(ledger) {}

  Napi::Env Env() const { return env_; }
  // Undefined past the end, as for a CallbackInfo.
  Napi::Value operator[](size_t i) const { return i < values_.size() ? values_[i] : env_.Undefined(); }
  std::vector<TakenArray>* ledger() const { return ledger_; }

 private:
  Napi::Env env_;
  std::vector<Napi::Value> values_;
  std::vector<TakenArray>* ledger_ = nullptr;
};

// Throws a TypeError ("<fn>: <name> was detached or resized ...") when a taken typed array is
// no longer what validation saw (a user getter run later can detach or shrink it).
void verify_taken(Napi::Env env, const std::string& fn, const std::vector<TakenArray>& taken);

}  // namespace clipkit::binding
