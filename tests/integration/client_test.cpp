// synod::Client (include/synod/client.h) against real processes on
// 127.0.0.1: synod-rsm-node, the test daemon whose state machine is the
// append register (integration/append_register.h). The register makes loss
// and duplication visible: "append X" answers the register's new length, so
// an op applied twice or lost shows in the lengths and the content.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/child_process.h"
#include "integration/polling.h"
#include "synod/client.h"

namespace synod::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kCluster = 7;

// A cluster of synod-rsm-node processes, each with its own data dir.
class Nodes {
 public:
  explicit Nodes(std::vector<std::string> ids = {"n1", "n2", "n3"}) : ids_(std::move(ids)) {
    for (const std::string& id : ids_) {
      ports_[id] = free_port();
      initial_view_ += (initial_view_.empty() ? "" : ",") + id + "=" + endpoint(id);
    }
  }

  void start(const std::string& id) {
    std::vector<std::string> argv{SYNOD_RSM_NODE_BIN, "--id",      id,         "--listen",
                                  endpoint(id),       "--data",    dir_.path() + "/" + id,
                                  "--cluster",        std::to_string(kCluster), "--initial-view",
                                  initial_view_,      "--log-level", "warn"};
    auto p = std::make_unique<ChildProcess>(argv);
    ASSERT_FALSE(p->wait_for_prefix("ready ").empty()) << id << " did not start:\n" << p->transcript();
    procs_[id] = std::move(p);
  }
  void start_all() {
    for (const std::string& id : ids_) start(id);
  }
  void kill9(const std::string& id) { procs_.at(id)->kill_now(SIGKILL); }
  // SIGSTOP/SIGCONT: the process keeps its sockets but answers nothing.
  void signal(const std::string& id, int sig) { ::kill(procs_.at(id)->pid(), sig); }

  std::string endpoint(const std::string& id) const { return "127.0.0.1:" + std::to_string(ports_.at(id)); }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const std::string& id : ids_) out.push_back(endpoint(id));
    return out;
  }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  TempDir dir_;
  std::vector<std::string> ids_;
  std::map<std::string, unsigned short> ports_;
  std::string initial_view_;
  std::map<std::string, std::unique_ptr<ChildProcess>> procs_;
};

std::unique_ptr<Client> make_client(const std::vector<std::string>& endpoints, ClientOptions options = {}) {
  Client::Created c = Client::create(endpoints, options);
  EXPECT_TRUE(c) << c.error;
  return std::move(c.client);
}



std::string describe(const CallResult& r) {
  return std::string(to_string(r.outcome)) + ": " + r.message + " [payload \"" + r.payload + "\"]";
}

// The primary's id, as the node at `at` sees it ("" if it does not answer).
std::string primary_seen_by(Client& client, const std::string& at) {
  AdminResult r = client.status(at, 2s);
  return r.ok() ? r.primary : std::string();
}

TEST(ClientProcesses, WritesAndReadsSucceedOnThreeNodes) {
  Nodes nodes;
  nodes.start_all();
  std::unique_ptr<Client> client = make_client(nodes.endpoints());
  ASSERT_TRUE(client);
  EXPECT_EQ(client->cluster_id(), 0u) << "nothing was sent yet";
  std::vector<std::string> expected;
  for (int i = 1; i <= 20; ++i) {
    const std::string value = "v" + std::to_string(i);
    CallResult r = client->submit("append " + value, 20s);
    ASSERT_TRUE(r.ok()) << "op " << i << ": " << describe(r);
    EXPECT_EQ(r.payload, std::to_string(i)) << "op " << i << " applied at another place in the register";
    EXPECT_GT(r.as_of.seq, 0u);
    expected.push_back(value);
  }
  EXPECT_EQ(client->cluster_id(), kCluster) << "the cluster id is learned from the first answer";

  CallResult all = client->read("all", false, 20s);
  ASSERT_TRUE(all.ok()) << describe(all);
  EXPECT_EQ(items_of(all.payload), expected);
  ASSERT_FALSE(all.primary.empty());
  EXPECT_EQ(all.answered_by, all.primary_address) << "a linearizable read is answered by the primary";

  // Stale reads: any node, eventually everything.
  for (const std::string& id : nodes.ids()) {
    std::unique_ptr<Client> at_one = make_client({nodes.endpoint(id)});
    CallResult stale;
    EXPECT_TRUE(eventually([&] {
      stale = at_one->read("all", true, 2s);
      return stale.ok() && items_of(stale.payload) == expected;
    })) << id << ": " << describe(stale);
  }
}

