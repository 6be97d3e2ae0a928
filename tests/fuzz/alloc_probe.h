#pragma once
// Measures the largest single heap allocation made by a piece of code, so a
// fuzz target can assert that a decoder sizes nothing by a length field it has
// not checked: what it allocates stays proportional to its input.
//
// Two implementations behind one interface (alloc_probe.cpp): under
// AddressSanitizer (libFuzzer builds, SYNOD_SANITIZE) the sanitizer's malloc
// hook reports every allocation; otherwise this program replaces the global
// operator new. Either way it counts the calling thread only.

#include <cstddef>
#include <utility>

namespace synod::fuzz {

// While alive, records the largest allocation the current thread makes.
// Probes do not nest: one at a time per thread.
class AllocationProbe {
 public:
  AllocationProbe();
  ~AllocationProbe();
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;

  std::size_t largest_bytes() const;
};

// Runs f() and raises `largest_bytes` to the largest single allocation it made.
template <class F>
decltype(auto) measure_allocations(std::size_t& largest_bytes, F&& f) {
  AllocationProbe probe;
  struct Record {
    const AllocationProbe& probe;
    std::size_t& largest;
    ~Record() {
      if (probe.largest_bytes() > largest) largest = probe.largest_bytes();
    }
  } record{probe, largest_bytes};
  return std::forward<F>(f)();
}

}  // namespace synod::fuzz
