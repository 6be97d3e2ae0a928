// The Replica's rules in one view, checked by driving its Ready loop by hand:
// what it orders and persists, what it sends and when, what it commits and
// hands out. Each test plays the runtime and, where needed, the other
// replicas, with hand-written messages; no threads, no clocks, bounded loops.

#include "rsm/replica.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "unit/rsm/replica_test_util.h"
#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm {
namespace {

using namespace synod::rsm::test;
using synod::rsm::test::describe;  // joins the overloads below

// ---- Building blocks ---------------------------------------------------------

// View 1 of three nodes; n1 is the primary.
View view3() { return make_view(1, "n1", {"n2", "n3"}); }
View view5() { return make_view(1, "n1", {"n2", "n3", "n4", "n5"}); }
const std::vector<NodeId> kBackups{"n2", "n3"};  // of view3()

ClientRequest request(std::uint64_t client, std::uint64_t request_no) {
  return ClientRequest{client, request_no, "op" + std::to_string(client) + "." + std::to_string(request_no)};
}

// An entry as a primary of view `vid` would have ordered it.
LogEntry entry(ViewId vid, std::uint64_t seq) {
  return LogEntry{Viewstamp{vid, seq}, 7, vid * 1000 + seq, "e" + std::to_string(vid) + "." + std::to_string(seq)};
}

std::vector<LogEntry> entries(ViewId vid, std::uint64_t first_seq, std::uint64_t last_seq) {
  std::vector<LogEntry> out;
  for (std::uint64_t s = first_seq; s <= last_seq; ++s) out.push_back(entry(vid, s));
  return out;
}

// What a backup says to the primary n1 of view 1 (or of `vid`).
Message ack_from(NodeId backup, Viewstamp durable, ViewId vid = 1) {
  return message(std::move(backup), "n1", AppendAck{vid, durable, {}});
}

// What the primary n1 says to backup n2.
Message append_to_n2(Viewstamp prev, std::vector<LogEntry> es, Viewstamp commit, ViewId vid = 1) {
  return message("n1", "n2", Append{vid, prev, std::move(es), commit});
}

std::vector<Append> appends_to(const std::vector<Message>& ms, const NodeId& to) { return bodies_to<Append>(ms, to); }

// Submits `count` requests (clients 1..count, request 1 each) and takes the
// Ready that orders them.
Ready order(Replica& primary, std::uint64_t count, std::uint64_t first_client = 1) {
  for (std::uint64_t c = first_client; c < first_client + count; ++c) primary.submit(request(c, 1));
  return primary.take_ready();
}

// ---- follows() -----------------------------------------------------------------

TEST(Follows, NextSeqOfTheSameViewFollows) {
  EXPECT_TRUE(follows(vs(1, 3), vs(1, 4)));
  EXPECT_TRUE(follows(vs(1, 0), vs(1, 1)));
  EXPECT_TRUE(follows(Viewstamp{}, vs(1, 1)));
}

TEST(Follows, FirstSeqOfALaterViewFollows) {
  EXPECT_TRUE(follows(vs(1, 3), vs(2, 1)));
  EXPECT_TRUE(follows(vs(1, 3), vs(5, 1)));
}

TEST(Follows, NothingElseFollows) {
  EXPECT_FALSE(follows(vs(1, 3), vs(1, 3)));  // itself
  EXPECT_FALSE(follows(vs(1, 3), vs(1, 5)));  // skips a seq
  EXPECT_FALSE(follows(vs(1, 3), vs(1, 2)));  // goes back
  EXPECT_FALSE(follows(vs(1, 3), vs(2, 2)));  // later view, not its first seq
  EXPECT_FALSE(follows(vs(1, 3), vs(2, 0)));  // later view, seq 0
  EXPECT_FALSE(follows(vs(2, 1), vs(1, 2)));  // earlier view
  EXPECT_FALSE(follows(vs(2, 1), vs(1, 1)));  // earlier view, seq 1
}

// ---- Primary: taking requests ------------------------------------------------------

TEST(Replica, NonPrimaryRedirectsClientToTheViewsPrimary) {
  Replica backup(config("n2"), make_view(4, "n3", {"n1", "n2"}), {});
  backup.submit(request(7, 9));
  ASSERT_TRUE(backup.has_ready());
  Ready r = backup.take_ready();
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], ClientNotice{(ClientRedirect{7, 9, 4, "n3"})});
  EXPECT_EQ(r.write_id, 0u);
  EXPECT_TRUE(r.appends.empty());
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(backup.log().empty());
}

