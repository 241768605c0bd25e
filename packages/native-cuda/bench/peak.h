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

}  // namespace clipkit::bench
