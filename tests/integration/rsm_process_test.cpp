// The replicated state machine as real processes on 127.0.0.1: NodeRuntime
// with the test AppendRegister, each node with its own RocksDB dir, driven
// through the client wire protocol, SIGKILLed under load.
//
// The register makes loss and duplication visible: every op appends a
// distinct value, so after any crash the content must hold every value a
// client saw acknowledged, each exactly once, in the order they were
// acknowledged by each client.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/child_process.h"
#include "integration/polling.h"
#include "integration/test_client.h"
#include "net/client_protocol.h"
#include "net/frame.h"
#include "storage/store.h"

namespace synod::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr ClusterId kCluster = 7;

class RsmCluster {
 public:
  explicit RsmCluster(std::vector<std::string> members = {"n1", "n2", "n3"}) : members_(std::move(members)) {
    for (const std::string& id : members_) {
      ports_[id] = free_port();
      if (!initial_view_.empty()) initial_view_ += ",";
      initial_view_ += id + "=" + endpoint(id);
    }
  }

  // Starts (or restarts, from the same data dir) a node and waits until it serves.
  void start(const std::string& id, std::vector<std::string> extra = {}) {
    if (ports_.count(id) == 0) ports_[id] = free_port();
    std::vector<std::string> argv{SYNOD_RSM_NODE_BIN, "--id", id, "--listen", endpoint(id),
                                  "--data", data_dir(id), "--cluster", std::to_string(kCluster),
                                  "--initial-view", initial_view_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = std::make_unique<ChildProcess>(argv);
    std::string ready = p->wait_for_prefix("ready ");
    EXPECT_FALSE(ready.empty()) << id << " did not start:\n" << p->transcript();
    procs_[id] = std::move(p);
  }

  void start_all() {
    for (const std::string& id : members_) start(id);
  }

  void kill9(const std::string& id) { procs_.at(id)->kill_now(SIGKILL); }

  std::string data_dir(const std::string& id) const { return dir_.path() + "/" + id; }
  std::string endpoint(const std::string& id) const { return "127.0.0.1:" + std::to_string(ports_.at(id)); }
  std::uint16_t port(const std::string& id) const { return ports_.at(id); }

  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const std::string& id : members_) out.push_back(endpoint(id));
    return out;
  }

  const std::vector<std::string>& members() const { return members_; }
  const std::string& initial_view() const { return initial_view_; }

 private:
  TempDir dir_;
  std::vector<std::string> members_;
  std::map<std::string, unsigned short> ports_;
  std::string initial_view_;
  std::map<std::string, std::unique_ptr<ChildProcess>> procs_;
};



// The primary as the node at `at` sees it ("" if it does not answer).
std::string primary_seen_by(TestClient& client, const std::string& at) {
  net::AdminRequest request;
  request.kind = net::AdminKind::kStatus;
  Result<net::AdminReply> reply = client.admin(at, request);
  return reply ? reply->primary : std::string();
}

// A stale read of the whole register at one node.
std::vector<std::string> stale_items_at(TestClient& client, const std::string& at) {
  Result<net::ClientReply> r = client.read("all", true, 2s, at);
  return r ? items_of(r->payload) : std::vector<std::string>{"<no answer: " + r.error().message + ">"};
}