TEST(ClientProcesses, AsyncWritesApplyInCallOrderOneAtATime) {
  Nodes nodes;
  nodes.start_all();
  std::unique_ptr<Client> client = make_client(nodes.endpoints());
  ASSERT_TRUE(client);
  std::vector<std::future<CallResult>> futures;
  for (int i = 1; i <= 30; ++i) futures.push_back(client->submit_async("append a" + std::to_string(i), 20s));
  // Reads run beside the writes, in their own queue.
  std::future<CallResult> count = client->read_async("count", false, 20s);
  for (int i = 1; i <= 30; ++i) {
    CallResult r = futures[static_cast<std::size_t>(i - 1)].get();
    ASSERT_TRUE(r.ok()) << "op " << i << ": " << describe(r);
    EXPECT_EQ(r.payload, std::to_string(i)) << "queued writes must apply in the order they were called";
  }
  CallResult c = count.get();
  ASSERT_TRUE(c.ok()) << describe(c);
  EXPECT_LE(std::stoi(c.payload), 30);

  // The callback form.
  std::promise<CallResult> got;
  client->submit_async("append last", 20s, [&](CallResult r) { got.set_value(std::move(r)); });
  CallResult last = got.get_future().get();
  ASSERT_TRUE(last.ok()) << describe(last);
  EXPECT_EQ(last.payload, "31");
}

TEST(ClientProcesses, ClientGivenOnlyABackupFindsThePrimary) {
  Nodes nodes;
  nodes.start_all();
  std::unique_ptr<Client> probe = make_client(nodes.endpoints());
  std::string primary;
  ASSERT_TRUE(eventually([&] { return !(primary = primary_seen_by(*probe, nodes.endpoint("n1"))).empty(); }));
  std::string backup;
  for (const std::string& id : nodes.ids()) {
    if (id != primary) backup = id;
  }
  std::unique_ptr<Client> client = make_client({nodes.endpoint(backup)});
  CallResult r = client->submit("append via-backup", 20s);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.payload, "1");
  EXPECT_EQ(r.primary, primary);
  EXPECT_EQ(r.answered_by, nodes.endpoint(primary)) << "the write was carried out by the primary, not " << backup;
  CallResult read = client->read("all", false, 20s);
  ASSERT_TRUE(read.ok()) << describe(read);
  EXPECT_EQ(read.payload, "via-backup");

  // Admin calls find it too.
  AdminResult members = client->list_members(10s);
  ASSERT_TRUE(members.ok()) << members.message;
  EXPECT_EQ(members.members.size(), 3u);
  int primaries = 0;
  for (const MemberInfo& m : members.members) {
    EXPECT_FALSE(m.address.empty()) << m.id;
    if (m.role == MemberRole::kPrimary) {
      ++primaries;
      EXPECT_EQ(m.id, primary);
      EXPECT_EQ(m.address, nodes.endpoint(primary));
    }
  }
  EXPECT_EQ(primaries, 1);
  AdminResult status = client->status(nodes.endpoint(backup), 5s);
  ASSERT_TRUE(status.ok()) << status.message;
  ASSERT_TRUE(status.node.has_value());
  EXPECT_EQ(status.node->id, backup);
  EXPECT_EQ(status.node->role, MemberRole::kBackup);
  EXPECT_GE(status.node->last, status.node->commit);
  AdminResult transfer = client->transfer_primary(backup, 5s);
  EXPECT_EQ(transfer.outcome, Outcome::kOk) << transfer.message;
}

