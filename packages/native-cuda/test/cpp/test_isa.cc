// ISA dispatch level: use_isa() lowers it, never raises it above what the CPU has.
#include "clipkit/kernels.h"
#include "harness.h"

using namespace clipkit;

TEST(isa_use_isa_clamps_to_hardware) {
  const Isa before = cpu::detected_isa();
  const Isa hw = cpu::hardware_isa();
  CHECK(static_cast<int>(before) <= static_cast<int>(hw));
  cpu::use_isa(Isa::Generic);
  CHECK(cpu::detected_isa() == Isa::Generic);
  cpu::use_isa(Isa::Avx512);
  CHECK(cpu::detected_isa() == hw);  // asking for more than the CPU has gives what it has
  if (static_cast<int>(hw) >= static_cast<int>(Isa::Avx2)) {
    cpu::use_isa(Isa::Avx2);
    CHECK(cpu::detected_isa() == Isa::Avx2);
  }
  cpu::use_isa(before);
  CHECK(cpu::detected_isa() == before);
}
