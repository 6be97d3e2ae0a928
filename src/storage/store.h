#pragma once
// A node's data directory: one RocksDB instance with a column family per
// layer. It belongs to exactly one node of one cluster, recorded in the meta
// family when the dir is created; open() refuses any other node, cluster or a
// newer on-disk format, and refuses before it changes anything in the dir.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/result.h"

namespace synod::storage {

enum class Family {
  kPaxos,  // acceptor state, decided values, proposer round
  kLog,    // op log
  kState,  // the snapshot and a partial one being received (snapshot_store.h)
  kMeta,   // the dir's identity: node id, cluster id, format version
};

struct StoreOptions {
  std::string dir;
  NodeId node;
  ClusterId cluster = 0;
};

// Version of everything this binary writes under the dir. A dir written with
// a newer version is refused rather than misread.
inline constexpr std::uint32_t kFormatVersion = 1;

// Keys of Family::kMeta. All three are written in one synced batch when the
// dir is created and never change.
inline constexpr std::string_view kMetaNodeIdKey = "node_id";                // the id's bytes
inline constexpr std::string_view kMetaClusterIdKey = "cluster_id";          // u64 big-endian
inline constexpr std::string_view kMetaFormatVersionKey = "format_version";  // u32 big-endian

// Puts and deletes applied together by Store::write: all or none, and in the
// order they were added (a put after a delete of its key, or after a range
// delete covering it, survives).
class Batch {
 public:
  void put(Family family, BytesView key, BytesView value);
  void del(Family family, BytesView key);
  // Deletes every key k with begin <= k < end (byte order); nothing when
  // begin >= end.
  void del_range(Family family, BytesView begin, BytesView end);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  // Keys plus values, for callers that bound their batches.
  std::size_t bytes() const { return bytes_; }

 private:
  friend class Store;
  enum class Kind { kPut, kDelete, kDeleteRange };
  struct Op {
    Family family;
    Kind kind;
    Bytes key;    // the range's begin for kDeleteRange
    Bytes value;  // the range's end for kDeleteRange
  };
  std::vector<Op> ops_;
  std::size_t bytes_ = 0;
};

class Store {
 public:
  // Creates the dir (or adopts an empty one) for options.node, or opens an
  // existing dir of the same node and cluster. Refuses, with a sentence that
  // names the dir and says what to do, a dir of another node or cluster, of a
  // newer format, in use by another process (or another Store here), or one
  // that is not empty and holds no synod identity.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // One synced write for the whole batch: a single fsync covers all of it, so
  // callers group what they have (group commit). On an error the batch may or
  // may not be durable; the caller must treat that as fatal, because retrying
  // after a failed fsync can report success for data that never reached disk.
  Status write(const Batch& batch);

  Result<std::optional<Bytes>> get(Family family, BytesView key) const;

  // Visits the keys that start with `prefix`, in byte order, until `visit`
  // returns false.
  Status scan(Family family, BytesView prefix,
              const std::function<bool(BytesView key, BytesView value)>& visit) const;

  // The dir as given in StoreOptions, for messages.
  const std::string& dir() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::storage
