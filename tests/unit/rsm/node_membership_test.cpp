// rsm::Node's membership changes, checked by playing the runtime for several
// nodes at once (Cluster, in node_harness.h): the admin requests' answers, a
// learner that follows the log but counts for nothing until the view that
// includes it is proposed, removing a backup, handing the primary's role over
// when it removes itself, and what the chooser (choose_view) makes of what was
// wanted. No threads, no clocks, bounded loops.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rsm/applier.h"
#include "rsm/node.h"
#include "unit/paxos/paxos_test_util.h"
#include "unit/rsm/node_harness.h"
#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm {
namespace {

using namespace test;  // NOLINT: the harness's builders and Cluster (node_harness.h)

// ---- Building blocks ---------------------------------------------------------

// The error message of a refused request ("" when it was accepted).
std::string error_of(const Status& s) { return s.ok() ? std::string() : s.error().message; }

bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// n1, the primary of view 1, orders `count` requests and every node takes
// them: the view has committed an entry of its own, so changes may begin.
void establish(Cluster& c, std::uint64_t count = 1) {
  for (std::uint64_t client = 1; client <= count; ++client) c.node("n1").submit(request(client, 1));
  c.settle("n1");
  c.deliver_all();
  ASSERT_EQ(c.node("n1").replica().commit(), vs(1, count)) << "view 1 did not commit what n1 ordered";
}

std::vector<Append> appends_to(const std::vector<Message>& ms, const NodeId& to) {
  std::vector<Append> out;
  for (const Message& m : ms) {
    if (m.to != to) continue;
    if (const auto* a = std::get_if<Append>(&m.body)) out.push_back(*a);
  }
  return out;
}

// Prepares n1 sent for the view after view 1.
std::size_t prepares_for_view2_by(const Cluster& c, const NodeId& from) {
  std::size_t n = 0;
  for (const paxos::Message& m : of_type<paxos::Prepare>(c.paxos_sent, from)) {
    if (std::get<paxos::Prepare>(m.body).instance == 2) ++n;
  }
  return n;
}

bool orders_client(const Node& n, std::uint64_t client) {
  const std::vector<LogEntry>& log = n.replica().log();
  return std::any_of(log.begin(), log.end(), [&](const LogEntry& e) { return e.client_id == client; });
}

std::string pending(const Node& n) {
  return n.pending_change() ? to_string(*n.pending_change()) + (n.pending_change()->proposed ? " (proposed)" : "")
                            : "none";
}

// ---- Refusals ----------------------------------------------------------------

TEST(NodeMembership, RequestsAtABackupAreRefusedNamingThePrimary) {
  Cluster c;
  establish(c);
  for (const Status& s : {c.node("n2").request_add("n4"), c.node("n2").request_remove("n3")}) {
    const std::string e = error_of(s);
    EXPECT_TRUE(mentions(e, "not the primary")) << e;
    EXPECT_TRUE(mentions(e, "n1")) << "does not name the primary: " << e;
  }
  EXPECT_FALSE(c.node("n2").pending_change()) << pending(c.node("n2"));
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
}

// View 1 is configuration, with no view before it: its primary is
// established from the start and may begin a change before any write.
TEST(NodeMembership, PrimaryOfViewOneAcceptsAChangeBeforeAnyWrite) {
  Cluster c;
  c.add_node("n4");
  ASSERT_EQ(c.node("n1").replica().commit(), Viewstamp{});
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");
  ASSERT_TRUE(c.run_until([&] { return c.node("n4").view().vid == 2 && c.node("n2").view().vid == 2; }, 300));
  EXPECT_EQ(c.node("n1").view(), make_view(2, "n1", {"n2", "n3", "n4"}));
}

TEST(NodeMembership, RequestsOfANewPrimaryBeforeItsNoOpCommitsAreBusy) {
  Cluster c;
  c.down.insert("n4");
  establish(c);
  // The view change goes through, but no rsm message of view 2 arrives: n1
  // is primary of view 2 with its no-op (2,1) uncommitted.
  c.drop_rsm = [](const Message& m) { return m.from == "n1" || m.to == "n1"; };
  c.node("n2").suspect_primary();
  c.settle("n2");
  c.deliver_all();
  ASSERT_EQ(c.node("n1").view(), view_of(2, "n1")) << "equal logs: the old primary keeps its place";
  ASSERT_FALSE(c.node("n1").frozen());
  ASSERT_LT(c.node("n1").replica().commit(), vs(2, 1));
  const std::string e = error_of(c.node("n1").request_add("n4"));
  EXPECT_TRUE(mentions(e, "busy")) << e;
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));

  c.drop_rsm = nullptr;
  ASSERT_TRUE(c.run_until([&] { return c.node("n1").replica().commit() >= vs(2, 1); }, 50));
  EXPECT_EQ(error_of(c.node("n1").request_add("n4")), "") << "the started view still refuses";
}