TEST(Replica, RequestsBetweenTwoReadiesBecomeOneWriteBatchWithConsecutiveViewstamps) {
  Replica primary(config("n1"), make_view(3, "n1", {"n2", "n3"}), {});
  primary.submit(request(1, 1));
  primary.submit(request(2, 1));
  primary.submit(request(3, 1));
  ASSERT_TRUE(primary.has_ready());
  Ready first = primary.take_ready();
  EXPECT_NE(first.write_id, 0u);
  EXPECT_EQ(stamps(first.appends), (std::vector<Viewstamp>{vs(3, 1), vs(3, 2), vs(3, 3)}))
      << describe(stamps(first.appends));
  ASSERT_EQ(first.appends.size(), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(first.appends[i].client_id, i + 1) << "requests keep their submission order";
    EXPECT_EQ(first.appends[i].op, request(i + 1, 1).op);
  }

  primary.submit(request(4, 1));
  primary.submit(request(5, 1));
  Ready second = primary.take_ready();
  EXPECT_EQ(second.write_id, first.write_id + 1);
  EXPECT_EQ(stamps(second.appends), (std::vector<Viewstamp>{vs(3, 4), vs(3, 5)})) << describe(stamps(second.appends));
  EXPECT_EQ(stamps(primary.log()), (std::vector<Viewstamp>{vs(3, 1), vs(3, 2), vs(3, 3), vs(3, 4), vs(3, 5)}));
}

TEST(Replica, OneAppendPerBackupCarriesTheWholeBatch) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 3);
  ASSERT_EQ(r.appends.size(), 3u);
  for (const NodeId& b : kBackups) {
    std::vector<Append> to_b = appends_to(r.messages, b);
    ASSERT_EQ(to_b.size(), 1u) << b;
    EXPECT_EQ(to_b[0].vid, 1u);
    EXPECT_EQ(to_b[0].prev, Viewstamp{});
    EXPECT_EQ(to_b[0].entries, r.appends) << b;
  }
  EXPECT_EQ(r.messages.size(), 2u) << "one message per backup, nothing else";
}

TEST(Replica, AppendEntriesMaxBoundsTheEntriesOfOneAppend) {
  ReplicaConfig c = config("n1");
  c.append_entries_max = 2;
  Replica primary(c, view3(), {});
  for (std::uint64_t i = 1; i <= 5; ++i) primary.submit(request(i, 1));
  std::vector<Message> sent = drain(primary, true).messages;
  for (int t = 0; t < 20; ++t) {  // heartbeats and resends too
    primary.tick();
    std::vector<Message> more = drain(primary, true).messages;
    sent.insert(sent.end(), more.begin(), more.end());
  }
  ASSERT_FALSE(appends_to(sent, "n2").empty());
  for (const Message& m : sent) {
    if (const Append* a = std::get_if<Append>(&m.body)) {
      EXPECT_LE(a->entries.size(), 2u) << "to " << m.to;
    }
  }
}

TEST(Replica, PrimarySendsTheNextBatchBeforeTheFirstCommits) {
  Replica primary(config("n1"), view3(), {});
  Ready first = order(primary, 2);
  ASSERT_EQ(first.appends.size(), 2u);
  // Nothing durable, nothing acknowledged: the first batch is far from committed.
  Ready second = order(primary, 2, 3);
  EXPECT_EQ(primary.commit(), Viewstamp{});
  EXPECT_EQ(stamps(second.appends), (std::vector<Viewstamp>{vs(1, 3), vs(1, 4)}));
  for (const NodeId& b : kBackups) {
    std::vector<Append> to_b = appends_to(second.messages, b);
    ASSERT_EQ(to_b.size(), 1u) << b;
    EXPECT_EQ(to_b[0].prev, vs(1, 2));
    EXPECT_EQ(stamps(to_b[0].entries), (std::vector<Viewstamp>{vs(1, 3), vs(1, 4)}));
  }
}

TEST(Replica, DuplicateSubmitBeforeOrderingIsOrderedOnce) {
  Replica primary(config("n1"), view3(), {});
  primary.submit(request(7, 1));
  primary.submit(request(7, 1));
  Ready r = primary.take_ready();
  EXPECT_EQ(stamps(r.appends), (std::vector<Viewstamp>{vs(1, 1)}));
  EXPECT_TRUE(r.notices.empty());
}

TEST(Replica, DuplicateSubmitOfAnUncommittedRequestIsNotOrderedAgain) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 1);
  ASSERT_EQ(r.appends.size(), 1u);
  primary.submit(request(1, 1));  // the client's retry while the first copy is in flight
  Drained d = drain(primary, true);
  EXPECT_TRUE(d.appends.empty()) << describe(stamps(d.appends));
  EXPECT_EQ(primary.log().size(), 1u);
}

