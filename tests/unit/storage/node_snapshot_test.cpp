// storage::persist(NodeBatch) with snapshots: the order of a batch's parts,
// chunked snapshots, replacing them, and partial snapshots across reopens.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "node_store_util.h"
#include "temp_dir.h"

namespace synod::storage {
namespace {

using namespace testing;  // NOLINT: the test helpers

constexpr std::size_t kMiB = 1024 * 1024;

TEST(NodeBatchSnapshot, PiecesThenInstallInOneBatchLeaveTheSnapshotOnly) {
  TempDir tmp;
  const Viewstamp through{3, 5};
  const Bytes whole = blob(3000);
  const rsm::SnapshotImage installed = image(through, whole);
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    const std::vector<rsm::SnapshotPiece> first = {piece(through, whole, 0, 1000)};
    persist_ok(*store, NodeBatch{.snapshot_pieces = first});
    // The last pieces arrive, the snapshot is complete and installed: one batch.
    const std::vector<rsm::SnapshotPiece> rest = {piece(through, whole, 1000, 1000),
                                                  piece(through, whole, 2000, 1000)};
    const std::vector<rsm::LogEntry> old_log = run(1, 1, 3);
    persist_ok(*store, NodeBatch{.appends = old_log});
    persist_ok(*store, NodeBatch{.snapshot_pieces = rest,
                                 .install = &installed,
                                 .truncate_after = Viewstamp{}});
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.snapshots.current, installed);
  EXPECT_EQ(r.snapshots.partial, std::nullopt);
  EXPECT_TRUE(r.log.empty());
  EXPECT_TRUE(raw(*store, Family::kState, "partial/").empty());
  EXPECT_TRUE(raw(*store, Family::kLog).empty());
}

TEST(NodeBatchSnapshot, InstallThenAppendsKeepsTheAppends) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  persist_ok(*store, NodeBatch{.appends = run(1, 1, 3)});
  const rsm::SnapshotImage installed = image({3, 5}, blob(100));
  const std::vector<rsm::LogEntry> appends = {entry(3, 6), entry(3, 7), entry(4, 1)};
  // As the replica asks after an install: the whole log goes, then what the
  // primary sent after the snapshot is put.
  persist_ok(*store, NodeBatch{.install = &installed,
                               .truncate_after = Viewstamp{},
                               .appends = appends});
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.snapshots.current, installed);
  EXPECT_EQ(r.log, appends);
}

TEST(NodeBatchSnapshot, SaveCompactTruncateAndAppendsApplyInThatOrder) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  persist_ok(*store, NodeBatch{.appends = run(1, 1, 6)});
  const rsm::SnapshotImage saved = image({1, 3}, blob(10));
  const std::vector<rsm::LogEntry> appends = {entry(2, 1), entry(2, 2)};
  persist_ok(*store, NodeBatch{.save_snapshot = &saved,
                               .compact_through = Viewstamp{1, 3},
                               .truncate_after = Viewstamp{1, 4},
                               .appends = appends});
  std::vector<Bytes> keys;
  for (const auto& [key, value] : raw(*store, Family::kLog)) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<Bytes>{log_key(1, 4), log_key(2, 1), log_key(2, 2)}));
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.snapshots.current, saved);
  EXPECT_EQ(r.log, (std::vector<rsm::LogEntry>{entry(1, 4), entry(2, 1), entry(2, 2)}));
}

TEST(NodeBatchSnapshot, TruncationBelowTheCompactionPointEmptiesTheLogBeforeAppends) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  persist_ok(*store, NodeBatch{.appends = run(1, 1, 4)});
  // Compaction through (1,2), then truncation after (1,1): nothing is left
  // of the old log, and the appends (which follow the snapshot) survive both.
  const rsm::SnapshotImage saved = image({1, 2}, "s");
  const std::vector<rsm::LogEntry> appends = {entry(1, 3)};
  persist_ok(*store, NodeBatch{.save_snapshot = &saved,
                               .compact_through = Viewstamp{1, 2},
                               .truncate_after = Viewstamp{1, 1},
                               .appends = appends});
  EXPECT_EQ(load_ok(*store).log, appends);
}

