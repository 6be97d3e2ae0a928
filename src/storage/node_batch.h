#pragma once
// What one Ready of a node asks to persist, written with ONE synced RocksDB
// write: the Paxos core's records and the RSM core's log changes are durable
// together, so a single fsync covers both and a crash keeps all of it or none.

#include <optional>
#include <span>

#include "common/ids.h"
#include "common/result.h"
#include "paxos/records.h"
#include "rsm/messages.h"
#include "storage/store.h"

namespace synod::storage {

// Views of the caller's data: they must outlive the persist() call.
struct NodeBatch {
  std::span<const paxos::Write> paxos;      // as PaxosStore::persist takes them
  std::optional<Viewstamp> truncate_after;  // when set, log entries above it are deleted first
  std::span<const rsm::LogEntry> appends;   // then these are put, in log order
};

// All of `batch` in one synced write (nothing at all when it is empty), laid
// out as PaxosStore and LogStore lay out their records. On an error nothing
// was written if the batch was refused while being built (out-of-order
// appends, an unreadable stored round), and otherwise the write's outcome is
// unknown; either way the caller treats it as fatal. Reads the stored round
// (see PaxosStore::add_to), so calls must not overlap each other or other
// writes of Paxos records.
Status persist(Store& store, const NodeBatch& batch);

}  // namespace synod::storage
