// rsm::Node's view change, checked by playing the runtime for several nodes
// at once (Cluster, in node_harness.h): each node's Ready loop is run by hand,
// its writes are persisted (or held, to test ordering), and rsm and Paxos
// messages are passed between nodes in an order the test chooses. No threads,
// no clocks, bounded loops.

#include "rsm/node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "unit/paxos/paxos_test_util.h"
#include "unit/rsm/node_harness.h"
#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm {
namespace {

using paxos::test::pn;

using namespace test;  // NOLINT: the harness's builders and Cluster (node_harness.h)

// ---- Freeze ----------------------------------------------------------------------

TEST(RsmNode, BackupThatPromisedForTheNextViewStopsAckingAppendsOfItsView) {
  Cluster c;
  c.node("n1").submit(request(1, 1));
  c.settle("n1");
  c.deliver_all();
  ASSERT_FALSE(of_type<AppendAck>(c.rsm_sent, "n2").empty()) << "n2 acks while nobody proposes";
  ASSERT_FALSE(c.node("n2").frozen());

  // The freeze starts with the promise itself, not when its record is durable.
  c.peer("n2").hold_writes = true;
  c.step(paxos::Message{"n3", "n2", paxos::Prepare{2, pn(1, "n3")}});
  EXPECT_TRUE(c.node("n2").frozen());
  ASSERT_TRUE(of_type<paxos::Promise>(c.paxos_sent, "n2").empty()) << "promised before its record was durable";

  c.rsm_sent.clear();
  c.node("n1").submit(request(2, 1));
  c.settle("n1");
  c.deliver_all();
  c.sync("n2");
  c.peer("n2").hold_writes = false;
  std::vector<paxos::Message> promises = of_type<paxos::Promise>(c.paxos_sent, "n2");
  ASSERT_EQ(promises.size(), 1u);
  EXPECT_EQ(std::get<paxos::Promise>(promises[0].body).log_position, vs(1, 1));
  c.deliver_all();
  EXPECT_TRUE(of_type<AppendAck>(c.rsm_sent, "n2").empty()) << "n2 acked view 1 after promising for view 2";
  EXPECT_TRUE(of_type<AppendGap>(c.rsm_sent, "n2").empty());
  EXPECT_EQ(stamps(c.node("n2").replica().log()), (std::vector<Viewstamp>{vs(1, 1)})) << "its log is what it promised";
  EXPECT_FALSE(of_type<AppendAck>(c.rsm_sent, "n3").empty()) << "n3 did not promise and still acks";
}

// A node that proposes the next view promises to itself when its Prepare's
// round becomes durable, inside Node::on_durable (paxos_.on_durable handles
// the local Prepare). This failed against the node.cpp first reviewed, whose
// on_durable never called update_freeze(): the node stayed unfrozen until its
// next tick or Paxos message, and meanwhile took and acked Appends of the old
// view that its promise did not report.
TEST(RsmNode, ProposerIsFrozenFromTheMomentItPromisesToItself) {
  Cluster c;
  for (int t = 0; t < 100 && of_type<paxos::Prepare>(c.paxos_sent, "n2").empty(); ++t) c.tick("n2");
  ASSERT_FALSE(of_type<paxos::Prepare>(c.paxos_sent, "n2").empty()) << "n2 never proposed";
  ASSERT_FALSE(c.node("n2").paxos().promised_for(2).is_zero()) << "n2 has promised to its own Prepare";
  EXPECT_TRUE(c.node("n2").frozen()) << "promised for view 2 but still takes part in view 1";

  c.paxos_in_flight.clear();  // its Prepares are slow; n1's Append is not
  c.node("n1").submit(request(1, 1));
  c.settle("n1");
  c.deliver_round();
  EXPECT_TRUE(of_type<AppendAck>(c.rsm_sent, "n2").empty()) << "n2 acked view 1 after promising for view 2";
  EXPECT_TRUE(c.node("n2").replica().log().empty()) << describe(c.node("n2").replica().log());
}

// The consequence of a missing freeze (this failed against the node.cpp
// first reviewed): n2 promised to its own Prepare with log position (0,0),
// then, unfrozen, took and acked (1,1) and (1,2); n1 committed (1,2) with n2's
// ack. n3 holds only (1,1) and promises with it; the quorum {n2 (0,0),
// n3 (1,1)} made n3 primary of view 2, whose log lacked the committed (1,2),
// and n2 then truncated it. Every entry n1 commits must be in the new
// primary's log.
TEST(RsmNode, EntryCommittedWhileTheProposerAwaitedPromisesSurvivesTheViewChange) {
  Cluster c;
  // n1 never hears the view change (its Paxos links are cut); rsm still flows.
  c.drop_paxos = [](const paxos::Message& m) { return m.to == "n1" || m.from == "n1"; };
  for (int t = 0; t < 100 && of_type<paxos::Prepare>(c.paxos_sent, "n2").empty(); ++t) c.tick("n2");
  ASSERT_FALSE(of_type<paxos::Prepare>(c.paxos_sent, "n2").empty()) << "n2 never proposed";
  std::vector<paxos::Message> slow = std::exchange(c.paxos_in_flight, {});  // n2's Prepares, in the network

  c.node("n1").submit(request(1, 1));
  c.settle("n1");
  c.deliver_all();  // (1,1) on every node
  c.node("n1").submit(request(2, 1));
  c.settle("n1");
  std::erase_if(c.rsm_in_flight, [](const Message& m) { return m.to == "n3"; });
  c.deliver_all();  // (1,2) on n1, and on n2 if it still takes part in view 1

  c.paxos_in_flight = slow;
  c.deliver_all();
  bool done = c.run_until([&] { return c.node("n2").view().vid == 2 && c.node("n3").view().vid == 2; }, 300);
  ASSERT_TRUE(done) << "view 2 not entered; n2 in " << to_string(c.node("n2").view()) << ", n3 in "
                    << to_string(c.node("n3").view());
  const Node& primary = c.node(c.node("n2").view().primary);
  const std::vector<LogEntry>& committed_in_view1 = c.peer("n1").committed;
  ASSERT_FALSE(committed_in_view1.empty()) << "n1 committed nothing; the scenario did not happen";
  for (const LogEntry& e : committed_in_view1) {
    EXPECT_TRUE(holds(primary.replica().log(), e))
        << "n1 committed " << to_string(e.vs) << " in view 1; view 2's primary " << primary.self()
        << " has " << describe(primary.replica().log());
  }
}

// The same rule when the proposer's disk is slow: n2 proposes (log empty),
// and while its round is being written it takes (1,1)(1,2) from n1; n3 holds
// only (1,1). n2's own promise must report the log as it is when the promise
// is made, (1,2), or the chooser prefers n3 and loses what n1 commits with n2's
// acks.
TEST(RsmNode, ProposersOwnPromiseReportsEntriesTakenWhileItsRoundWasBeingWritten) {
  Cluster c;
  c.drop_paxos = [](const paxos::Message& m) { return m.to == "n1" || m.from == "n1"; };
  c.peer("n2").hold_writes = true;
  for (int t = 0; t < 100 && !c.node("n2").paxos().proposing(); ++t) c.tick("n2");
  ASSERT_TRUE(c.node("n2").paxos().proposing()) << "n2 never proposed";
  ASSERT_TRUE(of_type<paxos::Prepare>(c.paxos_sent, "n2").empty()) << "its round is not durable yet";

  c.node("n1").submit(request(1, 1));
  c.settle("n1");
  c.deliver_all();  // (1,1) on every node; n2's write is held
  c.node("n1").submit(request(2, 1));
  c.settle("n1");
  std::erase_if(c.rsm_in_flight, [](const Message& m) { return m.to == "n3"; });
  c.deliver_all();  // (1,2) on n1, and in n2's held write if n2 still takes part in view 1

  c.sync("n2");  // its round, then its log entries, become durable
  c.peer("n2").hold_writes = false;
  c.deliver_all();
  bool done = c.run_until([&] { return c.node("n2").view().vid == 2 && c.node("n3").view().vid == 2; }, 300);
  ASSERT_TRUE(done) << "view 2 not entered; n2 in " << to_string(c.node("n2").view()) << ", n3 in "
                    << to_string(c.node("n3").view());
  const Node& primary = c.node(c.node("n2").view().primary);
  const std::vector<LogEntry>& committed_in_view1 = c.peer("n1").committed;
  ASSERT_FALSE(committed_in_view1.empty()) << "n1 committed nothing; the scenario did not happen";
  for (const LogEntry& e : committed_in_view1) {
    EXPECT_TRUE(holds(primary.replica().log(), e))
        << "n1 committed " << to_string(e.vs) << " in view 1; view 2's primary " << primary.self()
        << " has " << describe(primary.replica().log());
  }
}

// ---- One write stream --------------------------------------------------------------

TEST(RsmNode, PromiseLeavesOnlyOnceTheCombinedWriteWithTheLogEntriesIsDurable) {
  Node n2(node_config("n2"), Recovered{});
  n2.step(Message{"n1", "n2", Append{1, Viewstamp{}, {entry(1, 1), entry(1, 2)}, Viewstamp{}}});
  n2.step(paxos::Message{"n3", "n2", paxos::Prepare{2, pn(1, "n3")}});
  NodeReady write = n2.take_ready();
  ASSERT_NE(write.write_id, 0u);
  EXPECT_EQ(stamps(write.appends), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)}));
  EXPECT_FALSE(paxos::test::records_of<paxos::AcceptorRecord>(write.paxos_writes).empty())
      << "the promise's record rides in the same write";
  EXPECT_TRUE(of_type<paxos::Promise>(write.paxos_messages).empty());

  Said before = drain(n2, false);
  EXPECT_TRUE(of_type<paxos::Promise>(before.paxos_messages).empty()) << "promised before its log was durable";
  EXPECT_TRUE(before.write_ids.empty());

  n2.on_durable(write.write_id);
  Said after = drain(n2, true);
  std::vector<paxos::Message> promises = of_type<paxos::Promise>(after.paxos_messages);
  ASSERT_EQ(promises.size(), 1u);
  EXPECT_EQ(promises[0].to, "n3");
  const auto& p = std::get<paxos::Promise>(promises[0].body);
  EXPECT_EQ(p.instance, 2u);
  EXPECT_EQ(p.log_position, vs(1, 2)) << "the last appended viewstamp";
}

