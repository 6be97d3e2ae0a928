#include "storage/node_load.h"

#include <utility>

#include "storage/big_endian.h"
#include "storage/checksum.h"
#include "storage/log_store.h"
#include "storage/paxos_store.h"
#include "storage/snapshot_store.h"

namespace synod::storage {
namespace {

// The same rule as rsm::follows (which lives in the RSM core's library, above
// this one): the next seq of the same view, or seq 1 of a later view.
bool follows(Viewstamp prev, Viewstamp next) {
  if (next.vid == prev.vid) return next.seq == prev.seq + 1;
  return next.vid > prev.vid && next.seq == 1;
}

}  // namespace

Status mark_started(Store& store) {
  Batch batch;
  batch.put(Family::kMeta, kMetaStartedKey, "1");
  return store.write(batch);
}

void put_votes_after(Batch& batch, Instance votes_after) {
  Bytes record;
  append_big_endian(record, votes_after);
  batch.put(Family::kMeta, kMetaVotesAfterKey, seal(record));
}

void put_rebuild_id(Batch& batch, std::uint64_t rebuild_id) {
  Bytes record;
  append_big_endian(record, rebuild_id);
  batch.put(Family::kMeta, kMetaRebuildIdKey, seal(record));
}

Result<rsm::Recovered> load_node(const Store& store, std::vector<std::string>* warnings) {
  // PaxosStore and LogStore hold a Store& for their writes; only their const
  // loaders are called here.
  Store& readable = const_cast<Store&>(store);
  rsm::Recovered recovered;

  Result<paxos::DurableState> paxos = PaxosStore(readable).load();
  if (!paxos) return paxos.error();
  recovered.paxos = std::move(*paxos);

  Result<LoadedSnapshots> snapshots = SnapshotStore(store).load();
  if (!snapshots) return snapshots.error();
  recovered.snapshots = std::move(snapshots->snapshots);
  if (warnings != nullptr) {
    for (std::string& w : snapshots->warnings) warnings->push_back(std::move(w));
  }

  const Viewstamp through =
      recovered.snapshots.current ? recovered.snapshots.current->through : Viewstamp{};
  Result<std::vector<rsm::LogEntry>> log = LogStore(readable).load_log(through);
  if (!log) return log.error();
  recovered.log = std::move(*log);
  if (!recovered.log.empty() && !follows(through, recovered.log.front().vs)) {
    const std::string after = recovered.snapshots.current
                                  ? "the snapshot through " + to_string(through)
                                  : "the start of the log (there is no snapshot)";
    return Error{"log entry " + to_string(recovered.log.front().vs) + " in data dir " +
                 store.dir() + " is the first after " + after +
                 ", which it does not follow: entries between them are missing (a gap); "
                 "the dir is damaged: do not start a node on it"};
  }

  Result<std::optional<Bytes>> started = store.get(Family::kMeta, kMetaStartedKey);
  if (!started) return started.error();
  recovered.restarted = started->has_value();

  Result<std::optional<Bytes>> votes = store.get(Family::kMeta, kMetaVotesAfterKey);
  if (!votes) return votes.error();
  if (votes->has_value()) {
    Result<BytesView> record = unseal(**votes);
    std::optional<Instance> value = record ? read_big_endian<Instance>(*record) : std::nullopt;
    if (!value || record->size() != sizeof(Instance)) {
      // Not knowing whether we may vote is the one thing we must not guess.
      return Error{"meta record votes_after in data dir " + store.dir() +
                   " is damaged; the node cannot tell whether it may vote: rebuild it"};
    }
    recovered.votes_after = *value;
  }
  Result<std::optional<Bytes>> rebuild = store.get(Family::kMeta, kMetaRebuildIdKey);
  if (!rebuild) return rebuild.error();
  if (rebuild->has_value()) {
    Result<BytesView> record = unseal(**rebuild);
    std::optional<std::uint64_t> value = record ? read_big_endian<std::uint64_t>(*record) : std::nullopt;
    if (!value) {
      return Error{"meta record rebuild_id in data dir " + store.dir() + " is damaged: rebuild the node again"};
    }
    recovered.rebuild_id = *value;
  }
  return recovered;
}

}  // namespace synod::storage
