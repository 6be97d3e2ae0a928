#pragma once
// The simulator's only source of randomness: one seeded stream per run, so a
// seed replays the same run exactly.

#include <cstdint>
#include <random>

namespace synod::sim {

class SimRandom {
 public:
  explicit SimRandom(std::uint64_t seed) : gen_(seed) {}
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) { return gen_() % n; }
  // Uniform in [lo, hi].
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_) < p; }

 private:
  std::mt19937_64 gen_;
};

}  // namespace synod::sim
