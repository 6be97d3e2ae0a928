// The Replica's rules across views, checked by driving its Ready loop by hand:
// a new primary's no-op and how it brings every backup's log to its own
// (gaps, truncation of a divergent suffix), what a backup acknowledges and
// commits in a new view, a frozen replica, and the one write that carries a
// truncation together with the entries that replace it. Replicas are built at
// any view and enter_view()/set_frozen() are called directly, as rsm::Node
// would; no threads, no clocks, bounded loops.

#include <gtest/gtest.h>

#include <cstdint>
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

// The three nodes n1, n2, n3 in view `vid` under `primary`.
View view_of(ViewId vid, const NodeId& primary) {
  std::vector<NodeId> backups;
  for (const NodeId& id : std::vector<NodeId>{"n1", "n2", "n3"}) {
    if (id != primary) backups.push_back(id);
  }
  return make_view(vid, primary, backups);
}

ClientRequest request(std::uint64_t client, std::uint64_t request_no) {
  return ClientRequest{client, request_no, "op" + std::to_string(client) + "." + std::to_string(request_no)};
}

// An entry as a primary of view `vid` would have ordered it for client 7.
LogEntry entry(ViewId vid, std::uint64_t seq) {
  return LogEntry{vs(vid, seq), 7, vid * 1000 + seq, "e" + std::to_string(vid) + "." + std::to_string(seq)};
}

// The no-op a new primary of view `vid` orders first.
LogEntry noop(ViewId vid) { return LogEntry{vs(vid, 1), 0, 0, {}}; }

// A log from a list of viewstamps: (v,1) of a view > 1 is that view's no-op.
std::vector<LogEntry> log_of(std::initializer_list<Viewstamp> stamps) {
  std::vector<LogEntry> out;
  for (const Viewstamp& s : stamps) out.push_back(s.vid > 1 && s.seq == 1 ? noop(s.vid) : entry(s.vid, s.seq));
  return out;
}

std::string describe(const std::vector<LogEntry>& es) { return describe(stamps(es)); }

std::vector<Append> appends_to(const std::vector<Message>& ms, const NodeId& to) { return bodies_to<Append>(ms, to); }

// The primary's log of the divergence scenario: (1,1)(1,2) then view 3's
// no-op (3,1), as a primary carries it into view 4.
std::vector<LogEntry> primary_log_before_view4() { return log_of({vs(1, 1), vs(1, 2), vs(3, 1)}); }
// A backup that was in view 2, whose primary ordered (2,1)(2,2) that never
// reached a majority.
std::vector<LogEntry> divergent_backup_log() { return log_of({vs(1, 1), vs(1, 2), vs(2, 1), vs(2, 2)}); }

// ---- A new primary -------------------------------------------------------------

TEST(ReplicaView, NewPrimaryAppendsANoOpAndSendsItToEachBackupAfterItsLogsEnd) {
  Replica r(config("n2"), view_of(1, "n1"), log_of({vs(1, 1), vs(1, 2)}));
  r.enter_view(view_of(2, "n2"));
  EXPECT_TRUE(r.is_primary());
  EXPECT_EQ(r.view(), view_of(2, "n2"));
  ASSERT_TRUE(r.has_ready());
  Ready ready = r.take_ready();
  EXPECT_NE(ready.write_id, 0u);
  EXPECT_EQ(ready.appends, (std::vector<LogEntry>{noop(2)})) << describe(ready.appends);
  EXPECT_FALSE(ready.truncate_after.has_value());
  EXPECT_EQ(r.log().back(), noop(2));
  for (const char* b : {"n1", "n3"}) {
    EXPECT_EQ(appends_to(ready.messages, b), (std::vector<Append>{Append{2, vs(1, 2), {noop(2)}, Viewstamp{}}}))
        << "to " << b;
  }
  EXPECT_EQ(ready.messages.size(), 2u) << "one Append per backup, nothing else";
}

TEST(ReplicaView, NewPrimaryWithAnEmptyLogSendsTheNoOpAfterTheEmptyLogsEnd) {
  Replica r(config("n3"), view_of(3, "n1"), {});
  r.enter_view(view_of(4, "n3"));
  Ready ready = r.take_ready();
  EXPECT_EQ(ready.appends, (std::vector<LogEntry>{noop(4)}));
  for (const char* b : {"n1", "n2"}) {
    EXPECT_EQ(appends_to(ready.messages, b), (std::vector<Append>{Append{4, Viewstamp{}, {noop(4)}, Viewstamp{}}}))
        << "to " << b;
  }
}