TEST(NodeMembership, RequestsDuringAViewChangeAreBusy) {
  Cluster c;
  establish(c);
  c.step(paxos::Message{"n2", "n1", paxos::Prepare{2, paxos::test::pn(1, "n2")}});  // n1 promises
  ASSERT_TRUE(c.node("n1").frozen()) << "n1 did not promise for view 2";
  const std::string e = error_of(c.node("n1").request_remove("n3"));
  EXPECT_TRUE(mentions(e, "busy")) << e;
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
}

TEST(NodeMembership, SecondChangeWhileOneIsPendingIsBusyNamingThePendingOne) {
  Cluster c;
  c.down.insert("n4");  // never answers
  establish(c);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  for (const Status& s : {c.node("n1").request_remove("n3"), c.node("n1").request_add("n5")}) {
    const std::string e = error_of(s);
    EXPECT_TRUE(mentions(e, "busy")) << e;
    EXPECT_TRUE(mentions(e, "adding n4")) << "does not say which change is pending: " << e;
  }
  ASSERT_TRUE(c.node("n1").pending_change());
  EXPECT_EQ(*c.node("n1").pending_change(), (MembershipChange{MembershipChange::Kind::kAdd, "n4", false}));
}

TEST(NodeMembership, AddingAMemberRemovingANonMemberOrTheOnlyMemberAreRefused) {
  Cluster c;
  establish(c);
  std::string e = error_of(c.node("n1").request_add("n2"));
  EXPECT_TRUE(mentions(e, "already a member")) << e;
  e = error_of(c.node("n1").request_add("n1"));
  EXPECT_TRUE(mentions(e, "already a member")) << e;
  e = error_of(c.node("n1").request_remove("n9"));
  EXPECT_TRUE(mentions(e, "not a member")) << e;
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));

  NodeConfig cfg = node_config("n1");
  cfg.initial_view = make_view(1, "n1", {});
  Node alone(cfg, Recovered{});
  alone.submit(request(1, 1));
  drain(alone, true);
  ASSERT_EQ(alone.replica().commit(), vs(1, 1));
  e = error_of(alone.request_remove("n1"));
  EXPECT_TRUE(mentions(e, "only member")) << e;
  EXPECT_FALSE(alone.pending_change()) << pending(alone);
  EXPECT_FALSE(alone.replica().frozen());
  alone.submit(request(2, 1));
  drain(alone, true);
  EXPECT_EQ(alone.replica().commit(), vs(1, 2)) << "the refused removal paused ordering";
}

TEST(NodeMembership, InvalidNodeIdIsRefused) {
  Cluster c;
  establish(c);
  for (const NodeId& bad : std::vector<NodeId>{"", "n 4", "n4/x", std::string(kNodeIdLengthMax + 1, 'a')}) {
    const std::string e = error_of(c.node("n1").request_add(bad));
    EXPECT_TRUE(mentions(e, "node id")) << "'" << bad << "': " << e;
  }
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
  c.settle("n1");
  for (const Message& m : c.rsm_in_flight) EXPECT_TRUE(kIds.end() != std::find(kIds.begin(), kIds.end(), m.to)) << m.to;
}

TEST(NodeMembership, CancelAddWithoutThatAddPendingIsRefused) {
  Cluster c;
  c.down.insert("n4");
  establish(c);
  std::string e = error_of(c.node("n1").cancel_add("n4"));
  EXPECT_TRUE(mentions(e, "no add of n4")) << e;
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  e = error_of(c.node("n1").cancel_add("n5"));
  EXPECT_TRUE(mentions(e, "no add of n5")) << e;
  EXPECT_TRUE(c.node("n1").pending_change()) << "a refused cancel dropped the pending add";
}

// ---- Adding: the learner ----------------------------------------------------------

TEST(NodeMembership, AddedLearnerReceivesTheLogFromItsStart) {
  Cluster c;
  c.add_node("n4");
  establish(c, 3);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");
  std::vector<Append> to_n4 = appends_to(c.rsm_in_flight, "n4");
  ASSERT_EQ(to_n4.size(), 1u);
  EXPECT_EQ(to_n4[0].prev, Viewstamp{}) << "not from the start of the log";
  EXPECT_EQ(to_n4[0].entries, c.node("n1").replica().log()) << describe(to_n4[0].entries);
  EXPECT_EQ(to_n4[0].vid, 1u);

  c.deliver_all();
  EXPECT_EQ(c.node("n4").replica().log(), c.node("n1").replica().log()) << describe(c.node("n4").replica().log());
  EXPECT_EQ(c.node("n1").replica().follower_lag_entries("n4"), std::optional<std::size_t>{0});
  EXPECT_FALSE(c.node("n1").view().contains("n4")) << "a learner is no member yet";
}

