#pragma once
// One replica's op log in the store's log family. The RSM core emits log
// entries (and, after a view change, a point to truncate after); the runtime
// persists them here, in one synced batch with the node's Paxos records (see
// node_batch.h), before acknowledging them, and load_log() gives the log back
// on restart.
//
// Layout: key = the entry's viewstamp, vid then seq, 8 big-endian bytes each
// (so a scan returns viewstamp order); value = CRC-32 of the record (4 bytes,
// big-endian, as checksum.h) + the record: vid, seq, client_id, request_no
// (8 big-endian bytes each), then the op's bytes (all the rest of the value).

#include <optional>
#include <span>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "rsm/messages.h"
#include "storage/store.h"

namespace synod::storage {

class LogStore {
 public:
  explicit LogStore(Store& store) : store_(store) {}

  // In one synced batch: when `truncate_after` is set, deletes every entry
  // whose viewstamp is above it (a zero viewstamp empties the log); then puts
  // `appends`. Durable together or (on an error, which the caller treats as
  // fatal) in an unknown state.
  Status persist(std::optional<Viewstamp> truncate_after, std::span<const rsm::LogEntry> appends);

  // What persist() would write, added to `batch` for the caller to write with
  // other records. The truncation comes first in the batch, so an append at a
  // truncated viewstamp survives it. Refuses, leaving `batch` as it was,
  // appends that are not in log order (each must follow the one before it:
  // seq + 1 in the same view, or seq 1 of a later view) or whose vid or seq
  // is zero: load_log() would reject the log they make. Continuity with what
  // is already stored is checked by load_log().
  Status add_to(Batch& batch, std::optional<Viewstamp> truncate_after,
                std::span<const rsm::LogEntry> appends) const;

  // Adds the deletion of every entry at or below `through` (compaction: a
  // snapshot through it holds what they did) to `batch`.
  void add_compaction(Batch& batch, Viewstamp through) const;

  // Every entry, in viewstamp order. Fails, naming the key, on an entry whose
  // checksum does not match, that does not decode, whose viewstamp is not its
  // key's, or that does not follow the entry before it (a gap: entries are
  // missing): a node must not vote or serve with a log it cannot trust. The
  // first entry may be any viewstamp (a compacted log starts past seq 1).
  // Entries at or below `skip_through` (a snapshot holds them; compaction
  // deletes them) are checked like the others but neither returned nor
  // checked for continuity.
  Result<std::vector<rsm::LogEntry>> load_log(Viewstamp skip_through = {}) const;

 private:
  Store& store_;
};

}  // namespace synod::storage