TEST(Replica, SubmitBeyondPendingRequestsMaxGetsClientBusy) {
  ReplicaConfig c = config("n1");
  c.pending_requests_max = 2;
  Replica primary(c, view3(), {});
  primary.submit(request(1, 1));
  primary.submit(request(2, 1));
  primary.submit(request(3, 1));
  Ready r = primary.take_ready();
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], ClientNotice{(ClientBusy{3, 1})});
  ASSERT_EQ(r.appends.size(), 2u);
  EXPECT_EQ(r.appends[0].client_id, 1u);
  EXPECT_EQ(r.appends[1].client_id, 2u);
}

TEST(Replica, OrderingStopsAtInflightEntriesMaxUntilCommitAdvances) {
  ReplicaConfig c = config("n1");
  c.inflight_entries_max = 2;
  Replica primary(c, view3(), {});
  for (std::uint64_t i = 1; i <= 3; ++i) primary.submit(request(i, 1));
  Drained d = drain(primary, true);
  EXPECT_EQ(stamps(d.appends), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)})) << describe(stamps(d.appends));

  primary.step(ack_from("n2", vs(1, 1)));  // commits (1,1): one slot frees
  EXPECT_EQ(primary.commit(), vs(1, 1));
  d = drain(primary, true);
  EXPECT_EQ(stamps(d.appends), (std::vector<Viewstamp>{vs(1, 3)})) << describe(stamps(d.appends));
}

TEST(Replica, ReadyLoopSettlesWhileOrderingIsBlocked) {
  ReplicaConfig c = config("n1");
  c.inflight_entries_max = 1;
  Replica primary(c, view3(), {});
  for (std::uint64_t i = 1; i <= 5; ++i) primary.submit(request(i, 1));
  int rounds = 0;
  for (; rounds < 50 && primary.has_ready(); ++rounds) {
    Ready r = primary.take_ready();
    if (r.write_id != 0) primary.on_durable(r.write_id);
  }
  EXPECT_FALSE(primary.has_ready()) << "has_ready() stayed true while nothing could be ordered";
  EXPECT_LT(rounds, 50);
  EXPECT_EQ(primary.log().size(), 1u);
}

// ---- Primary: committing ----------------------------------------------------------

TEST(Replica, OneBackupAckDoesNotCommitUntilThePrimarysWriteIsDurable) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 2);
  primary.step(ack_from("n2", vs(1, 2)));
  EXPECT_EQ(primary.commit(), Viewstamp{});
  Ready before = primary.take_ready();
  EXPECT_TRUE(before.committed.empty()) << describe(stamps(before.committed));

  primary.on_durable(r.write_id);
  EXPECT_EQ(primary.commit(), vs(1, 2));
  Ready after = primary.take_ready();
  EXPECT_EQ(stamps(after.committed), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)}));
}

TEST(Replica, ThePrimarysDurabilityAloneDoesNotCommit) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 2);
  primary.on_durable(r.write_id);
  EXPECT_EQ(primary.durable(), vs(1, 2));
  EXPECT_EQ(primary.commit(), Viewstamp{});
  Drained d = drain(primary, true);
  EXPECT_TRUE(d.committed.empty()) << describe(stamps(d.committed));
}

TEST(Replica, PrimaryCountsOnlyTheBatchesReportedDurable) {
  Replica primary(config("n1"), view3(), {});
  Ready first = order(primary, 2);
  Ready second = order(primary, 2, 3);
  ASSERT_EQ(second.write_id, first.write_id + 1);
  primary.on_durable(first.write_id);
  EXPECT_EQ(primary.durable(), vs(1, 2)) << "the second batch is still in flight";
  primary.step(ack_from("n2", vs(1, 4)));
  EXPECT_EQ(primary.commit(), vs(1, 2));
  primary.on_durable(second.write_id);
  EXPECT_EQ(primary.durable(), vs(1, 4));
  EXPECT_EQ(primary.commit(), vs(1, 4));
}

TEST(Replica, BackupAcksOnlyThroughTheBatchReportedDurable) {
  Replica backup(config("n2"), view3(), {});
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 2), Viewstamp{}));
  Ready first = backup.take_ready();
  backup.step(append_to_n2(vs(1, 2), entries(1, 3, 4), Viewstamp{}));
  Ready second = backup.take_ready();
  ASSERT_EQ(second.write_id, first.write_id + 1);
  backup.on_durable(first.write_id);
  EXPECT_EQ(backup.durable(), vs(1, 2));
  Ready r = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendAck>(r.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 2), {}}}));
  backup.on_durable(second.write_id);
  r = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendAck>(r.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 4), {}}}));
}