TEST(RsmNode, PromiseWaitsForALogWriteOfAnEarlierBatch) {
  Node n2(node_config("n2"), Recovered{});
  n2.step(Message{"n1", "n2", Append{1, Viewstamp{}, {entry(1, 1), entry(1, 2)}, Viewstamp{}}});
  NodeReady log_write = n2.take_ready();
  ASSERT_NE(log_write.write_id, 0u);
  n2.step(paxos::Message{"n3", "n2", paxos::Prepare{2, pn(1, "n3")}});
  NodeReady promise_write = n2.take_ready();
  ASSERT_NE(promise_write.write_id, 0u);
  EXPECT_TRUE(of_type<paxos::Promise>(promise_write.paxos_messages).empty());

  n2.on_durable(log_write.write_id);
  Said between = drain(n2, false);
  EXPECT_TRUE(of_type<paxos::Promise>(between.paxos_messages).empty()) << "promised before its record was durable";

  n2.on_durable(promise_write.write_id);
  Said after = drain(n2, true);
  std::vector<paxos::Message> promises = of_type<paxos::Promise>(after.paxos_messages);
  ASSERT_EQ(promises.size(), 1u);
  EXPECT_EQ(std::get<paxos::Promise>(promises[0].body).log_position, vs(1, 2));
}