TEST(NodeMembership, LearnersAcksCountForNeitherCommitNorReadConfirmation) {
  Cluster c;
  c.add_node("n4");
  establish(c);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");
  c.deliver_all();  // n4 holds (1,1)

  c.down = {"n2", "n3"};  // only the learner answers n1 now; nobody ticks
  c.node("n1").submit(request(2, 1));
  c.settle("n1");
  c.deliver_all();
  ASSERT_EQ(c.node("n4").replica().log().size(), 2u) << "the learner did not take (1,2)";
  ASSERT_EQ(c.node("n1").replica().follower_lag_entries("n4"), std::optional<std::size_t>{0})
      << "n1 did not hear the learner's ack";
  EXPECT_EQ(c.node("n1").replica().commit(), vs(1, 1)) << "n1 and the learner made a majority";

  c.rsm_sent.clear();
  c.node("n1").submit_read(ReadRequest{5, 1, "get", false});
  c.settle("n1");
  std::vector<Message> confirms = of_type<ReadConfirm>(c.rsm_sent, "n1");
  ASSERT_EQ(confirms.size(), 2u) << "one ReadConfirm per member backup";
  for (const Message& m : confirms) EXPECT_NE(m.to, "n4") << "the learner was asked to confirm";
  const std::uint64_t round = std::get<ReadConfirm>(confirms[0].body).round;
  c.step(Message{"n4", "n1", ReadConfirmAck{1, round}});
  EXPECT_TRUE(c.peer("n1").reads.empty()) << "n1 and the learner confirmed a read";

  c.step(Message{"n2", "n1", ReadConfirmAck{1, round}});
  EXPECT_EQ(c.peer("n1").reads.size(), 1u) << "the member's confirmation did not grant: the round was not open";
}

TEST(NodeMembership, LearnerThatNeverAnswersIsNeverProposedEvenWithAnEmptyOrShortLog) {
  for (std::uint64_t entries : {0, 1}) {
    SCOPED_TRACE(std::to_string(entries) + " entries in the log");
    Cluster c;
    c.down.insert("n4");  // the machine never shows up
    if (entries > 0) establish(c, entries);
    ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
    for (int t = 0; t < 300; ++t) c.tick_all_and_deliver();
    EXPECT_EQ(prepares_for_view2_by(c, "n1"), 0u) << "n1 proposed a view with a node that never answered";
    EXPECT_EQ(c.node("n1").view().vid, 1u) << to_string(c.node("n1").view());
    ASSERT_TRUE(c.node("n1").pending_change());
    EXPECT_FALSE(c.node("n1").pending_change()->proposed);
    EXPECT_EQ(c.node("n1").replica().follower_lag_entries("n4"), std::nullopt);
  }
}

TEST(NodeMembership, LearnerIsProposedOnlyOnceWithinLearnerLagEntriesMax) {
  auto tune = [](NodeConfig& cfg) {
    cfg.learner_lag_entries_max = 2;
    cfg.replica.append_entries_max = 1;  // the learner catches up one entry per round trip
  };
  Cluster c(tune);
  c.add_node("n4", tune);
  establish(c, 6);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");

  bool saw_lag_above_max = false;
  std::optional<std::size_t> lag_when_proposed;
  for (int i = 0; i < 60 && !lag_when_proposed; ++i) {
    c.deliver_round();
    const std::optional<std::size_t> lag = c.node("n1").replica().follower_lag_entries("n4");
    c.tick("n1");
    const bool proposed = c.node("n1").pending_change() && c.node("n1").pending_change()->proposed;
    if (proposed) {
      lag_when_proposed = lag;
    } else {
      EXPECT_FALSE(lag && *lag <= 2) << "the learner is " << *lag << " entries behind and was not proposed";
    }
    if (lag && *lag > 2) saw_lag_above_max = true;
  }
  ASSERT_TRUE(lag_when_proposed) << "never proposed; lag "
                                 << c.node("n1").replica().follower_lag_entries("n4").value_or(999);
  EXPECT_LE(*lag_when_proposed, 2u);
  EXPECT_TRUE(saw_lag_above_max) << "the scenario never held the learner back";

  ASSERT_TRUE(c.run_until([&] { return c.node("n4").view().vid == 2 && c.node("n2").view().vid == 2; }, 300))
      << "n1 in " << to_string(c.node("n1").view()) << ", n4 in " << to_string(c.node("n4").view());
  const View expected = make_view(2, "n1", {"n2", "n3", "n4"});
  for (const NodeId& id : c.ids()) EXPECT_EQ(c.node(id).view(), expected) << id;
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
}