TEST(Replica, AcksOfAMajorityOfBackupsCommitWithoutThePrimarysWrite) {
  // A majority of the view holds the entry durably; the primary is one vote
  // among them, counted only once it has synced.
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 1);
  ASSERT_NE(r.write_id, 0u);
  primary.step(ack_from("n2", vs(1, 1)));
  EXPECT_EQ(primary.commit(), Viewstamp{});
  primary.step(ack_from("n3", vs(1, 1)));
  EXPECT_EQ(primary.commit(), vs(1, 1));
}

TEST(Replica, FiveNodesCommitNeedsThreeDurableMembers) {
  Replica primary(config("n1"), view5(), {});
  Ready r = order(primary, 1);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(1, 1)));
  EXPECT_EQ(primary.commit(), Viewstamp{}) << "2 of 5 committed";
  primary.step(ack_from("n4", vs(1, 1)));
  EXPECT_EQ(primary.commit(), vs(1, 1));

  Replica other(config("n1"), view5(), {});
  order(other, 1);  // the primary's own write stays in flight
  other.step(ack_from("n2", vs(1, 1)));
  other.step(ack_from("n3", vs(1, 1)));
  EXPECT_EQ(other.commit(), Viewstamp{}) << "2 of 5 committed";
  other.step(ack_from("n5", vs(1, 1)));
  EXPECT_EQ(other.commit(), vs(1, 1));
}

TEST(Replica, CommittedEntriesComeOutOnceEachInOrder) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 3);
  primary.on_durable(r.write_id);
  std::vector<LogEntry> out;
  auto collect = [&] {
    Drained d = drain(primary, true);
    out.insert(out.end(), d.committed.begin(), d.committed.end());
  };
  primary.step(ack_from("n2", vs(1, 2)));
  collect();
  EXPECT_EQ(stamps(out), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)})) << describe(stamps(out));
  primary.step(ack_from("n2", vs(1, 2)));  // repeated ack
  primary.step(ack_from("n3", vs(1, 1)));  // lagging ack below the commit point
  primary.tick();                          // heartbeat
  collect();
  EXPECT_EQ(stamps(out), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)})) << describe(stamps(out));
  primary.step(ack_from("n3", vs(1, 3)));
  collect();
  EXPECT_EQ(stamps(out), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2), vs(1, 3)})) << describe(stamps(out));
  EXPECT_EQ(std::vector<LogEntry>(primary.log().begin(), primary.log().end()), out) << "the entries themselves";
}

TEST(Replica, AckOfAnotherViewIsIgnored) {
  Replica primary(config("n1"), make_view(2, "n1", {"n2", "n3"}), {});
  Ready r = order(primary, 1);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(2, 1), 1));
  primary.step(ack_from("n3", vs(2, 1), 3));
  EXPECT_EQ(primary.commit(), Viewstamp{});
  primary.step(ack_from("n2", vs(2, 1), 2));
  EXPECT_EQ(primary.commit(), vs(2, 1)) << "the same ack in the right view commits";
}

TEST(Replica, AckFromANonMemberIsIgnored) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 1);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n9", vs(1, 1)));
  EXPECT_EQ(primary.commit(), Viewstamp{});
}

TEST(Replica, MessageAddressedToAnotherNodeIsIgnored) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 1);
  primary.on_durable(r.write_id);
  primary.step(message("n2", "n3", AppendAck{1, vs(1, 1), {}}));
  EXPECT_EQ(primary.commit(), Viewstamp{});
}

TEST(Replica, AckBeyondThePrimarysLogCommitsNoFurtherThanTheLog) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 1);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(1, 9)));
  primary.step(ack_from("n3", vs(1, 9)));
  EXPECT_EQ(primary.commit(), vs(1, 1));
}

TEST(Replica, EntriesOfAnEarlierViewCommitOnlyBelowOneOfTheCurrentView) {
  Replica primary(config("n1"), make_view(2, "n1", {"n2", "n3"}), entries(1, 1, 2));
  primary.step(ack_from("n2", vs(1, 2), 2));
  primary.step(ack_from("n3", vs(1, 2), 2));
  EXPECT_EQ(primary.commit(), Viewstamp{}) << "no entry of view 2 is held by a majority yet";
  Ready r = order(primary, 1);
  EXPECT_EQ(stamps(r.appends), (std::vector<Viewstamp>{vs(2, 1)}));
  EXPECT_TRUE(r.committed.empty());
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(2, 1), 2));
  EXPECT_EQ(primary.commit(), vs(2, 1));
  Ready after = primary.take_ready();
  EXPECT_EQ(stamps(after.committed), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2), vs(2, 1)}));
}

