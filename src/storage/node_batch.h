#pragma once
// What one Ready of a node asks to persist (rsm::NodeReady), written with ONE
// synced RocksDB write: the Paxos core's records and the RSM core's snapshot
// and log changes are durable together, so a single fsync covers them all and
// a crash keeps all of it or none. load_node (node_load.h) reads it back.

#include <optional>
#include <span>

#include "common/ids.h"
#include "common/result.h"
#include "paxos/records.h"
#include "rsm/messages.h"
#include "rsm/node.h"
#include "rsm/replica.h"
#include "storage/store.h"

namespace synod::storage {

// Views of the caller's data: they must outlive the persist() call. Applied
// in the order of the fields, which is NodeReady's.
struct NodeBatch {
  std::span<const paxos::Write> paxos = {};  // as PaxosStore::persist takes them
  // Written in this order: install (becomes the snapshot, drops the
  // partial), snapshot_pieces (as SnapshotStore::add_pieces takes them; those
  // of the installed snapshot are skipped), save_snapshot (becomes the
  // snapshot, leaves the partial).
  std::span<const rsm::SnapshotPiece> snapshot_pieces = {};
  const rsm::SnapshotImage* install = nullptr;
  const rsm::SnapshotImage* save_snapshot = nullptr;
  std::optional<Viewstamp> compact_through = {};      // log entries at or below it are deleted
  std::optional<Viewstamp> truncate_after = {};       // then log entries above it
  std::span<const rsm::LogEntry> appends = {};        // then these are put, in log order
  std::optional<Instance> votes_after = {};           // see rsm::Recovered::votes_after
};

// The writes `ready` asks for, as views into it.
NodeBatch node_batch_of(const rsm::NodeReady& ready);

// All of `batch` in one synced write (nothing at all when it is empty), in
// the order of NodeBatch's fields, laid out as PaxosStore, SnapshotStore and
// LogStore lay out their records. When both install and save_snapshot are
// set, the saved one is the snapshot afterwards, so only its records are
// written (with the deletions both make). On an error nothing was written if
// the batch was refused while being built (a snapshot piece that does not
// continue the stored partial snapshot, out-of-order appends, an unreadable
// stored round or partial snapshot header), and otherwise the write's outcome
// is unknown; either way the caller treats it as fatal. Reads the stored
// round and partial snapshot header (see PaxosStore::add_to,
// SnapshotStore::add_pieces), so calls must not overlap each other or other
// writes of those records.
Status persist(Store& store, const NodeBatch& batch);

}  // namespace synod::storage