TEST(NodeBatchSnapshot, AppendsBelowAnEarlierCompactionPointAreNotDeleted) {
  // Compaction comes before the appends: an append is never compacted away
  // by the batch that carries it.
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<rsm::LogEntry> appends = run(1, 1, 2);
  persist_ok(*store, NodeBatch{.compact_through = Viewstamp{1, 5}, .appends = appends});
  EXPECT_EQ(load_ok(*store).log, appends);
}

TEST(NodeBatchSnapshot, MultiChunkSnapshotWithNulBytesRoundTrips) {
  TempDir tmp;
  const Bytes bytes = blob(2 * kMiB + kMiB / 2 + 7, 3);
  ASSERT_NE(bytes.find('\0'), Bytes::npos);
  const rsm::SnapshotImage saved = image({2, 40}, bytes);
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    persist_ok(*store, NodeBatch{.save_snapshot = &saved, .compact_through = Viewstamp{2, 40}});
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(chunk_offsets(*store, kSnapshotChunkPrefix),
            (std::vector<std::uint64_t>{0, kMiB, 2 * kMiB}));
  for (const auto& [key, value] : raw(*store, Family::kState, kSnapshotChunkPrefix)) {
    EXPECT_LE(value.size(), kSnapshotRecordBytesMax + 64) << "a chunk record over 1 MiB";
  }
  EXPECT_EQ(load_ok(*store).snapshots.current, saved);
}

TEST(NodeBatchSnapshot, EmptySnapshotRoundTrips) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const rsm::SnapshotImage saved = image({1, 1}, "");
  persist_ok(*store, NodeBatch{.save_snapshot = &saved});
  EXPECT_TRUE(raw(*store, Family::kState, kSnapshotChunkPrefix).empty());
  EXPECT_EQ(load_ok(*store).snapshots.current, saved);
}

TEST(NodeBatchSnapshot, ReplacingTheSnapshotDeletesEveryOldChunk) {
  TempDir tmp;
  const rsm::SnapshotImage big = image({1, 10}, blob(3 * kMiB, 1));
  const rsm::SnapshotImage small = image({1, 20}, blob(10, 2));
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    persist_ok(*store, NodeBatch{.save_snapshot = &big});
    EXPECT_EQ(chunk_offsets(*store, kSnapshotChunkPrefix).size(), 3u);
    persist_ok(*store, NodeBatch{.save_snapshot = &small});
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  // A raw scan: no chunk record of the old snapshot is left.
  const std::map<Bytes, Bytes> chunks = raw(*store, Family::kState, kSnapshotChunkPrefix);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks.begin()->first, chunk_key(kSnapshotChunkPrefix, 0));
  EXPECT_EQ(raw(*store, Family::kState).size(), 2u);  // header + one chunk
  EXPECT_EQ(load_ok(*store).snapshots.current, small);
}

TEST(NodeBatchSnapshot, InstallAndSaveInOneBatchLeaveTheSavedOne) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const rsm::SnapshotImage installed = image({2, 5}, blob(kMiB + 1, 4));
  const rsm::SnapshotImage saved = image({2, 9}, blob(20, 5));
  persist_ok(*store, NodeBatch{.install = &installed, .save_snapshot = &saved});
  EXPECT_EQ(chunk_offsets(*store, kSnapshotChunkPrefix), std::vector<std::uint64_t>{0});
  EXPECT_EQ(load_ok(*store).snapshots.current, saved);
}

// A snapshot the node takes itself leaves a transfer in progress alone: the
// core goes on receiving it (and the sender learns it is not needed).
TEST(NodeBatchSnapshot, SavingASnapshotKeepsThePartialOne) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes whole = blob(500);
  const std::vector<rsm::SnapshotPiece> pieces = {piece({4, 1}, whole, 0, 200)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = pieces});
  const rsm::SnapshotImage saved = image({3, 3}, "mine");
  persist_ok(*store, NodeBatch{.save_snapshot = &saved});
  const std::vector<rsm::SnapshotPiece> more = {piece({4, 1}, whole, 200, 100)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = more});
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.snapshots.current, saved);
  ASSERT_TRUE(r.snapshots.partial);
  EXPECT_EQ(r.snapshots.partial->data, whole.substr(0, 300));
}

