// The Replica's read rules, checked by driving its Ready loop by hand: stale
// reads granted at once by any replica, linearizable reads served only by an
// established primary after a confirmation round that a majority of the view
// (itself included) answered, and what becomes of waiting reads when the view
// changes or the replica freezes. Each test plays the runtime and the other
// replicas with hand-written messages; no threads, no clocks, bounded loops.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "rsm/replica.h"
#include "unit/rsm/replica_test_util.h"
#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm {
namespace {

using namespace synod::rsm::test;
using synod::rsm::test::describe;  // joins the overloads below

// ---- Building blocks ---------------------------------------------------------

// View 1 of three or five nodes; n1 is the primary.
View view3() { return make_view(1, "n1", {"n2", "n3"}); }
View view5() { return make_view(1, "n1", {"n2", "n3", "n4", "n5"}); }

ClientRequest request(std::uint64_t client, std::uint64_t request_no) {
  return ClientRequest{client, request_no, "op" + std::to_string(client) + "." + std::to_string(request_no)};
}

// A linearizable read (or, with `stale`, one that accepts staleness) of client 5.
ReadRequest read(std::uint64_t read_no, bool stale = false) {
  return ReadRequest{5, read_no, "get k" + std::to_string(read_no), stale};
}

LogEntry entry(ViewId vid, std::uint64_t seq) {
  return LogEntry{vs(vid, seq), 7, vid * 1000 + seq, "e" + std::to_string(vid) + "." + std::to_string(seq)};
}

Message append_ack(NodeId from, Viewstamp durable, ViewId vid = 1) {
  return message(std::move(from), "n1", AppendAck{vid, durable, {}});
}

Message confirm_ack(NodeId from, std::uint64_t round, ViewId vid = 1, NodeId to = "n1") {
  return message(std::move(from), std::move(to), ReadConfirmAck{vid, round});
}

template <typename T>
std::size_t count_of(const std::vector<Message>& ms) {
  return static_cast<std::size_t>(
      std::count_if(ms.begin(), ms.end(), [](const Message& m) { return std::holds_alternative<T>(m.body); }));
}

// The recipients of every ReadConfirm among `ms`.
std::multiset<NodeId> confirm_recipients(const std::vector<Message>& ms) {
  std::multiset<NodeId> out;
  for (const Message& m : ms) {
    if (std::holds_alternative<ReadConfirm>(m.body)) out.insert(m.to);
  }
  return out;
}

// The round numbers of every ReadConfirm among `ms`.
std::set<std::uint64_t> confirm_rounds(const std::vector<Message>& ms) {
  std::set<std::uint64_t> out;
  for (const Message& m : ms) {
    if (const auto* c = std::get_if<ReadConfirm>(&m.body)) out.insert(c->round);
  }
  return out;
}

std::vector<std::uint64_t> read_nos(const std::vector<ReadGrant>& grants) {
  std::vector<std::uint64_t> out;
  for (const ReadGrant& g : grants) out.push_back(g.request.read_no);
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const std::vector<ReadGrant>& grants) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < grants.size(); ++i) {
    out << (i ? " " : "") << "#" << grants[i].request.read_no << "@" << to_string(grants[i].as_of);
  }
  out << "]";
  return out.str();
}

// Everything the Ready loop produced until it settled.
struct Drained {
  std::vector<LogEntry> appends;
  std::vector<Message> messages;
  std::vector<ClientNotice> notices;
  std::vector<LogEntry> committed;
  std::vector<ReadGrant> reads;
};

// Runs the Ready loop until the replica has nothing more to say (bounded);
// with `sync`, every write is reported durable at once.
Drained drain(Replica& r, bool sync = true) {
  Drained d;
  int rounds = 0;
  for (; rounds < 100 && r.has_ready(); ++rounds) {
    Ready ready = r.take_ready();
    d.appends.insert(d.appends.end(), ready.appends.begin(), ready.appends.end());
    d.messages.insert(d.messages.end(), ready.messages.begin(), ready.messages.end());
    d.notices.insert(d.notices.end(), ready.notices.begin(), ready.notices.end());
    d.committed.insert(d.committed.end(), ready.committed.begin(), ready.committed.end());
    d.reads.insert(d.reads.end(), ready.reads.begin(), ready.reads.end());
    if (sync && ready.write_id != 0) r.on_durable(ready.write_id);
  }
  EXPECT_FALSE(r.has_ready()) << r.self() << ": the Ready loop did not settle in " << rounds << " rounds";
  return d;
}

