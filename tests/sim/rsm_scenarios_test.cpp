// The seed system's acceptance scenarios that live in the replicated state
// machine (../shared/seed-scenarios.md), as scripted simulations: crashes
// "at protocol point X" are hooks on the exact Ready or disk completion.
// Every scenario ends by healing, settling and checking the client history
// for linearizability; the simulator checks its invariants after every event.
//
// Not here yet: T8 (the lock service).

#include <gtest/gtest.h>

#include "sim/rsm_sim.h"

namespace synod::sim {
namespace {

RsmSimOptions quiet(std::size_t nodes, std::uint64_t seed = 11) {
  RsmSimOptions o;
  o.seed = seed;
  o.nodes = nodes;
  o.faults = false;                 // only the script injects faults
  o.request_per_tick = 0.2;
  return o;
}

View view(ViewId vid, const NodeId& primary, std::vector<NodeId> backups) {
  return View::make(vid, primary, std::move(backups)).value();
}

// A node that is up, primary of the newest view, not frozen, and has
// committed something of its view (its no-op at least).
bool serving_primary_other_than(const RsmSim& sim, const NodeId& old) {
  std::optional<NodeId> p = sim.current_primary();
  if (!p || *p == old) return false;
  const rsm::Node& n = sim.core(*p);
  return !n.frozen() && n.replica().commit().vid == n.view().vid;
}

std::uint64_t completed(const RsmSim& sim) { return sim.result().ops_completed; }

// Every member of the newest view is up and in it, and `id` is one of them.
bool is_member_everywhere(const RsmSim& sim, const NodeId& id) {
  std::optional<NodeId> p = sim.current_primary();
  if (!p || !sim.core(*p).view().contains(id) || sim.core(*p).frozen()) return false;
  for (const NodeId& m : sim.core(*p).view().members()) {
    if (!sim.is_up(m) || sim.core(m).view() != sim.core(*p).view()) return false;
  }
  return true;
}


void finish(RsmSim& sim) {
  EXPECT_TRUE(sim.heal_and_settle()) << sim.violation().value_or("");
  sim.check_history();
  EXPECT_FALSE(sim.violation()) << *sim.violation();
}

// T1: a backup dies. The majority keeps committing in the same view: a
// backup's failure needs no view change.
TEST(RsmScenario, T1_BackupDies_MajorityKeepsCommittingWithoutAViewChange) {
  RsmSim sim(quiet(3));
  sim.run_for(300);
  const std::uint64_t before = completed(sim);
  ASSERT_GT(before, 10u);
  sim.crash("n3");
  sim.run_for(600);
  ASSERT_FALSE(sim.violation()) << *sim.violation();
  EXPECT_GT(completed(sim), before + 20) << "ops stopped committing without n3";
  EXPECT_EQ(sim.core("n1").view(), view(1, "n1", {"n2", "n3"}));
  EXPECT_EQ(sim.core("n2").view(), view(1, "n1", {"n2", "n3"}));
  EXPECT_TRUE(sim.durable_paxos("n1").decided.empty()) << "a view was decided";
  finish(sim);
}

// T2: the primary dies. A new view with a new primary forms quickly, with the
// exact membership, and clients find it.
TEST(RsmScenario, T2_PrimaryDies_NewViewWithNewPrimaryServesClients) {
  RsmSim sim(quiet(3));
  sim.run_for(200);
  sim.crash("n1");
  const std::uint64_t crashed_at = sim.now();
  ASSERT_TRUE(sim.run_until(400, [&] { return serving_primary_other_than(sim, "n1"); }))
      << sim.violation().value_or("no new primary");
  // primary_timeout (40) + jitter (<= 20) + a Paxos round + the no-op's commit.
  EXPECT_LE(sim.now() - crashed_at, 150u) << "failover took too long in simulated ticks";
  const NodeId p = *sim.current_primary();
  const View& v = sim.core(p).view();
  EXPECT_GE(v.vid, 2u);
  std::vector<NodeId> members = v.members();
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<NodeId>{"n1", "n2", "n3"})) << "failover keeps the membership";
  const std::uint64_t at_failover = completed(sim);
  sim.run_for(300);
  EXPECT_GT(completed(sim), at_failover + 10) << "clients did not find the new primary";
  finish(sim);
}