TEST(ReplicaView, NewPrimaryResendsFromTheNewestEntryOfItsLogAtOrBeforeTheGapsLast) {
  Replica primary(config("n1"), view_of(3, "n1"), primary_log_before_view4());
  primary.enter_view(view_of(4, "n1"));
  drain(primary, true);
  // n2's log is (1,1)(1,2)(2,1)(2,2): it lacks (3,1) and says (2,2); the
  // primary holds nothing between (1,2) and (3,1).
  primary.step(message("n2", "n1", AppendGap{4, vs(2, 2)}));
  Ready ready = primary.take_ready();
  EXPECT_EQ(appends_to(ready.messages, "n2"),
            (std::vector<Append>{Append{4, vs(1, 2), {noop(3), noop(4)}, Viewstamp{}}}));
  EXPECT_TRUE(appends_to(ready.messages, "n3").empty()) << "only the backup that asked";
}

// ---- A backup in a new view ------------------------------------------------------

TEST(ReplicaView, BackupLackingPrevAnswersAppendGapWithTheNewestEntryItHoldsBeforePrev) {
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  backup.step(message("n1", "n2", Append{4, vs(3, 1), {noop(4)}, Viewstamp{}}));
  Ready ready = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendGap>(ready.messages, "n1"), (std::vector<AppendGap>{{4, vs(2, 2)}}));
  EXPECT_TRUE(bodies_to<AppendAck>(ready.messages, "n1").empty());
  EXPECT_EQ(ready.write_id, 0u);
  EXPECT_FALSE(ready.truncate_after.has_value());
  EXPECT_EQ(backup.log(), divergent_backup_log()) << "an Append it cannot place changes nothing";
}

TEST(ReplicaView, BackupTruncatesItsDivergentSuffixAndTakesThePrimarysEntriesInOneWrite) {
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  ASSERT_EQ(backup.durable(), vs(2, 2));
  backup.step(message("n1", "n2", Append{4, vs(1, 2), {noop(3), noop(4)}, Viewstamp{}}));
  Ready write = backup.take_ready();
  EXPECT_NE(write.write_id, 0u);
  ASSERT_TRUE(write.truncate_after.has_value());
  EXPECT_EQ(*write.truncate_after, vs(1, 2)) << "the last kept viewstamp";
  EXPECT_EQ(write.appends, (std::vector<LogEntry>{noop(3), noop(4)})) << describe(write.appends);
  EXPECT_EQ(backup.log(), log_of({vs(1, 1), vs(1, 2), vs(3, 1), vs(4, 1)})) << describe(backup.log());
  EXPECT_EQ(backup.matched(), vs(4, 1));
  EXPECT_EQ(backup.durable(), vs(1, 2)) << "(2,1)(2,2) are gone; (3,1)(4,1) are not on disk yet";
  EXPECT_TRUE(bodies_to<AppendAck>(write.messages, "n1").empty()) << "acked before the write was durable";
  EXPECT_EQ(backup.committed_entries_truncated(), 0u);

  backup.on_durable(write.write_id);
  EXPECT_EQ(backup.durable(), vs(4, 1));
  Ready after = backup.take_ready();
  EXPECT_EQ(bodies_to<AppendAck>(after.messages, "n1"), (std::vector<AppendAck>{{4, vs(4, 1), {}}}));
}

TEST(ReplicaView, BackupAcksWhatMatchesThePrimaryNotItsDivergentTail) {
  // A primary sending one entry per Append repairs the backup from (1,1): the
  // backup's (1,2) matches, its (2,1)(2,2) after it are not yet known to.
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  backup.step(message("n1", "n2", Append{4, vs(1, 1), {entry(1, 2)}, Viewstamp{}}));
  Ready ready = backup.take_ready();
  EXPECT_EQ(ready.write_id, 0u) << "nothing new to write";
  EXPECT_EQ(bodies_to<AppendAck>(ready.messages, "n1"), (std::vector<AppendAck>{{4, vs(1, 2), {}}}))
      << "the ack names matched(), not the log's last " << to_string(backup.last());
  EXPECT_EQ(backup.matched(), vs(1, 2));
  EXPECT_EQ(backup.log(), divergent_backup_log());
}

