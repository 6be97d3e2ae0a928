#include "storage/log_store.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/big_endian.h"
#include "temp_dir.h"

namespace synod::storage {
namespace {

using testing::TempDir;

std::unique_ptr<Store> open_ok(const std::string& dir) {
  Result<std::unique_ptr<Store>> store = Store::open({dir, "n1", 7});
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

rsm::LogEntry entry(ViewId vid, std::uint64_t seq, Bytes op = "") {
  if (op.empty()) op = "op " + std::to_string(vid) + "." + std::to_string(seq);
  return rsm::LogEntry{{vid, seq}, 100 + seq, seq, std::move(op)};
}

// Entries (vid, first) .. (vid, last).
std::vector<rsm::LogEntry> run(ViewId vid, std::uint64_t first, std::uint64_t last) {
  std::vector<rsm::LogEntry> out;
  for (std::uint64_t seq = first; seq <= last; ++seq) out.push_back(entry(vid, seq));
  return out;
}

std::vector<rsm::LogEntry> concat(std::vector<rsm::LogEntry> a, const std::vector<rsm::LogEntry>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void persist_ok(LogStore& log, std::optional<Viewstamp> truncate_after,
                const std::vector<rsm::LogEntry>& appends) {
  Status s = log.persist(truncate_after, appends);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

std::vector<rsm::LogEntry> load_ok(const LogStore& log) {
  Result<std::vector<rsm::LogEntry>> entries = log.load_log();
  EXPECT_TRUE(entries.ok()) << entries.error().message;
  return entries.ok() ? *entries : std::vector<rsm::LogEntry>{};
}

Bytes key(ViewId vid, std::uint64_t seq) {
  Bytes k;
  append_big_endian(k, vid);
  append_big_endian(k, seq);
  return k;
}

void expect_load_fails(const LogStore& log, const std::vector<std::string>& words) {
  Result<std::vector<rsm::LogEntry>> entries = log.load_log();
  ASSERT_FALSE(entries.ok()) << "loaded " << entries->size() << " entries";
  for (const std::string& w : words) {
    EXPECT_NE(entries.error().message.find(w), std::string::npos)
        << "'" << w << "' missing from: " << entries.error().message;
  }
}

TEST(LogStore, EmptyStoreHasEmptyLog) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(load_ok(LogStore(*store)).empty());
}

TEST(LogStore, RoundTripsEntriesInViewstampOrder) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  // Seqs past 255 and a vid past 255 check that keys sort numerically.
  const std::vector<rsm::LogEntry> first = run(1, 1, 300);
  const std::vector<rsm::LogEntry> second = concat(run(1, 301, 302), run(256, 1, 3));
  persist_ok(log, std::nullopt, first);
  persist_ok(log, std::nullopt, second);
  persist_ok(log, std::nullopt, {});  // nothing to write
  EXPECT_EQ(load_ok(log), concat(first, second));
}

TEST(LogStore, KeepsEveryByteOfBigBinaryOps) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  Bytes every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  Bytes big;
  while (big.size() < (2u << 20)) big += every_byte;  // 2 MiB, NULs included
  std::vector<rsm::LogEntry> entries = {entry(3, 1, Bytes(1, '\0')), entry(3, 2, big),
                                        entry(3, 3, every_byte), entry(3, 4)};
  entries[3].op.clear();  // an empty op
  entries[2].client_id = ~std::uint64_t{0};
  entries[2].request_no = ~std::uint64_t{0};
  persist_ok(log, std::nullopt, entries);
  const std::vector<rsm::LogEntry> loaded = load_ok(log);
  ASSERT_EQ(loaded.size(), entries.size());
  EXPECT_EQ(loaded[0].op, Bytes(1, '\0'));
  EXPECT_EQ(loaded[1].op.size(), big.size());
  EXPECT_TRUE(loaded == entries);
}

TEST(LogStore, TruncatesThenAppendsInOneBatch) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, concat(run(1, 1, 5), run(2, 1, 3)));

  // A new view keeps (1,1)..(1,3) and continues with its own entries.
  const std::vector<rsm::LogEntry> next = run(3, 1, 2);
  persist_ok(log, Viewstamp{1, 3}, next);
  EXPECT_EQ(load_ok(log), concat(run(1, 1, 3), next));

  // Appends at viewstamps the truncation removed are written after it, so
  // they survive, with their new contents.
  std::vector<rsm::LogEntry> replaced = {entry(1, 3, "new 1.3"), entry(1, 4, "new 1.4")};
  persist_ok(log, Viewstamp{1, 2}, replaced);
  EXPECT_EQ(load_ok(log), concat(run(1, 1, 2), replaced));
}

TEST(LogStore, TruncateAtOrPastTheEndDeletesNothing) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, run(2, 1, 4));
  persist_ok(log, Viewstamp{2, 4}, {});
  persist_ok(log, Viewstamp{2, 9}, {});
  persist_ok(log, Viewstamp{~std::uint64_t{0}, ~std::uint64_t{0}}, {});
  EXPECT_EQ(load_ok(log), run(2, 1, 4));
}

TEST(LogStore, TruncateToZeroViewstampEmptiesTheLog) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, concat(run(1, 1, 3), run(4, 1, 2)));
  persist_ok(log, Viewstamp{}, {});
  EXPECT_TRUE(load_ok(log).empty());

  // With appends: the log is exactly them.
  persist_ok(log, std::nullopt, run(5, 1, 3));
  persist_ok(log, Viewstamp{}, run(6, 1, 2));
  EXPECT_EQ(load_ok(log), run(6, 1, 2));
}

