#include "storage/node_batch.h"

#include "storage/log_store.h"
#include "storage/node_load.h"
#include "storage/paxos_store.h"
#include "storage/snapshot_store.h"

namespace synod::storage {

NodeBatch node_batch_of(const rsm::NodeReady& ready) {
  return NodeBatch{
      .paxos = ready.paxos_writes,
      .snapshot_pieces = ready.snapshot_pieces,
      .install = ready.install ? &*ready.install : nullptr,
      .save_snapshot = ready.save_snapshot ? &*ready.save_snapshot : nullptr,
      .compact_through = ready.compact_through,
      .truncate_after = ready.truncate_after,
      .appends = ready.appends,
      .votes_after = ready.votes_after,
  };
}

Status persist(Store& store, const NodeBatch& batch) {
  // Every part is added to one Batch, which is written only once all of them
  // were accepted: a refused part writes nothing of the others either.
  Batch writes;
  if (Status s = PaxosStore(store).add_to(writes, batch.paxos); !s) return s;
  const SnapshotStore snapshots(store);
  // The install first: it consumes the partial snapshot, so pieces of the
  // installed snapshot are skipped, and pieces of a newer one start after it.
  if (batch.install) {
    if (Status s = snapshots.add_snapshot(writes, *batch.install, true); !s) return s;
  }
  std::vector<rsm::SnapshotPiece> pieces;
  for (const rsm::SnapshotPiece& p : batch.snapshot_pieces) {
    if (!batch.install || p.through != batch.install->through) pieces.push_back(p);
  }
  if (!pieces.empty()) {
    if (Status s = snapshots.add_pieces(writes, pieces, batch.install != nullptr); !s) return s;
  }
  if (batch.save_snapshot) {
    if (Status s = snapshots.add_snapshot(writes, *batch.save_snapshot, false); !s) return s;
  }
  if (batch.votes_after) put_votes_after(writes, *batch.votes_after);
  const LogStore log(store);
  if (batch.compact_through) log.add_compaction(writes, *batch.compact_through);
  if (Status s = log.add_to(writes, batch.truncate_after, batch.appends); !s) return s;
  return store.write(writes);
}

}  // namespace synod::storage