// An admin request at the primary: follows "not the primary" to the node
// named and retries "busy", within the limit. The last reply, or an Error.
Result<net::AdminReply> admin_at_primary(TestClient& client, const RsmCluster& c, const net::AdminRequest& request,
                                         std::chrono::milliseconds limit = 20s) {
  const auto deadline = Clock::now() + limit;
  std::size_t next = 0;
  std::string at = c.endpoint(c.members().at(next++));
  Result<net::AdminReply> last = Error{"not asked yet"};
  while (Clock::now() < deadline) {
    last = client.admin(at, request);
    if (!last) {
      at = c.endpoint(c.members().at(next++ % c.members().size()));  // down: ask another
    } else if (last->status == net::ClientStatus::kNotPrimary && !last->primary_address.empty() &&
               last->primary_address != at) {
      at = last->primary_address;
      continue;
    } else if (last->status != net::ClientStatus::kBusy && last->status != net::ClientStatus::kNotPrimary) {
      return last;
    }
    std::this_thread::sleep_for(50ms);
  }
  return last;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

TEST(RsmProcesses, ThreeNodesApplyFiftyOpsAndReadsSeeThemAll) {
  RsmCluster c;
  c.start_all();
  TestClient client(c.endpoints(), 1001);
  std::vector<std::string> expected;
  for (int i = 1; i <= 50; ++i) {
    const std::string value = "v" + std::to_string(i);
    Result<net::ClientReply> r = client.submit("append " + value);
    ASSERT_TRUE(r) << "op " << i << ": " << r.error().message;
    EXPECT_EQ(r->payload, std::to_string(i)) << "op " << i << " was applied at another place in the register";
    expected.push_back(value);
  }
  // The client knew no cluster id and learned it from the first answer.
  EXPECT_EQ(client.cluster(), kCluster);

  Result<net::ClientReply> linearizable = client.read("all", false);
  ASSERT_TRUE(linearizable) << linearizable.error().message;
  EXPECT_EQ(items_of(linearizable->payload), expected);
  // n1 is primary unless a loaded machine made a backup suspect it; either
  // way the reply names the primary and where it listens.
  const std::string primary = linearizable->primary;
  ASSERT_FALSE(primary.empty());
  EXPECT_EQ(linearizable->primary_address, c.endpoint(primary));

  // A stale read at the primary reflects everything it acknowledged.
  Result<net::ClientReply> stale = client.read("all", true, 5s, c.endpoint(primary));
  ASSERT_TRUE(stale) << stale.error().message;
  EXPECT_EQ(items_of(stale->payload), expected);
  EXPECT_GE(stale->as_of, linearizable->as_of);

  // The backups catch up on their own; their stale reads say how far.
  for (const std::string& backup : c.members()) {
    std::vector<std::string> seen;
    EXPECT_TRUE(eventually([&] { return (seen = stale_items_at(client, c.endpoint(backup))) == expected; }))
        << backup << " shows " << join(seen);
  }
}

TEST(RsmProcesses, SigkillOfThePrimaryUnderLoadLosesNothingAcknowledged) {
  RsmCluster c;
  c.start_all();

  std::mutex mu;
  std::vector<std::vector<std::string>> acked(2);  // per writer, in acknowledgement order
  std::vector<std::string> failures;
  std::atomic<bool> stop{false};
  auto acked_total = [&] {
    std::lock_guard lock(mu);
    return acked[0].size() + acked[1].size();
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      TestClient client(c.endpoints(), 2000 + static_cast<std::uint64_t>(w));
      // Bounded: a few hundred ops at most, each bounded by its budget.
      for (int i = 1; i <= 2000 && !stop; ++i) {
        const std::string value = "w" + std::to_string(w) + "-" + std::to_string(i);
        Result<net::ClientReply> r = client.submit("append " + value, 20s);
        std::lock_guard lock(mu);
        if (!r) {
          failures.push_back(value + ": " + r.error().message);
          return;
        }
        acked[w].push_back(value);
      }
    });
  }
  auto stop_writers = [&] {
    stop = true;
    for (std::thread& t : writers) t.join();
    writers.clear();
  };

  EXPECT_TRUE(eventually([&] { return acked_total() >= 40; })) << "only " << acked_total() << " ops acknowledged";
  TestClient admin(c.endpoints(), 2999);
  const std::string old_primary = primary_seen_by(admin, c.endpoint("n2"));
  ASSERT_FALSE(old_primary.empty());
  c.kill9(old_primary);
  const std::size_t at_kill = acked_total();
  const auto killed_at = Clock::now();

  // Writes resume through a new primary.
  EXPECT_TRUE(eventually([&] { return acked_total() > at_kill; }, 30s)) << "no op acknowledged since the kill";
  std::cout << "failover: the first op after the kill was acknowledged "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count()
            << " ms after it (50 ms polling)\n";
  EXPECT_TRUE(eventually([&] { return acked_total() >= at_kill + 40; }, 30s))
      << "only " << acked_total() - at_kill << " ops acknowledged since the kill";
  stop_writers();
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(failures.empty()) << failures.front();
  }

  TestClient reader(c.endpoints(), 2998);
  Result<net::ClientReply> all = reader.read("all", false);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_NE(all->primary, old_primary);
  const std::vector<std::string> items = items_of(all->payload);
  // Each value once (the retries across the failover applied nothing twice),
  // every acknowledged one present, each writer's in its order.
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_TRUE(position.emplace(items[i], i).second) << items[i] << " was applied twice";
  }
  for (const std::vector<std::string>& mine : acked) {
    std::size_t last = 0;
    for (const std::string& value : mine) {
      auto it = position.find(value);
      ASSERT_NE(it, position.end()) << "acknowledged " << value << " is lost";
      EXPECT_GE(it->second, last) << value << " is out of order";
      last = it->second;
    }
  }

  // The killed node restarts from its data dir and catches up.
  c.start(old_primary);
  std::vector<std::string> seen;
  EXPECT_TRUE(eventually([&] { return (seen = stale_items_at(reader, c.endpoint(old_primary))) == items; }))
      << old_primary << " shows " << seen.size() << " items, the register has " << items.size();
}