// T9/T10: a backup dies mid-workload and comes back later. It catches up from
// the primary while the workload continues.
TEST(RsmScenario, T9_T10_BackupRestartsAndCatchesUpWhileClientsContinue) {
  RsmSim sim(quiet(3));
  sim.run_for(200);
  sim.crash("n2");
  sim.run_for(400);
  sim.restart("n2");
  const std::uint64_t at_restart = completed(sim);
  ASSERT_TRUE(sim.run_until(600, [&] {
    const rsm::Replica& primary = sim.core("n1").replica();
    return sim.core("n2").replica().commit() >= primary.commit() && primary.commit() > Viewstamp{1, 50};
  })) << sim.violation().value_or("n2 did not catch up");
  EXPECT_GT(completed(sim), at_restart) << "clients stalled while n2 caught up";
  EXPECT_EQ(sim.core("n1").view().vid, 1u) << "a backup's restart needs no view change";
  finish(sim);
}

// T11: the primary dies mid-workload. A new view forms; clients retry there;
// nothing acknowledged is lost and nothing is applied twice (the simulator
// checks both after every event; the history check sees lost writes).
TEST(RsmScenario, T11_PrimaryDiesMidWorkload_NothingLostNothingTwice) {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    RsmSim sim(quiet(3, seed));
    sim.run_for(250);
    sim.crash("n1");
    ASSERT_TRUE(sim.run_until(500, [&] { return serving_primary_other_than(sim, "n1"); }))
        << "seed " << seed << ": " << sim.violation().value_or("no new primary");
    sim.run_for(200);
    sim.restart("n1");
    finish(sim);
  }
}

// The primary n1 sends X (client 1's first request) to n2 only, then dies.
struct T12 {
  RsmSim sim{[] {
    RsmSimOptions o = quiet(3);
    o.clients_start_ops = false;
    return o;
  }()};
  bool x_sent_to_n2 = false;

  static bool carries_x(const RsmSim::PeerMessage& m, const NodeId& to) {
    const auto* rm = std::get_if<rsm::Message>(&m);
    if (rm == nullptr || rm->from != "n1" || rm->to != to) return false;
    const auto* a = std::get_if<rsm::Append>(&rm->body);
    if (a == nullptr) return false;
    for (const rsm::LogEntry& e : a->entries) {
      if (e.client_id == 1 && e.request_no == 1) return true;
    }
    return false;
  }

  std::size_t run(bool deliver_to_n2) {
    sim.set_drop_filter([this, deliver_to_n2](const RsmSim::PeerMessage& m) {
      if (carries_x(m, "n3")) return true;
      if (carries_x(m, "n2")) {
        x_sent_to_n2 = true;
        return !deliver_to_n2;
      }
      return false;
    });
    std::size_t x = sim.submit_put(1, "k", "X");
    EXPECT_TRUE(sim.run_until(100, [&] { return x_sent_to_n2; }));
    sim.crash("n1");
    EXPECT_TRUE(sim.run_until(400, [&] { return serving_primary_other_than(sim, "n1"); }))
        << sim.violation().value_or("no new primary");
    return x;
  }

  std::vector<Viewstamp> x_entries() const {
    std::vector<Viewstamp> out;
    for (const auto& [vs, e] : sim.committed()) {
      if (e.client_id == 1 && e.request_no == 1) out.push_back(vs);
    }
    return out;
  }
};

// T12 (X reached n2): n2 holds the highest viewstamp, so it becomes primary
// and X survives with its view-1 viewstamp; the client's retry gets X's
// reply without a second application.
TEST(RsmScenario, T12_PrimaryDiesAfterSendingXToOneBackup_XSurvivesByHighestViewstamp) {
  T12 t;
  std::size_t x = t.run(true);
  EXPECT_EQ(*t.sim.current_primary(), "n2") << "n2 holds the highest viewstamp";
  ASSERT_TRUE(t.sim.run_until(300, [&] { return t.sim.op_completed(x); })) << "the client never got X's reply";
  EXPECT_EQ(t.x_entries(), (std::vector<Viewstamp>{{1, 1}}));
  finish(t.sim);
}

// T12 (X lost on the way): no member of the new view holds X, so it is gone;
// the client's retry is ordered in the new view and applied exactly once.
TEST(RsmScenario, T12_PrimaryDiesBeforeXReachesAnyBackup_RetryAppliedOnce) {
  T12 t;
  std::size_t x = t.run(false);
  ASSERT_TRUE(t.sim.run_until(300, [&] { return t.sim.op_completed(x); })) << "the client's retry never applied";
  std::vector<Viewstamp> xs = t.x_entries();
  ASSERT_EQ(xs.size(), 1u);
  EXPECT_GE(xs[0].vid, 2u) << "X was ordered again in the new view";
  finish(t.sim);
}