TEST(NodeMembership, CancelAddBeforeTheProposalRemovesTheLearner) {
  Cluster c;
  c.add_node("n4");
  establish(c);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");
  c.deliver_all();  // n4 answered and caught up: the next tick would propose
  ASSERT_EQ(c.node("n1").replica().follower_lag_entries("n4"), std::optional<std::size_t>{0});

  ASSERT_EQ(error_of(c.node("n1").cancel_add("n4")), "");
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
  EXPECT_EQ(c.node("n1").replica().follower_lag_entries("n4"), std::nullopt) << "n4 is still a follower";

  c.rsm_sent.clear();
  const std::uint32_t heartbeat = node_config("n1").replica.heartbeat_ticks;
  for (std::uint32_t t = 0; t < 3 * heartbeat; ++t) c.tick_all_and_deliver();
  EXPECT_TRUE(appends_to(c.rsm_sent, "n4").empty()) << "the cancelled learner still gets the log";
  EXPECT_EQ(prepares_for_view2_by(c, "n1"), 0u);
  EXPECT_EQ(c.node("n1").view(), view_of(1, "n1"));
  EXPECT_EQ(error_of(c.node("n1").request_remove("n3")), "") << "the cancelled add still blocks changes";
}

TEST(NodeMembership, CancelAddAfterTheProposalStartedIsTooLate) {
  Cluster c;
  c.add_node("n4");
  establish(c);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");
  c.deliver_all();
  c.tick("n1");
  ASSERT_NE(prepares_for_view2_by(c, "n1"), 0u) << "n1 did not propose the view with n4";

  const std::string e = error_of(c.node("n1").cancel_add("n4"));
  EXPECT_TRUE(mentions(e, "too late")) << e;
  ASSERT_TRUE(c.node("n1").pending_change());
  EXPECT_EQ(*c.node("n1").pending_change(), (MembershipChange{MembershipChange::Kind::kAdd, "n4", true}));

  ASSERT_TRUE(c.run_until([&] { return c.node("n1").view().vid == 2 && c.node("n4").view().vid == 2; }, 300));
  EXPECT_EQ(c.node("n1").view(), make_view(2, "n1", {"n2", "n3", "n4"}));
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
}

// ---- Removing a backup ------------------------------------------------------------

TEST(NodeMembership, RemovingABackupDecidesExactlyTheOthersUnderTheSamePrimary) {
  Cluster c;
  establish(c, 2);
  ASSERT_EQ(error_of(c.node("n1").request_remove("n3")), "");
  ASSERT_TRUE(c.node("n1").pending_change());
  EXPECT_EQ(*c.node("n1").pending_change(), (MembershipChange{MembershipChange::Kind::kRemove, "n3", true}))
      << "a backup's removal waits for nothing";
  c.settle("n1");
  ASSERT_TRUE(c.run_until([&] { return c.node("n1").view().vid == 2 && c.node("n2").view().vid == 2; }, 300));
  const View expected = make_view(2, "n1", {"n2"});
  EXPECT_EQ(c.node("n1").paxos().decision(2), std::optional<View>{expected});
  EXPECT_EQ(c.node("n1").view(), expected);
  EXPECT_EQ(c.node("n2").view(), expected);
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
}

// The proposer gives the chooser its own durable position: when its own
// promise is not among the first majority (a slow local fsync), the chooser
// still sees that the primary holds every op, and the removal of a backup
// neither moves the primary role to a tied backup nor is dropped.
TEST(NodeMembership, RemovingABackupKeepsThePrimaryWhenItsOwnPromiseIsLate) {
  Cluster c;
  establish(c, 2);
  c.peer("n1").hold_writes = true;
  ASSERT_EQ(error_of(c.node("n1").request_remove("n3")), "");
  c.settle("n1");
  c.sync_first("n1");  // its round: the Prepares leave; its own promise waits on its acceptor record
  ASSERT_EQ(prepares_for_view2_by(c, "n1"), 2u) << "Prepares to n2 and n3";
  c.deliver_all();  // n2's and n3's promises make the majority; the accepts follow
  c.peer("n1").hold_writes = false;
  c.sync("n1");
  ASSERT_TRUE(c.run_until([&] { return c.node("n1").view().vid == 2 && c.node("n2").view().vid == 2; }, 300));
  EXPECT_EQ(c.node("n1").paxos().decision(2), std::optional<View>{make_view(2, "n1", {"n2"})})
      << "decided " << paxos::test::describe(c.node("n1").paxos().decision(2));
}

// ---- Removing the primary: the handover ----------------------------------------------

