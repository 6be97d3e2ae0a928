// synod-sim-paxos: soak and replay for the Paxos simulator.
//   synod-sim-paxos --seeds 10000 [--first 0] [--nodes 3|5]   many seeds
//   synod-sim-paxos --seed 1234 --log                         one seed, event log on stdout
//   --harsh                                                   short outages, slow messages
//   --bug forget-promise|ack-before-durable                   a deliberately broken variant

#include <cstdlib>
#include <iostream>
#include <string>

#include "sim/paxos_sim.h"

namespace {

int usage(const char* why) {
  std::cerr << "synod-sim-paxos: " << why << "\n"
            << "usage: synod-sim-paxos [--seeds N] [--first S] [--seed S] [--nodes K] [--log] [--harsh]\n"
            << "                       [--fault-ticks T] [--bug forget-promise|ack-before-durable]\n";
  return 2;
}

bool parse_u64(const char* s, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(s, &end, 10);
  return end != s && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  using namespace synod::sim;
  PaxosSimOptions o;
  std::uint64_t first = 0, seeds = 100;
  bool single = false, log = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::uint64_t& out) {
      return i + 1 < argc && parse_u64(argv[++i], out);
    };
    std::uint64_t v = 0;
    if (a == "--seeds") { if (!value(seeds)) return usage("--seeds needs a number"); }
    else if (a == "--first") { if (!value(first)) return usage("--first needs a number"); }
    else if (a == "--seed") { if (!value(first)) return usage("--seed needs a number"); single = true; seeds = 1; }
    else if (a == "--nodes") { if (!value(v) || v < 1 || v > 9) return usage("--nodes needs 1..9"); o.nodes = v; }
    else if (a == "--fault-ticks") { if (!value(o.fault_ticks)) return usage("--fault-ticks needs a number"); }
    else if (a == "--log") log = true;
    else if (a == "--harsh") {
      o.propose_per_tick = 0.05;
      o.faults.crash_per_tick = 0.03;
      o.faults.down_ticks_min = 1;
      o.faults.down_ticks_max = 10;
      o.faults.delay_ticks_max = 30;
    }
    else if (a == "--bug" && i + 1 < argc) {
      std::string b = argv[++i];
      if (b == "forget-promise") o.bug = PaxosBug::kForgetPromiseOnCrash;
      else if (b == "ack-before-durable") o.bug = PaxosBug::kAckBeforeDurable;
      else return usage("unknown --bug");
    } else if (a == "--help" || a == "-h") { usage("help"); return 0; }
    else return usage(("unknown argument " + a).c_str());
  }
  if (single) {
    o.seed = first;
    if (log) o.log = &std::cout;
    PaxosSimResult r = PaxosSim(o).run();
    std::cout << "seed " << first << ": " << (r.violation ? "VIOLATION " + *r.violation : "ok")
              << " (ticks " << r.ticks << ", decided through " << r.decided_through << ", crashes "
              << r.crashes << ")\n";
    return r.violation ? 1 : 0;
  }
  std::optional<std::string> failure = run_seeds(o, first, seeds);
  if (failure) {
    std::cout << "FAILED " << *failure << "\n";
    return 1;
  }
  std::cout << seeds << " seeds from " << first << " passed (" << o.nodes << " nodes)\n";
  return 0;
}
