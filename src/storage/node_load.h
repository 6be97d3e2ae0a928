#pragma once
// What a node recovers from its data dir on start (rsm::Recovered): its Paxos
// state, its snapshot and the part of one it was receiving, the log after the
// snapshot, and whether the dir was ever started before.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rsm/node.h"
#include "storage/store.h"

namespace synod::storage {

// Key of Family::kMeta present once a node has started on the dir (its value
// is not read). Written by mark_started, never removed.
inline constexpr std::string_view kMetaStartedKey = "started";

// Records, with one synced write, that a node has started on the dir: from
// then on load_node reports `restarted`. The runtime calls it after
// load_node and before the node sends anything, so a node that crashed
// before it spoke may count as new, and one that ever spoke never does.
Status mark_started(Store& store);

// rsm::Recovered::votes_after, as a sealed 8-byte record in the meta family
// (absent: 0). persist(NodeBatch) writes it when a batch carries one; the
// runtime writes kRebuilding itself, synced, after wiping a corrupt node's
// state and before starting it.
inline constexpr std::string_view kMetaVotesAfterKey = "votes_after";
void put_votes_after(Batch& batch, Instance votes_after);
// rsm::Recovered::rebuild_id (absent: 0), written by the runtime with
// kRebuilding when it wipes a corrupt node's state.
inline constexpr std::string_view kMetaRebuildIdKey = "rebuild_id";
void put_rebuild_id(Batch& batch, std::uint64_t rebuild_id);

// Everything persist(NodeBatch) and mark_started stored:
// - paxos: PaxosStore::load;
// - snapshots: SnapshotStore::load (current and partial);
// - log: LogStore::load_log, without the entries at or below the snapshot
//   (a snapshot holds them; compaction deletes them in the same batch, but
//   they are skipped wherever they are left);
// - restarted: whether mark_started was ever called on the dir.
// Fails, naming the record, when anything a node votes or serves with cannot
// be trusted: a corrupt Paxos record, snapshot (header, any chunk, its size
// or its CRC-32) or log entry, a gap inside the log, or a log whose first
// entry does not directly follow the snapshot (or, without a snapshot, is no
// view's first entry). A damaged partial snapshot is only a cache of a
// transfer: it is dropped, and the reason added to `warnings` (when given)
// for the runtime to log.
Result<rsm::Recovered> load_node(const Store& store, std::vector<std::string>* warnings = nullptr);

}  // namespace synod::storage
