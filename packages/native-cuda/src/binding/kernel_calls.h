// Validation of the kernels that runAsync can chain, shared by their own binding functions:
// each turns a call's arguments into a Job or throws TypeError/RangeError naming `fn`.
#pragma once

#include "binding/call_values.h"
#include "binding/job.h"

namespace clipkit::binding {

Job prepare_linear(const CallValues& info, const char* fn);      // linear.cc
Job prepare_attention(const CallValues& info, const char* fn);   // attention.cc
Job prepare_layer_norm(const CallValues& info, const char* fn);  // layers.cc
Job prepare_add(const CallValues& info, const char* fn);         // layers.cc
Job prepare_activation(const CallValues& info, const char* fn);  // layers.cc
Job prepare_softmax(const CallValues& info, const char* fn);     // layers.cc

}  // namespace clipkit::binding