// An install consumes the partial snapshot; pieces of the installed snapshot
// in the same batch are skipped, and a newer one's pieces start after it.
TEST(NodeBatchSnapshot, InstallComesBeforeThePiecesOfItsBatch) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes installed = blob(300, 1);
  const Bytes newer = blob(400, 2);
  persist_ok(*store, NodeBatch{.snapshot_pieces = std::vector<rsm::SnapshotPiece>{piece({4, 1}, installed, 0, 200)}});
  const rsm::SnapshotImage done = image({4, 1}, installed);
  const std::vector<rsm::SnapshotPiece> pieces = {piece({4, 1}, installed, 200, 100), piece({6, 2}, newer, 0, 150)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = pieces, .install = &done});
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.snapshots.current, done);
  ASSERT_TRUE(r.snapshots.partial);
  EXPECT_EQ(r.snapshots.partial->through, (Viewstamp{6, 2}));
  EXPECT_EQ(r.snapshots.partial->data, newer.substr(0, 150));
}

TEST(NodeLoadMeta, VotesAfterRoundTripsAndDefaultsToZero) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(load_ok(*store).votes_after, 0u);
  persist_ok(*store, NodeBatch{.votes_after = rsm::kRebuilding});
  EXPECT_EQ(load_ok(*store).votes_after, rsm::kRebuilding);
  persist_ok(*store, NodeBatch{.votes_after = Instance{7}});
  EXPECT_EQ(load_ok(*store).votes_after, 7u);
}

TEST(NodeBatchSnapshot, PartialSnapshotResumesAcrossReopen) {
  TempDir tmp;
  const Viewstamp through{5, 2};
  const Bytes whole = blob(kMiB + kMiB / 2, 6);  // NUL bytes included
  const std::size_t step = 256 * 1024;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    const std::vector<rsm::SnapshotPiece> pieces = {piece(through, whole, 0, step),
                                                    piece(through, whole, step, step)};
    persist_ok(*store, NodeBatch{.snapshot_pieces = pieces});
  }
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    std::vector<std::string> warnings;
    const rsm::Recovered r = load_ok(*store, &warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(r.snapshots.partial, partial_of(through, whole, 2 * step));
    // Resume where it stopped; pieces are appended, one a batch.
    for (std::size_t offset = 2 * step; offset < 4 * step; offset += step) {
      const std::vector<rsm::SnapshotPiece> next = {piece(through, whole, offset, step)};
      persist_ok(*store, NodeBatch{.snapshot_pieces = next});
    }
  }
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    EXPECT_EQ(load_ok(*store).snapshots.partial, partial_of(through, whole, 4 * step));
    EXPECT_EQ(chunk_offsets(*store, kPartialChunkPrefix),
              (std::vector<std::uint64_t>{0, step, 2 * step, 3 * step}));
    // The last piece completes it; the replica installs it in the same batch.
    const std::vector<rsm::SnapshotPiece> last = {piece(through, whole, 4 * step, 2 * step)};
    const rsm::SnapshotImage installed = image(through, whole);
    persist_ok(*store, NodeBatch{.snapshot_pieces = last, .install = &installed});
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const rsm::Recovered r = load_ok(*store);
  EXPECT_EQ(r.snapshots.current, image(through, whole));
  EXPECT_EQ(r.snapshots.partial, std::nullopt);
}

TEST(NodeBatchSnapshot, APieceOverOneMiBIsStoredInRecordsOfAtMostOneMiB) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes whole = blob(3 * kMiB, 7);
  const std::vector<rsm::SnapshotPiece> pieces = {piece({2, 2}, whole, 0, kMiB + kMiB / 2)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = pieces});
  EXPECT_EQ(chunk_offsets(*store, kPartialChunkPrefix), (std::vector<std::uint64_t>{0, kMiB}));
  EXPECT_EQ(load_ok(*store).snapshots.partial, partial_of({2, 2}, whole, kMiB + kMiB / 2));
}

