// storage::load_node: everything a node persisted comes back as an
// rsm::Recovered, and a damaged dir is refused, naming what is damaged.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "node_store_util.h"
#include "storage/checksum.h"
#include "temp_dir.h"

namespace synod::storage {
namespace {

using namespace testing;  // NOLINT: the test helpers

constexpr std::size_t kMiB = 1024 * 1024;

TEST(NodeLoad, FreshDirIsEmptyAndNotRestarted) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::string> warnings;
  const rsm::Recovered r = load_ok(*store, &warnings);
  EXPECT_EQ(r.paxos, paxos::DurableState{});
  EXPECT_TRUE(r.log.empty());
  EXPECT_FALSE(r.restarted);
  EXPECT_EQ(r.snapshots.current, std::nullopt);
  EXPECT_EQ(r.snapshots.partial, std::nullopt);
  EXPECT_TRUE(warnings.empty());
}

TEST(NodeLoad, RestartedOnceMarkedStartedAndAfterReopen) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    // Writes of a node that never marked the dir started do not count.
    const std::vector<rsm::LogEntry> appends = run(1, 1, 2);
    persist_ok(*store, NodeBatch{.appends = appends});
    EXPECT_FALSE(load_ok(*store).restarted);
  }
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    EXPECT_FALSE(load_ok(*store).restarted);
    ASSERT_TRUE(mark_started(*store).ok());
    EXPECT_TRUE(load_ok(*store).restarted);
  }
  for (int i = 0; i < 2; ++i) {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    EXPECT_TRUE(load_ok(*store).restarted);
    ASSERT_TRUE(mark_started(*store).ok());  // again: harmless
  }
}

TEST(NodeLoad, RoundTripsEveryField) {
  TempDir tmp;
  const std::vector<paxos::Write> writes = some_paxos_writes();
  const rsm::SnapshotImage saved = image({1, 3}, blob(kMiB + 5, 1));
  const Bytes incoming = blob(700, 2);
  const std::vector<rsm::LogEntry> log = {entry(1, 4), entry(1, 5), entry(2, 1)};
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    ASSERT_TRUE(mark_started(*store).ok());
    const std::vector<rsm::LogEntry> old_log = run(1, 1, 6);
    persist_ok(*store, NodeBatch{.appends = old_log});
    const std::vector<rsm::SnapshotPiece> pieces = {piece({4, 4}, incoming, 0, 250)};
    const std::vector<rsm::LogEntry> appends = {entry(2, 1)};
    persist_ok(*store, NodeBatch{.paxos = writes,
                                 .snapshot_pieces = pieces,
                                 .save_snapshot = &saved,
                                 .compact_through = Viewstamp{1, 3},
                                 .truncate_after = Viewstamp{1, 5},
                                 .appends = appends});
    // The partial snapshot was dropped by the save; a new transfer begins.
    const std::vector<rsm::SnapshotPiece> more = {piece({4, 4}, incoming, 0, 300),
                                                  piece({4, 4}, incoming, 300, 100)};
    persist_ok(*store, NodeBatch{.snapshot_pieces = more});
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<std::string> warnings;
  const rsm::Recovered r = load_ok(*store, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(r.paxos, folded(writes));
  EXPECT_EQ(r.snapshots.current, saved);
  EXPECT_EQ(r.snapshots.partial, partial_of({4, 4}, incoming, 400));
  EXPECT_EQ(r.log, log);
  EXPECT_TRUE(r.restarted);
}

TEST(NodeLoad, PersistsEverythingANodeReadyAsksFor) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes incoming = blob(64, 3);
  rsm::NodeReady ready;
  ready.write_id = 1;
  ready.paxos_writes = some_paxos_writes();
  ready.snapshot_pieces = {piece({3, 3}, incoming, 0, 64)};
  ready.install = image({3, 3}, incoming);
  ready.save_snapshot = std::nullopt;
  ready.compact_through = Viewstamp{3, 3};
  ready.truncate_after = Viewstamp{};
  ready.appends = {entry(3, 4), entry(4, 1)};
  persist_ok(*store, node_batch_of(ready));
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.paxos, folded(ready.paxos_writes));
  EXPECT_EQ(r.snapshots.current, ready.install);
  EXPECT_EQ(r.snapshots.partial, std::nullopt);
  EXPECT_EQ(r.log, ready.appends);

  rsm::NodeReady saving;
  saving.save_snapshot = image({4, 1}, "later");
  saving.compact_through = Viewstamp{4, 1};
  persist_ok(*store, node_batch_of(saving));
  const rsm::Recovered after = load_ok(*store);
  EXPECT_EQ(after.snapshots.current, saving.save_snapshot);
  EXPECT_TRUE(after.log.empty());
}