Drained step_and_drain(Replica& r, const Message& m) {
  r.step(m);
  return drain(r);
}

// Makes the primary n1 established in view 1: it orders `count` requests and
// every backup acknowledges them, so it has committed an entry of its view.
void establish(Replica& primary, std::uint64_t count = 1, std::uint64_t first_client = 1) {
  for (std::uint64_t c = first_client; c < first_client + count; ++c) primary.submit(request(c, 1));
  drain(primary);
  for (const NodeId& b : primary.view().backups) primary.step(append_ack(b, primary.last(), primary.view().vid));
  drain(primary);
  ASSERT_EQ(primary.commit(), primary.last()) << "the primary did not commit what it ordered";
  ASSERT_EQ(primary.commit().vid, primary.view().vid);
}

// The single round number of the ReadConfirms among `ms` (one per backup).
std::uint64_t the_round(const std::vector<Message>& ms, const View& view) {
  std::multiset<NodeId> expected(view.backups.begin(), view.backups.end());
  EXPECT_EQ(confirm_recipients(ms), expected) << "one ReadConfirm per backup";
  std::set<std::uint64_t> rounds = confirm_rounds(ms);
  EXPECT_EQ(rounds.size(), 1u) << "every backup is asked about the same round";
  return rounds.empty() ? 0 : *rounds.begin();
}

// ---- Stale reads -----------------------------------------------------------------

TEST(ReplicaRead, StaleReadIsGrantedAtOnceByABackupAsOfWhatItHandedOut) {
  Replica backup(config("n2"), view3(), {});
  backup.step(message("n1", "n2", Append{1, Viewstamp{}, {entry(1, 1), entry(1, 2)}, vs(1, 2)}));
  backup.submit_read(read(1, true));
  ASSERT_TRUE(backup.has_ready());
  Ready r = backup.take_ready();
  EXPECT_EQ(r.reads, (std::vector<ReadGrant>{{read(1, true), vs(1, 2)}}));
  EXPECT_EQ(r.committed.size(), 2u) << "the grant rides with the entries it is as of";
  EXPECT_TRUE(r.notices.empty());
  EXPECT_EQ(count_of<ReadConfirm>(r.messages) + count_of<ReadConfirmAck>(r.messages), 0u) << "no confirmation";
}

TEST(ReplicaRead, StaleReadIsAsOfTheCommitPointNotTheLogsEnd) {
  Replica backup(config("n2"), view3(), {});
  backup.step(message("n1", "n2", Append{1, Viewstamp{}, {entry(1, 1), entry(1, 2)}, vs(1, 1)}));
  backup.submit_read(read(1, true));
  Ready r = backup.take_ready();
  EXPECT_EQ(r.reads, (std::vector<ReadGrant>{{read(1, true), vs(1, 1)}}));

  Replica empty(config("n3"), view3(), {});
  empty.submit_read(read(2, true));
  EXPECT_EQ(empty.take_ready().reads, (std::vector<ReadGrant>{{read(2, true), Viewstamp{}}}))
      << "a replica that handed out nothing grants as of nothing";
}

TEST(ReplicaRead, StaleReadIsGrantedAtOnceByThePrimaryAndByAFrozenBackup) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit(request(2, 1));  // (1,2): ordered, not committed
  drain(primary);
  primary.submit_read(read(1, true));
  Drained d = drain(primary);
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1, true), vs(1, 1)}}));
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u) << "a stale read needs no round";

  Replica backup(config("n2"), view3(), {});
  backup.step(message("n1", "n2", Append{1, Viewstamp{}, {entry(1, 1)}, vs(1, 1)}));
  drain(backup);
  backup.set_frozen(true);
  backup.submit_read(read(2, true));
  EXPECT_EQ(drain(backup).reads, (std::vector<ReadGrant>{{read(2, true), vs(1, 1)}}));
}

// ---- Linearizable reads: who serves them ----------------------------------------------

TEST(ReplicaRead, LinearizableReadAtABackupIsRedirectedToThePrimary) {
  Replica backup(config("n2"), make_view(4, "n3", {"n1", "n2"}), {});
  backup.submit_read(read(9));
  ASSERT_TRUE(backup.has_ready());
  Ready r = backup.take_ready();
  EXPECT_EQ(r.notices, (std::vector<ClientNotice>{ClientRedirect{5, 9, 4, "n3"}}));
  EXPECT_TRUE(r.reads.empty()) << describe(r.reads);
  EXPECT_TRUE(r.messages.empty());
}