// ---- Primary: repairing backups and heartbeats ------------------------------------

TEST(Replica, AppendGapMakesThePrimaryResendWhatFollowsTheBackupsLast) {
  Replica primary(config("n1"), view3(), {});
  Ready r = order(primary, 3);
  primary.step(message("n2", "n1", AppendGap{1, vs(1, 1)}));
  Ready repair = primary.take_ready();
  std::vector<Append> to_n2 = appends_to(repair.messages, "n2");
  ASSERT_EQ(to_n2.size(), 1u);
  EXPECT_EQ(to_n2[0].prev, vs(1, 1));
  EXPECT_EQ(stamps(to_n2[0].entries), (std::vector<Viewstamp>{vs(1, 2), vs(1, 3)}));
  EXPECT_TRUE(appends_to(repair.messages, "n3").empty()) << "only the backup that asked";
}

TEST(Replica, AppendGapOfAnotherViewOrFromANonMemberIsIgnored) {
  Replica primary(config("n1"), view3(), {});
  order(primary, 3);
  primary.step(message("n2", "n1", AppendGap{2, vs(1, 1)}));
  primary.step(message("n9", "n1", AppendGap{1, vs(1, 1)}));
  EXPECT_FALSE(primary.has_ready());
}

// Ticks `primary` once and runs its Ready loop; returns the Appends it sent to `to`.
std::vector<Append> tick_and_collect(Replica& primary, const NodeId& to) {
  primary.tick();
  return appends_to(drain(primary, true).messages, to);
}

TEST(Replica, SilentBackupIsResentFromItsLastAckOnAHeartbeat) {
  ReplicaConfig c = config("n1");
  c.heartbeat_ticks = 5;
  c.resend_ticks = 20;
  Replica primary(c, view3(), {});
  Ready r = order(primary, 3);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(1, 1)));  // then n2 says nothing more
  drain(primary, true);
  std::uint32_t resent_at = 0;
  for (std::uint32_t t = 1; t <= c.resend_ticks + c.heartbeat_ticks && resent_at == 0; ++t) {
    for (const Append& a : tick_and_collect(primary, "n2")) {
      if (a.entries.empty()) continue;
      resent_at = t;
      EXPECT_EQ(a.prev, vs(1, 1)) << "resent from its last ack";
      EXPECT_EQ(stamps(a.entries), (std::vector<Viewstamp>{vs(1, 2), vs(1, 3)}));
    }
  }
  ASSERT_NE(resent_at, 0u) << "never resent within resend_ticks + heartbeat_ticks";
  EXPECT_GE(resent_at, c.resend_ticks) << "resent before the backup was silent for resend_ticks";
}

TEST(Replica, ResponsiveBackupIsNotResentBeforeResendTicksOfSilence) {
  ReplicaConfig c = config("n1");
  c.heartbeat_ticks = 5;
  c.resend_ticks = 20;
  Replica primary(c, view3(), {});
  // Idle for a while: both backups answer every heartbeat as a caught-up empty backup would.
  for (int t = 0; t < 50; ++t) {
    primary.tick();
    for (const Message& m : drain(primary, true).messages) {
      if (std::holds_alternative<Append>(m.body)) primary.step(message(m.to, "n1", AppendAck{1, Viewstamp{}, {}}));
    }
  }
  Ready r = order(primary, 1);
  ASSERT_EQ(appends_to(r.messages, "n2").size(), 1u);
  primary.on_durable(r.write_id);
  // The backup's ack for (1,1) is not back yet (its disk is slow); well before
  // resend_ticks of silence, (1,1) must not be sent again.
  for (std::uint32_t t = 1; t < c.resend_ticks; ++t) {
    for (const Append& a : tick_and_collect(primary, "n2")) {
      EXPECT_TRUE(a.entries.empty()) << "tick " << t << ": resent " << describe(stamps(a.entries))
                                     << " from " << to_string(a.prev) << " to a backup silent for " << t << " ticks";
    }
  }
}