// ---- Choosing the new primary --------------------------------------------------------

// choose_view(wanted, proposer, positions): a failover wants the current view
// one id later, so wanted.primary is the old primary.

TEST(ChooseView, PromiserWithTheHighestLastViewstampBecomesPrimary) {
  View v = choose_view(view_of(2, "n1"), "n1", {{"n1", vs(1, 3)}, {"n2", vs(1, 5)}, {"n3", vs(1, 4)}});
  EXPECT_EQ(v, view_of(2, "n2"));
  View later_view = choose_view(view_of(2, "n1"), "n1", {{"n1", vs(1, 9)}, {"n3", vs(2, 1)}});
  EXPECT_EQ(later_view, view_of(2, "n3")) << "a later view outranks a higher seq";
}

TEST(ChooseView, TieGoesToTheOldPrimary) {
  View v = choose_view(view_of(2, "n3"), "n2", {{"n1", vs(1, 5)}, {"n2", vs(1, 5)}, {"n3", vs(1, 5)}});
  EXPECT_EQ(v, view_of(2, "n3"));
}

TEST(ChooseView, TieWithoutTheOldPrimaryGoesToTheProposer) {
  View v = choose_view(view_of(2, "n1"), "n3", {{"n1", vs(1, 2)}, {"n2", vs(1, 5)}, {"n3", vs(1, 5)}});
  EXPECT_EQ(v, view_of(2, "n3"));
}

