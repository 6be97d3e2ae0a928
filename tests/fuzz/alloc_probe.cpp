#include "alloc_probe.h"

#include <cassert>
#include <cstdlib>
#include <new>

// Whether AddressSanitizer owns the heap: clang says so with __has_feature,
// g++ with __SANITIZE_ADDRESS__.
#if defined(__SANITIZE_ADDRESS__)
#define SYNOD_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYNOD_FUZZ_ASAN 1
#endif
#endif

namespace synod::fuzz {
namespace {

// Per thread, so that a runtime thread (libFuzzer's RSS watcher) allocating
// meanwhile does not count. Trivial types: reading them allocates nothing.
thread_local bool t_armed = false;
thread_local std::size_t t_largest_bytes = 0;

void note_allocation(std::size_t bytes) {
  if (t_armed && bytes > t_largest_bytes) t_largest_bytes = bytes;
}

}  // namespace
}  // namespace synod::fuzz

#ifdef SYNOD_FUZZ_ASAN

// The sanitizer runtime calls these hooks on every malloc and free, operator
// new included; libFuzzer installs its own beside them (up to five coexist).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));

namespace synod::fuzz {
namespace {

void on_malloc(const volatile void*, std::size_t bytes) { note_allocation(bytes); }
void on_free(const volatile void*) {}

void install_hooks_once() {
  static const bool installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
  if (!installed) std::abort();  // a probe that sees nothing would pass every bound
}

}  // namespace
}  // namespace synod::fuzz

#else  // no sanitizer: replace the global operator new for this program

// noinline: inlined into a caller, g++ pairs the malloc below with a delete
// expression and reports a false -Wmismatched-new-delete.
[[gnu::noinline]] void* operator new(std::size_t bytes) {
  synod::fuzz::note_allocation(bytes);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace synod::fuzz {
namespace {
void install_hooks_once() {}
}  // namespace
}  // namespace synod::fuzz

#endif

namespace synod::fuzz {

AllocationProbe::AllocationProbe() {
  install_hooks_once();
  assert(!t_armed && "allocation probes do not nest");
  t_largest_bytes = 0;
  t_armed = true;
}

AllocationProbe::~AllocationProbe() { t_armed = false; }

std::size_t AllocationProbe::largest_bytes() const { return t_largest_bytes; }

}  // namespace synod::fuzz
