// The sending side of snapshot transfers: one chunk in flight per receiver,
// chunks read from storage on demand, resend on silence, give up when idle.

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "common/crc32.h"
#include "rsm/snapshot_sender.h"

namespace synod::rsm {
namespace {

constexpr std::uint64_t kChunk = 4;
constexpr std::uint64_t kResend = 10;
constexpr std::uint64_t kIdle = 100;

const Bytes kBytes = "0123456789";  // the stored snapshot: 10 bytes, 3 chunks
const StoredSnapshot kStored{Viewstamp{2, 7}, kBytes.size(), crc32(kBytes)};

SnapshotSender sender() { return SnapshotSender(kChunk, kResend, kIdle); }

SnapshotAck ack(std::uint64_t received, bool installed = false) {
  return SnapshotAck{1, kStored.through, received, installed};
}

// What the host does with a read: the bytes of the stored snapshot.
std::optional<Bytes> read_stored(const SnapshotRead& r) { return kBytes.substr(r.offset, r.length); }

TEST(SnapshotSender, ReadsOneChunkAtATimeAndWaitsForTheAck) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  std::vector<SnapshotRead> reads = s.take_reads();
  ASSERT_EQ(reads, (std::vector<SnapshotRead>{{"n4", kStored.through, 0, kChunk}}));
  s.serve("n4", kStored, 1);  // asked again (a heartbeat): the chunk is still in flight
  s.tick(2);
  EXPECT_TRUE(s.take_reads().empty()) << "a second chunk before the first was acknowledged";
}

TEST(SnapshotSender, TurnsTheBytesReadIntoAChecksummedChunk) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  const SnapshotRead r = s.take_reads().at(0);
  std::optional<SnapshotChunk> c = s.on_read(r, read_stored(r), 5);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, (SnapshotChunk{5, kStored.through, 10, kStored.crc, 0, "0123", crc32("0123")}));
}

TEST(SnapshotSender, EachAckReadsTheNextChunkUntilTheReceiverInstalls) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t received : {4u, 8u}) {
    const SnapshotRead r = s.take_reads().at(0);
    offsets.push_back(r.offset);
    ASSERT_TRUE(s.on_read(r, read_stored(r), 1));
    EXPECT_EQ(s.on_ack("n4", ack(received), 1), SnapshotSender::AckResult::kProgress);
  }
  const SnapshotRead last = s.take_reads().at(0);
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0, 4}));
  EXPECT_EQ(last.offset, 8u);
  EXPECT_EQ(last.length, 2u) << "the last chunk is what is left";
  ASSERT_TRUE(s.on_read(last, read_stored(last), 1));
  EXPECT_EQ(s.on_ack("n4", ack(10, true), 2), SnapshotSender::AckResult::kInstalled);
  EXPECT_FALSE(s.serving("n4"));
}

TEST(SnapshotSender, AStaleReadIsNotSent) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  const SnapshotRead first = s.take_reads().at(0);
  ASSERT_TRUE(s.on_read(first, read_stored(first), 1));
  s.on_ack("n4", ack(4), 1);
  // The read of offset 0 completes again (say, a resend raced the ack).
  EXPECT_FALSE(s.on_read(first, read_stored(first), 1));
  const SnapshotRead second = s.take_reads().at(0);
  EXPECT_TRUE(s.on_read(second, read_stored(second), 1));
}

TEST(SnapshotSender, AReplacedSnapshotEndsTheTransfer) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  const SnapshotRead r = s.take_reads().at(0);
  EXPECT_FALSE(s.on_read(r, std::nullopt, 1));
  EXPECT_FALSE(s.serving("n4"));
  s.serve("n5", kStored, 0);
  const SnapshotRead short_read = s.take_reads().at(0);
  EXPECT_FALSE(s.on_read(short_read, Bytes("01"), 1)) << "fewer bytes than asked";
  EXPECT_FALSE(s.serving("n5"));
}

TEST(SnapshotSender, ASilentReceiverIsResentFromWhatItAcknowledged) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  SnapshotRead r = s.take_reads().at(0);
  s.on_read(r, read_stored(r), 0);
  s.on_ack("n4", ack(4), 1);
  r = s.take_reads().at(0);
  s.on_read(r, read_stored(r), 1);  // lost on the way
  s.tick(1 + kResend - 1);
  EXPECT_TRUE(s.take_reads().empty()) << "resent before resend_ticks";
  s.tick(1 + kResend);
  EXPECT_EQ(s.take_reads(), (std::vector<SnapshotRead>{{"n4", kStored.through, 4, kChunk}}));
}

TEST(SnapshotSender, AReceiverThatRestartedTheTransferIsServedFromWhereItIs) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  SnapshotRead r = s.take_reads().at(0);
  s.on_read(r, read_stored(r), 0);
  s.on_ack("n4", ack(4), 1);
  r = s.take_reads().at(0);
  s.on_read(r, read_stored(r), 1);
  EXPECT_EQ(s.on_ack("n4", ack(0), 2), SnapshotSender::AckResult::kNoProgress);
  EXPECT_EQ(s.take_reads(), (std::vector<SnapshotRead>{{"n4", kStored.through, 0, kChunk}}));
}

TEST(SnapshotSender, AcksOfAnotherSnapshotOrReceiverAreIgnored) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  (void)s.take_reads();
  EXPECT_EQ(s.on_ack("n4", SnapshotAck{1, Viewstamp{2, 6}, 4, false}, 1), SnapshotSender::AckResult::kIgnored);
  EXPECT_EQ(s.on_ack("n5", ack(4), 1), SnapshotSender::AckResult::kIgnored);
  EXPECT_TRUE(s.take_reads().empty());
}

TEST(SnapshotSender, ANewerSnapshotRestartsFromTheStart) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  SnapshotRead r = s.take_reads().at(0);
  s.on_read(r, read_stored(r), 0);
  s.on_ack("n4", ack(4), 1);
  (void)s.take_reads();
  const StoredSnapshot newer{Viewstamp{3, 2}, 6, 99};
  s.serve("n4", newer, 2);
  EXPECT_EQ(s.take_reads(), (std::vector<SnapshotRead>{{"n4", newer.through, 0, kChunk}}));
}

TEST(SnapshotSender, AnEmptySnapshotTravelsAsOneEmptyChunk) {
  SnapshotSender s = sender();
  const StoredSnapshot empty{Viewstamp{1, 1}, 0, crc32("")};
  s.serve("n4", empty, 0);
  std::vector<SnapshotRead> reads = s.take_reads();
  ASSERT_EQ(reads, (std::vector<SnapshotRead>{{"n4", empty.through, 0, 0}}));
  std::optional<SnapshotChunk> c = s.on_read(reads[0], Bytes{}, 1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->total_bytes, 0u);
  s.serve("n4", empty, 1);
  EXPECT_TRUE(s.take_reads().empty()) << "the empty chunk is in flight until acknowledged";
}

TEST(SnapshotSender, ATransferWithoutProgressStopsCountingAndEnds) {
  SnapshotSender s = sender();
  s.serve("n4", kStored, 0);
  (void)s.take_reads();
  EXPECT_TRUE(s.active(kIdle - 1));
  s.tick(kIdle - 1);
  EXPECT_TRUE(s.serving("n4"));
  s.tick(kIdle);
  EXPECT_FALSE(s.active(kIdle));
  EXPECT_FALSE(s.serving("n4"));
}

}  // namespace
}  // namespace synod::rsm