TEST(ChooseView, TieWithNeitherOldPrimaryNorProposerGoesToTheSmallestId) {
  View v = choose_view(view_of(2, "n1"), "n1", {{"n1", vs(1, 2)}, {"n3", vs(1, 5)}, {"n2", vs(1, 5)}});
  EXPECT_EQ(v, view_of(2, "n2"));
}

TEST(ChooseView, MembershipAndViewIdAreThoseWanted) {
  const View wanted = make_view(2, "n2", {"n1", "n3", "n4", "n5"});
  View v = choose_view(wanted, "n2", {{"n4", vs(1, 7)}, {"n2", vs(1, 3)}, {"n5", vs(1, 1)}});
  EXPECT_EQ(v, make_view(2, "n4", {"n1", "n2", "n3", "n5"}));
  EXPECT_TRUE(v.validate().ok());
}

TEST(ChooseView, NoPromisesLeavesTheWantedView) {
  EXPECT_EQ(choose_view(view_of(2, "n1"), "n2", {}), view_of(2, "n1"));
}

// ---- Suspicion -----------------------------------------------------------------------

TEST(RsmNode, BackupProposesTheNextViewAfterPrimaryTimeoutOfSilence) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    NodeConfig cfg = node_config("n2", seed);
    Node n2(cfg, Recovered{});
    int proposed_at = 0;
    std::vector<paxos::Message> prepares;
    for (int t = 1; t <= static_cast<int>(cfg.primary_timeout_ticks + cfg.primary_timeout_jitter_ticks) + 1; ++t) {
      n2.tick();
      prepares = of_type<paxos::Prepare>(drain(n2, true).paxos_messages);
      if (!prepares.empty()) {
        proposed_at = t;
        break;
      }
    }
    ASSERT_NE(proposed_at, 0) << "never proposed";
    EXPECT_GE(proposed_at, static_cast<int>(cfg.primary_timeout_ticks)) << "proposed before the timeout";
    EXPECT_LE(proposed_at, static_cast<int>(cfg.primary_timeout_ticks + cfg.primary_timeout_jitter_ticks));
    EXPECT_EQ(recipients(prepares), (std::set<NodeId>{"n1", "n3"}));
    for (const paxos::Message& m : prepares) EXPECT_EQ(std::get<paxos::Prepare>(m.body).instance, 2u);
  }
}

TEST(RsmNode, HeartbeatsFromThePrimaryKeepBackupsFromProposing) {
  Cluster c;
  c.node("n1").submit(request(1, 1));
  const NodeConfig cfg = node_config("n1");
  const int ticks = 10 * static_cast<int>(cfg.primary_timeout_ticks + cfg.primary_timeout_jitter_ticks);
  for (int t = 0; t < ticks; ++t) c.tick_all_and_deliver();
  EXPECT_TRUE(of_type<paxos::Prepare>(c.paxos_sent).empty())
      << of_type<paxos::Prepare>(c.paxos_sent).size() << " Prepares in " << ticks << " ticks";
  ASSERT_FALSE(of_type<Append>(c.rsm_sent, "n1").empty());
  for (const NodeId& id : kIds) {
    EXPECT_EQ(c.node(id).view().vid, 1u) << id;
    EXPECT_FALSE(c.node(id).frozen()) << id;
  }
}