// T13: with n3 down, the backup n2 persists X and dies before acknowledging
// it. X cannot commit without n2; once n2 restarts it catches up, X commits,
// and every node applies it once.
TEST(RsmScenario, T13_BackupDiesAfterPersistingXBeforeAcking_XAppliedOnceEverywhere) {
  RsmSimOptions o = quiet(3);
  o.clients_start_ops = false;
  RsmSim sim(o);
  sim.crash("n3");
  bool n2_crashed = false;
  sim.set_durable_hook([&](const NodeId& id, const std::vector<rsm::LogEntry>& appends) {
    if (id != "n2" || n2_crashed) return false;
    for (const rsm::LogEntry& e : appends) {
      if (e.client_id == 1) return n2_crashed = true;
    }
    return false;
  });
  std::size_t x = sim.submit_put(1, "k", "X");
  ASSERT_TRUE(sim.run_until(100, [&] { return n2_crashed; }));
  EXPECT_FALSE(sim.durable_log("n2").empty()) << "n2 persisted X before it died";
  sim.run_for(100);
  EXPECT_FALSE(sim.op_completed(x)) << "X committed without a majority";
  EXPECT_TRUE(sim.committed().empty());
  sim.restart("n2");
  ASSERT_TRUE(sim.run_until(300, [&] { return sim.op_completed(x); })) << sim.violation().value_or("X never committed");
  finish(sim);
}

// T14: 5 nodes. A backup dies mid-op, the primary dies, and a second backup
// dies exactly when it learns the next view. With two of five left nothing
// happens; when the second backup restarts from its disk it is in the new
// view, and the cluster converges.
TEST(RsmScenario, T14_SecondBackupDiesWhenItLearnsTheNextView_ClusterConverges) {
  RsmSim sim(quiet(5));
  sim.run_for(200);
  sim.crash("n5");
  sim.run_for(50);
  bool n4_died = false;
  sim.set_ready_hook([&](const NodeId& id, const rsm::NodeReady& r) {
    if (id != "n4" || n4_died || r.views_entered.empty()) return false;
    return n4_died = true;
  });
  sim.crash("n1");
  ASSERT_TRUE(sim.run_until(500, [&] { return n4_died; })) << sim.violation().value_or("n4 never learned view 2");
  EXPECT_TRUE(sim.durable_paxos("n4").decided.count(2)) << "n4 learned view 2 only once it was durable";
  sim.run_for(300);
  sim.restart("n4");
  EXPECT_GE(sim.core("n4").view().vid, 2u) << "n4 restarted in the view it had learned";
  ASSERT_TRUE(sim.run_until(600, [&] { return serving_primary_other_than(sim, "n1"); }))
      << sim.violation().value_or("no primary after n4 came back");
  finish(sim);
}

// T15: 5 nodes. A backup dies mid-op; the primary restarts, so it must drive
// the next view itself, and it dies exactly when it learns the decision,
// before announcing it. Another member takes over the half-finished view
// change and must decide exactly the value the dead primary saw chosen.
TEST(RsmScenario, T15_PrimaryDiesWhenItLearnsTheNextView_AnotherMemberFinishesIt) {
  RsmSim sim(quiet(5));
  sim.run_for(200);
  sim.crash("n5");
  sim.run_for(50);
  bool n1_died = false;
  std::optional<View> n1_saw_chosen;
  sim.set_ready_hook([&](const NodeId& id, const rsm::NodeReady& r) {
    if (id != "n1" || n1_died) return false;
    for (const paxos::Message& m : r.paxos_messages) {
      if (const auto* d = std::get_if<paxos::Decided>(&m.body); d && d->instance == 2) {
        n1_saw_chosen = d->value;
        return n1_died = true;
      }
    }
    return false;
  });
  sim.crash("n1");
  sim.restart("n1");  // a restarted primary proposes view 2 at once
  ASSERT_TRUE(sim.run_until(300, [&] { return n1_died; })) << sim.violation().value_or("n1 never saw view 2 chosen");
  ASSERT_TRUE(sim.run_until(800, [&] {
    for (const char* id : {"n2", "n3", "n4"}) {
      if (sim.core(id).view().vid < 2) return false;
    }
    return true;
  })) << sim.violation().value_or("the others never finished the view change");
  // The others decided exactly what n1 saw chosen, whatever they wanted.
  ASSERT_TRUE(n1_saw_chosen);
  for (const char* id : {"n2", "n3", "n4"}) EXPECT_EQ(sim.core(id).paxos().decision(2), n1_saw_chosen) << id;
  ASSERT_TRUE(sim.run_until(600, [&] { return serving_primary_other_than(sim, "n1"); }))
      << sim.violation().value_or("no primary serves");
  finish(sim);
}

