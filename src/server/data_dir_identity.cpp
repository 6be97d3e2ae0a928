#include "server/data_dir_identity.h"

#include <cassert>
#include <utility>

#include "server/server_config.h"
#include "storage/big_endian.h"

namespace synod::server {
namespace {

std::string damaged(const std::string& dir, const std::string& what) {
  return "data dir " + dir + " " + what + "; it is damaged: do not start a node on it";
}

Result<std::optional<std::uint64_t>> read_u64(const storage::Store& store, std::string_view key) {
  Result<std::optional<Bytes>> raw = store.get(storage::Family::kMeta, key);
  if (!raw) return raw.error();
  if (!*raw) return std::optional<std::uint64_t>();
  const std::optional<std::uint64_t> value = storage::read_big_endian<std::uint64_t>(**raw);
  if (!value) return Error{damaged(store.dir(), "has a malformed " + std::string(key))};
  return value;
}

std::string describe(const DataDirIdentity& identity) {
  std::string out = "node " + identity.node;
  if (identity.cluster) return out + " of cluster " + format_cluster_id(*identity.cluster);
  return out + " (joining, cluster not learned yet)";
}

}  // namespace

storage::StoreOptions data_dir_store_options(const std::string& dir, const NodeId& node,
                                             std::optional<ClusterId> cluster) {
  assert(!cluster || *cluster != kClusterIdUnknown);
  return storage::StoreOptions{dir, node, cluster.value_or(kClusterIdUnknown)};
}

Result<DataDirIdentity> read_data_dir_identity(const storage::Store& store) {
  Result<std::optional<Bytes>> node = store.get(storage::Family::kMeta, storage::kMetaNodeIdKey);
  if (!node) return node.error();
  if (!*node || (*node)->empty()) return Error{damaged(store.dir(), "records no node id")};
  if (Status s = validate_node_id(**node); !s) {
    return Error{damaged(store.dir(), "records an invalid node id (" + s.error().message + ")")};
  }

  Result<std::optional<std::uint64_t>> created = read_u64(store, storage::kMetaClusterIdKey);
  if (!created) return created.error();
  if (!*created) return Error{damaged(store.dir(), "records no cluster id")};
  Result<std::optional<std::uint64_t>> joined = read_u64(store, kMetaJoinedClusterKey);
  if (!joined) return joined.error();

  DataDirIdentity identity{**node, std::nullopt};
  if (**created != kClusterIdUnknown) {
    // Created with a known cluster: a joined id is never written beside it.
    if (*joined) {
      return Error{damaged(store.dir(), "records both a cluster id and a joined cluster id")};
    }
    identity.cluster = **created;
  } else if (*joined) {
    if (**joined == kClusterIdUnknown) {
      return Error{damaged(store.dir(), "records a joined cluster id of 0")};
    }
    identity.cluster = **joined;
  }
  return identity;
}

Status check_data_dir_identity(const DataDirIdentity& recorded, std::string_view dir,
                               const NodeId& node, std::optional<ClusterId> cluster) {
  const std::string belongs = "data dir " + std::string(dir) + " belongs to " + describe(recorded);
  if (recorded.node != node) {
    return Error{belongs + ", not to " + node + "; start it with --id " + recorded.node +
                 " (that node's id) or give --id " + node + " an empty dir"};
  }
  if (!cluster) return Status::Ok();  // joining: the dir may know more than we do
  if (!recorded.cluster) {
    return Error{belongs + ", not to cluster " + format_cluster_id(*cluster) +
                 "; start it with --join as before, or use an empty dir for --initial-view"};
  }
  if (*recorded.cluster != *cluster) {
    return Error{belongs + ", not to cluster " + format_cluster_id(*cluster) +
                 "; give the --initial-view and --cluster-name it was created with, or use "
                 "an empty dir"};
  }
  return Status::Ok();
}

Result<OpenedDataDir> open_data_dir(const std::string& dir, const NodeId& node,
                                    std::optional<ClusterId> cluster) {
  Result<std::unique_ptr<storage::Store>> store =
      storage::Store::open(data_dir_store_options(dir, node, cluster));
  if (!store) return store.error();
  // The Store has checked the node and the cluster it was given; this reads
  // them back (and a joined cluster) and checks them again from our side.
  Result<DataDirIdentity> identity = read_data_dir_identity(**store);
  if (!identity) return identity.error();
  if (Status s = check_data_dir_identity(*identity, dir, node, cluster); !s) return s.error();
  return OpenedDataDir{std::move(store).value(), std::move(identity).value()};
}

Status record_joined_cluster(storage::Store& store, ClusterId cluster) {
  if (cluster == kClusterIdUnknown) {
    return Error{"cannot record cluster id 0 for data dir " + store.dir() +
                 ": 0 means not known"};
  }
  Result<DataDirIdentity> identity = read_data_dir_identity(store);
  if (!identity) return identity.error();
  if (identity->cluster) {
    if (*identity->cluster == cluster) return Status::Ok();  // already known: nothing to write
    return Error{"data dir " + store.dir() + " belongs to " + describe(*identity) +
                 ", but the nodes at --join are of cluster " + format_cluster_id(cluster) +
                 "; point --join at this node's own cluster, or use an empty dir to join the "
                 "other"};
  }
  Bytes value;
  storage::append_big_endian(value, cluster);
  storage::Batch batch;
  batch.put(storage::Family::kMeta, kMetaJoinedClusterKey, value);
  if (Status s = store.write(batch); !s) return s;

  // Read back what was written: the identity must now be the learned one.
  Result<DataDirIdentity> after = read_data_dir_identity(store);
  if (!after) return after.error();
  if (after->cluster != std::optional<ClusterId>(cluster)) {
    return Error{damaged(store.dir(), "did not keep the joined cluster id just written")};
  }
  return Status::Ok();
}

}  // namespace synod::server