TEST(ReplicaView, BackupCommitNeverPassesMatchedEvenWhenTheAppendsCommitIsHigher) {
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  // The primary has committed its no-op (4,1); this backup only knows that
  // its log matches through (1,2).
  backup.step(message("n1", "n2", Append{4, vs(1, 1), {entry(1, 2)}, vs(4, 1)}));
  Drained d = drain(backup, true);
  EXPECT_EQ(backup.commit(), vs(1, 2)) << "the divergent (2,1)(2,2) are not committed";
  EXPECT_EQ(stamps(d.committed), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2)})) << describe(d.committed);
  // A heartbeat at the same point changes nothing.
  backup.step(message("n1", "n2", Append{4, vs(1, 2), {}, vs(4, 1)}));
  d = drain(backup, true);
  EXPECT_EQ(backup.commit(), vs(1, 2));
  EXPECT_TRUE(d.committed.empty()) << describe(d.committed);
}

TEST(ReplicaView, StaleShorterAppendOfTheSameViewTruncatesNothing) {
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  const std::vector<LogEntry> tail{noop(3), noop(4), entry(4, 2), entry(4, 3)};
  backup.step(message("n1", "n2", Append{4, vs(1, 2), tail, Viewstamp{}}));
  drain(backup, true);
  const std::vector<LogEntry> repaired = backup.log();
  ASSERT_EQ(stamps(repaired), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2), vs(3, 1), vs(4, 1), vs(4, 2), vs(4, 3)}))
      << describe(repaired);

  // An earlier, shorter Append of the same view (resent, delivered late), and an
  // old heartbeat.
  backup.step(message("n1", "n2", Append{4, vs(1, 2), {noop(3)}, Viewstamp{}}));
  backup.step(message("n1", "n2", Append{4, vs(3, 1), {}, Viewstamp{}}));
  Ready ready = backup.take_ready();
  EXPECT_EQ(ready.write_id, 0u);
  EXPECT_FALSE(ready.truncate_after.has_value()) << "truncated after " << to_string(*ready.truncate_after);
  EXPECT_TRUE(ready.appends.empty()) << describe(ready.appends);
  EXPECT_EQ(backup.log(), repaired);
  EXPECT_EQ(backup.matched(), vs(4, 3)) << "matched() never goes back";
  for (const AppendAck& a : bodies_to<AppendAck>(ready.messages, "n1")) EXPECT_EQ(a, (AppendAck{4, vs(4, 3), {}}));
}

// No correct primary sends this; the whole Append is ignored before anything
// changes. (This failed against the replica.cpp first reviewed, which checked
// contiguity while walking the entries, after (3,1) != (2,1) had already
// dropped (2,1)(2,2) and issued a write deleting them.)
TEST(ReplicaView, BackupIgnoresANonContiguousAppendEntirelyEvenWhereItDiverges) {
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  backup.step(message("n1", "n2", Append{4, vs(1, 2), {noop(3), entry(3, 3)}, Viewstamp{}}));
  EXPECT_EQ(backup.log(), divergent_backup_log()) << describe(backup.log());
  EXPECT_EQ(backup.durable(), vs(2, 2));
  Ready ready = backup.take_ready();
  EXPECT_EQ(ready.write_id, 0u);
  EXPECT_FALSE(ready.truncate_after.has_value());
  EXPECT_TRUE(ready.messages.empty());
}

// ---- Bringing a divergent backup to the primary's log ---------------------------

// Passes messages between `primary` (n1) and `backup` (n2) by hand until
// neither has anything to say, both syncing every write at once. Messages to
// n3 are dropped. Returns the number of rounds taken (bounded).
int exchange(Replica& primary, Replica& backup, std::vector<LogEntry>* backup_committed = nullptr) {
  for (int round = 1; round <= 20; ++round) {
    Drained p = drain(primary, true);
    for (const Message& m : p.messages) backup.step(m);
    Drained b = drain(backup, true);
    if (backup_committed) backup_committed->insert(backup_committed->end(), b.committed.begin(), b.committed.end());
    for (const Message& m : b.messages) primary.step(m);
    if (bodies_to<Append>(p.messages, "n2").empty() && b.messages.empty() && !primary.has_ready()) return round;
  }
  ADD_FAILURE() << "primary and backup still talking after 20 rounds; backup log " << describe(backup.log())
                << ", primary log " << describe(primary.log());
  return 20;
}