// T16: the primary is cut off but stays up. It commits nothing more and
// serves no linearizable read; the majority forms a new view and serves
// both; after healing the old primary steps down and catches up.
TEST(RsmScenario, T16_IsolatedPrimaryCommitsNothing_MajorityServes_OldPrimaryStepsDown) {
  RsmSim sim(quiet(3));
  sim.run_for(200);
  sim.set_side("n1", 1);
  sim.run_for(10);  // acks already in flight are dropped at delivery
  const Viewstamp n1_commit = sim.core("n1").replica().commit();
  const std::uint64_t n1_reads = sim.reads_served_by("n1");
  sim.inject_read("n1", "k0");
  ASSERT_TRUE(sim.run_until(400, [&] { return serving_primary_other_than(sim, "n1"); }))
      << sim.violation().value_or("the majority formed no view");
  const NodeId p = *sim.current_primary();
  const std::uint64_t p_reads = sim.reads_served_by(p);
  sim.inject_read(p, "k0");
  EXPECT_TRUE(sim.run_until(50, [&] { return sim.reads_served_by(p) > p_reads; })) << "the new primary serves no read";
  const std::uint64_t at_new_view = completed(sim);
  sim.run_for(300);
  EXPECT_GT(completed(sim), at_new_view + 10) << "the majority does not serve";
  EXPECT_EQ(sim.core("n1").replica().commit(), n1_commit) << "the isolated primary committed";
  EXPECT_EQ(sim.reads_served_by("n1"), n1_reads) << "the isolated primary served a linearizable read";
  EXPECT_EQ(sim.core("n1").view().vid, 1u);
  sim.set_side("n1", 0);
  ASSERT_TRUE(sim.run_until(300, [&] {
    const NodeId now_primary = *sim.current_primary();
    return sim.core("n1").view() == sim.core(now_primary).view() && !sim.core("n1").is_primary() &&
           sim.core("n1").replica().commit() == sim.core(now_primary).replica().commit();
  })) << sim.violation().value_or("the old primary did not step down and catch up");
  finish(sim);
}

// ---- State transfer --------------------------------------------------------------

// Three members compacting every 20 entries into snapshots sent in 16-byte
// chunks, and a fourth node, not in the view, for a learner.
RsmSimOptions fourth_node_after_compaction() {
  RsmSimOptions o = quiet(4);
  o.initial_members = 3;
  o.snapshot_after_entries = 20;
  o.snapshot_chunk_bytes = 16;
  return o;
}

// A node added after the others compacted their logs receives the state as a
// snapshot in many chunks, while clients keep committing; then it is a
// member with the same data.
TEST(RsmScenario, LearnerJoinsAfterCompaction_ReceivesTheSnapshotWhileClientsCommit) {
  RsmSimOptions o = fourth_node_after_compaction();
  RsmSim sim(o);
  sim.crash("n4");
  sim.run_for(400);
  ASSERT_TRUE(sim.durable_snapshot("n1")) << "the primary never compacted";
  ASSERT_GT(sim.durable_snapshot("n1")->bytes.size(), 8 * o.snapshot_chunk_bytes);
  sim.restart("n4");
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  const std::uint64_t before = completed(sim);
  ASSERT_TRUE(sim.run_until(600, [&] { return is_member_everywhere(sim, "n4"); })) << sim.violation().value_or("");
  EXPECT_GT(completed(sim), before + 10) << "clients stalled during the transfer";
  EXPECT_GT(sim.result().snapshots_installed, 0u);
  EXPECT_TRUE(sim.durable_snapshot("n4")) << "n4 caught up without the snapshot";
  finish(sim);
  EXPECT_EQ(sim.kv_data("n4"), sim.kv_data("n1"));
}

// Who sent n4 snapshot chunks, counted by sender.
struct ChunkSenders {
  std::map<NodeId, std::size_t> chunks;
  void watch(RsmSim& sim) {
    sim.set_drop_filter([this](const RsmSim::PeerMessage& m) {
      const auto* rm = std::get_if<rsm::Message>(&m);
      if (rm && rm->to == "n4" && std::holds_alternative<rsm::SnapshotChunk>(rm->body)) ++chunks[rm->from];
      return false;
    });
  }
  std::size_t from(const NodeId& id) const { return chunks.count(id) != 0 ? chunks.at(id) : 0; }
};