TEST(NodeLoad, SkipsLogEntriesTheSnapshotHolds) {
  // A batch that saved a snapshot without compacting (as an older format
  // could): the entries it covers are skipped wherever they are.
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<rsm::LogEntry> appends = run(1, 1, 5);
  persist_ok(*store, NodeBatch{.appends = appends});
  const rsm::SnapshotImage saved = image({1, 3}, "s");
  persist_ok(*store, NodeBatch{.save_snapshot = &saved});
  EXPECT_EQ(load_ok(*store).log, run(1, 4, 5));
  // A snapshot past the whole log: nothing of the log is left.
  const rsm::SnapshotImage later = image({2, 1}, "t");
  persist_ok(*store, NodeBatch{.save_snapshot = &later});
  EXPECT_TRUE(load_ok(*store).log.empty());
}

TEST(NodeLoad, ReportsAGapBetweenTheSnapshotAndTheLog) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const rsm::SnapshotImage saved = image({1, 3}, "s");
  const std::vector<rsm::LogEntry> appends = run(1, 5, 6);
  persist_ok(*store, NodeBatch{.save_snapshot = &saved, .appends = appends});
  expect_load_fails(*store, {"log entry (1,5)", "snapshot through (1,3)", "gap", tmp.path()});

  // A later view must start at seq 1.
  TempDir tmp2;
  auto store2 = open_ok(tmp2.path());
  ASSERT_TRUE(store2);
  const std::vector<rsm::LogEntry> later = run(2, 2, 3);
  persist_ok(*store2, NodeBatch{.save_snapshot = &saved, .appends = later});
  expect_load_fails(*store2, {"log entry (2,2)", "gap"});
}

TEST(NodeLoad, ALogWithoutSnapshotStartsAtAViewsFirstEntry) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<rsm::LogEntry> from_view_two = run(2, 1, 2);
  persist_ok(*store, NodeBatch{.appends = from_view_two});
  EXPECT_EQ(load_ok(*store).log, from_view_two);
  Batch lose;
  lose.del(Family::kLog, log_key(2, 1));
  ASSERT_TRUE(store->write(lose).ok());
  expect_load_fails(*store, {"log entry (2,2)", "no snapshot", "gap"});
}

// --- Damage.

class NodeLoadDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_ok(tmp_.path());
    ASSERT_TRUE(store_);
    persist_ok(*store_, NodeBatch{.save_snapshot = &saved_,
                                  .compact_through = Viewstamp{2, 3},
                                  .appends = appends_});
    ASSERT_EQ(load_ok(*store_).snapshots.current, saved_);
  }

  Bytes get(Family family, BytesView key) const { return store_->get(family, key).value().value(); }

  TempDir tmp_;
  std::unique_ptr<Store> store_;
  const rsm::SnapshotImage saved_ = image({2, 3}, blob(2 * kMiB + 100, 5));
  const std::vector<rsm::LogEntry> appends_ = {entry(2, 4), entry(2, 5), entry(3, 1)};
};

TEST_F(NodeLoadDamage, AFlippedBitInASnapshotChunkIsReported) {
  const Bytes key = chunk_key(kSnapshotChunkPrefix, kMiB);
  const Bytes good = get(Family::kState, key);
  for (std::size_t bit : {0ul, 37ul, 8 * 30ul, 8 * (good.size() / 2) + 3, 8 * good.size() - 1}) {
    SCOPED_TRACE("bit " + std::to_string(bit));
    put_raw(*store_, Family::kState, key, flip_bit(good, bit));
    expect_load_fails(*store_, {"snapshot chunk at offset 1048576", "corrupt", tmp_.path(),
                                "do not start a node"});
  }
  put_raw(*store_, Family::kState, key, good);
  EXPECT_EQ(load_ok(*store_).snapshots.current, saved_);
}