TEST(ReplicaView, DivergentBackupEndsWithThePrimarysLogWithoutDroppingACommittedEntry) {
  // n2 was a backup of view 2 (primary n3) and learned that (1,1)(1,2) are
  // committed; n3's (2,1)(2,2) never reached a majority. View 4's primary n1
  // carries (1,1)(1,2)(3,1).
  Replica backup(config("n2"), view_of(2, "n3"), log_of({vs(1, 1), vs(1, 2)}));
  backup.step(message("n3", "n2", Append{2, vs(1, 2), {noop(2), entry(2, 2)}, vs(1, 2)}));
  std::vector<LogEntry> backup_committed = drain(backup, true).committed;
  ASSERT_EQ(backup.commit(), vs(1, 2));
  ASSERT_EQ(backup.log(), divergent_backup_log());
  backup.enter_view(view_of(4, "n1"));

  Replica primary(config("n1"), view_of(3, "n1"), primary_log_before_view4());
  primary.enter_view(view_of(4, "n1"));
  exchange(primary, backup, &backup_committed);

  EXPECT_EQ(backup.log(), primary.log()) << "backup " << describe(backup.log()) << ", primary "
                                         << describe(primary.log());
  EXPECT_EQ(backup.committed_entries_truncated(), 0u);
  EXPECT_EQ(primary.committed_entries_truncated(), 0u);
  EXPECT_EQ(primary.commit(), vs(4, 1)) << "n1 and n2 hold the no-op durably: a majority of three";

  // A heartbeat brings the backup's commit point up.
  for (std::uint32_t t = 0; t < ReplicaConfig{}.heartbeat_ticks; ++t) primary.tick();
  exchange(primary, backup, &backup_committed);
  EXPECT_EQ(backup.commit(), vs(4, 1));
  EXPECT_EQ(backup_committed, primary.log()) << "handed out " << describe(backup_committed);
}

TEST(ReplicaView, GapsWalkBackOverEntriesTheBackupLacksUntilTheCommonPrefix) {
  // The primary's (1,3) sits where the backup has (2,1)(2,2): its first answer
  // to the gap, prev (1,3), is a gap again; the second, prev (1,2), fits.
  Replica backup(config("n2"), view_of(4, "n1"), divergent_backup_log());
  Replica primary(config("n1"), view_of(3, "n1"), log_of({vs(1, 1), vs(1, 2), vs(1, 3), vs(3, 1)}));
  primary.enter_view(view_of(4, "n1"));

  std::vector<AppendGap> gaps;
  for (int round = 0; round < 20 && primary.has_ready(); ++round) {
    Drained p = drain(primary, true);
    for (const Message& m : p.messages) backup.step(m);
    Drained b = drain(backup, true);
    for (const AppendGap& g : bodies_to<AppendGap>(b.messages, "n1")) gaps.push_back(g);
    for (const Message& m : b.messages) primary.step(m);
  }
  EXPECT_EQ(gaps, (std::vector<AppendGap>{{4, vs(2, 2)}, {4, vs(1, 2)}}));
  EXPECT_EQ(backup.log(), primary.log()) << "backup " << describe(backup.log());
  EXPECT_EQ(backup.committed_entries_truncated(), 0u);
}

// ---- Commit across views -------------------------------------------------------

TEST(ReplicaView, EntriesOfEarlierViewsCommitOnlyOnceTheNewViewsNoOpCommits) {
  Replica primary(config("n1"), view_of(1, "n1"), log_of({vs(1, 1), vs(1, 2)}));
  primary.enter_view(view_of(2, "n1"));
  Ready noop_write = primary.take_ready();
  ASSERT_EQ(noop_write.appends, (std::vector<LogEntry>{noop(2)}));

  // Every member holds (1,1)(1,2) durably: a majority, but of view 1's entries.
  primary.step(message("n2", "n1", AppendAck{2, vs(1, 2), {}}));
  primary.step(message("n3", "n1", AppendAck{2, vs(1, 2), {}}));
  EXPECT_EQ(primary.commit(), Viewstamp{});
  primary.on_durable(noop_write.write_id);
  EXPECT_EQ(primary.commit(), Viewstamp{}) << "only the primary holds the no-op";
  Drained before = drain(primary, true);
  EXPECT_TRUE(before.committed.empty()) << describe(before.committed);

  primary.step(message("n2", "n1", AppendAck{2, vs(2, 1), {}}));
  EXPECT_EQ(primary.commit(), vs(2, 1));
  Drained after = drain(primary, true);
  EXPECT_EQ(stamps(after.committed), (std::vector<Viewstamp>{vs(1, 1), vs(1, 2), vs(2, 1)}))
      << describe(after.committed);
}