TEST(ReplicaRead, NewPrimaryStartsNoRoundUntilAnEntryOfItsOwnViewCommits) {
  Replica r(config("n2"), view3(), {entry(1, 1), entry(1, 2)});
  r.enter_view(make_view(2, "n2", {"n1", "n3"}));
  r.submit_read(read(1));
  Drained d = drain(r);
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u) << "a round before the no-op (2,1) committed";
  EXPECT_TRUE(d.reads.empty()) << describe(d.reads);

  // A majority holds the carried (1,2): that commits nothing of view 2.
  d = step_and_drain(r, message("n1", "n2", AppendAck{2, vs(1, 2), {}}));
  ASSERT_LT(r.commit(), vs(2, 1));
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u) << "a round with commit " << to_string(r.commit());
  EXPECT_TRUE(d.reads.empty()) << describe(d.reads);

  d = step_and_drain(r, message("n1", "n2", AppendAck{2, vs(2, 1), {}}));
  ASSERT_EQ(r.commit(), vs(2, 1));
  const std::uint64_t round = the_round(d.messages, r.view());
  for (const NodeId b : {"n1", "n3"}) {
    EXPECT_EQ(bodies_to<ReadConfirm>(d.messages, b), (std::vector<ReadConfirm>{{2, round}})) << "to " << b;
  }
  EXPECT_TRUE(d.reads.empty()) << "granted before any backup confirmed";

  d = step_and_drain(r, confirm_ack("n3", round, 2, "n2"));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1), vs(2, 1)}}));
}

// View 1 has no no-op and no view before it: its primary is established from
// the start (Replica::established). Against the replica of commit 608f054,
// which required an entry of view 1 to commit first, this failed: a read on a
// fresh cluster with no writes waited for ever.
TEST(ReplicaRead, PrimaryOfViewOneServesReadsBeforeAnyWriteCommits) {
  Replica primary(config("n1"), view3(), {});
  primary.submit_read(read(1));
  Drained d = drain(primary);
  for (int t = 0; t < 20; ++t) {
    primary.tick();
    Drained more = drain(primary);
    d.messages.insert(d.messages.end(), more.messages.begin(), more.messages.end());
  }
  ASSERT_FALSE(confirm_rounds(d.messages).empty()) << "no confirmation round in 20 ticks";
  const std::uint64_t round = *confirm_rounds(d.messages).begin();
  EXPECT_EQ(step_and_drain(primary, confirm_ack("n2", round)).reads, (std::vector<ReadGrant>{{read(1), Viewstamp{}}}));
}

// ---- Linearizable reads: rounds ----------------------------------------------------------

TEST(ReplicaRead, WaitingReadsStartOneRoundWithOneReadConfirmPerBackup) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  primary.submit_read(read(2));
  Drained d = drain(primary);
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 2u);
  const std::uint64_t round = the_round(d.messages, primary.view());
  EXPECT_EQ(bodies_to<ReadConfirm>(d.messages, "n2"), (std::vector<ReadConfirm>{{1, round}}));
  EXPECT_TRUE(d.reads.empty()) << "granted before any backup confirmed: " << describe(d.reads);

  d = step_and_drain(primary, confirm_ack("n2", round));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1), vs(1, 1)}, {read(2), vs(1, 1)}}));
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u) << "a new round with no read waiting";
}

TEST(ReplicaRead, ReadSubmittedDuringARoundWaitsForTheNextRoundWhichStartsWhenTheFirstCompletes) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t first = the_round(drain(primary).messages, primary.view());

  primary.submit_read(read(2));
  Drained d = drain(primary);
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u) << "a second round while the first is in flight";
  EXPECT_TRUE(d.reads.empty()) << describe(d.reads);

  d = step_and_drain(primary, confirm_ack("n3", first));
  EXPECT_EQ(read_nos(d.reads), (std::vector<std::uint64_t>{1})) << "the late read rode the round before it: "
                                                                  << describe(d.reads);
  const std::uint64_t second = the_round(d.messages, primary.view());
  EXPECT_GT(second, first);

  d = step_and_drain(primary, confirm_ack("n2", first));
  EXPECT_TRUE(d.reads.empty()) << "an ack of the finished round counted for the new one";
  d = step_and_drain(primary, confirm_ack("n2", second));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(2), vs(1, 1)}}));
}