TEST(RsmNode, BackupsElectTheOneWithTheHighestLogWhenThePrimaryStopsAndCommitViewOneEntriesAfterTheNoOp) {
  Cluster c;
  Node& n1 = c.node("n1");
  n1.submit(request(1, 1));
  n1.submit(request(2, 1));
  c.settle("n1");
  c.deliver_round();  // (1,1)(1,2) reach n2 and n3; their acks are in flight
  n1.submit(request(3, 1));
  c.settle("n1");
  std::erase_if(c.rsm_in_flight, [](const Message& m) { return m.to == "n2" && std::holds_alternative<Append>(m.body); });
  c.deliver_all();  // the acks reach n1; (1,3) reaches n3 only
  ASSERT_EQ(n1.replica().commit(), vs(1, 3));
  ASSERT_EQ(stamps(c.node("n2").replica().log()), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)}));
  ASSERT_EQ(stamps(c.node("n3").replica().log()), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2), vs(1, 3)}));
  ASSERT_EQ(c.node("n3").replica().commit(), Viewstamp{}) << "only n1 knows what is committed";
  const std::vector<LogEntry> committed_in_view1 = c.peer("n1").committed;
  ASSERT_EQ(committed_in_view1.size(), 3u);

  c.down.insert("n1");  // n1 stops
  bool done = c.run_until(
      [&] {
        return c.node("n2").view().vid == 2 && c.node("n3").view().vid == 2 &&
               c.node("n2").replica().commit() >= vs(2, 1);
      },
      1000);
  ASSERT_TRUE(done) << "n2 in " << to_string(c.node("n2").view()) << ", n3 in " << to_string(c.node("n3").view());

  const Node& n3 = c.node("n3");
  EXPECT_EQ(n3.view(), view_of(2, "n3")) << "n3 holds the highest log";
  EXPECT_EQ(c.node("n2").view(), view_of(2, "n3"));
  std::vector<LogEntry> expected = committed_in_view1;
  expected.push_back(LogEntry{vs(2, 1), 0, 0, {}});
  EXPECT_EQ(n3.replica().log(), expected) << describe(n3.replica().log());
  EXPECT_EQ(c.node("n2").replica().log(), expected) << describe(c.node("n2").replica().log());
  EXPECT_EQ(n3.replica().commit(), vs(2, 1));
  EXPECT_EQ(c.peer("n3").committed, expected) << "view 1's entries are handed out with the no-op that commits them: "
                                              << describe(c.peer("n3").committed);
  EXPECT_EQ(c.peer("n2").committed, expected) << describe(c.peer("n2").committed);
  EXPECT_EQ(c.node("n2").replica().committed_entries_truncated(), 0u);
  EXPECT_EQ(n3.replica().committed_entries_truncated(), 0u);
}

// ---- Takeover --------------------------------------------------------------------------

TEST(RsmNode, FrozenNodeWhoseProposerVanishesProposesTheNextViewAfterViewChangeTimeout) {
  Cluster c;
  c.down.insert("n3");
  c.step(paxos::Message{"n3", "n2", paxos::Prepare{2, pn(1, "n3")}});  // then n3 is gone
  ASSERT_TRUE(c.node("n2").frozen());
  const std::uint32_t timeout = node_config("n2").view_change_timeout_ticks;

  int proposed_at = 0;
  for (int t = 1; t <= static_cast<int>(timeout) + 10 && proposed_at == 0; ++t) {
    c.tick_all_and_deliver();
    if (!of_type<paxos::Prepare>(c.paxos_sent, "n2").empty()) proposed_at = t;
  }
  ASSERT_NE(proposed_at, 0) << "n2 never took over";
  EXPECT_EQ(proposed_at, static_cast<int>(timeout));
  const auto prepare = std::get<paxos::Prepare>(of_type<paxos::Prepare>(c.paxos_sent, "n2").front().body);
  EXPECT_EQ(prepare.instance, 2u);
  EXPECT_GT(prepare.n, pn(1, "n3"));

  bool done = c.run_until([&] { return c.node("n1").view().vid == 2 && c.node("n2").view().vid == 2; }, 300);
  ASSERT_TRUE(done) << "n1 in " << to_string(c.node("n1").view()) << ", n2 in " << to_string(c.node("n2").view());
  EXPECT_EQ(c.node("n2").view(), view_of(2, "n1")) << "equal logs: the old primary keeps its place";
  EXPECT_FALSE(c.node("n2").frozen());
  EXPECT_FALSE(c.node("n1").frozen());
  EXPECT_EQ(c.peer("n2").views_entered, (std::vector<View>{view_of(2, "n1")}));
}