// n1 holds (1,1)(1,2)(1,3); n3 holds them too but its ack of (1,3) is lost;
// n2 holds only (1,1). The most up-to-date backup is n3.
struct HandoverScenario {
  Cluster c;
  static bool n3_ack_lost(const Message& m) { return m.from == "n3" && std::holds_alternative<AppendAck>(m.body); }
  static bool n2_cut_off(const Message& m) { return m.to == "n2" && std::holds_alternative<Append>(m.body); }

  void set_up() {
    establish(c);
    c.drop_rsm = [](const Message& m) { return n2_cut_off(m); };
    c.node("n1").submit(request(2, 1));
    c.settle("n1");
    c.deliver_all();  // (1,2) on n3, committed
    c.drop_rsm = [](const Message& m) { return n2_cut_off(m) || n3_ack_lost(m); };
    c.node("n1").submit(request(3, 1));
    c.settle("n1");
    c.deliver_all();  // (1,3) on n3, unacknowledged
    ASSERT_EQ(stamps(c.node("n3").replica().log()), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2), vs(1, 3)}));
    ASSERT_EQ(c.node("n1").replica().follower_lag_entries("n3"), std::optional<std::size_t>{1});
    ASSERT_EQ(c.node("n1").replica().follower_lag_entries("n2"), std::optional<std::size_t>{2});
  }
};

TEST(NodeMembership, RemovingThePrimaryPausesOrderingUntilTheMostUpToDateBackupHoldsTheWholeLog) {
  HandoverScenario s;
  ASSERT_NO_FATAL_FAILURE(s.set_up());
  Cluster& c = s.c;
  ASSERT_EQ(error_of(c.node("n1").request_remove("n1")), "");
  c.node("n1").submit(request(9, 1));
  c.settle("n1");
  const std::uint32_t heartbeat = node_config("n1").replica.heartbeat_ticks;
  for (std::uint32_t t = 0; t < 3 * heartbeat; ++t) {
    c.tick("n1");
    c.deliver_all();
  }
  EXPECT_FALSE(orders_client(c.node("n1"), 9)) << "ordered while handing over: " << describe(c.node("n1").replica().log());
  EXPECT_EQ(c.node("n1").replica().last(), vs(1, 3));
  EXPECT_EQ(prepares_for_view2_by(c, "n1"), 0u) << "proposed before the successor acknowledged the whole log";
  ASSERT_TRUE(c.node("n1").pending_change());
  EXPECT_FALSE(c.node("n1").pending_change()->proposed);

  c.drop_rsm = [](const Message& m) { return HandoverScenario::n2_cut_off(m); };  // n3's acks get through
  bool proposed = false;
  for (std::uint32_t t = 0; t < 3 * heartbeat && !proposed; ++t) {
    const bool successor_has_all =
        c.node("n1").replica().follower_lag_entries("n3") == std::optional<std::size_t>{0};
    c.tick("n1");
    proposed = prepares_for_view2_by(c, "n1") != 0;
    if (proposed) {
      EXPECT_TRUE(successor_has_all) << "proposed while n3 lacked part of the log";
    }
    c.deliver_all();
  }
  ASSERT_TRUE(proposed) << "n1 never proposed the handover";
  c.drop_rsm = nullptr;
  ASSERT_TRUE(c.run_until(
      [&] { return c.node("n3").view().vid == 2 && c.node("n2").view().vid == 2 && c.node("n1").view().vid == 2; },
      300));
  const View expected = make_view(2, "n3", {"n2"});
  EXPECT_EQ(c.node("n1").paxos().decision(2), std::optional<View>{expected});
  for (const NodeId& id : kIds) EXPECT_EQ(c.node(id).view(), expected) << id;
  EXPECT_EQ(c.peer("n1").notices, (std::vector<ClientNotice>{ClientRedirect{9, 1, 2, "n3"}}))
      << "the request held during the handover goes to the new primary";
  EXPECT_FALSE(orders_client(c.node("n3"), 9));
}

TEST(NodeMembership, HandoverNamesTheSuccessorWhenItsPromiseNeverReachesTheProposer) {
  HandoverScenario s;
  ASSERT_NO_FATAL_FAILURE(s.set_up());
  Cluster& c = s.c;
  c.drop_rsm = [](const Message& m) { return HandoverScenario::n2_cut_off(m); };
  c.tick("n1");  // a heartbeat: n3 acknowledges (1,3)
  c.deliver_all();
  ASSERT_EQ(c.node("n1").replica().follower_lag_entries("n3"), std::optional<std::size_t>{0});
  c.drop_rsm = nullptr;
  c.drop_paxos = [](const paxos::Message& m) {
    return m.from == "n3" && m.to == "n1" && std::holds_alternative<paxos::Promise>(m.body);
  };
  ASSERT_EQ(error_of(c.node("n1").request_remove("n1")), "");
  c.settle("n1");
  ASSERT_TRUE(c.run_until([&] { return c.node("n3").view().vid == 2 && c.node("n2").view().vid == 2; }, 300));
  ASSERT_TRUE(of_type<paxos::Promise>(c.paxos_sent, "n3").size() >= 1u) << "n3 never promised: not the scenario";
  const View expected = make_view(2, "n3", {"n2"});
  EXPECT_EQ(c.node("n3").paxos().decision(2), std::optional<View>{expected})
      << "decided " << paxos::test::describe(c.node("n3").paxos().decision(2));
  EXPECT_FALSE(c.node("n3").view().contains("n1"));
}