TEST(ReplicaRead, FiveNodeViewGrantsWithTwoBackupConfirmationsNotOne) {
  Replica primary(config("n1"), view5(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t round = the_round(drain(primary).messages, primary.view());
  Drained d = step_and_drain(primary, confirm_ack("n4", round));
  EXPECT_TRUE(d.reads.empty()) << "granted with 2 of 5: " << describe(d.reads);
  d = step_and_drain(primary, confirm_ack("n2", round));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1), vs(1, 1)}}));
}

TEST(ReplicaRead, ConfirmationsOfAnotherRoundOrViewOrFromANonMemberOrRepeatedDoNotCount) {
  Replica primary(config("n1"), view5(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t earlier = the_round(drain(primary).messages, primary.view());
  primary.step(confirm_ack("n2", earlier));
  primary.step(confirm_ack("n3", earlier));
  ASSERT_EQ(read_nos(drain(primary).reads), (std::vector<std::uint64_t>{1}));

  primary.submit_read(read(2));
  const std::uint64_t round = the_round(drain(primary).messages, primary.view());
  ASSERT_GT(round, earlier);
  Drained d = step_and_drain(primary, confirm_ack("n2", round));  // 2 of 5 with the primary
  ASSERT_TRUE(d.reads.empty()) << describe(d.reads);

  const std::vector<std::pair<std::string, Message>> not_counted{
      {"an earlier round", confirm_ack("n3", earlier)},
      {"a round not started", confirm_ack("n3", round + 1)},
      {"a newer view", confirm_ack("n3", round, 2)},
      {"an older view", confirm_ack("n3", round, 0)},
      {"a node outside the view", confirm_ack("n9", round)},
      {"the same backup again", confirm_ack("n2", round)},
  };
  for (const auto& [what, m] : not_counted) {
    d = step_and_drain(primary, m);
    EXPECT_TRUE(d.reads.empty()) << "the confirmation of " << what << " counted: " << describe(d.reads);
  }
  d = step_and_drain(primary, confirm_ack("n5", round));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(2), vs(1, 1)}}));
}

TEST(ReplicaRead, LearnersConfirmationDoesNotCount) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.add_learner("n4");
  drain(primary);
  primary.submit_read(read(1));
  Drained d = drain(primary);
  EXPECT_TRUE(bodies_to<ReadConfirm>(d.messages, "n4").empty()) << "a learner was asked to confirm";
  const std::uint64_t round = the_round(d.messages, primary.view());
  d = step_and_drain(primary, confirm_ack("n4", round));
  EXPECT_TRUE(d.reads.empty()) << "a learner's confirmation made the majority: " << describe(d.reads);
  d = step_and_drain(primary, confirm_ack("n3", round));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1), vs(1, 1)}}));
}

TEST(ReplicaRead, GrantIsAsOfTheCommitPointWhenItsRoundStarted) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t first = the_round(drain(primary).messages, primary.view());

  primary.submit(request(2, 1));  // (1,2) commits while the round is in flight
  drain(primary);
  primary.step(append_ack("n2", vs(1, 2)));
  drain(primary);
  ASSERT_EQ(primary.commit(), vs(1, 2));

  Drained d = step_and_drain(primary, confirm_ack("n3", first));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1), vs(1, 1)}}));

  primary.submit_read(read(2));
  const std::uint64_t second = the_round(drain(primary).messages, primary.view());
  d = step_and_drain(primary, confirm_ack("n3", second));
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(2), vs(1, 2)}}));
}

TEST(ReplicaRead, OneMemberViewGrantsReadsWithoutAnyMessage) {
  Replica alone(config("n1"), make_view(1, "n1", {}), {});
  alone.submit(request(1, 1));
  drain(alone);
  ASSERT_EQ(alone.commit(), vs(1, 1));
  alone.submit_read(read(1));
  ASSERT_TRUE(alone.has_ready());
  Ready r = alone.take_ready();
  EXPECT_EQ(r.reads, (std::vector<ReadGrant>{{read(1), vs(1, 1)}}));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.notices.empty());
}

TEST(ReplicaRead, OneMemberViewNewlyEnteredGrantsOnceItsNoOpCommits) {
  Replica alone(config("n1"), make_view(1, "n1", {"n2"}), {entry(1, 1)});
  alone.enter_view(make_view(2, "n1", {}));
  alone.submit_read(read(1));
  Drained d = drain(alone);  // the no-op is durable, so committed, in the same loop
  EXPECT_EQ(d.reads, (std::vector<ReadGrant>{{read(1), vs(2, 1)}}));
  EXPECT_TRUE(d.messages.empty()) << d.messages.size() << " messages in a one-member view";
}