// The snapshot comes from an up-to-date backup, not the primary: a large
// transfer does not load the node that orders every op.
TEST(RsmScenario, LearnerGetsTheSnapshotFromABackup_ThePrimarySendsNoChunk) {
  RsmSimOptions o = fourth_node_after_compaction();
  o.snapshots_from_backups = true;
  RsmSim sim(o);
  ChunkSenders senders;
  senders.watch(sim);
  sim.crash("n4");
  sim.run_for(400);
  // A backup serves only with a snapshot that reaches the primary's. They
  // compact on their own clocks; here the admin has all three snapshot at
  // the same point, once the clients paused and the commit point spread.
  sim.set_clients_start_ops(false);
  auto applied = [&](const NodeId& id) { return sim.core(id).replica().commit(); };
  sim.run_for(100);  // the ops in flight finish
  ASSERT_TRUE(sim.run_until(300, [&] { return applied("n2") == applied("n1") && applied("n3") == applied("n1"); }));
  for (const NodeId id : {"n1", "n2", "n3"}) ASSERT_TRUE(sim.snapshot_now(id).ok());
  auto through = [&](const NodeId& id) {
    return sim.durable_snapshot(id) ? sim.durable_snapshot(id)->through : Viewstamp{};
  };
  ASSERT_TRUE(sim.run_until(100, [&] {
    return through("n1") == applied("n1") && through("n2") == through("n1") && through("n3") == through("n1");
  })) << "the snapshots were not taken at one point";
  sim.run_for(20);  // the backups' acks report their new snapshots
  sim.set_clients_start_ops(true);
  sim.restart("n4");
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  const std::uint64_t before = completed(sim);
  ASSERT_TRUE(sim.run_until(600, [&] { return is_member_everywhere(sim, "n4"); })) << sim.violation().value_or("");
  EXPECT_GT(completed(sim), before + 10) << "clients stalled during the transfer";
  EXPECT_EQ(senders.from("n1"), 0u) << "the primary sent chunks itself";
  EXPECT_GT(senders.from("n2") + senders.from("n3"), 8u) << "no backup served the snapshot";
  EXPECT_TRUE(sim.durable_snapshot("n4")) << "n4 caught up without a snapshot";
  finish(sim);
  EXPECT_EQ(sim.kv_data("n4"), sim.kv_data("n1"));
}

// The donor crashes mid-transfer: the primary notices the transfer stalled
// and has it finished (by another backup or itself); the learner still joins.
TEST(RsmScenario, DonorCrashesMidTransfer_TheTransferFinishesElsewhere) {
  RsmSimOptions o = fourth_node_after_compaction();
  o.snapshots_from_backups = true;
  RsmSim sim(o);
  ChunkSenders senders;
  senders.watch(sim);
  sim.crash("n4");
  sim.run_for(400);
  sim.restart("n4");
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  NodeId donor;
  ASSERT_TRUE(sim.run_until(300, [&] {
    for (const NodeId& b : {"n2", "n3"}) {
      if (senders.from(b) >= 4) donor = b;
    }
    return !donor.empty();
  })) << "no backup began serving the snapshot";
  sim.crash(donor);
  const std::size_t before = senders.from(donor);
  // The donor stays down: n4 joins the view of the nodes that are up.
  auto joined = [&] {
    std::optional<NodeId> p = sim.current_primary();
    return p && sim.core(*p).view().contains("n4") && sim.is_up("n4") && sim.core("n4").view() == sim.core(*p).view();
  };
  ASSERT_TRUE(sim.run_until(1500, [&] { return joined() || sim.violation(); }))
      << sim.violation().value_or("n4 never joined");
  ASSERT_FALSE(sim.violation()) << *sim.violation();
  EXPECT_EQ(senders.from(donor), before) << "a crashed donor sent chunks";
  EXPECT_GT(senders.from("n1") + senders.from(donor == "n2" ? "n3" : "n2"), 0u);
  sim.restart(donor);
  finish(sim);
  EXPECT_EQ(sim.kv_data("n4"), sim.kv_data("n1"));
}

