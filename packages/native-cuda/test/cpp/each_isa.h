// Runs a test body once per ISA this machine supports (generic, avx2, avx512), restoring the
// dispatch level afterwards, so every kernel variant is checked against the reference.
#pragma once

#include "clipkit/kernels.h"

namespace clipkit::test {

template <typename Fn>
void for_each_isa(Fn&& body) {
  const Isa before = cpu::detected_isa();
  for (int level = 0; level <= static_cast<int>(cpu::hardware_isa()); ++level) {
    const Isa isa = static_cast<Isa>(level);
    cpu::use_isa(isa);
    body(isa);
  }
  cpu::use_isa(before);
}

}  // namespace clipkit::test