// ---- Backups answering ---------------------------------------------------------------

TEST(ReplicaRead, BackupConfirmsTheRoundOfItsPrimaryInItsView) {
  Replica backup(config("n2"), view3(), {});
  Drained d = step_and_drain(backup, message("n1", "n2", ReadConfirm{1, 4}));
  EXPECT_EQ(bodies_to<ReadConfirmAck>(d.messages, "n1"), (std::vector<ReadConfirmAck>{{1, 4}}));
  EXPECT_EQ(d.messages.size(), 1u);

  d = step_and_drain(backup, message("n3", "n2", ReadConfirm{1, 5}));
  EXPECT_TRUE(d.messages.empty()) << "confirmed to a node that is not its primary";
  d = step_and_drain(backup, message("n1", "n2", ReadConfirm{2, 5}));
  EXPECT_TRUE(d.messages.empty()) << "confirmed a view it is not in";
}

TEST(ReplicaRead, FrozenBackupDoesNotConfirm) {
  Replica backup(config("n2"), view3(), {});
  backup.set_frozen(true);
  Drained d = step_and_drain(backup, message("n1", "n2", ReadConfirm{1, 4}));
  EXPECT_TRUE(d.messages.empty()) << "a backup that began to move to a newer view confirmed";
}

// ---- A frozen primary ------------------------------------------------------------------

TEST(ReplicaRead, FrozenPrimaryStartsNoRound) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.set_frozen(true);
  primary.submit_read(read(1));
  Drained d = drain(primary);
  for (int t = 0; t < 20; ++t) {
    primary.tick();
    Drained more = drain(primary);
    d.messages.insert(d.messages.end(), more.messages.begin(), more.messages.end());
    d.reads.insert(d.reads.end(), more.reads.begin(), more.reads.end());
  }
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u);
  EXPECT_TRUE(d.reads.empty()) << describe(d.reads);
  EXPECT_TRUE(d.notices.empty()) << "the read waits for the next view";
}

TEST(ReplicaRead, FrozenPrimaryIgnoresConfirmationsOfItsOpenRound) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t round = the_round(drain(primary).messages, primary.view());
  primary.set_frozen(true);
  for (const NodeId b : {"n2", "n3"}) {
    Drained d = step_and_drain(primary, confirm_ack(b, round));
    EXPECT_TRUE(d.reads.empty()) << "a frozen primary granted on " << b << "'s confirmation: " << describe(d.reads);
  }
  for (int t = 0; t < 20; ++t) {
    primary.tick();
    EXPECT_EQ(count_of<ReadConfirm>(drain(primary).messages), 0u) << "a frozen primary asked again";
  }
}

// ---- View changes -----------------------------------------------------------------------

TEST(ReplicaRead, EnterViewAsPrimaryAgainRequeuesUnfinishedReadsForARoundOfTheNewView) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  primary.submit_read(read(2));
  const std::uint64_t old_round = the_round(drain(primary).messages, primary.view());
  primary.submit_read(read(3));  // waits for the next round
  drain(primary);

  primary.enter_view(make_view(2, "n1", {"n2", "n3"}));
  Drained d = drain(primary);
  EXPECT_EQ(count_of<ReadConfirm>(d.messages), 0u) << "a round before the no-op of view 2 committed";
  EXPECT_TRUE(d.notices.empty()) << "still primary: nothing to redirect";
  d = step_and_drain(primary, confirm_ack("n2", old_round, 1));
  EXPECT_TRUE(d.reads.empty()) << "a confirmation of view 1 granted in view 2: " << describe(d.reads);

  d = step_and_drain(primary, append_ack("n2", vs(2, 1), 2));
  ASSERT_EQ(primary.commit(), vs(2, 1));
  const std::uint64_t round = the_round(d.messages, primary.view());
  for (const NodeId b : {"n2", "n3"}) {
    EXPECT_EQ(bodies_to<ReadConfirm>(d.messages, b), (std::vector<ReadConfirm>{{2, round}})) << "to " << b;
  }
  d = step_and_drain(primary, confirm_ack("n3", round, 2));
  EXPECT_EQ(read_nos(d.reads), (std::vector<std::uint64_t>{1, 2, 3})) << describe(d.reads);
  for (const ReadGrant& g : d.reads) EXPECT_EQ(g.as_of, vs(2, 1)) << "#" << g.request.read_no;
}

