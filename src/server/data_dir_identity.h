#pragma once
// Which node of which cluster a data dir belongs to, as the server sees it.
//
// storage::Store::open already records the node id and cluster id in
// Family::kMeta when it creates a dir (one synced batch) and refuses a dir of
// another node or cluster before changing anything. This file adds what the
// server needs on top:
// - the cluster id a node is opened with: the one derived from
//   --initial-view, or kClusterIdUnknown for a node started with --join,
//   which does not know it yet;
// - recording, once, the cluster a joining node learns (kMetaJoinedClusterKey;
//   the Store's own cluster key stays kClusterIdUnknown for such a dir, so
//   the same --join command line opens it on every later start);
// - reading the identity back and checking it, with messages in the
//   operator's terms (--id, cluster 0x...).
//
// Invariant: a dir's (node, cluster) never changes once known. The node id
// and a derived cluster id are fixed at creation; a joined cluster id goes
// from unknown to known once, by one synced write, and never changes after.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "common/result.h"
#include "storage/store.h"

namespace synod::server {

// The cluster id of a node that has not learned its cluster yet. Never a
// real cluster id (derive_cluster_id() never returns it).
inline constexpr ClusterId kClusterIdUnknown = 0;

// The cluster a node started with --join learned, u64 big-endian, in
// Family::kMeta. Absent until it learns it.
inline constexpr std::string_view kMetaJoinedClusterKey = "joined_cluster_id";

struct DataDirIdentity {
  NodeId node;
  // Empty for a node started with --join that has not learned its cluster.
  std::optional<ClusterId> cluster;
  bool operator==(const DataDirIdentity&) const = default;
};

// The Store options for `node`: `cluster` when it is known (a node of the
// initial view), else kClusterIdUnknown (a joining node).
storage::StoreOptions data_dir_store_options(const std::string& dir, const NodeId& node,
                                             std::optional<ClusterId> cluster);

// Reads what the dir records. Fails on a missing or malformed identity
// (a damaged dir), never on a mismatch.
Result<DataDirIdentity> read_data_dir_identity(const storage::Store& store);

// Refuses a recorded identity that is not `node` of `cluster`; `cluster`
// empty (a joining node) accepts whatever cluster the dir has learned. Pure.
// The message names the dir and what to do:
//   "data dir var/n1 belongs to node n2 of cluster 0x...; use that node's
//    --id or an empty dir"
Status check_data_dir_identity(const DataDirIdentity& recorded, std::string_view dir,
                               const NodeId& node, std::optional<ClusterId> cluster);

// Opens (creating on first start) the data dir of `node` and checks its
// identity. On first start the Store writes the identity in one synced batch.
// `cluster` empty: a node started with --join; the returned identity carries
// the cluster it learned on an earlier start, if any.
struct OpenedDataDir {
  std::unique_ptr<storage::Store> store;
  DataDirIdentity identity;
};
Result<OpenedDataDir> open_data_dir(const std::string& dir, const NodeId& node,
                                    std::optional<ClusterId> cluster);

// A joining node learned its cluster: records it with one synced write.
// Recording the same id again writes nothing; a different id than the one
// recorded, or any id in a dir created with a known cluster other than it,
// is refused (the node was pointed at another cluster).
Status record_joined_cluster(storage::Store& store, ClusterId cluster);

}  // namespace synod::server
