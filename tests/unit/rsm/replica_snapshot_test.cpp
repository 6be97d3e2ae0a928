// Who serves a follower the snapshot: a backup the primary asks, or the
// primary itself; and how the follower treats chunks from several senders.

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "common/crc32.h"
#include "rsm/replica.h"
#include "rsm_test_print.h"
#include "replica_test_util.h"

namespace synod::rsm {
namespace {

using test::bodies_to;
using test::config;
using test::make_view;
using test::message;
using test::vs;

constexpr std::uint32_t kResend = 20;  // ReplicaConfig's default
const Bytes kSnapshot = "0123456789";

struct Out {
  std::vector<Message> messages;
  std::vector<SnapshotRead> reads;
  std::optional<Viewstamp> snapshot_due;
};

// The Ready loop with every write durable at once.
Out pump(Replica& r) {
  Out out;
  for (int rounds = 0; rounds < 100 && r.has_ready(); ++rounds) {
    Ready ready = r.take_ready();
    if (ready.write_id != 0) r.on_durable(ready.write_id);
    out.messages.insert(out.messages.end(), ready.messages.begin(), ready.messages.end());
    out.reads.insert(out.reads.end(), ready.snapshot_reads.begin(), ready.snapshot_reads.end());
    if (ready.snapshot_due) out.snapshot_due = ready.snapshot_due;
  }
  EXPECT_FALSE(r.has_ready());
  return out;
}

Out tick_pump(Replica& r, std::uint32_t ticks) {
  Out all;
  for (std::uint32_t i = 0; i < ticks; ++i) {
    r.tick();
    Out out = pump(r);
    all.messages.insert(all.messages.end(), out.messages.begin(), out.messages.end());
    all.reads.insert(all.reads.end(), out.reads.begin(), out.reads.end());
  }
  return all;
}

ReplicaConfig compacting(NodeId self) {
  ReplicaConfig c = config(std::move(self));
  c.snapshot_after_entries = 2;
  c.snapshot_chunk_bytes = 4;
  return c;
}

const View kView = make_view(1, "n1", {"n2", "n3"});

// A primary that committed two entries and compacted them into kSnapshot.
// `n2_snapshot`: what n2's acks report of its own snapshot.
Replica compacted_primary(Viewstamp n2_snapshot, bool from_backups = true) {
  ReplicaConfig c = compacting("n1");
  c.snapshots_from_backups = from_backups;
  Replica p(c, kView, {});
  p.submit(ClientRequest{7, 1, "a"});
  p.submit(ClientRequest{7, 2, "b"});
  pump(p);
  p.step(message("n2", "n1", AppendAck{1, vs(1, 2), {}}));
  p.step(message("n3", "n1", AppendAck{1, vs(1, 2), {}}));
  Out out = pump(p);
  EXPECT_EQ(out.snapshot_due, vs(1, 2));
  p.on_snapshot_taken(SnapshotImage{vs(1, 2), kSnapshot});
  pump(p);
  EXPECT_EQ(p.snapshot_through(), vs(1, 2));
  p.step(message("n2", "n1", AppendAck{1, vs(1, 2), n2_snapshot}));
  pump(p);
  return p;
}

TEST(ReplicaSnapshot, PrimaryAsksABackupWhoseSnapshotReachesItsCompactionPoint) {
  Replica p = compacted_primary(vs(1, 2));
  p.add_learner("n4");
  Out out = pump(p);
  EXPECT_EQ(bodies_to<SnapshotServe>(out.messages, "n2"), (std::vector<SnapshotServe>{{1, "n4"}}));
  EXPECT_TRUE(out.reads.empty()) << "the primary read the snapshot itself";
  EXPECT_EQ(p.snapshot_donor("n4"), NodeId("n2"));
}

TEST(ReplicaSnapshot, PrimaryServesItselfWhenNoBackupSnapshotReachesFarEnough) {
  Replica p = compacted_primary(vs(1, 1));
  p.add_learner("n4");
  Out out = pump(p);
  EXPECT_TRUE(bodies_to<SnapshotServe>(out.messages, "n2").empty());
  EXPECT_EQ(out.reads, (std::vector<SnapshotRead>{{"n4", vs(1, 2), 0, 4}}));
  EXPECT_FALSE(p.snapshot_donor("n4"));
}

TEST(ReplicaSnapshot, PrimaryServesItselfWhenBackupsMayNotServe) {
  Replica p = compacted_primary(vs(1, 2), /*from_backups=*/false);
  p.add_learner("n4");
  Out out = pump(p);
  EXPECT_TRUE(bodies_to<SnapshotServe>(out.messages, "n2").empty());
  EXPECT_EQ(out.reads.size(), 1u);
}

TEST(ReplicaSnapshot, PrimaryTakesOverFromADonorThatShowsNoProgress) {
  Replica p = compacted_primary(vs(1, 2));
  p.add_learner("n4");
  pump(p);
  ASSERT_EQ(p.snapshot_donor("n4"), NodeId("n2"));
  Out waiting = tick_pump(p, 4 * kResend - 5);
  EXPECT_TRUE(waiting.reads.empty()) << "gave up on the donor too early";
  EXPECT_FALSE(bodies_to<SnapshotServe>(waiting.messages, "n2").empty()) << "the donor was never reminded";
  Out after = tick_pump(p, 10);
  EXPECT_FALSE(p.snapshot_donor("n4"));
  ASSERT_FALSE(after.reads.empty()) << "nobody serves n4 after the donor stalled";
  EXPECT_EQ(after.reads.front(), (SnapshotRead{"n4", vs(1, 2), 0, 4}));
}

TEST(ReplicaSnapshot, TheLearnersCopiesOfItsAcksKeepTheDonor) {
  Replica p = compacted_primary(vs(1, 2));
  p.add_learner("n4");
  pump(p);
  for (std::uint64_t received = 4; received <= 8 * 4; received += 4) {
    tick_pump(p, kResend);
    p.step(message("n4", "n1", SnapshotAck{1, vs(1, 2), received, false}));
    pump(p);
  }
  EXPECT_EQ(p.snapshot_donor("n4"), NodeId("n2")) << "a donor making progress was dropped";
  p.step(message("n4", "n1", SnapshotAck{1, vs(1, 2), 10, true}));
  Out out = pump(p);
  EXPECT_FALSE(p.snapshot_donor("n4"));
  EXPECT_EQ(p.follower_lag_entries("n4"), 0u) << "the install did not count as n4's progress";
}

Replica backup_with_snapshot(NodeId self) {
  return Replica(compacting(std::move(self)), kView, {},
                 RecoveredSnapshots{SnapshotImage{vs(1, 2), kSnapshot}, std::nullopt});
}

TEST(ReplicaSnapshot, ABackupServesWhomItsPrimaryNamesFromStorage) {
  Replica b = backup_with_snapshot("n2");
  b.step(message("n3", "n2", SnapshotServe{1, "n4"}));
  EXPECT_TRUE(pump(b).reads.empty()) << "served on the word of a node that is not the primary";
  b.step(message("n1", "n2", SnapshotServe{1, "n4"}));
  Out out = pump(b);
  ASSERT_EQ(out.reads, (std::vector<SnapshotRead>{{"n4", vs(1, 2), 0, 4}}));
  b.on_snapshot_read(out.reads[0], kSnapshot.substr(0, 4));
  Out sent = pump(b);
  EXPECT_EQ(bodies_to<SnapshotChunk>(sent.messages, "n4"),
            (std::vector<SnapshotChunk>{{1, vs(1, 2), 10, crc32(kSnapshot), 0, "0123", crc32("0123")}}));
  b.step(message("n4", "n2", SnapshotAck{1, vs(1, 2), 4, false}));
  EXPECT_EQ(pump(b).reads, (std::vector<SnapshotRead>{{"n4", vs(1, 2), 4, 4}}));
}

TEST(ReplicaSnapshot, ABackupWithoutASnapshotServesNothing) {
  Replica b(compacting("n2"), kView, {});
  b.step(message("n1", "n2", SnapshotServe{1, "n4"}));
  EXPECT_TRUE(pump(b).reads.empty());
}

SnapshotChunk chunk(Viewstamp through, const Bytes& whole, std::uint64_t offset, std::uint64_t length) {
  const Bytes data = whole.substr(offset, length);
  return SnapshotChunk{1, through, whole.size(), crc32(whole), offset, data, crc32(data)};
}

TEST(ReplicaSnapshot, AFollowerTakesChunksFromADonorAndCopiesItsAcksToThePrimary) {
  Replica l(compacting("n4"), kView, {});
  l.step(message("n2", "n4", chunk(vs(1, 2), kSnapshot, 0, 4)));
  Out out = pump(l);
  EXPECT_EQ(bodies_to<SnapshotAck>(out.messages, "n2"), (std::vector<SnapshotAck>{{1, vs(1, 2), 4, false}}));
  EXPECT_EQ(bodies_to<SnapshotAck>(out.messages, "n1"), (std::vector<SnapshotAck>{{1, vs(1, 2), 4, false}}));
}

TEST(ReplicaSnapshot, AFollowerSticksToTheTransferInProgressUnlessItStalls) {
  const Bytes other = "abcdefghijkl";  // another snapshot through the same entry
  Replica l(compacting("n4"), kView, {});
  l.step(message("n2", "n4", chunk(vs(1, 2), kSnapshot, 0, 4)));
  pump(l);
  l.step(message("n1", "n4", chunk(vs(1, 2), other, 0, 4)));
  EXPECT_TRUE(bodies_to<SnapshotAck>(pump(l).messages, "n1").empty()) << "switched while the first progressed";
  tick_pump(l, 2 * kResend);
  l.step(message("n1", "n4", chunk(vs(1, 2), other, 0, 4)));
  EXPECT_EQ(bodies_to<SnapshotAck>(pump(l).messages, "n1"), (std::vector<SnapshotAck>{{1, vs(1, 2), 4, false}}))
      << "kept waiting for a stalled transfer";
}

TEST(ReplicaSnapshot, AFollowerSwitchesAtOnceToANewerSnapshot) {
  const Bytes newer = "abcdefghijkl";
  Replica l(compacting("n4"), kView, {});
  l.step(message("n2", "n4", chunk(vs(1, 2), kSnapshot, 0, 4)));
  pump(l);
  l.step(message("n1", "n4", chunk(vs(1, 3), newer, 0, 4)));
  EXPECT_EQ(bodies_to<SnapshotAck>(pump(l).messages, "n1"), (std::vector<SnapshotAck>{{1, vs(1, 3), 4, false}}));
}

TEST(ReplicaSnapshot, SnapshotNowAsksForOneThroughWhatWasHandedOutOnlyIfThereIsAnything) {
  Replica p = compacted_primary(vs(1, 1));
  ASSERT_TRUE(p.snapshot_now().ok());
  EXPECT_FALSE(pump(p).snapshot_due) << "a snapshot with nothing new in it";
  p.submit(ClientRequest{7, 3, "c"});
  pump(p);
  p.step(message("n2", "n1", AppendAck{1, vs(1, 3), {}}));
  pump(p);
  ASSERT_EQ(p.commit(), vs(1, 3));
  ASSERT_TRUE(p.snapshot_now().ok());
  EXPECT_EQ(pump(p).snapshot_due, vs(1, 3));
}

// A host that steps several messages before taking the Ready applies every
// entry committed meanwhile before it snapshots: the snapshot is through the
// last of them, not through the entry that made one due.
TEST(ReplicaSnapshot, TheSnapshotDueIsThroughTheLastEntryHandedOut) {
  Replica p(compacting("n1"), kView, {});
  for (std::uint64_t i = 1; i <= 4; ++i) p.submit(ClientRequest{7, i, "x"});
  pump(p);
  ASSERT_EQ(p.last(), vs(1, 4));
  p.step(message("n2", "n1", AppendAck{1, vs(1, 2), {}}));  // (1,2) commits: a snapshot is due
  p.step(message("n2", "n1", AppendAck{1, vs(1, 4), {}}));  // and (1,4), before the host looks
  Ready r = p.take_ready();
  ASSERT_FALSE(r.committed.empty());
  EXPECT_EQ(r.committed.back().vs, vs(1, 4));
  EXPECT_EQ(r.snapshot_due, vs(1, 4));
}

TEST(ReplicaSnapshot, SnapshotNowIsBusyWhileThisReplicaSendsOne) {
  Replica p = compacted_primary(vs(1, 1));
  p.add_learner("n4");
  pump(p);  // the primary serves n4 itself
  const std::string e = p.snapshot_now().error().message;
  EXPECT_NE(e.find("busy, retry"), std::string::npos) << e;
}

}  // namespace
}  // namespace synod::rsm