TEST(NodeBatchSnapshot, APieceAtOffsetZeroReplacesThePartialSnapshot) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes old_whole = blob(3000, 8);
  const std::vector<rsm::SnapshotPiece> old_pieces = {piece({2, 2}, old_whole, 0, 1000),
                                                      piece({2, 2}, old_whole, 1000, 1000)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = old_pieces});
  const Bytes new_whole = blob(800, 9);
  const std::vector<rsm::SnapshotPiece> fresh = {piece({3, 1}, new_whole, 0, 300)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = fresh});
  EXPECT_EQ(chunk_offsets(*store, kPartialChunkPrefix), std::vector<std::uint64_t>{0});
  EXPECT_EQ(load_ok(*store).snapshots.partial, partial_of({3, 1}, new_whole, 300));
}

TEST(NodeBatchSnapshot, PiecesInOneBatchMayContinueEachOther) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes whole = blob(90, 10);
  const std::vector<rsm::SnapshotPiece> pieces = {
      piece({1, 9}, whole, 0, 30), piece({1, 9}, whole, 30, 30), piece({1, 9}, whole, 60, 10)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = pieces});
  EXPECT_EQ(load_ok(*store).snapshots.partial, partial_of({1, 9}, whole, 70));
}

// A refused piece writes nothing of its batch: not the pieces before it, not
// the Paxos records, not the log.
void expect_refused(Store& store, const std::vector<rsm::SnapshotPiece>& pieces,
                    const std::vector<std::string>& words) {
  const auto before = dump(store);
  const std::vector<paxos::Write> writes = some_paxos_writes();
  const std::vector<rsm::LogEntry> appends = run(9, 1, 2);
  const rsm::SnapshotImage saved = image({9, 9}, "x");
  Status s = persist(store, NodeBatch{.paxos = writes,
                                      .snapshot_pieces = pieces,
                                      .save_snapshot = &saved,
                                      .compact_through = Viewstamp{9, 9},
                                      .appends = appends});
  ASSERT_FALSE(s.ok());
  for (const std::string& w : words) {
    EXPECT_NE(s.error().message.find(w), std::string::npos)
        << "'" << w << "' missing from: " << s.error().message;
  }
  EXPECT_EQ(dump(store), before) << "a refused batch changed the store";
}

TEST(NodeBatchSnapshot, APieceThatDoesNotFollowThePartialIsRefusedAndWritesNothing) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Viewstamp through{2, 7};
  const Bytes whole = blob(1000, 11);
  const std::vector<rsm::SnapshotPiece> first = {piece(through, whole, 0, 100)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = first});

  {
    SCOPED_TRACE("a hole after the stored partial");
    expect_refused(*store, {piece(through, whole, 150, 50)}, {"offset 150", "ends at offset 100"});
  }
  {
    SCOPED_TRACE("an overlap with the stored partial");
    expect_refused(*store, {piece(through, whole, 50, 100)}, {"offset 50", "ends at offset 100"});
  }
  {
    SCOPED_TRACE("a piece of another snapshot");
    const Bytes other = blob(1000, 12);
    expect_refused(*store, {piece({2, 8}, other, 100, 100)}, {"of another snapshot", "(2,7)"});
  }
  {
    SCOPED_TRACE("same through, other total or CRC");
    rsm::SnapshotPiece p = piece(through, whole, 100, 100);
    p.total_bytes += 1;
    expect_refused(*store, {p}, {"of another snapshot"});
    p = piece(through, whole, 100, 100);
    p.snapshot_crc += 1;
    expect_refused(*store, {p}, {"of another snapshot"});
  }
  {
    SCOPED_TRACE("a good piece, then one that does not follow it in the same batch");
    expect_refused(*store, {piece(through, whole, 100, 100), piece(through, whole, 250, 10)},
                   {"offset 250", "ends at offset 200"});
  }
  {
    SCOPED_TRACE("a new partial, then a piece of the old one");
    const Bytes other = blob(400, 13);
    expect_refused(*store, {piece({3, 1}, other, 0, 100), piece(through, whole, 100, 100)},
                   {"of another snapshot", "(3,1)"});
  }
  {
    SCOPED_TRACE("a piece past the snapshot's end");
    rsm::SnapshotPiece p = piece(through, whole, 100, 100);
    p.total_bytes = 150;
    expect_refused(*store, {p}, {"ends past the snapshot's 150 bytes"});
  }
  {
    SCOPED_TRACE("a piece through no entry's viewstamp");
    expect_refused(*store, {piece({0, 0}, whole, 0, 10)}, {"entry's viewstamp"});
  }
  // The stored partial is as it was, and goes on from where it ended.
  EXPECT_EQ(load_ok(*store).snapshots.partial, partial_of(through, whole, 100));
  const std::vector<rsm::SnapshotPiece> next = {piece(through, whole, 100, 100)};
  persist_ok(*store, NodeBatch{.snapshot_pieces = next});
  EXPECT_EQ(load_ok(*store).snapshots.partial, partial_of(through, whole, 200));
}