// With snapshots_from_backups off, only the primary serves.
TEST(RsmScenario, OnlyThePrimaryServesSnapshotsWhenBackupsMayNot) {
  RsmSimOptions o = fourth_node_after_compaction();
  o.snapshots_from_backups = false;
  RsmSim sim(o);
  ChunkSenders senders;
  senders.watch(sim);
  sim.crash("n4");
  sim.run_for(400);
  sim.restart("n4");
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  ASSERT_TRUE(sim.run_until(600, [&] { return is_member_everywhere(sim, "n4"); })) << sim.violation().value_or("");
  EXPECT_GT(senders.from("n1"), 8u);
  EXPECT_EQ(senders.from("n2") + senders.from("n3"), 0u);
  finish(sim);
}

// A transfer cut by the receiver's crash resumes from the bytes it had
// persisted, not from the start.
TEST(RsmScenario, SnapshotTransferResumesAfterTheReceiverRestarts) {
  RsmSimOptions o = fourth_node_after_compaction();
  RsmSim sim(o);
  sim.crash("n4");
  sim.run_for(400);
  ASSERT_TRUE(sim.durable_snapshot("n1"));
  sim.restart("n4");
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  // Crash n4 once it holds part of the snapshot durably.
  ASSERT_TRUE(sim.run_until(300, [&] {
    const auto& partial = sim.durable_partial("n4");
    return partial && partial->data.size() >= 8 * o.snapshot_chunk_bytes;
  })) << sim.violation().value_or("no partial snapshot");
  const std::size_t held = sim.durable_partial("n4")->data.size();
  sim.crash("n4");
  sim.run_for(30);
  sim.restart("n4");
  ASSERT_TRUE(sim.durable_partial("n4")) << "the partial snapshot did not survive the crash";
  EXPECT_GE(sim.durable_partial("n4")->data.size(), held);
  ASSERT_TRUE(sim.run_until(600, [&] { return is_member_everywhere(sim, "n4"); })) << sim.violation().value_or("");
  finish(sim);
  EXPECT_EQ(sim.kv_data("n4"), sim.kv_data("n1"));
}

// A node restarting from a snapshot and the log after it recovers its state
// without replaying what the snapshot covers.
TEST(RsmScenario, BackupRestartsFromItsSnapshotAndLog) {
  RsmSimOptions o = quiet(3);
  o.snapshot_after_entries = 20;
  RsmSim sim(o);
  sim.run_for(400);
  ASSERT_TRUE(sim.durable_snapshot("n2"));
  sim.crash("n2");
  sim.restart("n2");
  EXPECT_EQ(sim.core("n2").replica().snapshot_through(), sim.durable_snapshot("n2")->through);
  finish(sim);
  EXPECT_EQ(sim.kv_data("n2"), sim.kv_data("n1"));
}

// ---- Storage faults ------------------------------------------------------------

// n3's state is found corrupt when it restarts: it starts over empty, never
// votes or acknowledges with what it forgot, asks to be removed and added
// back, and once re-admitted holds the same data and votes again.
TEST(RsmScenario, CorruptNodeIsRebuiltThroughTheJoinPath) {
  RsmSimOptions o = quiet(3);
  o.min_members = 3;
  RsmSim sim(o);
  sim.run_for(300);
  sim.crash("n3");
  sim.restart_corrupt("n3");
  ASSERT_TRUE(sim.core("n3").rebuilding());
  const std::uint64_t before = completed(sim);
  ASSERT_TRUE(sim.run_until(800, [&] {
    return !sim.core("n3").rebuilding() && is_member_everywhere(sim, "n3");
  })) << sim.violation().value_or("n3 was not rebuilt");
  EXPECT_GT(completed(sim), before + 10) << "clients stalled while n3 was rebuilt";
  EXPECT_GE(sim.core("n1").view().vid, 3u) << "n3 was not removed and added back";
  EXPECT_NE(sim.durable_paxos("n3").decided.size(), 0u);
  finish(sim);
  EXPECT_EQ(sim.kv_data("n3"), sim.kv_data("n1"));
}

// ---- Sessions ----------------------------------------------------------------

