#include "server/data_dir_identity.h"

#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "config_test_util.h"
#include "server/server_config.h"
#include "storage/big_endian.h"
#include "unit/storage/temp_dir.h"

namespace synod::server {
namespace {

using config_testing::expect_error;
using storage::Family;
using storage::testing::TempDir;

constexpr ClusterId kCluster = 0x00c0ffee12345678;
constexpr ClusterId kOtherCluster = 0x0badbeef00000001;

OpenedDataDir open_ok(const std::string& dir, const NodeId& node, std::optional<ClusterId> cluster) {
  Result<OpenedDataDir> opened = open_data_dir(dir, node, cluster);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened.ok() ? std::move(opened).value() : OpenedDataDir{};
}

std::optional<Bytes> meta(const storage::Store& store, std::string_view key) {
  Result<std::optional<Bytes>> value = store.get(Family::kMeta, key);
  EXPECT_TRUE(value.ok()) << value.error().message;
  return value.ok() ? *value : std::nullopt;
}

Bytes u64(std::uint64_t v) {
  Bytes out;
  storage::append_big_endian(out, v);
  return out;
}

void put_meta(storage::Store& store, std::string_view key, BytesView value) {
  storage::Batch batch;
  batch.put(Family::kMeta, key, value);
  Status s = store.write(batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

// --- A node of the initial view.

TEST(DataDirIdentity, FirstStartRecordsNodeAndCluster) {
  TempDir tmp;
  OpenedDataDir dir = open_ok(tmp.sub("n1"), "n1", kCluster);
  ASSERT_TRUE(dir.store);
  EXPECT_EQ(dir.identity, (DataDirIdentity{"n1", kCluster}));
  EXPECT_EQ(meta(*dir.store, storage::kMetaNodeIdKey), Bytes("n1"));
  EXPECT_EQ(meta(*dir.store, storage::kMetaClusterIdKey), u64(kCluster));
  EXPECT_EQ(meta(*dir.store, kMetaJoinedClusterKey), std::nullopt);
}

TEST(DataDirIdentity, LaterStartOfTheSameNodeAndClusterOpens) {
  TempDir tmp;
  open_ok(tmp.sub("n1"), "n1", kCluster).store.reset();
  OpenedDataDir again = open_ok(tmp.sub("n1"), "n1", kCluster);
  EXPECT_EQ(again.identity, (DataDirIdentity{"n1", kCluster}));
}

TEST(DataDirIdentity, RefusesTheDirOfAnotherNode) {
  TempDir tmp;
  const std::string dir = tmp.sub("n1");
  open_ok(dir, "n1", kCluster).store.reset();
  expect_error(open_data_dir(dir, "n2", kCluster), {dir, "belongs to node n1", "--id n1"});
  EXPECT_EQ(open_ok(dir, "n1", kCluster).identity, (DataDirIdentity{"n1", kCluster}));
}

TEST(DataDirIdentity, RefusesTheDirOfAnotherCluster) {
  TempDir tmp;
  const std::string dir = tmp.sub("n1");
  open_ok(dir, "n1", kCluster).store.reset();
  expect_error(open_data_dir(dir, "n1", kOtherCluster), {dir, "belongs to cluster"});
}

TEST(DataDirIdentity, RefusesToJoinWithTheDirOfAnInitialMember) {
  TempDir tmp;
  const std::string dir = tmp.sub("n1");
  open_ok(dir, "n1", kCluster).store.reset();
  expect_error(open_data_dir(dir, "n1", std::nullopt), {dir, "belongs to cluster"});
}

// --- The check, in the operator's terms.

TEST(DataDirIdentity, CheckNamesTheOwnerAndWhatToDo) {
  const DataDirIdentity n2{"n2", kCluster};
  EXPECT_TRUE(check_data_dir_identity(n2, "var/n1", "n2", kCluster).ok());
  EXPECT_TRUE(check_data_dir_identity(n2, "var/n1", "n2", std::nullopt).ok());

  Status other_node = check_data_dir_identity(n2, "var/n1", "n1", kCluster);
  ASSERT_FALSE(other_node.ok());
  EXPECT_EQ(other_node.error().message,
            "data dir var/n1 belongs to node n2 of cluster 0x00c0ffee12345678, not to n1; start "
            "it with --id n2 (that node's id) or give --id n1 an empty dir");

  Status other_cluster = check_data_dir_identity(n2, "var/n1", "n2", kOtherCluster);
  ASSERT_FALSE(other_cluster.ok());
  EXPECT_NE(other_cluster.error().message.find(
                "belongs to node n2 of cluster 0x00c0ffee12345678, not to cluster "
                "0x0badbeef00000001"),
            std::string::npos)
      << other_cluster.error().message;
  EXPECT_NE(other_cluster.error().message.find("--initial-view"), std::string::npos);

  Status unlearned = check_data_dir_identity({"n2", std::nullopt}, "var/n1", "n2", kCluster);
  ASSERT_FALSE(unlearned.ok());
  EXPECT_NE(unlearned.error().message.find("cluster not learned yet"), std::string::npos);
  EXPECT_NE(unlearned.error().message.find("--join"), std::string::npos);
}

// --- A joining node.

TEST(DataDirIdentity, JoiningNodeStartsWithoutAClusterAndRecordsTheOneItLearns) {
  TempDir tmp;
  const std::string dir = tmp.sub("n4");
  {
    OpenedDataDir opened = open_ok(dir, "n4", std::nullopt);
    ASSERT_TRUE(opened.store);
    EXPECT_EQ(opened.identity, (DataDirIdentity{"n4", std::nullopt}));
    Status s = record_joined_cluster(*opened.store, kCluster);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(meta(*opened.store, kMetaJoinedClusterKey), u64(kCluster));
    Result<DataDirIdentity> now = read_data_dir_identity(*opened.store);
    ASSERT_TRUE(now.ok()) << now.error().message;
    EXPECT_EQ(*now, (DataDirIdentity{"n4", kCluster}));
  }
  // A later start with the same --join command line knows its cluster.
  OpenedDataDir again = open_ok(dir, "n4", std::nullopt);
  EXPECT_EQ(again.identity, (DataDirIdentity{"n4", kCluster}));
}

TEST(DataDirIdentity, JoinedClusterIsRecordedOnceAndNeverChanges) {
  TempDir tmp;
  OpenedDataDir opened = open_ok(tmp.sub("n4"), "n4", std::nullopt);
  ASSERT_TRUE(opened.store);
  ASSERT_TRUE(record_joined_cluster(*opened.store, kCluster).ok());
  EXPECT_TRUE(record_joined_cluster(*opened.store, kCluster).ok());  // the same again: fine
  Status other = record_joined_cluster(*opened.store, kOtherCluster);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("of cluster 0x00c0ffee12345678"), std::string::npos)
      << other.error().message;
  EXPECT_NE(other.error().message.find("0x0badbeef00000001"), std::string::npos);
  EXPECT_NE(other.error().message.find("--join"), std::string::npos);
  EXPECT_EQ(meta(*opened.store, kMetaJoinedClusterKey), u64(kCluster));
}

TEST(DataDirIdentity, InitialMemberRecordsNoJoinedCluster) {
  TempDir tmp;
  OpenedDataDir opened = open_ok(tmp.sub("n1"), "n1", kCluster);
  ASSERT_TRUE(opened.store);
  EXPECT_TRUE(record_joined_cluster(*opened.store, kCluster).ok());
  EXPECT_FALSE(record_joined_cluster(*opened.store, kOtherCluster).ok());
  EXPECT_EQ(meta(*opened.store, kMetaJoinedClusterKey), std::nullopt);
}

TEST(DataDirIdentity, RefusesToRecordClusterZero) {
  TempDir tmp;
  OpenedDataDir opened = open_ok(tmp.sub("n4"), "n4", std::nullopt);
  ASSERT_TRUE(opened.store);
  Status s = record_joined_cluster(*opened.store, kClusterIdUnknown);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("0 means not known"), std::string::npos);
  EXPECT_EQ(meta(*opened.store, kMetaJoinedClusterKey), std::nullopt);
}

TEST(DataDirIdentity, JoinedDirRefusesAnInitialViewLater) {
  TempDir tmp;
  const std::string dir = tmp.sub("n4");
  {
    OpenedDataDir opened = open_ok(dir, "n4", std::nullopt);
    ASSERT_TRUE(record_joined_cluster(*opened.store, kCluster).ok());
  }
  expect_error(open_data_dir(dir, "n4", kCluster), {dir, "belongs to cluster"});
}

// --- Damage is reported, not guessed around.

TEST(DataDirIdentity, ReportsAMalformedJoinedCluster) {
  TempDir tmp;
  OpenedDataDir opened = open_ok(tmp.sub("n4"), "n4", std::nullopt);
  ASSERT_TRUE(opened.store);
  put_meta(*opened.store, kMetaJoinedClusterKey, "abc");
  expect_error(read_data_dir_identity(*opened.store), {"malformed joined_cluster_id", "damaged"});
}

TEST(DataDirIdentity, ReportsAJoinedClusterBesideACreatedOne) {
  TempDir tmp;
  OpenedDataDir opened = open_ok(tmp.sub("n1"), "n1", kCluster);
  ASSERT_TRUE(opened.store);
  put_meta(*opened.store, kMetaJoinedClusterKey, u64(kOtherCluster));
  expect_error(read_data_dir_identity(*opened.store), {"both", "damaged"});
}

TEST(DataDirIdentity, StoreOptionsCarryTheClusterOrUnknown) {
  const storage::StoreOptions known = data_dir_store_options("d", "n1", kCluster);
  EXPECT_EQ(known.dir, "d");
  EXPECT_EQ(known.node, "n1");
  EXPECT_EQ(known.cluster, kCluster);
  EXPECT_EQ(data_dir_store_options("d", "n4", std::nullopt).cluster, kClusterIdUnknown);
}

TEST(DataDirIdentity, DerivedClusterIdsAreNeverTheUnknownOne) {
  const std::vector<ViewMember> view = {{"n1", {"127.0.0.1", 7001}}};
  EXPECT_NE(derive_cluster_id("synod", view), kClusterIdUnknown);
}

}  // namespace
}  // namespace synod::server
