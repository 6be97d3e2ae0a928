// The seed system's acceptance scenarios that live in the Paxos layer, as
// scripted simulations with crashes at exact protocol points.

#include <gtest/gtest.h>

#include "sim/paxos_sim.h"

namespace synod::sim {
namespace {

View view(Instance vid, const NodeId& primary, std::vector<NodeId> backups) {
  return View::make(vid, primary, std::move(backups)).value();
}

PaxosSimOptions quiet(std::size_t nodes, std::size_t initial_members = 0) {
  PaxosSimOptions o;
  o.seed = 7;
  o.nodes = nodes;
  o.initial_members = initial_members;
  o.faults = PaxosFaults::none();
  o.propose_per_tick = 0;  // only the script proposes
  return o;
}

bool all_delivered(const PaxosSim& sim, Instance instance) {
  for (const NodeId& id : sim.node_ids()) {
    if (!sim.is_up(id) || sim.core(id).delivered_through() < instance) return false;
  }
  return true;
}

// T0: N1 alone in view 1, then N2 and N3 are added one view at a time. Every
// node's durable history is exactly 1={N1}, 2={N1,N2}, 3={N1,N2,N3}.
TEST(PaxosScenario, T0_GrowFromOneNode_DurableHistoriesIdentical) {
  PaxosSim sim(quiet(3, 1));
  const View v2 = view(2, "n1", {"n2"});
  const View v3 = view(3, "n1", {"n2", "n3"});
  ASSERT_TRUE(sim.propose("n1", v2).ok());
  ASSERT_TRUE(sim.run_for(500, [&] { return all_delivered(sim, 2); }));
  ASSERT_TRUE(sim.propose("n1", v3).ok());
  ASSERT_TRUE(sim.run_for(500, [&] { return all_delivered(sim, 3); }));
  ASSERT_FALSE(sim.violation()) << *sim.violation();
  for (const NodeId& id : sim.node_ids()) {
    std::map<Instance, View> expected{{2, v2}, {3, v3}};
    EXPECT_EQ(sim.disk(id).decided, expected) << id;
    EXPECT_EQ(sim.core(id).decision(1), view(1, "n1", {})) << id;
  }
}

// T4 (Paxos part): with two of three down, nothing is decided; once one is
// back, the proposal completes.
TEST(PaxosScenario, T4_NoDecisionWithoutMajority) {
  PaxosSim sim(quiet(3));
  sim.crash("n2");
  sim.crash("n3");
  const View v2 = view(2, "n1", {"n2"});
  ASSERT_TRUE(sim.propose("n1", v2).ok());
  EXPECT_FALSE(sim.run_for(2000, [&] { return sim.core("n1").decision(2).has_value(); }));
  EXPECT_TRUE(sim.disk("n1").decided.empty());
  sim.restart("n2");
  ASSERT_TRUE(sim.run_for(1000, [&] { return sim.core("n1").delivered_through() >= 2; }));
  EXPECT_EQ(sim.core("n1").decision(2), v2);
  EXPECT_FALSE(sim.violation());
}

// T5: the proposer crashes after a majority promised and before phase 2.
// Nothing is decided by it; the durable promises stand; a later proposer
// decides its own value under a higher number.
TEST(PaxosScenario, T5_ProposerCrashesBetweenPhases_LaterProposerDecides) {
  PaxosSim sim(quiet(3));
  bool crashed = false;
  sim.set_crash_hook([&](const NodeId& node, const paxos::Message&) {
    const paxos::Proposal* p = node == "n1" && !crashed ? sim.core("n1").proposal() : nullptr;
    if (p == nullptr || p->phase() != paxos::Proposal::Phase::kAccepting) return false;
    crashed = true;
    return true;
  });
  ASSERT_TRUE(sim.propose("n1", view(2, "n1", {"n2"})).ok());
  ASSERT_TRUE(sim.run_for(500, [&] { return crashed; }));
  ASSERT_TRUE(sim.run_for(200, [&] { return sim.disk("n2").acceptors.count(2) && sim.disk("n3").acceptors.count(2); }));
  EXPECT_FALSE(sim.run_for(300, [&] { return sim.core("n2").decision(2) || sim.core("n3").decision(2); }));
  const ProposalNumber n1_round = sim.disk("n2").acceptors.at(2).promised;
  EXPECT_EQ(n1_round.node, "n1");
  EXPECT_FALSE(sim.disk("n2").acceptors.at(2).accepted_value);

  const View v2 = view(2, "n2", {"n3"});
  ASSERT_TRUE(sim.propose("n2", v2).ok());
  sim.restart("n1");
  ASSERT_TRUE(sim.run_for(1000, [&] { return all_delivered(sim, 2); }));
  for (const NodeId& id : sim.node_ids()) EXPECT_EQ(sim.core(id).decision(2), v2) << id;
  EXPECT_GT(sim.disk("n3").acceptors.at(2).accepted_n, n1_round);
  EXPECT_FALSE(sim.violation());
}

// Crashes n1 at the moment it learns that a majority accepted its value,
// before its Decided messages leave.
PaxosSim::CrashHook crash_n1_on_learning(PaxosSim& sim, bool& crashed) {
  return [&sim, &crashed](const NodeId& node, const paxos::Message&) {
    if (node != "n1" || crashed || !sim.core("n1").decision(2)) return false;
    crashed = true;
    return true;
  };
}

// T6: the proposer crashes after a majority accepted and before DECIDED
// leaves. The next proposer wants another value and must choose the
// accepted one, exact membership included.
TEST(PaxosScenario, T6_AcceptedValueWinsAfterProposerCrash) {
  PaxosSim sim(quiet(3));
  bool crashed = false;
  sim.set_crash_hook(crash_n1_on_learning(sim, crashed));
  const View wanted_by_n1 = view(2, "n1", {"n3"});
  ASSERT_TRUE(sim.propose("n1", wanted_by_n1).ok());
  ASSERT_TRUE(sim.run_for(500, [&] { return crashed; }));
  EXPECT_FALSE(sim.run_for(100, [&] { return sim.core("n2").decision(2) || sim.core("n3").decision(2); }))
      << "Decided should have died with n1";

  ASSERT_TRUE(sim.propose("n2", view(2, "n2", {"n3"})).ok());
  ASSERT_TRUE(sim.run_for(1000, [&] { return sim.core("n2").decision(2) && sim.core("n3").decision(2); }));
  EXPECT_EQ(sim.core("n2").decision(2), wanted_by_n1);
  EXPECT_EQ(sim.core("n3").decision(2), wanted_by_n1);
  sim.restart("n1");
  ASSERT_TRUE(sim.run_for(1000, [&] { return all_delivered(sim, 2); }));
  EXPECT_EQ(sim.core("n1").decision(2), wanted_by_n1);
  EXPECT_FALSE(sim.violation());
}

// T7: as T6, then every acceptor crashes and restarts from its disk, so a
// quorum exists only after the restarts. The accepted value still wins:
// n_p, n_a and v_a survived.
TEST(PaxosScenario, T7_AcceptedValueSurvivesRestartOfEveryAcceptor) {
  PaxosSim sim(quiet(3));
  bool crashed = false;
  sim.set_crash_hook(crash_n1_on_learning(sim, crashed));
  const View wanted_by_n1 = view(2, "n1", {"n2"});
  ASSERT_TRUE(sim.propose("n1", wanted_by_n1).ok());
  ASSERT_TRUE(sim.run_for(500, [&] { return crashed; }));
  sim.crash("n2");
  sim.crash("n3");
  sim.restart("n2");
  sim.restart("n3");
  ASSERT_TRUE(sim.propose("n3", view(2, "n3", {"n2"})).ok());
  ASSERT_TRUE(sim.run_for(1000, [&] { return sim.core("n3").decision(2).has_value(); }));
  EXPECT_EQ(sim.core("n3").decision(2), wanted_by_n1);
  sim.restart("n1");
  ASSERT_TRUE(sim.run_for(1000, [&] { return all_delivered(sim, 2); }));
  for (const NodeId& id : sim.node_ids()) EXPECT_EQ(sim.disk(id).decided.at(2), wanted_by_n1) << id;
  EXPECT_FALSE(sim.violation());
}

// A node that was down through several decisions learns them all, in order,
// on its own (periodic Learn), without anyone proposing again.
TEST(PaxosScenario, RestartedNodeLearnsMissedInstancesInOrder) {
  PaxosSim sim(quiet(3));
  sim.crash("n3");
  for (Instance i = 2; i <= 5; ++i) {
    ASSERT_TRUE(sim.propose("n1", view(i, "n1", {"n2", "n3"})).ok());
    ASSERT_TRUE(sim.run_for(500, [&] { return sim.core("n2").delivered_through() >= i; }));
  }
  sim.restart("n3");
  ASSERT_TRUE(sim.run_for(1000, [&] { return sim.core("n3").delivered_through() >= 5; }));
  EXPECT_EQ(sim.disk("n3").decided, sim.disk("n1").decided);
  EXPECT_FALSE(sim.violation()) << *sim.violation();
}

}  // namespace
}  // namespace synod::sim