// ---- Restart ------------------------------------------------------------------------------

TEST(RsmNode, RestartedPrimaryIsFrozenAtOnceAndProposesTheNextView) {
  Node n1(node_config("n1"), Recovered{{}, {entry(1, 1), entry(1, 2)}, true});
  EXPECT_TRUE(n1.frozen());
  n1.submit(request(5, 1));
  Said s = drain(n1, true);
  std::vector<paxos::Message> prepares = of_type<paxos::Prepare>(s.paxos_messages);
  EXPECT_EQ(recipients(prepares), (std::set<NodeId>{"n2", "n3"}));
  for (const paxos::Message& m : prepares) EXPECT_EQ(std::get<paxos::Prepare>(m.body).instance, 2u);
  EXPECT_TRUE(s.appends.empty()) << "ordered in its old view: " << describe(s.appends);
  EXPECT_TRUE(s.messages.empty()) << "no Appends, no heartbeats";
  EXPECT_TRUE(s.notices.empty()) << "the request waits for the next view";
}

TEST(RsmNode, PrimaryOnItsFirstStartOrdersNormally) {
  Node n1(node_config("n1"), Recovered{{}, {}, false});
  EXPECT_FALSE(n1.frozen());
  n1.submit(request(5, 1));
  Said s = drain(n1, true);
  EXPECT_EQ(stamps(s.appends), (std::vector<Viewstamp>{vs(1, 1)}));
  EXPECT_EQ(of_type<Append>(s.messages).size(), 2u);
  EXPECT_TRUE(of_type<paxos::Prepare>(s.paxos_messages).empty());
}

TEST(RsmNode, RestartedBackupIsNotFrozen) {
  Node n2(node_config("n2"), Recovered{{}, {entry(1, 1)}, true});
  EXPECT_FALSE(n2.frozen());
  Said s = drain(n2, true);
  EXPECT_TRUE(of_type<paxos::Prepare>(s.paxos_messages).empty());
}

// ---- Stale and newer messages -----------------------------------------------------------

TEST(RsmNode, AppendOfAnOlderViewIsAnsweredWithTheCurrentViewAsADecided) {
  Recovered rec;
  rec.paxos.decided[2] = view_of(2, "n2");
  Node n3(node_config("n3"), rec);
  ASSERT_EQ(n3.view(), view_of(2, "n2"));
  n3.step(Message{"n1", "n3", Append{1, Viewstamp{}, {entry(1, 1)}, Viewstamp{}}});
  Said s = drain(n3, true);
  ASSERT_EQ(s.paxos_messages.size(), 1u);
  EXPECT_EQ(s.paxos_messages[0], (paxos::Message{"n3", "n1", paxos::Decided{2, view_of(2, "n2")}}));
  EXPECT_TRUE(s.messages.empty());
  EXPECT_TRUE(s.appends.empty());
  EXPECT_TRUE(n3.replica().log().empty());
}