TEST(NodeMembership, HandoverNamesTheSuccessorWhenTheThirdNodesPromiseArrivesFirst) {
  HandoverScenario s;
  ASSERT_NO_FATAL_FAILURE(s.set_up());
  Cluster& c = s.c;
  c.drop_rsm = [](const Message& m) { return HandoverScenario::n2_cut_off(m); };
  c.tick("n1");
  c.deliver_all();
  ASSERT_EQ(c.node("n1").replica().follower_lag_entries("n3"), std::optional<std::size_t>{0});
  c.drop_rsm = nullptr;
  ASSERT_EQ(error_of(c.node("n1").request_remove("n1")), "");
  c.settle("n1");
  ASSERT_EQ(prepares_for_view2_by(c, "n1"), 2u);
  c.deliver_round();  // the Prepares: both promises are in flight
  std::stable_partition(c.paxos_in_flight.begin(), c.paxos_in_flight.end(),
                        [](const paxos::Message& m) { return m.from == "n2"; });
  ASSERT_FALSE(c.paxos_in_flight.empty());
  ASSERT_EQ(c.paxos_in_flight.front().from, "n2");
  ASSERT_TRUE(std::holds_alternative<paxos::Promise>(c.paxos_in_flight.front().body));
  ASSERT_TRUE(c.run_until([&] { return c.node("n3").view().vid == 2 && c.node("n2").view().vid == 2; }, 300));
  const View expected = make_view(2, "n3", {"n2"});
  EXPECT_EQ(c.node("n3").paxos().decision(2), std::optional<View>{expected})
      << "decided " << paxos::test::describe(c.node("n3").paxos().decision(2));
}

// The most up-to-date backup stops right after the primary asked to remove
// itself, and the other never catches up: no backup holds the whole log, so
// after handover_timeout_ticks the primary gives the removal up and orders
// again (or, if the cut-off backup takes over first, it orders).
TEST(NodeMembership, PrimaryRemovalWhoseSuccessorStopsDoesNotStallTheClusterForever) {
  HandoverScenario s;
  ASSERT_NO_FATAL_FAILURE(s.set_up());
  Cluster& c = s.c;
  ASSERT_EQ(error_of(c.node("n1").request_remove("n1")), "");
  c.down.insert("n3");
  c.node("n1").submit(request(9, 1));
  c.settle("n1");
  const bool progressed = c.run_until(
      [&] {
        if (orders_client(c.node("n1"), 9)) return true;
        const Node& n2 = c.node("n2");
        return n2.view().vid >= 2 && n2.is_primary() && orders_client(n2, 9);
      },
      1000);
  EXPECT_TRUE(progressed) << "n1 in " << to_string(c.node("n1").view()) << " (" << pending(c.node("n1"))
                          << "), n2 in " << to_string(c.node("n2").view()) << "; n1's log "
                          << describe(c.node("n1").replica().log());
}

// ---- A new view ends a pending change ---------------------------------------------------

TEST(NodeMembership, PendingAddIsClearedWhenAFailoverOvertakesIt) {
  Cluster c;
  c.down.insert("n4");
  establish(c);
  ASSERT_EQ(error_of(c.node("n1").request_add("n4")), "");
  c.settle("n1");
  c.node("n2").suspect_primary();
  c.settle("n2");
  ASSERT_TRUE(c.run_until(
      [&] { return c.node("n1").view().vid == 2 && c.node("n1").replica().commit() >= vs(2, 1); }, 300));
  EXPECT_EQ(c.node("n1").view(), view_of(2, "n1")) << "n4 entered a view although it never answered";
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
  EXPECT_EQ(c.node("n1").replica().follower_lag_entries("n4"), std::nullopt);

  c.rsm_sent.clear();
  const std::uint32_t heartbeat = node_config("n1").replica.heartbeat_ticks;
  for (std::uint32_t t = 0; t < 3 * heartbeat; ++t) c.tick_all_and_deliver();
  EXPECT_TRUE(appends_to(c.rsm_sent, "n4").empty()) << "the dropped learner still gets the log";
  EXPECT_EQ(error_of(c.node("n1").request_add("n4")), "") << "the admin cannot retry";
}

