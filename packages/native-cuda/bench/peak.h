// The machine's measured ceilings that kernel rates are expressed against.
#pragma once

#include <map>

#include "clipkit/kernels.h"

namespace clipkit::bench {

struct Ceilings {
  // FMA peak in GFLOP/s per ISA, for 1 thread and for the pool's thread count.
  std::map<Isa, double> fma_1thread;
  std::map<Isa, double> fma_all;
  // bf16 peaks in GFLOP/s (0 where the CPU or OS lacks the instruction): vdpbf16ps chains,
  // and tdpbf16ps on tiles held in registers (4 accumulators), for 1 thread and for all.
  double bf16_dp_1thread = 0.0;
  double bf16_dp_all = 0.0;
  double amx_1thread = 0.0;
  double amx_all = 0.0;
  double copy_gbs = 0.0;  // memcpy-like: bytes read + written per second
  double read_gbs = 0.0;  // streaming sum over one array
};

// Measures every ISA up to hardware_isa(); `quick` shortens each measurement.
Ceilings measure_ceilings(bool quick);

// The higher of two measurements of each ceiling: a neighbour process that stole cycles during
// one of them must not make the kernels look faster than the machine.
Ceilings best_of(const Ceilings& a, const Ceilings& b);

}  // namespace clipkit::bench
