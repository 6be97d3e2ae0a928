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

namespace {

void put_meta_u64(Batch& batch, std::string_view key, std::uint64_t value) {
  Bytes record;
  append_big_endian(record, value);
  batch.put(Family::kMeta, key, seal(record));
}

// An absent record reads as 0; a damaged one is an error naming it.
Result<std::uint64_t> load_meta_u64(const Store& store, std::string_view key, const std::string& if_damaged) {
  Result<std::optional<Bytes>> stored = store.get(Family::kMeta, key);
  if (!stored) return stored.error();
  if (!stored->has_value()) return std::uint64_t{0};
  Result<BytesView> record = unseal(**stored);
  std::optional<std::uint64_t> value = record ? read_big_endian<std::uint64_t>(*record) : std::nullopt;
  if (!value) return Error{"meta record " + std::string(key) + " in data dir " + store.dir() + " is damaged; " + if_damaged};
  return *value;
}

}  // namespace

void put_votes_after(Batch& batch, Instance votes_after) { put_meta_u64(batch, kMetaVotesAfterKey, votes_after); }

void put_rebuild_id(Batch& batch, std::uint64_t rebuild_id) { put_meta_u64(batch, kMetaRebuildIdKey, rebuild_id); }

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

  // Not knowing whether we may vote is the one thing we must not guess.
  Result<std::uint64_t> votes = load_meta_u64(store, kMetaVotesAfterKey, "the node cannot tell whether it may vote: rebuild it");
  if (!votes) return votes.error();
  recovered.votes_after = *votes;
  Result<std::uint64_t> rebuild = load_meta_u64(store, kMetaRebuildIdKey, "rebuild the node again");
  if (!rebuild) return rebuild.error();
  recovered.rebuild_id = *rebuild;
  return recovered;
}

}  // namespace synod::storage
