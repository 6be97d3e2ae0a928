#include "storage/node_batch.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/log_store.h"
#include "storage/paxos_store.h"
#include "temp_dir.h"

namespace synod::storage {
namespace {

using testing::TempDir;

std::unique_ptr<Store> open_ok(const std::string& dir) {
  Result<std::unique_ptr<Store>> store = Store::open({dir, "n1", 7});
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

rsm::LogEntry entry(ViewId vid, std::uint64_t seq) {
  return rsm::LogEntry{{vid, seq}, 7, seq, "op " + std::to_string(vid) + "." + std::to_string(seq)};
}

View view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  return View::make(vid, std::move(primary), std::move(backups)).value();
}

std::vector<paxos::Write> some_paxos_writes() {
  return {
      paxos::AcceptorRecord{3, {{4, "n2"}, {4, "n2"}, view(3, "n2", {"n1", "n3"})}},
      paxos::DecidedRecord{2, view(2, "n1", {"n2"})},
      paxos::RoundRecord{6},
  };
}

paxos::DurableState folded(const std::vector<paxos::Write>& writes) {
  paxos::DurableState state;
  for (const paxos::Write& w : writes) state.apply(w);
  return state;
}

void persist_ok(Store& store, const NodeBatch& batch) {
  Status s = persist(store, batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

TEST(NodeBatch, PaxosRecordsAndLogChangesAreBothThereAfterReopen) {
  TempDir tmp;
  const std::vector<paxos::Write> writes = some_paxos_writes();
  const std::vector<rsm::LogEntry> old_log = {entry(1, 1), entry(1, 2), entry(1, 3)};
  const std::vector<rsm::LogEntry> appends = {entry(2, 1), entry(2, 2)};
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    persist_ok(*store, NodeBatch{.appends = old_log});
    persist_ok(*store,
               NodeBatch{.paxos = writes, .truncate_after = Viewstamp{1, 1}, .appends = appends});
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  Result<paxos::DurableState> state = PaxosStore(*store).load();
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(*state, folded(writes));
  Result<std::vector<rsm::LogEntry>> log = LogStore(*store).load_log();
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(*log, (std::vector<rsm::LogEntry>{entry(1, 1), entry(2, 1), entry(2, 2)}));
}

TEST(NodeBatch, PaxosOnlyAndLogOnlyBatchesWork) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<paxos::Write> writes = some_paxos_writes();
  const std::vector<rsm::LogEntry> appends = {entry(1, 1)};
  persist_ok(*store, NodeBatch{.paxos = writes});
  persist_ok(*store, NodeBatch{.appends = appends});
  persist_ok(*store, NodeBatch{});  // nothing at all
  EXPECT_EQ(PaxosStore(*store).load().value(), folded(writes));
  EXPECT_EQ(LogStore(*store).load_log().value(), appends);
}

TEST(NodeBatch, RoundNeverGoesDown) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<paxos::Write> high = {paxos::RoundRecord{9}};
  const std::vector<paxos::Write> low = {paxos::RoundRecord{3}};
  persist_ok(*store, NodeBatch{.paxos = high});
  persist_ok(*store, NodeBatch{.paxos = low});
  EXPECT_EQ(PaxosStore(*store).load().value().round, 9u);
}

TEST(NodeBatch, RefusedLogPartWritesNoPaxosRecordEither) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  const std::vector<paxos::Write> writes = some_paxos_writes();
  const std::vector<rsm::LogEntry> gap = {entry(1, 1), entry(1, 3)};
  Status s =
      persist(*store, NodeBatch{.paxos = writes, .truncate_after = Viewstamp{}, .appends = gap});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("(1,3)"), std::string::npos) << s.error().message;
  EXPECT_EQ(PaxosStore(*store).load().value(), paxos::DurableState{});
  EXPECT_TRUE(LogStore(*store).load_log().value().empty());
}

}  // namespace
}  // namespace synod::storage