TEST(RsmProcesses, SigkillOfEveryNodeLosesNothingAcknowledged) {
  RsmCluster c;
  c.start_all();
  std::vector<std::string> expected;
  {
    TestClient client(c.endpoints(), 3001);
    for (int i = 1; i <= 20; ++i) {
      Result<net::ClientReply> r = client.submit("append x" + std::to_string(i));
      ASSERT_TRUE(r) << r.error().message;
      expected.push_back("x" + std::to_string(i));
    }
  }
  for (const std::string& id : c.members()) c.kill9(id);
  c.start_all();

  TestClient client(c.endpoints(), 3002);
  Result<net::ClientReply> all = client.read("all", false, 30s);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(items_of(all->payload), expected);
  // The restarted primary never orders in its old view again.
  EXPECT_GT(all->view, 1u);
  Result<net::ClientReply> more = client.submit("append x21");
  ASSERT_TRUE(more) << more.error().message;
  EXPECT_EQ(more->payload, "21");
}

// Connects, writes `bytes`, and reports whether the node closed the
// connection (end of stream or reset) within the limit.
bool node_closes_connection_after(std::uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool closed = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    // The node may close before everything is written: that is the point.
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) != 1) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
    }
  }
  ::close(fd);
  return closed;
}

TEST(RsmProcesses, GarbageOversizedFramesAndForeignClustersLeaveTheNodeServing) {
  RsmCluster c;
  c.start_all();
  const std::uint16_t port = c.port("n1");

  std::mt19937_64 random(20240601);  // fixed seed: the same bytes every run
  std::string noise(4096, '\0');
  for (char& b : noise) b = static_cast<char>(random() & 0xFF);
  EXPECT_TRUE(node_closes_connection_after(port, noise)) << "random bytes";

  std::string huge = net::encode_frame(kCluster, static_cast<std::uint16_t>(net::ClientMessageType::kOpRequest), "");
  for (int i = 16; i < 20; ++i) huge[static_cast<std::size_t>(i)] = '\xFF';  // payload length 4 GiB
  EXPECT_TRUE(node_closes_connection_after(port, huge)) << "oversized frame";

  // Peer frames must carry this cluster's id: another's, or none, is refused.
  EXPECT_TRUE(node_closes_connection_after(port, net::encode_frame(kCluster + 1, 1, "prepare?"))) << "other cluster";
  EXPECT_TRUE(node_closes_connection_after(port, net::encode_frame(0, 8, "append?"))) << "peer type, cluster 0";
  // Clients may send cluster 0, but not another cluster's id, nor garbage.
  EXPECT_TRUE(node_closes_connection_after(
      port, net::encode_frame(kCluster + 1, static_cast<std::uint16_t>(net::ClientMessageType::kOpRequest), "")))
      << "client frame of another cluster";
  EXPECT_TRUE(node_closes_connection_after(
      port, net::encode_frame(0, static_cast<std::uint16_t>(net::ClientMessageType::kOpRequest), "\x01\x02")))
      << "client frame that does not decode";
  EXPECT_TRUE(node_closes_connection_after(
      port, net::encode_frame(kCluster, static_cast<std::uint16_t>(net::ClientMessageType::kReply),
                              net::encode_client_message(net::ClientReply{}).payload)))
      << "a reply sent to a node";
  EXPECT_TRUE(node_closes_connection_after(port, net::encode_frame(kCluster, 999, "")))
      << "unknown type";

  // The node still serves, clients and peers alike.
  TestClient client(c.endpoints(), 4001);
  Result<net::ClientReply> r = client.submit("append after-garbage");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->payload, "1");
  net::AdminRequest status;
  status.kind = net::AdminKind::kStatus;
  Result<net::AdminReply> s = client.admin(c.endpoint("n1"), status);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->node.has_value());
  EXPECT_EQ(s->node->id, "n1");
  EXPECT_TRUE(s->node->role == net::NodeRole::kPrimary || s->node->role == net::NodeRole::kBackup)
      << net::to_string(s->node->role);
}