// An idle session expires through an entry the primary orders, the same way
// on every replica; the client's next request is refused, never applied.
TEST(RsmScenario, IdleSessionExpiresEverywhere_ItsNextRequestIsRefused) {
  RsmSimOptions o = quiet(3);
  o.clients_start_ops = false;
  o.session_idle_ticks = 200;
  RsmSim sim(o);
  std::size_t x = sim.submit_put(1, "k", "X");
  ASSERT_TRUE(sim.run_until(100, [&] { return sim.op_completed(x); }));
  // Client 2 stays active: the log moves on past client 1's last request.
  for (int i = 0; i < 12; ++i) {
    std::size_t y = sim.submit_put(2, "other", "v" + std::to_string(i));
    ASSERT_TRUE(sim.run_until(100, [&] { return sim.op_completed(y); }));
    sim.run_for(40);
  }
  for (const NodeId& id : sim.node_ids()) {
    EXPECT_FALSE(sim.applier(id).has_session(1)) << id << " kept the idle session";
    EXPECT_TRUE(sim.applier(id).session_expired(1)) << id;
    EXPECT_TRUE(sim.applier(id).has_session(2)) << id << " expired an active session";
  }
  sim.submit_put(1, "k", "Y");
  ASSERT_TRUE(sim.run_until(200, [&] { return sim.told_expired(1); })) << "the expired client was not told";
  EXPECT_EQ(sim.kv_data("n1").at("k"), "X") << "a request of an expired session was applied";
  finish(sim);
}

// ---- Membership ------------------------------------------------------------

// T0: n1 alone in view 1, then n2 and n3 join through the admin request,
// each first as a learner. Every node's durable view history is exactly
// 1={n1}, 2={n1,n2}, 3={n1,n2,n3}, and all three hold the same data.
TEST(RsmScenario, T0_GrowFromOneNode_ExactViewHistoryEverywhere) {
  RsmSimOptions o = quiet(3);
  o.initial_members = 1;
  RsmSim sim(o);
  sim.run_for(100);
  ASSERT_GT(completed(sim), 5u) << "a one-node view serves";
  ASSERT_TRUE(sim.request_add("n1", "n2").ok());
  ASSERT_TRUE(sim.run_until(400, [&] { return is_member_everywhere(sim, "n2"); })) << sim.violation().value_or("");
  ASSERT_TRUE(sim.run_until(100, [&] { return sim.request_add("n1", "n3").ok(); }));
  ASSERT_TRUE(sim.run_until(400, [&] { return is_member_everywhere(sim, "n3"); })) << sim.violation().value_or("");
  finish(sim);
  const std::map<Instance, View> expected{{2, view(2, "n1", {"n2"})}, {3, view(3, "n1", {"n2", "n3"})}};
  for (const NodeId& id : sim.node_ids()) {
    EXPECT_EQ(sim.durable_paxos(id).decided, expected) << id;
  }
  EXPECT_EQ(sim.kv_data("n3"), sim.kv_data("n1"));
  EXPECT_EQ(sim.kv_data("n2"), sim.kv_data("n1"));
}

// Adding a member costs the clients one view change, not a pause for the
// transfer: ops keep completing while the learner catches up.
TEST(RsmScenario, AddUnderLoad_ClientsKeepCommittingWhileTheLearnerCatchesUp) {
  RsmSimOptions o = quiet(4);
  o.initial_members = 3;
  RsmSim sim(o);
  sim.crash("n4");  // it shows up late, with the log to replay
  sim.run_for(400);
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  const std::uint64_t before = completed(sim);
  sim.run_for(100);
  EXPECT_FALSE(sim.core("n1").view().contains("n4")) << "a node that is not there entered the view";
  EXPECT_GT(completed(sim), before + 5) << "clients stalled while the add was pending";
  sim.restart("n4");
  ASSERT_TRUE(sim.run_until(500, [&] { return is_member_everywhere(sim, "n4"); })) << sim.violation().value_or("");
  EXPECT_EQ(sim.core("n1").view().size(), 4u);
  finish(sim);
  EXPECT_EQ(sim.kv_data("n4"), sim.kv_data("n1"));
}

// A second change while one is pending is refused with "busy"; an add that
// never completes can be cancelled, and the quorum never grew by it.
TEST(RsmScenario, SecondChangeIsBusy_GhostAddIsCancelled) {
  RsmSimOptions o = quiet(4);
  o.initial_members = 3;
  RsmSim sim(o);
  sim.crash("n4");
  sim.run_for(100);
  ASSERT_TRUE(sim.request_add("n1", "n4").ok());
  Status second = sim.request_remove("n1", "n3");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("busy"), std::string::npos) << second.error().message;
  EXPECT_FALSE(sim.request_add("n2", "n4").ok()) << "a backup took an admin request";
  sim.run_for(300);
  EXPECT_EQ(sim.core("n1").view().size(), 3u) << "a ghost entered the view";
  ASSERT_TRUE(sim.cancel_add("n1", "n4").ok());
  EXPECT_FALSE(sim.core("n1").pending_change());
  EXPECT_TRUE(sim.request_remove("n1", "n3").ok()) << "the cancelled add still blocks changes";
  ASSERT_TRUE(sim.run_until(300, [&] { return sim.core("n1").view().size() == 2; })) << sim.violation().value_or("");
  finish(sim);
}

