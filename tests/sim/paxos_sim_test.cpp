// Seed sweeps of the Paxos simulator with every fault on, and proof that the
// checker fails when a rule is broken on purpose.

#include <gtest/gtest.h>

#include <sstream>

#include "sim/paxos_sim.h"

namespace synod::sim {
namespace {

// Short outages and slow messages: a node crashes and returns while older
// messages to it are still in flight. This is where forgotten promises bite.
PaxosSimOptions harsh(std::size_t nodes) {
  PaxosSimOptions o;
  o.nodes = nodes;
  o.propose_per_tick = 0.05;
  o.faults.crash_per_tick = 0.03;
  o.faults.down_ticks_min = 1;
  o.faults.down_ticks_max = 10;
  o.faults.delay_ticks_max = 30;
  return o;
}

PaxosSimOptions standard(std::size_t nodes) {
  PaxosSimOptions o;
  o.nodes = nodes;
  return o;
}

// CI runs 3,000 seeds in all (the sweeps below, a few ms each); the soak
// command `synod-sim-paxos --seeds N` runs as many as wanted.
void sweep(const PaxosSimOptions& o, std::uint64_t first, std::uint64_t count) {
  std::optional<std::string> failure = run_seeds(o, first, count);
  EXPECT_FALSE(failure) << *failure;
}

TEST(PaxosSim, ThreeNodes_SafeAndLive_Seeds0To499) { sweep(standard(3), 0, 500); }
TEST(PaxosSim, ThreeNodes_SafeAndLive_Seeds500To999) { sweep(standard(3), 500, 500); }
TEST(PaxosSim, FiveNodes_SafeAndLive_Seeds0To499) { sweep(standard(5), 0, 500); }
TEST(PaxosSim, FiveNodes_SafeAndLive_Seeds500To999) { sweep(standard(5), 500, 500); }
TEST(PaxosSim, ThreeNodes_HarshFaults_SafeAndLive_Seeds0To499) { sweep(harsh(3), 0, 500); }
TEST(PaxosSim, FiveNodes_HarshFaults_SafeAndLive_Seeds0To499) { sweep(harsh(5), 0, 500); }

// A simulator that decides nothing or injects no fault would pass the sweeps
// vacuously; this pins down that runs really progress under real faults.
TEST(PaxosSim, RunsDecideManyInstancesUnderCrashesAndLoss) {
  std::uint64_t decided = 0, crashes = 0, delivered = 0;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    PaxosSimOptions o;
    o.seed = seed;
    PaxosSimResult r = PaxosSim(o).run();
    ASSERT_FALSE(r.violation) << "seed " << seed << ": " << *r.violation;
    decided += r.decided_through - 1;
    crashes += r.crashes;
    delivered += r.messages_delivered;
  }
  EXPECT_GE(decided, 20u * 10) << "too few instances decided: the workload is not exercising Paxos";
  EXPECT_GE(crashes, 20u * 3) << "too few crashes: the fault model is not on";
  EXPECT_GE(delivered, 20u * 300);
}

TEST(PaxosSim, SameSeedReplaysTheSameRun) {
  auto run_logged = [](std::uint64_t seed) {
    std::ostringstream log;
    PaxosSimOptions o;
    o.seed = seed;
    o.fault_ticks = 800;
    o.log = &log;
    PaxosSimResult r = PaxosSim(o).run();
    EXPECT_FALSE(r.violation);
    return log.str();
  };
  std::string a = run_logged(42), b = run_logged(42), c = run_logged(43);
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// The checker can fail: with a rule broken on purpose it must find a
// violation within a bounded number of seeds.
std::optional<std::string> first_violation(PaxosBug bug, std::size_t nodes, std::uint64_t seeds) {
  PaxosSimOptions o = harsh(nodes);
  o.bug = bug;
  return run_seeds(o, 0, seeds);
}

TEST(PaxosSim, CheckerCatchesAcceptorThatForgetsPromisesOnCrash) {
  std::optional<std::string> v = first_violation(PaxosBug::kForgetPromiseOnCrash, 3, 400);
  ASSERT_TRUE(v) << "an acceptor that forgets n_p across crashes went unnoticed for 400 seeds";
  std::cout << "found as expected: " << *v << "\n";
}

TEST(PaxosSim, CheckerCatchesRepliesSentBeforeWritesAreDurable) {
  std::optional<std::string> v = first_violation(PaxosBug::kAckBeforeDurable, 3, 400);
  ASSERT_TRUE(v) << "replies before durability went unnoticed for 400 seeds";
  std::cout << "found as expected: " << *v << "\n";
}

}  // namespace
}  // namespace synod::sim