TEST(Replica, HeartbeatsCarryTheCommitPointEveryHeartbeatTicks) {
  ReplicaConfig c = config("n1");
  c.heartbeat_ticks = 5;
  c.resend_ticks = 1000;
  Replica primary(c, view3(), {});
  Ready r = order(primary, 2);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(1, 1)));
  primary.step(ack_from("n3", vs(1, 2)));
  drain(primary, true);
  ASSERT_EQ(primary.commit(), vs(1, 2));
  for (const NodeId& b : kBackups) {
    SCOPED_TRACE(b);
    Replica p = primary;
    std::vector<std::uint32_t> beats;
    for (std::uint32_t t = 1; t <= 4 * c.heartbeat_ticks; ++t) {
      for (const Append& a : tick_and_collect(p, b)) {
        beats.push_back(t);
        EXPECT_EQ(a.commit, vs(1, 2));
        EXPECT_EQ(a.vid, 1u);
      }
    }
    ASSERT_EQ(beats.size(), 4u) << "one heartbeat per heartbeat_ticks";
    for (std::size_t i = 1; i < beats.size(); ++i) EXPECT_EQ(beats[i] - beats[i - 1], c.heartbeat_ticks);
  }
}

TEST(Replica, HeartbeatToACaughtUpBackupCarriesNoEntries) {
  ReplicaConfig c = config("n1");
  c.resend_ticks = 1000;
  Replica primary(c, view3(), {});
  Ready r = order(primary, 2);
  primary.on_durable(r.write_id);
  primary.step(ack_from("n2", vs(1, 2)));
  drain(primary, true);
  std::vector<Append> beat = tick_and_collect(primary, "n2");
  ASSERT_EQ(beat.size(), 1u);
  EXPECT_TRUE(beat[0].entries.empty());
  EXPECT_EQ(beat[0].prev, vs(1, 2));
  EXPECT_EQ(beat[0].commit, vs(1, 2));
}

TEST(Replica, BatchLargerThanAppendEntriesMaxReachesAResponsiveBackupWithoutAHeartbeat) {
  ReplicaConfig c = config("n1");
  c.append_entries_max = 2;
  Replica primary(c, view3(), {});
  for (std::uint64_t i = 1; i <= 5; ++i) primary.submit(request(i, 1));
  // n2 acknowledges every Append at once; nobody ticks.
  Viewstamp n2_has;
  for (int round = 0; round < 20 && primary.has_ready(); ++round) {
    Ready r = primary.take_ready();
    if (r.write_id != 0) primary.on_durable(r.write_id);
    for (const Append& a : appends_to(r.messages, "n2")) {
      if (a.prev == n2_has && !a.entries.empty()) n2_has = a.entries.back().vs;
      primary.step(ack_from("n2", n2_has));
    }
  }
  EXPECT_EQ(n2_has, vs(1, 5)) << "n2 received only up to " << to_string(n2_has);
  EXPECT_EQ(primary.commit(), vs(1, 5));
}

// ---- Backup --------------------------------------------------------------------------

TEST(Replica, BackupIgnoresAppendFromAnyoneButTheViewsPrimary) {
  Replica backup(config("n2"), view3(), {});
  backup.step(message("n3", "n2", Append{1, Viewstamp{}, entries(1, 1, 2), vs(1, 2)}));
  EXPECT_FALSE(backup.has_ready());
  EXPECT_TRUE(backup.log().empty());
  EXPECT_EQ(backup.commit(), Viewstamp{});
}

TEST(Replica, BackupIgnoresAppendOfAnotherView) {
  Replica backup(config("n2"), view3(), {});
  backup.step(append_to_n2(Viewstamp{}, entries(2, 1, 2), vs(2, 2), 2));
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 2), vs(1, 2), 0));
  EXPECT_FALSE(backup.has_ready());
  EXPECT_TRUE(backup.log().empty());
}

TEST(Replica, PrimaryIgnoresAppend) {
  Replica primary(config("n1"), view3(), {});
  primary.step(message("n1", "n1", Append{1, Viewstamp{}, entries(1, 1, 2), vs(1, 2)}));
  EXPECT_FALSE(primary.has_ready());
  EXPECT_TRUE(primary.log().empty());
}

TEST(Replica, BackupAcksOnlyAfterEntriesAreDurable) {
  Replica backup(config("n2"), view3(), {});
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 2), Viewstamp{}));
  Ready write = backup.take_ready();
  EXPECT_NE(write.write_id, 0u);
  EXPECT_EQ(write.appends, entries(1, 1, 2));
  EXPECT_TRUE(bodies_to<AppendAck>(write.messages, "n1").empty()) << "acked before the entries were durable";
  EXPECT_FALSE(backup.has_ready());

  backup.on_durable(write.write_id);
  EXPECT_EQ(backup.durable(), vs(1, 2));
  ASSERT_TRUE(backup.has_ready());
  Ready after = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendAck>(after.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 2), {}}}));
}