TEST(NodeBatchSnapshot, APieceAfterZeroWithNoPartialStoredIsRefused) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Bytes whole = blob(100);
  expect_refused(*store, {piece({1, 1}, whole, 10, 10)}, {"no partial snapshot is stored"});
  EXPECT_EQ(load_ok(*store).paxos, paxos::DurableState{});
}

TEST(NodeBatchSnapshot, ASnapshotThroughNoEntrysViewstampIsRefused) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const auto before = dump(*store);
  const std::vector<paxos::Write> writes = some_paxos_writes();
  const rsm::SnapshotImage bad = image({0, 3}, "x");
  Status s = persist(*store, NodeBatch{.paxos = writes, .save_snapshot = &bad});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("(0,3)"), std::string::npos) << s.error().message;
  EXPECT_EQ(dump(*store), before);
}

}  // namespace
}  // namespace synod::storage

namespace synod::storage {
namespace {

using namespace testing;  // NOLINT: the test helpers

// A transfer reads the stored snapshot a chunk at a time (rsm::SnapshotRead).
TEST(SnapshotReadRange, ReadsAnyRangeOfTheStoredSnapshotAcrossRecords) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Viewstamp through{2, 9};
  const Bytes whole = blob(2 * kMiB + 500);
  const rsm::SnapshotImage saved = image(through, whole);
  persist_ok(*store, NodeBatch{.save_snapshot = &saved});
  const SnapshotStore snapshots(*store);
  struct Range { std::uint64_t offset, length; };
  for (Range r : {Range{0, 100}, Range{kMiB - 10, 20}, Range{kMiB, kMiB}, Range{kMiB - 1, kMiB + 2},
                  Range{2 * kMiB, 500}, Range{whole.size(), 0}, Range{0, whole.size()}}) {
    Result<std::optional<Bytes>> got = snapshots.read_range(through, r.offset, r.length);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(*got) << "offset " << r.offset;
    EXPECT_TRUE(**got == whole.substr(r.offset, r.length)) << "offset " << r.offset << " length " << r.length;
  }
}

TEST(SnapshotReadRange, AnotherSnapshotOrARangePastTheEndReadsAsNothing) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const SnapshotStore snapshots(*store);
  Result<std::optional<Bytes>> none = snapshots.read_range(Viewstamp{1, 1}, 0, 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none) << "read a snapshot from an empty dir";
  const rsm::SnapshotImage saved = image(Viewstamp{2, 9}, blob(1000));
  persist_ok(*store, NodeBatch{.save_snapshot = &saved});
  Result<std::optional<Bytes>> other = snapshots.read_range(Viewstamp{2, 8}, 0, 10);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other) << "read the bytes of a snapshot that was replaced";
  Result<std::optional<Bytes>> past = snapshots.read_range(Viewstamp{2, 9}, 995, 10);
  ASSERT_TRUE(past.ok());
  EXPECT_FALSE(*past);
}

TEST(SnapshotReadRange, ADamagedChunkIsAnErrorNotBytes) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const Viewstamp through{2, 9};
  const rsm::SnapshotImage saved = image(through, blob(kMiB + 10));
  persist_ok(*store, NodeBatch{.save_snapshot = &saved});
  Batch damage;
  damage.put(Family::kState, chunk_key(kSnapshotChunkPrefix, kMiB), "not a sealed record");
  ASSERT_TRUE(store->write(damage).ok());
  const SnapshotStore snapshots(*store);
  Result<std::optional<Bytes>> first = snapshots.read_range(through, 0, 100);
  ASSERT_TRUE(first.ok()) << "the undamaged record is readable";
  Result<std::optional<Bytes>> bad = snapshots.read_range(through, kMiB, 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("snapshot chunk at offset 1048576"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace synod::storage