TEST_F(NodeLoadDamage, AFlippedBitInTheSnapshotHeaderIsReported) {
  const Bytes good = get(Family::kState, kSnapshotHeaderKey);
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    SCOPED_TRACE("bit " + std::to_string(bit));
    put_raw(*store_, Family::kState, kSnapshotHeaderKey, flip_bit(good, bit));
    expect_load_fails(*store_, {"snapshot header", "corrupt", tmp_.path()});
  }
}

TEST_F(NodeLoadDamage, AFlippedBitInALogEntryIsReported) {
  const Bytes good = get(Family::kLog, log_key(2, 5));
  put_raw(*store_, Family::kLog, log_key(2, 5), flip_bit(good, 8 * good.size() - 2));
  expect_load_fails(*store_, {"log entry (2,5)", "corrupt", tmp_.path()});
}

TEST_F(NodeLoadDamage, AMissingSnapshotChunkIsReported) {
  delete_raw(*store_, Family::kState, chunk_key(kSnapshotChunkPrefix, kMiB));
  expect_load_fails(*store_, {"snapshot chunk at offset 2097152", "missing"});
}

TEST_F(NodeLoadDamage, AMissingLastSnapshotChunkIsReported) {
  delete_raw(*store_, Family::kState, chunk_key(kSnapshotChunkPrefix, 2 * kMiB));
  expect_load_fails(*store_, {"snapshot through (2,3)", "holds 2097152 bytes",
                              "header says 2097252"});
}

TEST_F(NodeLoadDamage, AnIntactChunkWithOtherBytesFailsTheWholeChecksum) {
  // A chunk whose own checksum holds (resealed) but whose bytes are not the
  // snapshot's: only the whole snapshot's CRC-32 can tell.
  const Bytes key = chunk_key(kSnapshotChunkPrefix, 0);
  Bytes record(unseal(get(Family::kState, key)).value());
  record.back() = static_cast<char>(record.back() ^ 1);
  put_raw(*store_, Family::kState, key, seal(record));
  expect_load_fails(*store_, {"snapshot through (2,3)", "corrupt", "CRC-32"});
}

TEST_F(NodeLoadDamage, AChunkFiledUnderAnotherOffsetIsReported) {
  put_raw(*store_, Family::kState, chunk_key(kSnapshotChunkPrefix, kMiB),
          get(Family::kState, chunk_key(kSnapshotChunkPrefix, 0)));
  expect_load_fails(*store_, {"snapshot chunk at offset 1048576", "holds the bytes at offset 0"});
}

TEST_F(NodeLoadDamage, AChunkOfAnotherSnapshotIsReported) {
  // A chunk of another snapshot, left behind by a bug, at an offset the
  // stored snapshot does not reach.
  TempDir other_dir;
  auto other = open_ok(other_dir.path());
  ASSERT_TRUE(other);
  const rsm::SnapshotImage older = image({1, 9}, blob(4 * kMiB, 6));
  persist_ok(*other, NodeBatch{.save_snapshot = &older});
  const Bytes key = chunk_key(kSnapshotChunkPrefix, 3 * kMiB);
  put_raw(*store_, Family::kState, key, other->get(Family::kState, key).value().value());
  expect_load_fails(*store_, {"snapshot chunk at offset 3145728", "snapshot through (1,9)"});
}

TEST_F(NodeLoadDamage, ChunksWithoutAHeaderAreReported) {
  delete_raw(*store_, Family::kState, kSnapshotHeaderKey);
  expect_load_fails(*store_, {"snapshot chunks but no snapshot header", tmp_.path()});
}