TEST(LogStore, KeepsTheLogAcrossReopen) {
  TempDir tmp;
  const std::vector<rsm::LogEntry> expected = concat(run(1, 1, 2), run(2, 1, 2));
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    LogStore log(*store);
    persist_ok(log, std::nullopt, concat(run(1, 1, 4), {entry(2, 1, "old")}));
    persist_ok(log, Viewstamp{1, 2}, run(2, 1, 2));
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(load_ok(LogStore(*store)), expected);
}

TEST(LogStore, RefusesAppendsOutOfLogOrderAndWritesNothing) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, run(1, 1, 2));
  const std::vector<std::vector<rsm::LogEntry>> bad = {
      {entry(1, 3), entry(1, 5)},  // a gap
      {entry(1, 3), entry(1, 3)},  // a repeat
      {entry(1, 4), entry(1, 3)},  // backwards
      {entry(1, 3), entry(2, 2)},  // a later view must start at seq 1
      {entry(1, 3), entry(0, 1)},  // an earlier view
      {entry(1, 0)},               // seq 0 is no entry's
      {entry(0, 1)},               // nor vid 0
  };
  for (const std::vector<rsm::LogEntry>& appends : bad) {
    Batch batch;
    Status s = log.add_to(batch, Viewstamp{1, 1}, appends);
    ASSERT_FALSE(s.ok()) << to_string(appends.back().vs);
    EXPECT_NE(s.error().message.find(to_string(appends.back().vs)), std::string::npos)
        << s.error().message;
    EXPECT_TRUE(batch.empty());
    EXPECT_FALSE(log.persist(Viewstamp{1, 1}, appends).ok());
  }
  EXPECT_EQ(load_ok(log), run(1, 1, 2));  // not even the truncation was written
}

TEST(LogStore, LoadRefusesAnyFlippedBitNamingTheKey) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, concat(run(2, 1, 3), {entry(2, 4, Bytes("a\0b", 3))}));
  const Bytes good = store->get(Family::kLog, key(2, 4)).value().value();

  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    Bytes bad = good;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    Batch batch;
    batch.put(Family::kLog, key(2, 4), bad);
    ASSERT_TRUE(store->write(batch).ok());
    SCOPED_TRACE("bit " + std::to_string(bit));
    expect_load_fails(log, {"log entry (2,4)", tmp.path(), "corrupt"});
  }
}

TEST(LogStore, LoadRefusesValuesTooShortOrUndecodable) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, run(1, 1, 2));

  Batch batch;
  batch.put(Family::kLog, key(1, 2), "xy");  // shorter than a checksum
  ASSERT_TRUE(store->write(batch).ok());
  expect_load_fails(log, {"log entry (1,2)", "corrupt", "too short"});

  // Intact checksum over a record too short for its fixed fields.
  Bytes short_record;
  append_big_endian(short_record, std::uint32_t{0});  // crc32 of "" is 0
  batch = Batch{};
  batch.put(Family::kLog, key(1, 2), short_record);
  ASSERT_TRUE(store->write(batch).ok());
  expect_load_fails(log, {"log entry (1,2)", "does not decode"});
}

TEST(LogStore, LoadRefusesEntryFiledUnderAnotherViewstamp) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, run(1, 1, 3));
  Batch misfiled;
  misfiled.put(Family::kLog, key(1, 3), store->get(Family::kLog, key(1, 2)).value().value());
  ASSERT_TRUE(store->write(misfiled).ok());
  expect_load_fails(log, {"log entry (1,3) ", "holds the entry of (1,2)"});
}

TEST(LogStore, LoadRefusesKeysThatAreNoEntrysViewstamp) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  Batch batch;
  batch.put(Family::kLog, "\x01\x02", "x");
  ASSERT_TRUE(store->write(batch).ok());
  expect_load_fails(log, {"log entry 0x0102", "no entry's viewstamp"});

  batch = Batch{};
  batch.del(Family::kLog, "\x01\x02");
  batch.put(Family::kLog, key(1, 0), "x");
  ASSERT_TRUE(store->write(batch).ok());
  expect_load_fails(log, {"log entry (1,0)", "no entry's viewstamp"});
}

TEST(LogStore, LoadReportsAGapWithinAView) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, run(1, 1, 4));
  Batch lose;
  lose.del(Family::kLog, key(1, 2));
  ASSERT_TRUE(store->write(lose).ok());
  expect_load_fails(log, {"log entry (1,3)", "after (1,1)", "gap", tmp.path()});
}

TEST(LogStore, LoadReportsALaterViewNotStartingAtSeqOne) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  // Each batch is in order by itself; together they leave (2,1) missing.
  persist_ok(log, std::nullopt, run(1, 1, 2));
  persist_ok(log, std::nullopt, run(2, 2, 3));
  expect_load_fails(log, {"log entry (2,2)", "after (1,2)", "gap"});
}

TEST(LogStore, LogMayStartPastSeqOne) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  LogStore log(*store);
  persist_ok(log, std::nullopt, run(4, 7, 9));
  EXPECT_EQ(load_ok(log), run(4, 7, 9));
}

}  // namespace
}  // namespace synod::storage
