// synod-sim-rsm: soak and replay for the replicated state machine simulator.
//   synod-sim-rsm --seeds 10000 [--first 0] [--nodes 3|5]
//   synod-sim-rsm --seed 1234 --log          one seed with its event log
//   --slow-disk                               fsyncs take 5-30 ticks (wider windows)
//   --corrupt                                 restarted nodes may come back wiped, to be rebuilt
//   --bug ack-before-durable|ignore-log-positions|reads-without-confirmation
//                                             a deliberately broken variant

#include <cstdlib>
#include <iostream>
#include <string>

#include "sim/rsm_sim.h"

int main(int argc, char** argv) {
  using namespace synod::sim;
  RsmSimOptions o;
  std::uint64_t first = 0, seeds = 100;
  bool single = false, log = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--seeds" && has_value) seeds = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--first" && has_value) first = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && has_value) { first = std::strtoull(argv[++i], nullptr, 10); seeds = 1; single = true; }
    else if (a == "--nodes" && has_value) o.nodes = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--log") log = true;
    else if (a == "--slow-disk") { o.disk_ticks_min = 5; o.disk_ticks_max = 30; }
    else if (a == "--corrupt") { o.corrupt_on_restart = 0.2; o.min_members = 3; }
    else if (a == "--bug" && has_value && std::string(argv[i + 1]) == "ack-before-durable") { o.bug = RsmBug::kAckBeforeDurable; ++i; }
    else if (a == "--bug" && has_value && std::string(argv[i + 1]) == "ignore-log-positions") { o.bug = RsmBug::kIgnoreLogPositions; ++i; }
    else if (a == "--bug" && has_value && std::string(argv[i + 1]) == "reads-without-confirmation") { o.bug = RsmBug::kReadsWithoutConfirmation; ++i; }
    else {
      std::cerr << "usage: synod-sim-rsm [--seeds N] [--first S] [--seed S --log] [--nodes K] [--slow-disk] [--corrupt] [--bug ack-before-durable|ignore-log-positions|reads-without-confirmation]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  if (o.nodes < 1 || o.nodes > 9) {
    std::cerr << "synod-sim-rsm: --nodes must be 1..9\n";
    return 2;
  }
  if (single) {
    o.seed = first;
    if (log) o.log = &std::cout;
    RsmSimResult r = RsmSim(o).run();
    std::cout << "seed " << first << ": " << (r.violation ? "VIOLATION " + *r.violation : "ok") << " (ops "
              << r.ops_completed << ", entries " << r.entries_committed << ", crashes " << r.crashes << ", views "
               << r.views_decided << ", added " << r.members_added << ", removed " << r.members_removed << ", rebuilds " << r.rebuilds << ", snapshots " << r.snapshots_taken << "/" << r.snapshots_installed << " (chunks from backups " << r.snapshot_chunks_from_backups << "), reads " << r.reads_served << ", stale reads " << r.stale_reads_checked << ")\n";
    return r.violation ? 1 : 0;
  }
  if (auto failure = run_rsm_seeds(o, first, seeds)) {
    std::cout << "FAILED " << *failure << "\n";
    return 1;
  }
  std::cout << seeds << " seeds from " << first << " passed (" << o.nodes << " nodes)\n";
  return 0;
}