TEST(ReplicaRead, EnterViewAsBackupRedirectsUnfinishedAndWaitingReadsToTheNewPrimary) {
  Replica primary(config("n1"), view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  primary.submit_read(read(2));
  const std::uint64_t old_round = the_round(drain(primary).messages, primary.view());
  primary.submit_read(read(3));
  drain(primary);

  primary.enter_view(make_view(2, "n2", {"n1", "n3"}));
  Drained d = drain(primary);
  std::vector<ClientNotice> expected;
  for (std::uint64_t no : {1, 2, 3}) expected.push_back(ClientRedirect{5, no, 2, "n2"});
  std::sort(d.notices.begin(), d.notices.end());
  EXPECT_EQ(d.notices, expected);
  EXPECT_TRUE(d.reads.empty()) << describe(d.reads);
  d = step_and_drain(primary, confirm_ack("n2", old_round, 1));
  d = step_and_drain(primary, confirm_ack("n3", old_round, 1));
  EXPECT_TRUE(d.reads.empty()) << "a replica that is no longer primary granted: " << describe(d.reads);
}

// ---- Retries and bounds ------------------------------------------------------------------

TEST(ReplicaRead, HeartbeatResendsReadConfirmOnlyToBackupsThatHaveNotConfirmed) {
  ReplicaConfig c = config("n1");
  c.heartbeat_ticks = 5;
  Replica primary(c, view5(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t round = the_round(drain(primary).messages, primary.view());
  drain(primary);
  ASSERT_TRUE(step_and_drain(primary, confirm_ack("n2", round)).reads.empty());

  std::vector<Message> sent;
  for (std::uint32_t t = 0; t < c.heartbeat_ticks; ++t) {
    primary.tick();
    Drained more = drain(primary);
    sent.insert(sent.end(), more.messages.begin(), more.messages.end());
  }
  EXPECT_EQ(confirm_recipients(sent), (std::multiset<NodeId>{"n3", "n4", "n5"}))
      << "one resend per silent backup in one heartbeat interval";
  EXPECT_EQ(confirm_rounds(sent), (std::set<std::uint64_t>{round}));

  ASSERT_EQ(step_and_drain(primary, confirm_ack("n4", round)).reads.size(), 1u);
  sent.clear();
  for (std::uint32_t t = 0; t < 2 * c.heartbeat_ticks; ++t) {
    primary.tick();
    Drained more = drain(primary);
    sent.insert(sent.end(), more.messages.begin(), more.messages.end());
  }
  EXPECT_EQ(count_of<ReadConfirm>(sent), 0u) << "resent after the round completed";
  EXPECT_GT(count_of<Append>(sent), 0u) << "the heartbeats themselves went out";
}

TEST(ReplicaRead, ReadsBeyondPendingRequestsMaxGetClientBusy) {
  ReplicaConfig c = config("n1");
  c.pending_requests_max = 2;
  Replica primary(c, view3(), {});
  establish(primary);
  primary.submit_read(read(1));
  const std::uint64_t round = the_round(drain(primary).messages, primary.view());
  primary.submit_read(read(2));  // one in the round and one waiting: the bound
  primary.submit_read(read(3));
  Drained d = drain(primary);
  EXPECT_EQ(d.notices, (std::vector<ClientNotice>{ClientBusy{5, 3}}));

  d = step_and_drain(primary, confirm_ack("n2", round));
  const std::uint64_t next = the_round(d.messages, primary.view());
  d = step_and_drain(primary, confirm_ack("n2", next));
  EXPECT_EQ(read_nos(d.reads), (std::vector<std::uint64_t>{2})) << "the busy read was kept after all";
}

TEST(ReplicaRead, WaitingReadsOfAPrimaryNotYetEstablishedAreBoundedToo) {
  ReplicaConfig c = config("n1");
  c.pending_requests_max = 2;
  Replica primary(c, view3(), {});
  for (std::uint64_t no = 1; no <= 3; ++no) primary.submit_read(read(no));
  Drained d = drain(primary);
  EXPECT_EQ(d.notices, (std::vector<ClientNotice>{ClientBusy{5, 3}}));
}

}  // namespace
}  // namespace synod::rsm