// ---- Frozen replicas ---------------------------------------------------------------

TEST(ReplicaView, FrozenBackupIgnoresAppendsWithoutAckGapOrWrite) {
  Replica backup(config("n2"), view_of(1, "n1"), log_of({vs(1, 1)}));
  backup.set_frozen(true);
  EXPECT_TRUE(backup.frozen());
  backup.step(message("n1", "n2", Append{1, vs(1, 1), {entry(1, 2)}, vs(1, 1)}));  // would be appended
  backup.step(message("n1", "n2", Append{1, vs(1, 1), {}, vs(1, 1)}));             // would be acked
  backup.step(message("n1", "n2", Append{1, vs(1, 5), {entry(1, 6)}, vs(1, 1)}));  // would get a gap
  EXPECT_FALSE(backup.has_ready());
  EXPECT_EQ(backup.log(), log_of({vs(1, 1)}));
  EXPECT_EQ(backup.commit(), Viewstamp{});

  backup.set_frozen(false);  // the same Append, once thawed, is taken: the test can see a difference
  backup.step(message("n1", "n2", Append{1, vs(1, 1), {entry(1, 2)}, vs(1, 1)}));
  Drained d = drain(backup, true);
  EXPECT_EQ(stamps(d.appends), (std::vector<Viewstamp>{vs(1, 2)}));
  EXPECT_EQ(bodies_to<AppendAck>(d.messages, "n1"), (std::vector<AppendAck>{{1, vs(1, 2), {}}}));
}

// A frozen primary of view 1 that was given three requests.
Replica frozen_primary_with_three_pending() {
  Replica primary(config("n1"), view_of(1, "n1"), log_of({vs(1, 1)}));
  primary.set_frozen(true);
  for (std::uint64_t c = 1; c <= 3; ++c) primary.submit(request(c, 1));
  return primary;
}

TEST(ReplicaView, FrozenPrimaryOrdersNothingAnswersNoOneAndSendsNoHeartbeats) {
  Replica primary = frozen_primary_with_three_pending();
  Drained d = drain(primary, true);
  EXPECT_TRUE(d.appends.empty()) << describe(d.appends);
  EXPECT_TRUE(d.notices.empty()) << "requests wait: no redirect, no busy";
  EXPECT_TRUE(d.messages.empty());
  for (std::uint32_t t = 0; t < 4 * ReplicaConfig{}.heartbeat_ticks; ++t) {
    primary.tick();
    Drained beat = drain(primary, true);
    EXPECT_TRUE(beat.messages.empty()) << "tick " << t << ": sent " << beat.messages.size() << " messages";
    EXPECT_TRUE(beat.appends.empty());
  }
  EXPECT_EQ(primary.log(), log_of({vs(1, 1)}));
}

TEST(ReplicaView, FrozenPrimaryStillPrimaryInTheNextViewOrdersItsPendingRequestsAfterTheNoOp) {
  Replica primary = frozen_primary_with_three_pending();
  drain(primary, true);
  primary.enter_view(view_of(2, "n1"));
  EXPECT_FALSE(primary.frozen());
  Drained d = drain(primary, true);
  EXPECT_EQ(stamps(d.appends), (std::vector<Viewstamp>{vs(2, 1), vs(2, 2), vs(2, 3), vs(2, 4)}))
      << describe(d.appends);
  ASSERT_EQ(d.appends.size(), 4u);
  for (std::uint64_t i = 1; i <= 3; ++i) EXPECT_EQ(d.appends[i].client_id, i) << "in submission order";
  EXPECT_TRUE(d.notices.empty());
  // n2 receives everything after (1,1), in Appends that chain.
  Viewstamp end = vs(1, 1);
  for (const Append& a : appends_to(d.messages, "n2")) {
    EXPECT_EQ(a.prev, end);
    if (!a.entries.empty()) end = a.entries.back().vs;
  }
  EXPECT_EQ(end, vs(2, 4));
}

TEST(ReplicaView, FrozenPrimaryNoLongerPrimaryRedirectsEachPendingRequestToTheNewPrimary) {
  Replica primary = frozen_primary_with_three_pending();
  drain(primary, true);
  primary.enter_view(view_of(2, "n3"));
  EXPECT_FALSE(primary.is_primary());
  Drained d = drain(primary, true);
  EXPECT_EQ(d.notices, (std::vector<ClientNotice>{ClientRedirect{1, 1, 2, "n3"}, ClientRedirect{2, 1, 2, "n3"},
                                                  ClientRedirect{3, 1, 2, "n3"}}));
  EXPECT_TRUE(d.appends.empty()) << describe(d.appends);
  EXPECT_TRUE(d.messages.empty());
}