TEST(RsmProcesses, AdminStatusShowsPrimaryViewAndMembers) {
  RsmCluster c;
  c.start_all();
  TestClient client(c.endpoints(), 5001);
  Result<net::ClientReply> op = client.submit("append one");
  ASSERT_TRUE(op) << op.error().message;
  // n1, unless a loaded machine made a backup suspect it at the start.
  const std::string primary = op->primary;
  const ViewId view = op->view;
  ASSERT_FALSE(primary.empty());

  for (const std::string& id : c.members()) {
    net::AdminRequest request;
    request.kind = net::AdminKind::kStatus;
    Result<net::AdminReply> s = Error{"not asked yet"};
    // A backup may learn of the view a moment after the primary.
    EXPECT_TRUE(eventually([&] { return (s = client.admin(c.endpoint(id), request)) && s->view >= view; }));
    ASSERT_TRUE(s) << id << ": " << s.error().message;
    EXPECT_EQ(s->status, net::ClientStatus::kOk);
    EXPECT_EQ(s->view, view);
    EXPECT_EQ(s->primary, primary);
    EXPECT_EQ(s->primary_address, c.endpoint(primary));
    ASSERT_TRUE(s->node.has_value());
    EXPECT_EQ(s->node->id, id);
    EXPECT_EQ(s->node->role, id == primary ? net::NodeRole::kPrimary : net::NodeRole::kBackup);
    EXPECT_EQ(s->node->view, view);
    EXPECT_GE(s->node->last, s->node->commit);
    ASSERT_EQ(s->members.size(), 3u);
    EXPECT_EQ(s->members[0], (net::MemberInfo{primary, c.endpoint(primary), net::NodeRole::kPrimary}));
  }
  // The primary has committed the op it acknowledged.
  net::AdminRequest status;
  status.kind = net::AdminKind::kStatus;
  Result<net::AdminReply> at_primary = client.admin(c.endpoint(primary), status);
  ASSERT_TRUE(at_primary && at_primary->node);
  EXPECT_GE(at_primary->node->commit, op->as_of);

  net::AdminRequest list;
  list.kind = net::AdminKind::kListMembers;
  Result<net::AdminReply> members = client.admin(c.endpoint("n3"), list);
  ASSERT_TRUE(members) << members.error().message;
  EXPECT_EQ(members->members.size(), 3u);
  EXPECT_FALSE(members->node.has_value());

  net::AdminRequest remove_at_backup;
  remove_at_backup.kind = net::AdminKind::kRemoveMember;
  const std::string backup = primary == "n2" ? "n3" : "n2";
  remove_at_backup.node = backup;
  Result<net::AdminReply> redirected = client.admin(c.endpoint(backup), remove_at_backup);
  ASSERT_TRUE(redirected) << redirected.error().message;
  EXPECT_EQ(redirected->status, net::ClientStatus::kNotPrimary) << redirected->message;
  EXPECT_EQ(redirected->primary_address, c.endpoint(primary));

  net::AdminRequest remove_stranger;
  remove_stranger.kind = net::AdminKind::kRemoveMember;
  remove_stranger.node = "n9";
  Result<net::AdminReply> refused = client.admin(c.endpoint(primary), remove_stranger);
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_EQ(refused->status, net::ClientStatus::kError) << refused->message;

  net::AdminRequest transfer;
  transfer.kind = net::AdminKind::kTransferPrimary;
  transfer.node = "n9";
  Result<net::AdminReply> stranger = client.admin(c.endpoint(primary), transfer);
  ASSERT_TRUE(stranger) << stranger.error().message;
  EXPECT_EQ(stranger->status, net::ClientStatus::kError);
  EXPECT_NE(stranger->message.find("not a member"), std::string::npos) << stranger->message;
}

