// Registry and main() of clipkit_tests.
//   clipkit_tests            run every test
//   clipkit_tests gemm attn  run tests whose name contains "gemm" or "attn"
//   clipkit_tests --list     print the test names
// Exit status 0 only when every selected test passed or was skipped (and at least one ran).
#include "harness.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

namespace clipkit::test {
namespace {

struct TestCase {
  const char* name;
  TestFn fn;
};

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

int g_failures_in_test = 0;

bool selected(const char* name, int argc, char** argv) {
  if (argc <= 1) return true;
  for (int i = 1; i < argc; ++i) {
    if (std::strstr(name, argv[i]) != nullptr) return true;
  }
  return false;
}

}  // namespace

Registrar::Registrar(const char* name, TestFn fn) { registry().push_back({name, fn}); }

void record_failure(const char* file, int line, const std::string& message) {
  ++g_failures_in_test;
  std::fprintf(stderr, "    %s:%d: %s\n", file, line, message.c_str());
}

uint64_t base_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("CLIPKIT_TEST_SEED");
    return env != nullptr ? std::strtoull(env, nullptr, 10) : 20240601ull;
  }();
  return seed;
}

}  // namespace clipkit::test

int main(int argc, char** argv) {
  using namespace clipkit::test;
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const auto& t : registry()) std::printf("%s\n", t.name);
    return 0;
  }
  std::printf("clipkit_tests: seed %llu (set CLIPKIT_TEST_SEED to vary)\n",
              static_cast<unsigned long long>(base_seed()));
  int ran = 0;
  int failed = 0;
  int skipped = 0;
  for (const auto& t : registry()) {
    if (!selected(t.name, argc, argv)) continue;
    ++ran;
    g_failures_in_test = 0;
    std::optional<std::string> skip_why;
    const auto start = std::chrono::steady_clock::now();
    try {
      t.fn();
    } catch (const Abort&) {
      // REQUIRE already recorded the failure.
    } catch (const Skip& s) {
      skip_why = s.why;
    } catch (const std::exception& e) {
      record_failure(t.name, 0, std::string("uncaught exception: ") + e.what());
    } catch (...) {
      record_failure(t.name, 0, "uncaught non-standard exception");
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const bool ok = g_failures_in_test == 0;
    if (!ok) {
      ++failed;
      std::printf("FAIL %s (%.1f ms)\n", t.name, ms);
    } else if (skip_why) {
      ++skipped;
      std::printf("SKIP %s: %s\n", t.name, skip_why->c_str());
    } else {
      std::printf("PASS %s (%.1f ms)\n", t.name, ms);
    }
    std::fflush(stdout);
  }
  std::printf("%d tests, %d failed, %d skipped\n", ran, failed, skipped);
  if (ran == 0) {
    std::fprintf(stderr, "no test matched\n");
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
