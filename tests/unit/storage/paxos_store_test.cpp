#include "storage/paxos_store.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/big_endian.h"
#include "temp_dir.h"

namespace synod::storage {
namespace {

using testing::TempDir;

View view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  return View::make(vid, std::move(primary), std::move(backups)).value();
}

std::unique_ptr<Store> open_ok(const std::string& dir) {
  Result<std::unique_ptr<Store>> store = Store::open({dir, "n1", 7});
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

paxos::DurableState load_ok(const PaxosStore& paxos) {
  Result<paxos::DurableState> state = paxos.load();
  EXPECT_TRUE(state.ok()) << state.error().message;
  return state.ok() ? *state : paxos::DurableState{};
}

void persist_ok(PaxosStore& paxos, const std::vector<paxos::Write>& writes) {
  Status s = paxos.persist(writes);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

paxos::DurableState folded(const std::vector<paxos::Write>& writes) {
  paxos::DurableState state;
  for (const paxos::Write& w : writes) state.apply(w);
  return state;
}

Bytes acceptor_key(Instance instance) {
  Bytes key(1, 'A');
  append_big_endian(key, instance);
  return key;
}

// Every record kind, acceptor state with and without an accepted value.
std::vector<paxos::Write> every_record() {
  return {
      paxos::AcceptorRecord{2, {{3, "n1"}, {}, std::nullopt}},
      paxos::AcceptorRecord{3, {{4, "n2"}, {4, "n2"}, view(3, "n2", {"n1", "n3"})}},
      paxos::DecidedRecord{2, view(2, "n1", {"n2"})},
      paxos::RoundRecord{9},
  };
}

TEST(PaxosStore, RoundTripsEveryRecordType) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  EXPECT_EQ(load_ok(paxos), paxos::DurableState{});
  persist_ok(paxos, every_record());
  EXPECT_EQ(load_ok(paxos), folded(every_record()));
}

TEST(PaxosStore, KeepsEverythingAcrossReopen) {
  TempDir tmp;
  {
    auto store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    PaxosStore paxos(*store);
    persist_ok(paxos, every_record());
  }
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(load_ok(PaxosStore(*store)), folded(every_record()));
}

TEST(PaxosStore, LaterWriteToSameInstanceOverwrites) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  const paxos::AcceptorState promised{{3, "n1"}, {}, std::nullopt};
  const paxos::AcceptorState accepted{{5, "n2"}, {5, "n2"}, view(4, "n2", {})};
  persist_ok(paxos, {paxos::AcceptorRecord{4, promised}});
  persist_ok(paxos, {paxos::AcceptorRecord{4, accepted}});
  // Within one call too: the last write of an instance wins.
  persist_ok(paxos, {paxos::DecidedRecord{4, view(4, "n1", {})},
                     paxos::DecidedRecord{4, view(4, "n2", {})}});

  const paxos::DurableState state = load_ok(paxos);
  ASSERT_EQ(state.acceptors.size(), 1u);
  EXPECT_EQ(state.acceptors.at(4), accepted);
  EXPECT_EQ(state.decided.at(4), view(4, "n2", {}));
}

TEST(PaxosStore, RoundNeverGoesDown) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  persist_ok(paxos, {paxos::RoundRecord{5}, paxos::RoundRecord{9}, paxos::RoundRecord{7}});
  EXPECT_EQ(load_ok(paxos).round, 9u);
  persist_ok(paxos, {paxos::RoundRecord{3}});
  EXPECT_EQ(load_ok(paxos).round, 9u);
  persist_ok(paxos, {paxos::RoundRecord{10}});
  EXPECT_EQ(load_ok(paxos).round, 10u);
}

TEST(PaxosStore, AddToPutsTheSameRecordsIntoTheCallersBatch) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  persist_ok(paxos, {paxos::RoundRecord{9}});

  Batch batch;
  batch.put(Family::kState, "k", "v");  // the caller's own record rides along
  std::vector<paxos::Write> writes = every_record();
  writes.push_back(paxos::RoundRecord{4});  // below the stored 9: the round stays 9
  Status s = paxos.add_to(batch, writes);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(load_ok(paxos).round, 9u);  // nothing written yet
  EXPECT_TRUE(load_ok(paxos).acceptors.empty());
  ASSERT_TRUE(store->write(batch).ok());

  EXPECT_EQ(load_ok(paxos), folded(every_record()));
  EXPECT_EQ(store->get(Family::kState, "k").value(), std::optional<Bytes>("v"));
}

TEST(PaxosStore, AddToLeavesTheBatchAloneWhenTheStoredRoundIsCorrupt) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  Batch garbage;
  garbage.put(Family::kPaxos, "R", "not a record");
  ASSERT_TRUE(store->write(garbage).ok());

  Batch batch;
  Status s = paxos.add_to(batch, every_record());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("round"), std::string::npos) << s.error().message;
  EXPECT_TRUE(batch.empty());
}