TEST(NodeMembership, PendingPrimaryRemovalIsClearedAndOrderingResumesWhenAFailoverOvertakesIt) {
  HandoverScenario s;
  ASSERT_NO_FATAL_FAILURE(s.set_up());
  Cluster& c = s.c;
  ASSERT_EQ(error_of(c.node("n1").request_remove("n1")), "");
  c.node("n1").submit(request(9, 1));
  c.settle("n1");
  ASSERT_FALSE(orders_client(c.node("n1"), 9));
  // Messages of view 2 flow; those of view 1 stay as they were.
  c.drop_rsm = [](const Message& m) {
    const bool view1 = std::visit([](const auto& b) { return b.vid == 1; }, m.body);
    return view1 && (HandoverScenario::n2_cut_off(m) || HandoverScenario::n3_ack_lost(m));
  };
  c.node("n2").suspect_primary();
  c.settle("n2");
  ASSERT_TRUE(c.run_until([&] { return c.node("n1").view().vid == 2 && orders_client(c.node("n1"), 9); }, 300))
      << "n1 in " << to_string(c.node("n1").view()) << ", log " << describe(c.node("n1").replica().log());
  EXPECT_EQ(c.node("n1").view(), view_of(2, "n1")) << "n1 holds the most: it stays primary";
  EXPECT_FALSE(c.node("n1").pending_change()) << pending(c.node("n1"));
  ASSERT_TRUE(c.run_until(
      [&] {
        const std::vector<LogEntry>& done = c.peer("n1").committed;
        return std::any_of(done.begin(), done.end(), [](const LogEntry& e) { return e.client_id == 9; });
      },
      100))
      << "the held request was never committed";
}

// ---- choose_view --------------------------------------------------------------------------

TEST(ChooseView, HighestLastViewstampWinsOverTheWantedPrimary) {
  // A handover wants n2; n3 reports more.
  const View wanted = make_view(2, "n2", {"n3"});
  EXPECT_EQ(choose_view(wanted, "n1", {{"n1", vs(1, 4)}, {"n2", vs(1, 4)}, {"n3", vs(1, 5)}}),
            make_view(2, "n3", {"n2"}));
}

TEST(ChooseView, TieGoesToTheWantedPrimaryBeforeTheProposer) {
  const View wanted = make_view(2, "n3", {"n2"});  // n1 hands over to n3
  EXPECT_EQ(choose_view(wanted, "n1", {{"n1", vs(1, 4)}, {"n2", vs(1, 1)}, {"n3", vs(1, 4)}}), wanted);
  EXPECT_EQ(choose_view(wanted, "n1", {{"n1", vs(1, 4)}, {"n3", vs(1, 4)}}), wanted);
}

TEST(ChooseView, TieWithoutTheWantedPrimaryGoesToTheProposerBeforeASmallerId) {
  const View wanted = make_view(2, "n1", {"n2", "n3"});
  EXPECT_EQ(choose_view(wanted, "n3", {{"n2", vs(1, 4)}, {"n3", vs(1, 4)}}), make_view(2, "n3", {"n1", "n2"}));
}

TEST(ChooseView, TieWithNeitherWantedPrimaryNorProposerGoesToTheSmallestId) {
  const View wanted = make_view(2, "n1", {"n2", "n3", "n4"});
  EXPECT_EQ(choose_view(wanted, "n9", {{"n4", vs(1, 4)}, {"n3", vs(1, 4)}, {"n2", vs(1, 3)}}),
            make_view(2, "n3", {"n1", "n2", "n4"}));
}

TEST(ChooseView, BestPromiserOutsideWantedStaysAMemberAndBecomesPrimary) {
  // Removing the backup n3, which alone holds (1,5): it must not be lost.
  const View wanted = make_view(2, "n1", {"n2"});
  EXPECT_EQ(choose_view(wanted, "n1", {{"n1", vs(1, 4)}, {"n3", vs(1, 5)}}), make_view(2, "n3", {"n1", "n2"}));
  // Removing the primary n1, which alone holds (1,5).
  const View handover = make_view(2, "n2", {"n3"});
  EXPECT_EQ(choose_view(handover, "n1", {{"n1", vs(1, 5)}, {"n2", vs(1, 4)}}), make_view(2, "n1", {"n2", "n3"}));
}

TEST(ChooseView, EmptyPositionsReturnWantedAsItIs) {
  const View wanted = make_view(3, "n2", {"n3", "n4"});
  EXPECT_EQ(choose_view(wanted, "n1", {}), wanted);
}

}  // namespace
}  // namespace synod::rsm