TEST_F(NodeLoadDamage, AChunkKeyOfNoKnownShapeIsReported) {
  put_raw(*store_, Family::kState, Bytes(kSnapshotChunkPrefix) + "xy", "z");
  expect_load_fails(*store_, {"snapshot chunk", "no known shape"});
}

TEST_F(NodeLoadDamage, ADamagedPartialSnapshotIsDroppedWithAWarning) {
  const Bytes incoming = blob(900, 7);
  const std::vector<rsm::SnapshotPiece> pieces = {piece({3, 5}, incoming, 0, 400),
                                                  piece({3, 5}, incoming, 400, 200)};
  persist_ok(*store_, NodeBatch{.snapshot_pieces = pieces});
  ASSERT_EQ(load_ok(*store_).snapshots.partial, partial_of({3, 5}, incoming, 600));

  const Bytes key = chunk_key(kPartialChunkPrefix, 400);
  put_raw(*store_, Family::kState, key, flip_bit(get(Family::kState, key), 100));
  std::vector<std::string> warnings;
  const rsm::Recovered r = load_ok(*store_, &warnings);
  EXPECT_EQ(r.snapshots.partial, std::nullopt);
  EXPECT_EQ(r.snapshots.current, saved_);  // the rest loads as ever
  EXPECT_EQ(r.log, appends_);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("partial snapshot chunk at offset 400"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("dropped"), std::string::npos) << warnings[0];

  // A new transfer replaces it.
  const std::vector<rsm::SnapshotPiece> restart = {piece({3, 5}, incoming, 0, 100)};
  persist_ok(*store_, NodeBatch{.snapshot_pieces = restart});
  warnings.clear();
  EXPECT_EQ(load_ok(*store_, &warnings).snapshots.partial, partial_of({3, 5}, incoming, 100));
  EXPECT_TRUE(warnings.empty());
}

TEST_F(NodeLoadDamage, ADamagedPartialHeaderIsDroppedWithAWarning) {
  const Bytes incoming = blob(900, 8);
  const std::vector<rsm::SnapshotPiece> pieces = {piece({3, 5}, incoming, 0, 400)};
  persist_ok(*store_, NodeBatch{.snapshot_pieces = pieces});
  put_raw(*store_, Family::kState, kPartialHeaderKey,
          flip_bit(get(Family::kState, kPartialHeaderKey), 9));
  std::vector<std::string> warnings;
  EXPECT_EQ(load_ok(*store_, &warnings).snapshots.partial, std::nullopt);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("partial snapshot header"), std::string::npos) << warnings[0];
  // And a piece cannot be appended to it.
  const std::vector<rsm::SnapshotPiece> next = {piece({3, 5}, incoming, 400, 100)};
  Status s = persist(*store_, NodeBatch{.snapshot_pieces = next});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("partial snapshot header"), std::string::npos)
      << s.error().message;
}

TEST_F(NodeLoadDamage, ACompletePartialWhoseChecksumFailsIsDropped) {
  // Every piece passed its own check, the whole did not: the replica starts
  // the transfer over, and so does a restart.
  const Bytes incoming = blob(300, 9);
  rsm::SnapshotPiece whole = piece({3, 5}, incoming, 0, 300);
  whole.snapshot_crc ^= 1;
  const std::vector<rsm::SnapshotPiece> pieces = {whole};
  persist_ok(*store_, NodeBatch{.snapshot_pieces = pieces});
  std::vector<std::string> warnings;
  EXPECT_EQ(load_ok(*store_, &warnings).snapshots.partial, std::nullopt);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("complete but its CRC-32 does not match"), std::string::npos)
      << warnings[0];
}

TEST_F(NodeLoadDamage, APaxosRecordStillFailsTheLoad) {
  const std::vector<paxos::Write> writes = some_paxos_writes();
  persist_ok(*store_, NodeBatch{.paxos = writes});
  Bytes key(1, 'D');
  append_big_endian(key, Instance{2});
  put_raw(*store_, Family::kPaxos, key, flip_bit(get(Family::kPaxos, key), 40));
  expect_load_fails(*store_, {"paxos record decided/2", "corrupt"});
}

}  // namespace
}  // namespace synod::storage