// Writers under SIGKILL of the primary: every call ends kOk (its value is in
// the register, once) or kOutcomeUnknown (its value at most once), never a
// failure; and writes resume through the new primary.
TEST(ClientProcesses, SigkillOfThePrimaryDuringWritesLosesNothingAndWritesResume) {
  Nodes nodes;
  nodes.start_all();
  std::mutex mu;
  std::vector<std::string> acked, unknown, wrong;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      ClientOptions options;
      options.attempt_timeout = 500ms;
      std::unique_ptr<Client> client = make_client(nodes.endpoints(), options);
      // Bounded: each call by its timeout, the loop by its count.
      for (int i = 1; i <= 3000 && !stop; ++i) {
        const std::string value = "w" + std::to_string(w) + "-" + std::to_string(i);
        // Short enough that a call caught by the failover may end unknown.
        CallResult r = client->submit("append " + value, 2s);
        std::lock_guard lock(mu);
        if (r.outcome == Outcome::kOk) {
          acked.push_back(value);
        } else if (r.outcome == Outcome::kOutcomeUnknown) {
          unknown.push_back(value);
        } else {
          wrong.push_back(value + ": " + describe(r));
        }
      }
    });
  }
  auto acked_count = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  EXPECT_TRUE(eventually([&] { return acked_count() >= 40; })) << acked_count() << " acknowledged";
  std::unique_ptr<Client> admin = make_client(nodes.endpoints());
  const std::string old_primary = primary_seen_by(*admin, nodes.endpoint("n2"));
  ASSERT_FALSE(old_primary.empty());
  nodes.kill9(old_primary);
  const std::size_t at_kill = acked_count();
  EXPECT_TRUE(eventually([&] { return acked_count() >= at_kill + 40; }, 30s))
      << "writes did not resume: " << acked_count() - at_kill << " acknowledged since the kill";
  stop = true;
  for (std::thread& t : writers) t.join();

  std::lock_guard lock(mu);
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " calls ended neither ok nor unknown, e.g. " << wrong.front();
  std::unique_ptr<Client> reader = make_client(nodes.endpoints());
  CallResult all = reader->read("all", false, 20s);
  ASSERT_TRUE(all.ok()) << describe(all);
  std::map<std::string, int> seen;
  for (const std::string& item : items_of(all.payload)) ++seen[item];
  for (const std::string& value : acked) EXPECT_EQ(seen[value], 1) << "acknowledged " << value;
  for (const std::string& value : unknown) EXPECT_LE(seen[value], 1) << "unknown " << value;
  for (const auto& [value, times] : seen) EXPECT_EQ(times, 1) << value << " applied " << times << " times";
  std::cout << acked.size() << " writes acknowledged, " << unknown.size() << " ended with an unknown outcome\n";
}

// The primary freezes (SIGSTOP) with a write in its socket: the client gives
// up on it after attempt_timeout, retries the SAME request at the others until
// a new primary takes it, and the register grows by exactly one.
TEST(ClientProcesses, WriteRetriedAfterAFailoverAppliesExactlyOnce) {
  Nodes nodes;
  nodes.start_all();
  ClientOptions options;
  options.attempt_timeout = 400ms;
  std::unique_ptr<Client> client = make_client(nodes.endpoints(), options);
  for (int i = 1; i <= 5; ++i) {
    CallResult r = client->submit("append before" + std::to_string(i), 20s);
    ASSERT_TRUE(r.ok()) << describe(r);
    ASSERT_EQ(r.payload, std::to_string(i));
  }
  const std::string primary = client->read("count", false, 20s).primary;
  ASSERT_FALSE(primary.empty());
  nodes.signal(primary, SIGSTOP);
  CallResult r = client->submit("append retried", 30s);
  nodes.signal(primary, SIGCONT);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.payload, "6") << "the register grew by exactly one for this write";
  EXPECT_NE(r.primary, primary) << "a new primary took the retried write";

  // The frozen node woke with the first attempt still in its socket; it must
  // not add a second copy, now or after it caught up.
  CallResult next = client->submit("append after", 20s);
  ASSERT_TRUE(next.ok()) << describe(next);
  EXPECT_EQ(next.payload, "7");
  std::unique_ptr<Client> at_old = make_client({nodes.endpoint(primary)});
  CallResult stale;
  EXPECT_TRUE(eventually([&] {
    stale = at_old->read("all", true, 2s);
    return stale.ok() && items_of(stale.payload).size() == 7;
  })) << describe(stale);
  std::vector<std::string> items = items_of(stale.payload);
  EXPECT_EQ(std::count(items.begin(), items.end(), "retried"), 1);
  CallResult all = client->read("all", false, 20s);
  ASSERT_TRUE(all.ok()) << describe(all);
  EXPECT_EQ(all.payload, "before1,before2,before3,before4,before5,retried,after");
}

