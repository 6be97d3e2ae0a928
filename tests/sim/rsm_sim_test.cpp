// Seed sweeps of the replicated state machine with every fault on (primary
// crashes and view changes included), and proof that the checks fail when a
// rule is broken.

#include <gtest/gtest.h>

#include <sstream>

#include "sim/rsm_sim.h"

namespace synod::sim {
namespace {

RsmSimOptions nodes(std::size_t n) {
  RsmSimOptions o;
  o.nodes = n;
  return o;
}

void sweep(const RsmSimOptions& o, std::uint64_t first, std::uint64_t count) {
  std::optional<std::string> failure = run_rsm_seeds(o, first, count);
  EXPECT_FALSE(failure) << *failure;
}

// CI runs 800 seeds with every fault on (100 with slow disks, 100 with wiped restarts); `synod-sim-rsm
// --seeds N [--nodes 5] [--slow-disk] [--corrupt]` runs more.
TEST(RsmSim, ThreeNodes_SafeLinearizableLive_Seeds0To199) { sweep(nodes(3), 0, 200); }
TEST(RsmSim, ThreeNodes_SafeLinearizableLive_Seeds200To399) { sweep(nodes(3), 200, 200); }
TEST(RsmSim, FiveNodes_SafeLinearizableLive_Seeds0To199) { sweep(nodes(5), 0, 200); }

// Restarted nodes may come back with their state wiped (found corrupt) and
// must be rebuilt through the join path without ever voting or acknowledging
// with what they forgot.
TEST(RsmSim, ThreeNodesCorruptRestarts_SafeLinearizableLive_Seeds0To99) {
  RsmSimOptions o = nodes(3);
  o.corrupt_on_restart = 0.2;
  o.min_members = 3;
  sweep(o, 0, 100);
}

// Slow fsyncs widen every window between a write and what waits for it.
TEST(RsmSim, ThreeNodesSlowDisk_SafeLinearizableLive_Seeds0To99) {
  RsmSimOptions o = nodes(3);
  o.disk_ticks_min = 5;
  o.disk_ticks_max = 30;
  sweep(o, 0, 100);
}

// Pins down that the sweeps are not vacuous: ops complete, entries commit,
// backups crash, and the linearizability check decides.
TEST(RsmSim, RunsCommitManyOpsUnderCrashesLossAndViewChanges) {
  // Enough seeds that the totals do not swing with one unlucky run (a
  // seed's ops range from about 10 to 180).
  constexpr std::uint64_t kSeeds = 20;
  std::uint64_t ops = 0, entries = 0, crashes = 0, views = 0, reads = 0, stale_reads = 0;
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
    RsmSimOptions o = nodes(3);
    o.seed = seed;
    RsmSimResult r = RsmSim(o).run();
    ASSERT_FALSE(r.violation) << "seed " << seed << ": " << *r.violation;
    EXPECT_FALSE(r.linearizability_inconclusive) << "seed " << seed;
    ops += r.ops_completed;
    entries += r.entries_committed;
    crashes += r.crashes;
    views += r.views_decided;
    reads += r.reads_served;
    stale_reads += r.stale_reads_checked;
  }
  // Any node, the primary included, crashes or is cut off from the clients,
  // so availability is well below the fault-free rate (about 300 per seed).
  EXPECT_GE(ops, kSeeds * 60) << "too few client ops completed";
  EXPECT_GE(entries + reads, ops) << "every completed op is a committed entry or a read";
  EXPECT_GE(crashes, kSeeds * 3) << "too few crashes: the fault model is not on";
  EXPECT_GE(views, kSeeds * 2) << "too few view changes: primaries do not fail over";
  EXPECT_GE(reads, kSeeds * 10) << "too few linearizable reads served";
  EXPECT_GE(stale_reads, kSeeds * 5) << "too few stale reads checked";
}

TEST(RsmSim, SameSeedReplaysTheSameRun) {
  auto run_logged = [](std::uint64_t seed) {
    std::ostringstream log;
    RsmSimOptions o = nodes(3);
    o.seed = seed;
    o.fault_ticks = 500;
    o.log = &log;
    RsmSimResult r = RsmSim(o).run();
    EXPECT_FALSE(r.violation);
    return log.str() + std::to_string(r.ops_completed);
  };
  EXPECT_EQ(run_logged(5), run_logged(5));
  EXPECT_NE(run_logged(5), run_logged(6));
}

TEST(RsmSim, CheckerCatchesBackupsAcknowledgingBeforeDurable) {
  RsmSimOptions o = nodes(3);
  o.bug = RsmBug::kAckBeforeDurable;
  o.crash_per_tick = 0.02;
  std::optional<std::string> v = run_rsm_seeds(o, 0, 200);
  ASSERT_TRUE(v) << "acknowledging before durable went unnoticed for 200 seeds";
  std::cout << "found as expected: " << *v << "\n";
}

TEST(RsmSim, CheckerCatchesAPrimaryServingReadsWithoutAConfirmationRound) {
  RsmSimOptions o = nodes(3);
  o.bug = RsmBug::kReadsWithoutConfirmation;
  std::optional<std::string> v = run_rsm_seeds(o, 0, 200);
  ASSERT_TRUE(v) << "reads served by a possibly deposed primary went unnoticed for 200 seeds";
  std::cout << "found as expected: " << *v << "\n";
}

TEST(RsmSim, CheckerCatchesANewPrimaryChosenWithoutTheHighestViewstamp) {
  RsmSimOptions o = nodes(3);
  o.bug = RsmBug::kIgnoreLogPositions;
  std::optional<std::string> v = run_rsm_seeds(o, 0, 200);
  ASSERT_TRUE(v) << "choosing the primary without regard to log positions went unnoticed for 200 seeds";
  std::cout << "found as expected: " << *v << "\n";
}

}  // namespace
}  // namespace synod::sim