namespace synod::rsm {
namespace {

// Every replica, the new node included, learns where an added node listens:
// the primary orders its address as an entry of the log.
TEST(NodeMembership, AnAddWithAnAddressPutsTheAddressInTheLogForEveryReplica) {
  Cluster c;
  c.add_node("n4");
  ASSERT_EQ(error_of(c.node("n1").request_add("n4", "127.0.0.1:7004")), "");
  auto applied_address = [&](const NodeId& id) {
    const std::vector<LogEntry>& applied = c.peer(id).committed;
    return std::any_of(applied.begin(), applied.end(), [](const LogEntry& e) {
      return e.client_id == 0 && e.request_no == LogEntry::kSetAddress && e.op == encode_address("n4", "127.0.0.1:7004");
    });
  };
  c.settle("n1");
  EXPECT_TRUE(c.run_until([&] { return applied_address("n1") && applied_address("n2") && applied_address("n3"); }, 300))
      << "the members never applied n4's address";
  ASSERT_TRUE(c.run_until([&] { return c.node("n4").view().vid == 2 && c.node("n2").view().vid == 2; }, 300));
  EXPECT_TRUE(applied_address("n4")) << "n4 joined without the entries before it";
}

TEST(NodeMembership, AnAddressWithALineBreakIsRefused) {
  Cluster c;
  c.add_node("n4");
  EXPECT_TRUE(mentions(error_of(c.node("n1").request_add("n4", "a\nb")), "line break"));
  EXPECT_FALSE(c.node("n1").pending_change());
}

}  // namespace
}  // namespace synod::rsm

namespace synod::rsm {
namespace {

// ---- Transfer of the primary role ---------------------------------------------------

// n2 lacks part of the log when the transfer is asked: the primary stops
// ordering, waits until n2 holds it all, and only then proposes n2 as
// primary of the same members.
TEST(NodeMembership, TransferWaitsUntilTheTargetHoldsTheWholeLogThenKeepsTheMembers) {
  HandoverScenario s;
  ASSERT_NO_FATAL_FAILURE(s.set_up());
  Cluster& c = s.c;
  ASSERT_EQ(error_of(c.node("n1").request_transfer("n2")), "");
  c.node("n1").submit(request(9, 1));
  c.settle("n1");
  const std::uint32_t heartbeat = node_config("n1").replica.heartbeat_ticks;
  for (std::uint32_t t = 0; t < 3 * heartbeat; ++t) {
    c.tick("n1");
    c.deliver_all();
  }
  EXPECT_FALSE(orders_client(c.node("n1"), 9)) << "ordered while handing over";
  EXPECT_EQ(prepares_for_view2_by(c, "n1"), 0u) << "proposed before n2 held the whole log";
  c.drop_rsm = nullptr;  // n2 catches up
  ASSERT_TRUE(c.run_until(
      [&] { return c.node("n1").view().vid == 2 && c.node("n2").view().vid == 2 && c.node("n3").view().vid == 2; },
      300));
  const View expected = make_view(2, "n2", {"n1", "n3"});
  for (const NodeId& id : kIds) EXPECT_EQ(c.node(id).view(), expected) << id;
  EXPECT_EQ(c.node("n2").replica().log().size() >= 3, true);
  EXPECT_EQ(c.peer("n1").notices, (std::vector<ClientNotice>{ClientRedirect{9, 1, 2, "n2"}}))
      << "the request held during the transfer goes to the new primary";
}

TEST(NodeMembership, TransferRequestsThatMakeNoSenseAreRefused) {
  Cluster c;
  establish(c);
  EXPECT_TRUE(mentions(error_of(c.node("n2").request_transfer("n3")), "not the primary"));
  EXPECT_TRUE(mentions(error_of(c.node("n1").request_transfer("n1")), "primary already"));
  EXPECT_TRUE(mentions(error_of(c.node("n1").request_transfer("n9")), "not a member"));
  EXPECT_FALSE(c.node("n1").pending_change());
}

// The target never catches up: the primary gives up after
// handover_timeout_ticks and orders again.
TEST(NodeMembership, TransferToATargetThatNeverCatchesUpIsGivenUp) {
  Cluster c;
  establish(c);
  c.down.insert("n3");
  c.node("n1").submit(request(2, 1));
  c.settle("n1");
  ASSERT_EQ(error_of(c.node("n1").request_transfer("n3")), "");
  c.node("n1").submit(request(9, 1));
  c.settle("n1");
  ASSERT_TRUE(c.run_until([&] { return orders_client(c.node("n1"), 9); },
                          node_config("n1").handover_timeout_ticks + 50))
      << pending(c.node("n1"));
  EXPECT_FALSE(c.node("n1").pending_change());
  EXPECT_EQ(c.node("n1").view().vid, 1u);
}

}  // namespace
}  // namespace synod::rsm
