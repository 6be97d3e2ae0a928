#pragma once
// What a fuzz target asserts when a property does not hold. The check prints
// the property and what was observed, then aborts: libFuzzer keeps the input
// as a crash file, and the regression driver saves it and prints how to
// replay it. Unlike assert(), it stays on in release builds.

#include <cstdio>
#include <cstdlib>
#include <string>

namespace synod::fuzz {

[[noreturn]] inline void check_failed(const char* property, const char* file, int line,
                                      const std::string& observed) {
  std::fprintf(stderr, "%s:%d: fuzz property does not hold: %s\n  observed: %s\n", file, line,
               property, observed.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace synod::fuzz

// `observed` is evaluated only when the property fails, so it may be costly.
#define SYNOD_FUZZ_CHECK(property, observed)                                                 \
  do {                                                                                       \
    if (!(property)) ::synod::fuzz::check_failed(#property, __FILE__, __LINE__, (observed)); \
  } while (false)