// Removing a backup: the next view is exactly the others, and they go on.
TEST(RsmScenario, RemoveBackup_NextViewIsExactlyTheOthers) {
  RsmSim sim(quiet(3));
  sim.run_for(200);
  ASSERT_TRUE(sim.request_remove("n1", "n3").ok());
  ASSERT_TRUE(sim.run_until(200, [&] { return sim.core("n1").view().vid == 2; })) << sim.violation().value_or("");
  EXPECT_EQ(sim.core("n1").view(), view(2, "n1", {"n2"}));
  const std::uint64_t at_removal = completed(sim);
  sim.run_for(200);
  EXPECT_GT(completed(sim), at_removal + 10);
  finish(sim);
}

// Removing the primary hands its role to the backup furthest along first,
// in the same view change; the old primary then redirects.
TEST(RsmScenario, RemovePrimary_HandsOverToAnUpToDateBackup) {
  RsmSim sim(quiet(3));
  sim.run_for(200);
  ASSERT_TRUE(sim.request_remove("n1", "n1").ok());
  ASSERT_TRUE(sim.run_until(300, [&] { return serving_primary_other_than(sim, "n1"); })) << sim.violation().value_or("");
  const NodeId p = *sim.current_primary();
  EXPECT_FALSE(sim.core(p).view().contains("n1"));
  EXPECT_EQ(sim.core(p).view().size(), 2u);
  EXPECT_EQ(sim.core(p).view().vid, 2u) << "handover and removal are one view change";
  const std::uint64_t at_handover = completed(sim);
  sim.run_for(200);
  EXPECT_GT(completed(sim), at_handover + 10);
  finish(sim);
}

// T3 (manual removal): n3 is removed, later restarted and added again
// through the same join path; the final view is {n1,n2,n3} and its data
// equals the others'.
TEST(RsmScenario, T3_RemovedNodeRejoinsThroughTheJoinPath) {
  RsmSim sim(quiet(3));
  sim.run_for(150);
  ASSERT_TRUE(sim.request_remove("n1", "n3").ok());
  ASSERT_TRUE(sim.run_until(200, [&] { return !sim.core("n1").view().contains("n3"); }));
  sim.crash("n3");
  sim.run_for(300);
  sim.restart("n3");
  ASSERT_TRUE(sim.run_until(100, [&] { return sim.request_add("n1", "n3").ok(); }));
  ASSERT_TRUE(sim.run_until(500, [&] { return is_member_everywhere(sim, "n3"); })) << sim.violation().value_or("");
  std::vector<NodeId> members = sim.core("n1").view().members();
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<NodeId>{"n1", "n2", "n3"}));
  finish(sim);
  EXPECT_EQ(sim.kv_data("n3"), sim.kv_data("n1"));
}

// T1 and T3 with the auto-removal policy on: a dead backup is removed, the
// next view being exactly the two survivors; when it comes back it rejoins
// through the learner path, the final view is {n1,n2,n3}, and its data
// equals the others'.
TEST(RsmScenario, T1_T3_AutoRemoval_DeadBackupRemovedThenRejoins) {
  RsmSimOptions o = quiet(3);
  o.auto_remove_after_ticks = 100;
  o.min_members = 2;
  RsmSim sim(o);
  sim.run_for(150);
  sim.crash("n3");
  ASSERT_TRUE(sim.run_until(400, [&] { return sim.core("n1").view().vid == 2; })) << sim.violation().value_or("");
  EXPECT_EQ(sim.core("n1").view(), view(2, "n1", {"n2"}));
  sim.run_for(100);
  EXPECT_EQ(sim.core("n1").view().vid, 2u) << "removal went below the minimum size";
  sim.restart("n3");
  ASSERT_TRUE(sim.run_until(500, [&] { return is_member_everywhere(sim, "n3"); })) << sim.violation().value_or("");
  EXPECT_EQ(sim.core("n1").view(), view(3, "n1", {"n2", "n3"}));
  finish(sim);
  EXPECT_EQ(sim.kv_data("n3"), sim.kv_data("n1"));
  EXPECT_EQ(sim.kv_data("n2"), sim.kv_data("n1"));
}

}  // namespace
}  // namespace synod::sim