TEST(ClientProcesses, AllEndpointsDownEndsUnavailableWithinTheTimeout) {
  // Nothing listens on these ports.
  std::unique_ptr<Client> client =
      make_client({"127.0.0.1:" + std::to_string(free_port()), "127.0.0.1:" + std::to_string(free_port())});
  const auto started = Clock::now();
  CallResult w = client->submit("append x", 1s);
  const auto took = Clock::now() - started;
  EXPECT_EQ(w.outcome, Outcome::kUnavailable) << describe(w);
  // Bounded by its deadline (with room for a loaded machine), and it used it.
  EXPECT_LT(took, 4s);
  EXPECT_GE(took, 900ms) << "a call keeps trying until its deadline";
  EXPECT_EQ(client->read("all", false, 300ms).outcome, Outcome::kUnavailable);
  EXPECT_EQ(client->list_members(300ms).outcome, Outcome::kUnavailable);
  EXPECT_EQ(client->add_member("n9", "127.0.0.1:1", 300ms).outcome, Outcome::kUnavailable);
}

TEST(ClientProcesses, ClusterKilledAfterUseEndsUnavailableNotUnknown) {
  Nodes nodes;
  nodes.start_all();
  std::unique_ptr<Client> client = make_client(nodes.endpoints());
  ASSERT_TRUE(client->submit("append x", 20s).ok());
  for (const std::string& id : nodes.ids()) nodes.kill9(id);
  // The client still holds connections the nodes closed when they died: it
  // must notice before writing into them, or it would claim "maybe sent".
  CallResult r = client->submit("append y", 1s);
  EXPECT_EQ(r.outcome, Outcome::kUnavailable) << describe(r);
}

// A listener that never accepts: connections complete (the kernel's
// backlog) and bytes are taken, but no answer ever comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t length = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

TEST(ClientProcesses, WriteSentButNeverAnsweredEndsOutcomeUnknownNotFailure) {
  SilentListener silent;
  ClientOptions options;
  options.attempt_timeout = 200ms;
  std::unique_ptr<Client> client = make_client({silent.endpoint()}, options);
  const auto started = Clock::now();
  CallResult w = client->submit("append x", 1s);
  EXPECT_EQ(w.outcome, Outcome::kOutcomeUnknown) << describe(w);
  EXPECT_LT(Clock::now() - started, 4s) << "the 1 s deadline did not end the call";
  // A read changes nothing: no answer is just "unavailable".
  CallResult r = client->read("all", false, 500ms);
  EXPECT_EQ(r.outcome, Outcome::kUnavailable) << describe(r);
  // An admin change that was sent and not answered is not repeated.
  AdminResult add = client->add_member("n9", "127.0.0.1:1", 500ms);
  EXPECT_EQ(add.outcome, Outcome::kOutcomeUnknown) << add.message;
}

TEST(ClientProcesses, DestroyingTheClientEndsQueuedCallsPromptly) {
  SilentListener silent;
  std::unique_ptr<Client> client = make_client({silent.endpoint()});
  std::future<CallResult> in_flight = client->submit_async("append a", 30s);
  std::future<CallResult> queued = client->submit_async("append b", 30s);
  std::this_thread::sleep_for(100ms);
  const auto started = Clock::now();
  client.reset();
  EXPECT_LT(Clock::now() - started, 10s) << "the 30 s calls held the destructor";
  ASSERT_EQ(in_flight.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(in_flight.get().outcome, Outcome::kOutcomeUnknown) << "it was sent";
  CallResult q = queued.get();
  EXPECT_EQ(q.outcome, Outcome::kUnavailable) << "it was never sent: " << q.message;
}

TEST(ClientProcesses, CreateRefusesBadEndpoints) {
  EXPECT_FALSE(Client::create({}));
  Client::Created bad = Client::create({"127.0.0.1"});
  EXPECT_FALSE(bad);
  EXPECT_NE(bad.error.find("127.0.0.1"), std::string::npos) << bad.error;
  ClientOptions options;
  options.client_id = 42;
  Client::Created ok = Client::create({"localhost:7001", "[::1]:7002"}, options);
  ASSERT_TRUE(ok) << ok.error;
  EXPECT_EQ(ok.client->client_id(), 42u);
  EXPECT_NE(Client::create({"127.0.0.1:7001"}).client->client_id(), 0u);
}

}  // namespace
}  // namespace synod::testing