TEST(PaxosStore, KeysScanInInstanceOrder) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  const std::vector<Instance> instances = {70000, 2, 300, 1ull << 40, 256};
  for (Instance i : instances)
    persist_ok(paxos, {paxos::AcceptorRecord{i, {{1, "n1"}, {}, std::nullopt}}});

  std::vector<Instance> scanned;
  Status s = store->scan(Family::kPaxos, "A", [&](BytesView key, BytesView) {
    scanned.push_back(*read_big_endian<Instance>(key.substr(1)));
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(scanned, (std::vector<Instance>{2, 256, 300, 70000, 1ull << 40}));
}

TEST(PaxosStore, LoadRefusesCorruptValueNamingTheKey) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  persist_ok(paxos, every_record());
  Batch garbage;
  garbage.put(Family::kPaxos, acceptor_key(7), "not a record at all");
  ASSERT_TRUE(store->write(garbage).ok());

  Result<paxos::DurableState> state = paxos.load();
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.error().message.find("acceptor/7"), std::string::npos) << state.error().message;
  EXPECT_NE(state.error().message.find("corrupt"), std::string::npos) << state.error().message;
  EXPECT_NE(state.error().message.find(tmp.path()), std::string::npos) << state.error().message;
}

TEST(PaxosStore, LoadRefusesAnyFlippedBit) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  persist_ok(paxos, {every_record()[1]});
  const Bytes good = store->get(Family::kPaxos, acceptor_key(3)).value().value();

  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    Bytes bad = good;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    Batch batch;
    batch.put(Family::kPaxos, acceptor_key(3), bad);
    ASSERT_TRUE(store->write(batch).ok());
    Result<paxos::DurableState> state = paxos.load();
    ASSERT_FALSE(state.ok()) << "bit " << bit << " flipped went unnoticed";
    EXPECT_NE(state.error().message.find("acceptor/3"), std::string::npos) << state.error().message;
  }
}

TEST(PaxosStore, LoadRefusesRecordFiledUnderAnotherInstance) {
  TempDir tmp;
  auto store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  PaxosStore paxos(*store);
  persist_ok(paxos, {every_record()[1]});  // instance 3
  Batch misfiled;
  misfiled.put(Family::kPaxos, acceptor_key(4),
               store->get(Family::kPaxos, acceptor_key(3)).value().value());
  ASSERT_TRUE(store->write(misfiled).ok());

  Result<paxos::DurableState> state = paxos.load();
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.error().message.find("acceptor/4 "), std::string::npos) << state.error().message;
  EXPECT_NE(state.error().message.find("record of acceptor/3"), std::string::npos)
      << state.error().message;
}

// read() that retries on EINTR, waiting at most `timeout_ms` for the first byte.
ssize_t read_byte(int fd, char* byte, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&p, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return -1;
  ssize_t n = 0;
  do {
    n = ::read(fd, byte, 1);
  } while (n < 0 && errno == EINTR);
  return n;
}

// SIGKILL is a process crash, not a power cut: it proves that persist() does
// not return before the write is out of the process (the page cache survives
// it). The fsync itself is RocksDB's WriteOptions::sync.
TEST(PaxosStore, PersistedRecordSurvivesSigkill) {
  TempDir tmp;
  const std::string dir = tmp.sub("n1");
  const std::vector<paxos::Write> records = {every_record()[1]};
  int ready[2];
  int hold[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(hold), 0);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(hold[1]);
    Result<std::unique_ptr<Store>> store = Store::open({dir, "n1", 7});
    if (!store.ok()) ::_exit(2);
    PaxosStore paxos(**store);
    if (!paxos.persist(records).ok()) ::_exit(3);
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(4);
    // Blocks until killed; returns (EOF) only if the parent died first.
    char ignored = 0;
    while (::read(hold[0], &ignored, 1) < 0 && errno == EINTR) {
    }
    ::_exit(5);
  }
  ::close(ready[1]);
  ::close(hold[0]);
  char byte = 0;
  constexpr int kChildTimeoutMs = 60'000;
  const ssize_t n = read_byte(ready[0], &byte, kChildTimeoutMs);
  ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  ::close(hold[1]);
  ASSERT_EQ(n, 1) << "the child did not report a persisted record (read " << n << ", wait status "
                  << status << ")";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;

  // The kernel dropped the dead child's LOCK, so the dir opens again.
  auto store = open_ok(dir);
  ASSERT_TRUE(store);
  EXPECT_EQ(load_ok(PaxosStore(*store)), folded(records));
}

}  // namespace
}  // namespace synod::storage
