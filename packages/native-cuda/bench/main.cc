// clipkit_bench [--quick] [--tiny] [--preprocess] [--all-isas] [--threads N] [--filter TEXT]
//               [--json FILE]
// Times every case of every provider (median of repeats after a warm-up call), prints a table
// with each rate as a fraction of the measured FMA peak or memory bandwidth, and writes the
// same as JSON: {"peak": {...}, "results": [{kernel, device, shape, seconds, gflops|gbs, ...}]}.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.h"
#include "peak.h"

namespace clipkit::bench {
namespace {

std::vector<Provider>& registry() {
  static std::vector<Provider> list;
  return list;
}

struct Result {
  const Case* c;
  Isa isa;  // the dispatch level of a CPU case
  int threads;
  double seconds;   // median
  double rate;      // GFLOP/s or GB/s
  double fraction;  // of the matching ceiling; 0 when unknown
};

// The ISA column: the bf16 path for bf16 cases, empty for non-CPU devices.
const char* isa_label(const Result& r) {
  if (r.c->device != "cpu") return "";
  return r.c->bound == Bound::Bf16 ? bf16_path_name(cpu::bf16_path()) : isa_name(r.isa);
}

double median_seconds(const Runner& run, const Options& o) {
  using Clock = std::chrono::steady_clock;
  run();  // warm-up: first-touch page faults, lazy pool start, caches
  const int min_repeats = o.quick || o.tiny ? 3 : 5;
  const int max_repeats = o.quick || o.tiny ? 5 : 15;
  const double budget = o.quick || o.tiny ? 0.5 : 2.0;
  std::vector<double> times;
  double total = 0.0;
  while (static_cast<int>(times.size()) < max_repeats &&
         (static_cast<int>(times.size()) < min_repeats || total < budget)) {
    const auto t0 = Clock::now();
    run();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    times.push_back(s);
    total += s;
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

bool is_flops(Bound b) { return b == Bound::Compute || b == Bound::Bf16; }
const char* unit(Bound b) { return is_flops(b) ? "GFLOP/s" : "GB/s"; }

// Which peak a bf16 case is measured against, and its value.
const char* bf16_peak_name() {
  switch (cpu::bf16_path()) {
    case Bf16Path::Amx:
      return "AMX bf16 peak";
    case Bf16Path::Avx512Bf16:
      return "vdpbf16ps peak";
    case Bf16Path::None:
      break;
  }
  return "FMA peak";
}

double ceiling_for(const Case& c, Isa isa, const Ceilings& ceil) {
  if (c.device != "cpu") return 0.0;
  switch (c.bound) {
    case Bound::Compute:
      return ceil.fma_all.count(isa) != 0 ? ceil.fma_all.at(isa) : 0.0;
    case Bound::Bf16:
      switch (cpu::bf16_path()) {
        case Bf16Path::Amx:
          return ceil.amx_all;
        case Bf16Path::Avx512Bf16:
          return ceil.bf16_dp_all;
        case Bf16Path::None:
          break;
      }
      return ceil.fma_all.count(isa) != 0 ? ceil.fma_all.at(isa) : 0.0;
    case Bound::Read:
      return ceil.read_gbs;
    case Bound::ReadWrite:
      return ceil.copy_gbs;
  }
  return 0.0;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

void write_json(const std::string& path, const Ceilings& ceil, const std::vector<Result>& results) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write --json file " + path);
  const Isa best = cpu::detected_isa();
  f << "{\n  \"version\": 1,\n  \"machine\": {\"isa\": \"" << isa_name(best)
    << "\", \"threads\": " << cpu::thread_count() << "},\n  \"peak\": {\n";
  f << "    \"fma_gflops\": " << ceil.fma_all.at(best) << ",\n";
  f << "    \"fma_gflops_1thread\": " << ceil.fma_1thread.at(best) << ",\n";
  if (ceil.bf16_dp_all > 0) {
    f << "    \"bf16_dp_gflops\": " << ceil.bf16_dp_all << ",\n    \"bf16_dp_gflops_1thread\": "
      << ceil.bf16_dp_1thread << ",\n";
  }
  if (ceil.amx_all > 0) {
    f << "    \"amx_bf16_gflops\": " << ceil.amx_all << ",\n    \"amx_bf16_gflops_1thread\": "
      << ceil.amx_1thread << ",\n";
  }
  f << "    \"bf16_path\": \"" << bf16_path_name(cpu::bf16_path()) << "\",\n";
  f << "    \"copy_gbs\": " << ceil.copy_gbs << ",\n    \"read_gbs\": " << ceil.read_gbs << ",\n";
  f << "    \"per_isa\": {";
  bool first = true;
  for (const auto& [isa, all] : ceil.fma_all) {
    f << (first ? "" : ", ") << "\"" << isa_name(isa) << "\": {\"1\": " << ceil.fma_1thread.at(isa)
      << ", \"" << cpu::thread_count() << "\": " << all << "}";
    first = false;
  }
  f << "}\n  },\n  \"results\": [";
  first = true;
  for (const auto& r : results) {
    f << (first ? "\n" : ",\n") << "    {\"kernel\": \"" << json_escape(r.c->kernel)
      << "\", \"device\": \"" << json_escape(r.c->device) << "\", \"shape\": \""
      << json_escape(r.c->shape) << "\", ";
    if (*isa_label(r) != '\0') {
      f << "\"isa\": \"" << isa_label(r) << "\", \"threads\": " << r.threads << ", ";
    }
    f << "\"seconds\": " << r.seconds << ", \"" << (is_flops(r.c->bound) ? "gflops" : "gbs")
      << "\": " << r.rate;
    if (r.fraction > 0) f << ", \"fraction_of_peak\": " << r.fraction;
    if (r.c->bound == Bound::Bf16) f << ", \"peak\": \"" << bf16_peak_name() << "\"";
    f << "}";
    first = false;
  }
  f << "\n  ]\n}\n";
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "clipkit_bench: %s\nusage: clipkit_bench [--quick] [--tiny] [--preprocess] "
               "[--all-isas] [--threads N] [--filter TEXT] [--json FILE]\n",
               why);
  std::exit(2);
}

int run(int argc, char** argv) {
  Options o;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--tiny") {
      o.tiny = true;
    } else if (a == "--preprocess") {
      o.preprocess = true;
    } else if (a == "--all-isas") {
      o.all_isas = true;
    } else if (a == "--threads") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0 || n > 1024) {
        usage(("--threads wants a count 0..1024, got '" + v + "'").c_str());
      }
      o.threads = static_cast<int>(n);
    } else if (a == "--filter") {
      o.filter = value();
    } else if (a == "--json") {
      json = value();
    } else if (a == "--help" || a == "-h") {
      usage("kernel microbenchmarks at CLIP shapes");
    } else {
      usage(("unknown argument '" + a + "'").c_str());
    }
  }
  cpu::set_thread_count(o.threads);
  const int threads = cpu::thread_count();
  const Isa best = cpu::detected_isa();

  const Ceilings before = measure_ceilings(o.quick || o.tiny);

  std::vector<Case> cases;
  for (const Provider p : registry()) p(o, cases);

  std::vector<Isa> isas;
  if (o.all_isas) {
    for (int level = static_cast<int>(best); level >= 0; --level) isas.push_back(static_cast<Isa>(level));
  } else {
    isas.push_back(best);
  }
  std::vector<Result> results;
  for (const auto& c : cases) {
    if (!o.filter.empty() && (c.kernel + " " + c.shape).find(o.filter) == std::string::npos) {
      continue;
    }
    const Runner runner = c.prepare();
    // bf16 cases run their weight's path whatever the fp32 dispatch level.
    const bool cpu_case = c.device == "cpu" && c.bound != Bound::Bf16;
    for (const Isa isa : cpu_case ? isas : std::vector<Isa>{best}) {
      cpu::use_isa(isa);
      Result r{&c, isa, threads, median_seconds(runner, o), 0.0, 0.0};
      r.rate = c.work / r.seconds / 1e9;
      std::fprintf(stderr, "  %s %s %s: %.3f ms\n", c.kernel.c_str(), isa_label(r), c.shape.c_str(),
                   r.seconds * 1e3);
      results.push_back(r);
    }
    cpu::use_isa(best);
  }

  // Ceilings measured before and after the cases, the higher of each kept.
  const Ceilings ceil = best_of(before, measure_ceilings(o.quick || o.tiny));
  std::printf("clipkit_bench: %s, %d threads\n", isa_name(best), threads);
  for (const auto& [isa, all] : ceil.fma_all) {
    std::printf("  FMA peak %-7s %8.1f GFLOP/s (1 thread %.1f)\n", isa_name(isa), all,
                ceil.fma_1thread.at(isa));
  }
  if (ceil.bf16_dp_all > 0) {
    std::printf("  vdpbf16ps peak   %8.1f GFLOP/s (1 thread %.1f)\n", ceil.bf16_dp_all,
                ceil.bf16_dp_1thread);
  }
  if (ceil.amx_all > 0) {
    std::printf("  AMX bf16 peak    %8.1f GFLOP/s (1 thread %.1f)\n", ceil.amx_all, ceil.amx_1thread);
  }
  const std::string bf16_note = cpu::bf16_note();
  std::printf("  bf16 GEMM path: %s%s%s\n", bf16_path_name(cpu::bf16_path()),
              bf16_note.empty() ? "" : " - ", bf16_note.c_str());
  std::printf("  bandwidth: copy %.1f GB/s, read %.1f GB/s\n\n", ceil.copy_gbs, ceil.read_gbs);
  std::printf("%-22s %-6s %-8s %-42s %10s %16s %8s\n", "kernel", "device", "isa", "shape", "ms",
              "rate", "of peak");
  for (auto& r : results) {
    const double ceiling = ceiling_for(*r.c, r.isa, ceil);
    r.fraction = ceiling > 0 ? r.rate / ceiling : 0.0;
    char pct[16] = "";
    if (r.fraction > 0) std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * r.fraction);
    std::printf("%-22s %-6s %-8s %-42s %10.3f %8.1f %-7s %8s\n", r.c->kernel.c_str(),
                r.c->device.c_str(), isa_label(r), r.c->shape.c_str(), r.seconds * 1e3, r.rate,
                unit(r.c->bound), pct);
  }
  if (!json.empty()) write_json(json, ceil, results);
  return 0;
}

}  // namespace

ProviderRegistrar::ProviderRegistrar(Provider provider) {
  registry().push_back(provider);
}

}  // namespace clipkit::bench

int main(int argc, char** argv) {
  try {
    return clipkit::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipkit_bench: %s\n", e.what());
    return 1;
  }
}
