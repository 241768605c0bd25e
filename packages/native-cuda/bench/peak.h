// The machine's measured ceilings that kernel rates are expressed against.
#pragma once

#include <map>

#include "clipkit/kernels.h"

namespace clipkit::bench {

struct Ceilings {
  // FMA peak in GFLOP/s per ISA, for 1 thread and for the pool's thread count.
  std::map<Isa, double> fma_1thread;
  std::map<Isa, double> fma_all;
  double copy_gbs = 0.0;  // memcpy-like: bytes read + written per second
  double read_gbs = 0.0;  // streaming sum over one array
};

// Measures every ISA up to hardware_isa(); `quick` shortens each measurement.
Ceilings measure_ceilings(bool quick);

// The higher of two measurements of each ceiling: a neighbour process that stole cycles during
// one of them must not make the kernels look faster than the machine.
Ceilings best_of(const Ceilings& a, const Ceilings& b);

}  // namespace clipkit::bench
