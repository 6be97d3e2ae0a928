#include "storage/store.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "storage/big_endian.h"
#include "temp_dir.h"

namespace synod::storage {
namespace {

using testing::changed_files;
using testing::snapshot;
using testing::TempDir;

std::unique_ptr<Store> open_ok(const StoreOptions& options) {
  Result<std::unique_ptr<Store>> store = Store::open(options);
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

std::optional<Bytes> get_ok(const Store& store, Family family, BytesView key) {
  Result<std::optional<Bytes>> value = store.get(family, key);
  EXPECT_TRUE(value.ok()) << value.error().message;
  return value.ok() ? *value : std::nullopt;
}

void put_ok(Store& store, Family family, BytesView key, BytesView value) {
  Batch batch;
  batch.put(family, key, value);
  Status s = store.write(batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

Bytes big_endian_u64(std::uint64_t v) {
  Bytes out;
  append_big_endian(out, v);
  return out;
}

Bytes big_endian_u32(std::uint32_t v) {
  Bytes out;
  append_big_endian(out, v);
  return out;
}

// Asserts that opening with `options` fails with a message holding every one
// of `words`, and that the dir's files are byte for byte what they were.
void expect_refused(const StoreOptions& options, const std::vector<std::string>& words,
                    bool with_log_contents = true) {
  const auto before = snapshot(options.dir, with_log_contents);
  Result<std::unique_ptr<Store>> store = Store::open(options);
  ASSERT_FALSE(store.ok()) << "opened " << options.dir << " as " << options.node;
  for (const std::string& w : words) {
    EXPECT_NE(store.error().message.find(w), std::string::npos)
        << "'" << w << "' missing from: " << store.error().message;
  }
  const auto after = snapshot(options.dir, with_log_contents);
  EXPECT_TRUE(after == before) << "the refused open changed the dir:"
                               << changed_files(before, after);
}

TEST(Store, RecordsIdentityInNewDir) {
  TempDir tmp;
  const std::string dir = tmp.sub("a/b/n1");  // parents are created too
  auto store = open_ok({dir, "n1", 42});
  ASSERT_TRUE(store);
  EXPECT_EQ(store->dir(), dir);
  EXPECT_EQ(get_ok(*store, Family::kMeta, kMetaNodeIdKey), Bytes("n1"));
  EXPECT_EQ(get_ok(*store, Family::kMeta, kMetaClusterIdKey), big_endian_u64(42));
  EXPECT_EQ(get_ok(*store, Family::kMeta, kMetaFormatVersionKey), big_endian_u32(kFormatVersion));
}

TEST(Store, AdoptsEmptyExistingDir) {
  TempDir tmp;
  auto store = open_ok({tmp.path(), "n1", 1});
  ASSERT_TRUE(store);
  EXPECT_EQ(get_ok(*store, Family::kMeta, kMetaNodeIdKey), Bytes("n1"));
}

TEST(Store, KeepsDataAcrossReopen) {
  TempDir tmp;
  const StoreOptions options{tmp.sub("n1"), "n1", 7};
  {
    auto store = open_ok(options);
    ASSERT_TRUE(store);
    put_ok(*store, Family::kState, "k", "v");
  }
  auto store = open_ok(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(get_ok(*store, Family::kState, "k"), Bytes("v"));
}

TEST(Store, RefusesDataDirOfAnotherNode) {
  TempDir tmp;
  const StoreOptions n1{tmp.sub("data"), "n1", 7};
  open_ok(n1).reset();
  expect_refused({n1.dir, "n2", 7}, {n1.dir, "belongs to node n1", "--id n1"});

  // Still n1's dir, identity untouched.
  auto store = open_ok(n1);
  ASSERT_TRUE(store);
  EXPECT_EQ(get_ok(*store, Family::kMeta, kMetaNodeIdKey), Bytes("n1"));
}

TEST(Store, RefusesDataDirOfAnotherCluster) {
  TempDir tmp;
  const StoreOptions mine{tmp.sub("data"), "n1", 7};
  open_ok(mine).reset();
  expect_refused({mine.dir, "n1", 8}, {mine.dir, "belongs to cluster 7", "not cluster 8"});

  auto store = open_ok(mine);
  ASSERT_TRUE(store);
  EXPECT_EQ(get_ok(*store, Family::kMeta, kMetaClusterIdKey), big_endian_u64(7));
}

TEST(Store, RefusesNewerFormatVersion) {
  TempDir tmp;
  const StoreOptions options{tmp.sub("data"), "n1", 7};
  {
    auto store = open_ok(options);
    ASSERT_TRUE(store);
    put_ok(*store, Family::kMeta, kMetaFormatVersionKey, big_endian_u32(kFormatVersion + 1));
  }
  expect_refused(
      options, {options.dir, "newer synod", "format version " + std::to_string(kFormatVersion + 1),
                "run a newer synod binary"});
}

TEST(Store, RefusesDirInUse) {
  TempDir tmp;
  const StoreOptions options{tmp.sub("data"), "n1", 7};
  auto holder = open_ok(options);
  ASSERT_TRUE(holder);
  const std::vector<std::string> words = {options.dir, "in use by another synod process", "LOCK",
                                          "choose another --data"};
  expect_refused(options, words, /*with_log_contents=*/false);
  // Another spelling of the same dir is the same dir.
  expect_refused({options.dir + "/./", "n1", 7}, {"in use"}, /*with_log_contents=*/false);

  // The holder is unaffected.
  put_ok(*holder, Family::kLog, "k", "v");
  EXPECT_EQ(get_ok(*holder, Family::kLog, "k"), Bytes("v"));
}

TEST(Store, RefusesNonEmptyDirWithoutSynodData) {
  TempDir tmp;
  std::ofstream(tmp.sub("notes.txt")) << "mine";
  expect_refused({tmp.path(), "n1", 7}, {tmp.path(), "not empty", "holds no synod data"});
}

TEST(Store, RefusesPathThatIsAFile) {
  TempDir tmp;
  std::ofstream(tmp.sub("file")) << "x";
  Result<std::unique_ptr<Store>> store = Store::open({tmp.sub("file"), "n1", 7});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("not a directory"), std::string::npos)
      << store.error().message;
}

TEST(Store, RefusesInvalidNodeId) {
  TempDir tmp;
  Result<std::unique_ptr<Store>> store = Store::open({tmp.sub("data"), "n 1", 7});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("contains ' '"), std::string::npos) << store.error().message;
  EXPECT_FALSE(std::filesystem::exists(tmp.sub("data")));
}

TEST(Store, GetOfMissingKeyIsEmpty) {
  TempDir tmp;
  auto store = open_ok({tmp.path(), "n1", 7});
  ASSERT_TRUE(store);
  EXPECT_EQ(get_ok(*store, Family::kPaxos, "absent"), std::nullopt);
}

TEST(Store, FamiliesAreSeparateKeySpaces) {
  TempDir tmp;
  auto store = open_ok({tmp.path(), "n1", 7});
  ASSERT_TRUE(store);
  Batch batch;
  batch.put(Family::kLog, "k", "log");
  batch.put(Family::kState, "k", "state");
  ASSERT_TRUE(store->write(batch).ok());
  EXPECT_EQ(get_ok(*store, Family::kLog, "k"), Bytes("log"));
  EXPECT_EQ(get_ok(*store, Family::kState, "k"), Bytes("state"));
  EXPECT_EQ(get_ok(*store, Family::kPaxos, "k"), std::nullopt);
}

TEST(Store, BatchAppliesPutsAndDeletesInOrder) {
  TempDir tmp;
  auto store = open_ok({tmp.path(), "n1", 7});
  ASSERT_TRUE(store);
  put_ok(*store, Family::kState, "gone", "x");
  Batch batch;
  batch.put(Family::kState, "a", "1");
  batch.put(Family::kState, "a", "2");
  batch.del(Family::kState, "gone");
  EXPECT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.bytes(), 2u + 2u + 4u);
  ASSERT_TRUE(store->write(batch).ok());
  EXPECT_EQ(get_ok(*store, Family::kState, "a"), Bytes("2"));
  EXPECT_EQ(get_ok(*store, Family::kState, "gone"), std::nullopt);
  EXPECT_TRUE(store->write(Batch{}).ok());
}

TEST(Store, RangeDeleteRemovesHalfOpenRangeOfOneFamilyAndLaterPutsSurvive) {
  TempDir tmp;
  auto store = open_ok({tmp.path(), "n1", 7});
  ASSERT_TRUE(store);
  Batch setup;
  for (const char* key : {"a", "b", "b\x01", "c", "d"}) setup.put(Family::kState, key, key);
  setup.put(Family::kLog, "b", "other family");
  ASSERT_TRUE(store->write(setup).ok());

  Batch batch;
  batch.del_range(Family::kState, "b", "d");  // b, b\x01, c; not d
  batch.put(Family::kState, "c", "again");    // after the range delete: survives
  batch.del_range(Family::kState, "d", "a");  // end before begin: nothing
  batch.del_range(Family::kState, "a", "a");  // empty: nothing
  EXPECT_EQ(batch.size(), 2u);
  ASSERT_TRUE(store->write(batch).ok());

  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->scan(Family::kState, "",
                         [&](BytesView key, BytesView value) {
                           seen.push_back(std::string(key) + "=" + std::string(value));
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a=a", "c=again", "d=d"}));
  EXPECT_EQ(get_ok(*store, Family::kLog, "b"), Bytes("other family"));
}

TEST(Store, ScanVisitsOnlyThePrefixInOrderAndStopsWhenAsked) {
  TempDir tmp;
  auto store = open_ok({tmp.path(), "n1", 7});
  ASSERT_TRUE(store);
  Batch batch;
  for (const char* key : {"b2", "a1", "b1", "b3", "c1"}) batch.put(Family::kLog, key, key);
  ASSERT_TRUE(store->write(batch).ok());

  std::vector<std::string> seen;
  Status s = store->scan(Family::kLog, "b", [&](BytesView key, BytesView value) {
    EXPECT_EQ(key, value);
    seen.emplace_back(key);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"b1", "b2", "b3"}));

  seen.clear();
  s = store->scan(Family::kLog, "", [&](BytesView key, BytesView) {
    seen.emplace_back(key);
    return seen.size() < 2;
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "b1"}));
}

}  // namespace
}  // namespace synod::storage
