#pragma once
// Runs one simulator over a range of seeds and names the first failing seed
// with the command that replays it alone.

#include <cstdint>
#include <optional>
#include <string>

namespace synod::sim {

// Sim is constructed from Options (with .seed, .nodes and .log) and its run()
// returns a result with an optional .violation.
template <typename Sim, typename Options>
std::optional<std::string> sweep_seeds(Options base, std::uint64_t first, std::uint64_t count,
                                       const char* replay_tool) {
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    Options o = base;
    o.seed = seed;
    o.log = nullptr;
    auto result = Sim(o).run();
    if (result.violation) {
      return "seed " + std::to_string(seed) + " (" + std::to_string(o.nodes) + " nodes): " + *result.violation +
             "\n  replay: " + replay_tool + " --nodes " + std::to_string(o.nodes) + " --seed " +
             std::to_string(seed) + " --log";
    }
  }
  return std::nullopt;
}

}  // namespace synod::sim