TEST(Replica, BackupAckOfAHeartbeatWaitsForTheWriteInFlight) {
  Replica backup(config("n2"), view3(), {});
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 2), Viewstamp{}));
  Ready write = backup.take_ready();
  ASSERT_NE(write.write_id, 0u);
  backup.step(append_to_n2(vs(1, 2), {}, Viewstamp{}));  // heartbeat while the write is in flight
  Ready beat = backup.take_ready();
  EXPECT_TRUE(bodies_to<AppendAck>(beat.messages, "n1").empty()) << "acked entries not yet durable";
  backup.on_durable(write.write_id);
  Ready after = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendAck>(after.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 2), {}}, {1, vs(1, 2), {}}}));
}

TEST(Replica, BackupAnswersAnAppendBeyondItsLogWithAGapAndAppendsNothing) {
  Replica backup(config("n2"), view3(), entries(1, 1, 1));
  backup.step(append_to_n2(vs(1, 3), entries(1, 4, 5), vs(1, 3)));
  Ready r = backup.take_ready();
  EXPECT_EQ(r.write_id, 0u);
  EXPECT_TRUE(r.appends.empty());
  EXPECT_EQ(bodies_to<AppendGap>(r.messages, "n1"), (std::vector<AppendGap>{{1, vs(1, 1)}}));
  EXPECT_TRUE(bodies_to<AppendAck>(r.messages, "n1").empty());
  EXPECT_EQ(backup.last(), vs(1, 1));
  EXPECT_TRUE(r.committed.empty()) << "commit point of an Append it cannot place";
}

TEST(Replica, BackupSkipsEntriesItAlreadyHolds) {
  Replica backup(config("n2"), view3(), {});
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 2), Viewstamp{}));
  Drained first = drain(backup, true);
  ASSERT_EQ(first.appends, entries(1, 1, 2));

  // Overlap: (1,1),(1,2) again plus (1,3); then an exact duplicate.
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 3), Viewstamp{}));
  Drained overlap = drain(backup, true);
  EXPECT_EQ(overlap.appends, entries(1, 3, 3)) << "wrote " << describe(stamps(overlap.appends));
  backup.step(append_to_n2(vs(1, 1), entries(1, 2, 3), Viewstamp{}));
  Drained duplicate = drain(backup, true);
  EXPECT_TRUE(duplicate.appends.empty()) << "wrote " << describe(stamps(duplicate.appends));
  EXPECT_EQ(bodies_to<AppendAck>(duplicate.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 3), {}}}));
  EXPECT_EQ(backup.log(), entries(1, 1, 3));
}

TEST(Replica, BackupIgnoresAnAppendWhoseEntriesAreNotContiguous) {
  // No primary sends that: the whole message is dropped, nothing appended.
  Replica backup(config("n2"), view3(), entries(1, 1, 1));
  backup.step(append_to_n2(vs(1, 1), {entry(1, 2), entry(1, 4)}, Viewstamp{}));
  Ready r = backup.take_ready();
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.appends.empty()) << describe(stamps(r.appends));
  EXPECT_EQ(backup.last(), vs(1, 1));
}

TEST(Replica, BackupAnswersAPrevItLacksWithTheNewestEntryItHoldsBeforeIt) {
  Replica backup(config("n2"), view3(), entries(1, 1, 2));
  backup.step(append_to_n2(vs(1, 5), {entry(1, 6)}, Viewstamp{}));  // beyond its end
  Ready r = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendGap>(r.messages, "n1"), (std::vector<AppendGap>{{1, vs(1, 2)}}));
  EXPECT_TRUE(r.appends.empty());

  backup.step(append_to_n2(vs(1, 0), {entry(1, 1)}, Viewstamp{}));  // no such entry, nothing before it
  Ready r2 = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendGap>(r2.messages, "n1"), (std::vector<AppendGap>{{1, Viewstamp{}}}));
  EXPECT_TRUE(r2.appends.empty());
  EXPECT_EQ(backup.last(), vs(1, 2));
}

TEST(Replica, BackupHandsOutCommittedEntriesUpToThePrimarysCommitOrItsOwnLast) {
  Replica backup(config("n2"), view3(), {});
  // The primary's commit point is below what it sends: commit stops there.
  backup.step(append_to_n2(Viewstamp{}, entries(1, 1, 3), vs(1, 2)));
  Drained d = drain(backup, true);
  EXPECT_EQ(stamps(d.committed), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)})) << describe(stamps(d.committed));
  EXPECT_EQ(backup.commit(), vs(1, 2));
  // The primary's commit point is beyond what this backup holds: commit stops at its last.
  backup.step(append_to_n2(vs(1, 3), entries(1, 4, 4), vs(1, 9)));
  d = drain(backup, true);
  EXPECT_EQ(stamps(d.committed), (std::vector<Viewstamp>{vs(1, 3), vs(1, 4)})) << describe(stamps(d.committed));
  EXPECT_EQ(backup.commit(), vs(1, 4));
}