TEST(RsmProcesses, AddMemberThroughTheAdminRpcJoinsTheNodeWithTheWholeLog) {
  RsmCluster c;
  c.start_all();
  TestClient client(c.endpoints(), 6001);
  std::vector<std::string> expected;
  for (int i = 1; i <= 10; ++i) {
    Result<net::ClientReply> r = client.submit("append a" + std::to_string(i));
    ASSERT_TRUE(r) << r.error().message;
    expected.push_back("a" + std::to_string(i));
  }
  // n4 knows the cluster's addresses; the primary learns n4's from the request.
  c.start("n4");
  net::AdminRequest add;
  add.kind = net::AdminKind::kAddMember;
  add.node = "n4";
  add.address = c.endpoint("n4");
  Result<net::AdminReply> added = admin_at_primary(client, c, add);
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_EQ(added->status, net::ClientStatus::kOk) << added->message;

  net::AdminRequest status;
  status.kind = net::AdminKind::kStatus;
  Result<net::AdminReply> s = Error{"not asked yet"};
  EXPECT_TRUE(eventually([&] {
    s = client.admin(c.endpoint("n4"), status);
    return s && s->node && s->node->role == net::NodeRole::kBackup && s->members.size() == 4;
  })) << (s ? "n4 is " + std::string(net::to_string(s->node->role)) + " in view " + std::to_string(s->view)
            : s.error().message);
  std::vector<std::string> seen;
  EXPECT_TRUE(eventually([&] { return (seen = stale_items_at(client, c.endpoint("n4"))) == expected; }))
      << "n4 shows " << join(seen);
  Result<net::ClientReply> more = client.submit("append a11");
  ASSERT_TRUE(more) << more.error().message;
  EXPECT_EQ(more->payload, "11");
}

// Damages one stored log entry of a stopped node: flips a bit in the value
// of its first log record. Returns false if the node stored no entry.
bool damage_first_log_entry(const std::string& dir, const std::string& id) {
  auto store = storage::Store::open(storage::StoreOptions{dir, id, kCluster});
  if (!store) {
    ADD_FAILURE() << store.error().message;
    return false;
  }
  Bytes key, value;
  Status scanned = (*store)->scan(storage::Family::kLog, "", [&](BytesView k, BytesView v) {
    key = Bytes(k);
    value = Bytes(v);
    return false;  // the first one is enough
  });
  if (!scanned || key.empty()) return false;
  value.back() = static_cast<char>(value.back() ^ 0x01);
  storage::Batch batch;
  batch.put(storage::Family::kLog, key, value);
  return static_cast<bool>((*store)->write(batch));
}

