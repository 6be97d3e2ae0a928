#pragma once
// The Paxos core's durable state in the store's paxos family. The core emits
// paxos::Write records; the runtime persists them here (one synced batch per
// call) before any message that depends on them leaves, and load() rebuilds
// paxos::DurableState on restart.
//
// Layout: key = one kind byte + the instance as 8 big-endian bytes (so a scan
// returns instances in order), value = CRC-32 of the record (4 bytes,
// big-endian) + the record as net::encode_record writes it. The proposer round
// has a single key, the kind byte alone.

#include <span>

#include "common/result.h"
#include "paxos/records.h"
#include "storage/store.h"

namespace synod::storage {

class PaxosStore {
 public:
  explicit PaxosStore(Store& store) : store_(store) {}

  // All of `writes` in one synced batch: durable together or (on an error,
  // which the caller treats as fatal) in an unknown state. A later write to the
  // same instance replaces the earlier one. A RoundRecord never lowers the
  // stored round, as in DurableState::apply; that takes a read of the stored
  // round, so calls must not overlap each other (nor overlap add_to's batch
  // being written).
  Status persist(std::span<const paxos::Write> writes);

  // What persist(writes) would write, added to `batch` for the caller to write
  // together with other records (storage::persist(NodeBatch) does). Reads the
  // stored round when `writes` holds a RoundRecord, so the batch must be
  // written before the next add_to or persist. On an error `batch` is left as
  // it was.
  Status add_to(Batch& batch, std::span<const paxos::Write> writes) const;

  // Everything persisted so far. Fails, naming the key, on any record whose
  // checksum, kind or instance does not match its key: acceptor state that
  // cannot be trusted must stop the node rather than be skipped.
  Result<paxos::DurableState> load() const;

 private:
  Store& store_;
};

}  // namespace synod::storage