TEST(Replica, BackupHandsOutEachCommittedEntryOnceInOrder) {
  Replica backup(config("n2"), view3(), {});
  std::vector<LogEntry> out;
  auto step_and_collect = [&](Message m) {
    backup.step(m);
    Drained d = drain(backup, true);
    out.insert(out.end(), d.committed.begin(), d.committed.end());
  };
  step_and_collect(append_to_n2(Viewstamp{}, entries(1, 1, 3), vs(1, 1)));
  step_and_collect(append_to_n2(vs(1, 3), {}, vs(1, 1)));  // same commit point again
  step_and_collect(append_to_n2(vs(1, 3), {}, vs(1, 3)));
  step_and_collect(append_to_n2(vs(1, 1), entries(1, 2, 3), vs(1, 2)));  // late, older commit point
  step_and_collect(append_to_n2(vs(1, 3), {}, vs(1, 3)));
  EXPECT_EQ(out, entries(1, 1, 3)) << describe(stamps(out));
}

TEST(Replica, RecoveredBackupIsDurableThroughItsLast) {
  Replica backup(config("n2"), view3(), entries(1, 1, 4));
  EXPECT_EQ(backup.last(), vs(1, 4));
  EXPECT_EQ(backup.durable(), backup.last());
  EXPECT_FALSE(backup.has_ready()) << "nothing to write, send or hand out before the primary speaks";
}

TEST(Replica, RecoveredBackupAcksAHeartbeatItHoldsAtOnce) {
  Replica backup(config("n2"), view3(), entries(1, 1, 4));
  backup.step(append_to_n2(vs(1, 4), {}, vs(1, 2)));
  Ready r = backup.take_ready();
  EXPECT_EQ(r.write_id, 0u);
  EXPECT_EQ(bodies_to<AppendAck>(r.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 4), {}}}));
  EXPECT_EQ(stamps(r.committed), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)}));
}

// ---- A whole view --------------------------------------------------------------------

// Three replicas of view 1 and a network that delivers everything, in order.
// Writes become durable at once. Bounded: a stuck cluster fails, it never hangs.
struct Cluster {
  explicit Cluster(ReplicaConfig base) {
    for (const NodeId& id : view3().members()) {
      ReplicaConfig c = base;
      c.self = id;
      replicas.emplace(id, std::make_unique<Replica>(c, view3(), std::vector<LogEntry>{}));
    }
  }

  void settle() {
    for (int round = 0; round < 200; ++round) {
      std::vector<Message> wire;
      for (auto& [id, r] : replicas) {
        Drained d = drain(*r, true);
        wire.insert(wire.end(), d.messages.begin(), d.messages.end());
        applied[id].insert(applied[id].end(), d.committed.begin(), d.committed.end());
      }
      if (wire.empty()) return;
      for (const Message& m : wire) replicas.at(m.to)->step(m);
    }
    ADD_FAILURE() << "the cluster did not settle";
  }

  std::map<NodeId, std::unique_ptr<Replica>> replicas;
  std::map<NodeId, std::vector<LogEntry>> applied;
};

TEST(Replica, ThreeReplicasCommitEveryRequestOnEveryReplicaInOrder) {
  ReplicaConfig base;
  base.append_entries_max = 3;
  Cluster cluster(base);
  Replica& primary = *cluster.replicas.at("n1");
  std::uint64_t submitted = 0;
  for (int wave = 0; wave < 4; ++wave) {
    for (int i = 0; i < 2; ++i) primary.submit(request(++submitted, 1));
    cluster.settle();
  }
  for (int t = 0; t < 20; ++t) {  // heartbeats bring the backups' commit points up
    for (auto& [id, r] : cluster.replicas) r->tick();
    cluster.settle();
  }
  ASSERT_EQ(primary.log().size(), submitted);
  for (const auto& [id, r] : cluster.replicas) {
    SCOPED_TRACE(id);
    EXPECT_EQ(r->log(), primary.log());
    EXPECT_EQ(r->commit(), primary.last());
    EXPECT_EQ(cluster.applied[id], primary.log()) << describe(stamps(cluster.applied[id]));
  }
}

}  // namespace
}  // namespace synod::rsm