TEST(RsmProcesses, ANodeWithCorruptStateIsWipedAndRebuiltByTheCluster) {
  RsmCluster c;
  c.start_all();
  TestClient client(c.endpoints(), 7001);
  std::vector<std::string> expected;
  for (int i = 1; i <= 10; ++i) {
    Result<net::ClientReply> r = client.submit("append r" + std::to_string(i));
    ASSERT_TRUE(r) << r.error().message;
    expected.push_back("r" + std::to_string(i));
  }
  std::vector<std::string> seen;
  ASSERT_TRUE(eventually([&] { return (seen = stale_items_at(client, c.endpoint("n3"))) == expected; }))
      << "n3 shows " << join(seen);
  c.kill9("n3");
  ASSERT_TRUE(damage_first_log_entry(c.data_dir("n3"), "n3"));
  c.start("n3");

  // n3 restarts empty and rebuilding; the primary removes it and adds it
  // back (two views), and it catches up with everything.
  net::AdminRequest status;
  status.kind = net::AdminKind::kStatus;
  Result<net::AdminReply> s = Error{"not asked yet"};
  EXPECT_TRUE(eventually([&] {
    s = client.admin(c.endpoint("n3"), status);
    return s && s->node && s->node->role == net::NodeRole::kBackup && s->view >= 3;
  }, 30s)) << (s && s->node ? "n3 is " + std::string(net::to_string(s->node->role)) + " in view " +
                                  std::to_string(s->view)
                            : std::string("no status"));
  EXPECT_TRUE(eventually([&] { return (seen = stale_items_at(client, c.endpoint("n3"))) == expected; }))
      << "n3 shows " << join(seen);
  Result<net::ClientReply> more = client.submit("append r11");
  ASSERT_TRUE(more) << more.error().message;
  EXPECT_EQ(more->payload, "11");
}

TEST(RsmProcesses, ANodeBehindTheCompactedLogCatchesUpFromASnapshotAndRestartsFromIt) {
  RsmCluster c;
  const std::vector<std::string> snapshots{"--snapshot-after", "8"};
  for (const std::string& id : c.members()) c.start(id, snapshots);
  TestClient client(c.endpoints(), 8001);
  std::vector<std::string> expected;
  auto submit = [&](int i) {
    Result<net::ClientReply> r = client.submit("append s" + std::to_string(i), 30s);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->payload, std::to_string(i));
    expected.push_back("s" + std::to_string(i));
  };
  for (int i = 1; i <= 10; ++i) submit(i);
  Result<net::ClientReply> first = client.read("all", false);
  ASSERT_TRUE(first) << first.error().message;
  const std::string behind = first->primary == "n3" ? "n2" : "n3";
  c.kill9(behind);
  // Enough ops for several snapshots: the live members compact their logs
  // past everything the stopped one holds.
  for (int i = 11; i <= 60; ++i) submit(i);
  // Restarting the others drops what their transports still queue for the
  // stopped node, so it can only catch up from a snapshot.
  for (const std::string& id : c.members()) {
    if (id != behind) c.kill9(id);
  }
  for (const std::string& id : c.members()) {
    if (id != behind) c.start(id, snapshots);
  }
  Result<net::ClientReply> restored = client.read("all", false, 30s);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(items_of(restored->payload), expected) << "restored from snapshots and log suffixes";

  c.start(behind, snapshots);
  std::vector<std::string> seen;
  EXPECT_TRUE(eventually([&] { return (seen = stale_items_at(client, c.endpoint(behind))) == expected; }, 30s))
      << behind << " shows " << join(seen);
  submit(61);
}

}  // namespace
}  // namespace synod::testing