// ---- Client retries across a view change ----------------------------------------

TEST(ReplicaView, RetryOfARequestTheNewPrimaryCarriesUncommittedIsNotOrderedAgain) {
  // (1,2) is client 7's request 1002, uncommitted when n2 takes over.
  Replica r(config("n2"), view_of(1, "n1"), log_of({vs(1, 1), vs(1, 2)}));
  r.enter_view(view_of(2, "n2"));
  r.submit(ClientRequest{7, 1002, "e1.2"});  // the client's retry at the new primary
  r.submit(request(8, 1));                    // a new request is ordered as usual
  Drained d = drain(r, true);
  EXPECT_EQ(stamps(d.appends), (std::vector<Viewstamp>{vs(2, 1), vs(2, 2)})) << describe(d.appends);
  ASSERT_EQ(d.appends.size(), 2u);
  EXPECT_EQ(d.appends[1].client_id, 8u);
  EXPECT_TRUE(d.notices.empty());
  std::size_t copies = 0;
  for (const LogEntry& e : r.log()) copies += (e.client_id == 7 && e.request_no == 1002) ? 1 : 0;
  EXPECT_EQ(copies, 1u);
}

// ---- The write that truncates ----------------------------------------------------

TEST(ReplicaView, TruncationAndTheEntriesReplacingItShareOneWriteWithoutTheDroppedEntries) {
  // n2 took (1,2)(1,3) in view 1 but had not written them yet when view 2
  // began under n3, whose log ends at (1,1).
  Replica backup(config("n2"), view_of(1, "n1"), log_of({vs(1, 1)}));
  backup.step(message("n1", "n2", Append{1, vs(1, 1), {entry(1, 2), entry(1, 3)}, Viewstamp{}}));
  backup.enter_view(view_of(2, "n3"));
  backup.step(message("n3", "n2", Append{2, vs(1, 1), {noop(2)}, Viewstamp{}}));
  Ready write = backup.take_ready();
  EXPECT_NE(write.write_id, 0u);
  ASSERT_TRUE(write.truncate_after.has_value());
  EXPECT_EQ(*write.truncate_after, vs(1, 1));
  EXPECT_EQ(write.appends, (std::vector<LogEntry>{noop(2)})) << describe(write.appends);
  EXPECT_EQ(backup.log(), log_of({vs(1, 1), vs(2, 1)}));
  EXPECT_FALSE(backup.has_ready()) << "one write, not two";
}

TEST(ReplicaView, DurableNeverCoversEntriesATruncationDroppedWhileTheirWriteWasInFlight) {
  Replica backup(config("n2"), view_of(1, "n1"), log_of({vs(1, 1)}));
  backup.step(message("n1", "n2", Append{1, vs(1, 1), {entry(1, 2), entry(1, 3)}, Viewstamp{}}));
  Ready first = backup.take_ready();  // (1,2)(1,3) on their way to disk
  ASSERT_NE(first.write_id, 0u);
  backup.enter_view(view_of(2, "n3"));
  backup.step(message("n3", "n2", Append{2, vs(1, 1), {noop(2)}, Viewstamp{}}));
  Ready second = backup.take_ready();
  ASSERT_NE(second.write_id, 0u);
  ASSERT_EQ(second.truncate_after, std::optional<Viewstamp>(vs(1, 1)));
  EXPECT_EQ(backup.durable(), vs(1, 1));

  // The first write lands: (1,2)(1,3) are on disk but about to be deleted and
  // not in the log; (2,1) is not on disk. Durable stays at (1,1).
  backup.on_durable(first.write_id);
  EXPECT_EQ(backup.durable(), vs(1, 1));
  Drained between = drain(backup, false);
  EXPECT_TRUE(bodies_to<AppendAck>(between.messages, "n3").empty()) << "acked view 2 before its write was durable";

  backup.on_durable(second.write_id);
  EXPECT_EQ(backup.durable(), vs(2, 1));
  Drained after = drain(backup, false);
  EXPECT_EQ(bodies_to<AppendAck>(after.messages, "n3"), (std::vector<AppendAck>{{2, vs(2, 1), {}}}));
}

}  // namespace
}  // namespace synod::rsm