TEST(RsmNode, MessageOfANewerViewStartsACatchUpAtMostOncePerInterval) {
  NodeConfig cfg = node_config("n2");
  cfg.paxos.learn_interval_ticks = 100000;  // only the catch-up asks
  cfg.catch_up_interval_ticks = 5;
  Node n2(cfg, Recovered{});
  const Message newer{"n3", "n2", Append{3, Viewstamp{}, {}, Viewstamp{}}};
  auto learns_after = [&](const Message& m) {
    n2.step(m);
    return of_type<paxos::Learn>(drain(n2, true).paxos_messages);
  };
  std::vector<paxos::Message> first = learns_after(newer);
  EXPECT_EQ(recipients(first), (std::set<NodeId>{"n1", "n3"}));
  for (const paxos::Message& m : first) EXPECT_EQ(std::get<paxos::Learn>(m.body).instance, 2u);
  EXPECT_TRUE(learns_after(newer).empty()) << "asked twice in one interval";
  for (std::uint32_t t = 1; t < cfg.catch_up_interval_ticks; ++t) {
    n2.tick();
    drain(n2, true);
    EXPECT_TRUE(learns_after(newer).empty()) << "asked again " << t << " ticks later";
  }
  n2.tick();
  drain(n2, true);
  EXPECT_EQ(recipients(learns_after(newer)), (std::set<NodeId>{"n1", "n3"})) << "one interval later it asks again";
  EXPECT_EQ(n2.view().vid, 1u);
  EXPECT_TRUE(n2.replica().log().empty());
}

TEST(RsmNode, OldPrimaryPartitionedDuringTheViewChangeStepsDownOnTheDecidedItsHeartbeatProvokes) {
  Cluster c([](NodeConfig& cfg) {
    cfg.replica.inflight_entries_max = 1;      // keeps requests pending at n1
    cfg.paxos.learn_interval_ticks = 100000;   // n1 learns only from the answer to its heartbeat
  });
  c.down.insert("n1");  // partitioned: it runs, but nothing reaches it or leaves it
  for (std::uint64_t client = 1; client <= 3; ++client) c.node("n1").submit(request(client, 1));
  c.settle("n1");
  ASSERT_EQ(stamps(c.node("n1").replica().log()), (std::vector<Viewstamp>{vs(1, 1)}));

  bool elected = c.run_until(
      [&] {
        return c.node("n2").view().vid == 2 && c.node("n3").view().vid == 2 &&
               c.node(c.node("n2").view().primary).replica().commit() >= vs(2, 1);
      },
      1000);
  ASSERT_TRUE(elected) << "n2 in " << to_string(c.node("n2").view()) << ", n3 in " << to_string(c.node("n3").view());
  ASSERT_EQ(c.node("n1").view().vid, 1u);
  ASSERT_TRUE(c.node("n1").is_primary());
  const View view2 = c.node("n2").view();
  ASSERT_NE(view2.primary, "n1");

  c.down.clear();
  c.paxos_sent.clear();
  bool stepped_down = false;
  for (std::uint32_t t = 0; t <= node_config("n1").replica.heartbeat_ticks && !stepped_down; ++t) {
    c.tick("n1");
    c.deliver_all();
    stepped_down = c.node("n1").view().vid == 2;
  }
  ASSERT_TRUE(stepped_down) << "n1 still in " << to_string(c.node("n1").view());
  EXPECT_FALSE(of_type<paxos::Decided>(c.paxos_sent).empty()) << "n1 learned view 2 without a Decided";
  EXPECT_EQ(c.node("n1").view(), view2);
  EXPECT_FALSE(c.node("n1").is_primary());
  EXPECT_EQ(c.peer("n1").views_entered, (std::vector<View>{view2}));
  EXPECT_EQ(c.peer("n1").notices, (std::vector<ClientNotice>{ClientRedirect{2, 1, 2, view2.primary},
                                                             ClientRedirect{3, 1, 2, view2.primary}}));

  // Its uncommitted (1,1) goes; its log becomes the new primary's.
  bool caught_up = c.run_until(
      [&] { return c.node("n1").replica().log() == c.node(view2.primary).replica().log(); }, 200);
  EXPECT_TRUE(caught_up) << "n1 has " << describe(c.node("n1").replica().log());
  EXPECT_EQ(c.node("n1").replica().committed_entries_truncated(), 0u);
}

}  // namespace
}  // namespace synod::rsm
