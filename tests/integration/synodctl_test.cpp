// synodctl end to end: a three-node cluster of real `synod` daemons (the KV
// store) on 127.0.0.1, driven by running the synodctl binary and checking
// its stdout, stderr and exit code (0 done, 1 missing / condition failed,
// 2 usage, 3 unavailable).

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/child_process.h"
#include "synod/client.h"
#include "synod/kv_client.h"

namespace synod::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct CtlRun {
  int exit_code = -1;  // -1: killed for running past its limit
  std::string out;
  std::string err;
};

// Runs synodctl with `args`, bounded by `limit`.
CtlRun synodctl(const std::vector<std::string>& args, std::chrono::milliseconds limit = 30s) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return CtlRun{-1, "", "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    close(out[0]);
    close(err[0]);
    std::vector<std::string> argv{SYNODCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  CtlRun run;
  const auto deadline = Clock::now() + limit;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  while (open > 0 && Clock::now() < deadline) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (poll(fds, 2, std::max(left, 1)) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      (i == 0 ? run.out : run.err).append(buf, static_cast<std::size_t>(n));
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  if (open > 0) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (open == 0 && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

std::string show(const CtlRun& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

// A cluster of `synod` daemons.
class Daemons {
 public:
  explicit Daemons(std::vector<std::string> extra_flags = {}) : extra_(std::move(extra_flags)) {
    for (const std::string& id : ids_) {
      ports_[id] = free_port();
      view_ += (view_.empty() ? "" : ",") + id + "=" + endpoint(id);
    }
  }
  void start_all() {
    for (const std::string& id : ids_) {
      std::vector<std::string> argv{SYNOD_BIN,      "--id",        id,    "--data", dir_.path() + "/" + id,
                                    "--initial-view", view_, "--log-level", "warn"};
      argv.insert(argv.end(), extra_.begin(), extra_.end());
      procs_[id] = std::make_unique<ChildProcess>(argv);
    }
    // Serving once a status answers.
    Client::Created c = Client::create({endpoint("n1")});
    ASSERT_TRUE(c) << c.error;
    for (const std::string& id : ids_) {
      const auto deadline = Clock::now() + 20s;
      while (!c.client->status(endpoint(id), 1s).ok()) {
        ASSERT_LT(Clock::now(), deadline) << id << " does not answer";
        std::this_thread::sleep_for(50ms);
      }
    }
  }
  void kill_all() {
    for (auto& [id, p] : procs_) p->kill_now(SIGKILL);
  }
  // Starts a node outside the initial view, waiting as a learner to be added.
  void start_joiner(const std::string& id) {
    ports_[id] = free_port();
    procs_[id] = std::make_unique<ChildProcess>(std::vector<std::string>{
        SYNOD_BIN, "--id", id, "--data", dir_.path() + "/" + id, "--listen", endpoint(id), "--initial-view", view_,
        "--join", endpoint("n1"), "--log-level", "warn"});
  }
  std::string endpoint(const std::string& id) const { return "127.0.0.1:" + std::to_string(ports_.at(id)); }
  std::string endpoints() const { return endpoint("n1") + "," + endpoint("n2") + "," + endpoint("n3"); }
  std::vector<std::string> endpoint_list() const { return {endpoint("n1"), endpoint("n2"), endpoint("n3")}; }

 private:
  std::vector<std::string> extra_;
  TempDir dir_;
  std::vector<std::string> ids_{"n1", "n2", "n3"};
  std::map<std::string, unsigned short> ports_;
  std::string view_;
  std::map<std::string, std::unique_ptr<ChildProcess>> procs_;
};

class Synodctl : public ::testing::Test {
 public:
  CtlRun ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--endpoints", cluster_.endpoints(), "--timeout", "10s"});
    return synodctl(args);
  }

 protected:
  void SetUp() override { cluster_.start_all(); }
  Daemons cluster_;
};

TEST_F(Synodctl, PutGetCasDelListWithTheirExitCodes) {
  CtlRun r = ctl({"put", "config/mode", "fast"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  r = ctl({"get", "config/mode"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out, "fast") << "get prints the value alone";

  // --if-version: 1 holds, 5 does not.
  r = ctl({"put", "config/mode", "faster", "--if-version", "5"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("version 1"), std::string::npos) << show(r);
  r = ctl({"put", "config/mode", "faster", "--if-version", "1"});
  EXPECT_EQ(r.exit_code, 0) << show(r);

  r = ctl({"cas", "config/mode", "wrong", "x"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  r = ctl({"cas", "config/mode", "faster", "fastest"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  r = ctl({"get", "config/mode", "--stale"});
  EXPECT_EQ(r.exit_code, 0) << show(r);  // a stale read may lag, but n1's answer is here or older
  r = ctl({"get", "config/mode"});
  EXPECT_EQ(r.out, "fastest") << show(r);

  ASSERT_EQ(ctl({"put", "config/size", "9"}).exit_code, 0);
  ASSERT_EQ(ctl({"put", "other", "1"}).exit_code, 0);
  r = ctl({"list", "config/"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out, "config/mode\tfastest\nconfig/size\t9\n");
  r = ctl({"list", "config/", "--limit", "1"});
  EXPECT_EQ(r.out, "config/mode\tfastest\n") << show(r);
  EXPECT_NE(r.err.find("more keys"), std::string::npos) << show(r);

  r = ctl({"del", "config/size"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  r = ctl({"del", "config/size"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  r = ctl({"get", "config/size"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("not found"), std::string::npos) << show(r);
  r = ctl({"cas", "missing", "a", "b"});
  EXPECT_EQ(r.exit_code, 1) << show(r);

  // Usage errors: nothing sent.
  r = ctl({"put", "only-a-key"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  r = ctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
}

TEST_F(Synodctl, JsonOutputIsOneObject) {
  ASSERT_EQ(ctl({"put", "k", "v\"1"}).exit_code, 0);
  CtlRun r = ctl({"--json", "get", "k"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out.rfind("{\"ok\":true,\"entry\":{\"key\":\"k\",\"value\":\"v\\\"1\",\"version\":1", 0), 0u) << show(r);
  EXPECT_EQ(r.out.back(), '\n');
  r = ctl({"--json", "get", "nope"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_EQ(r.out.rfind("{\"ok\":false,\"error\":\"not_found\"", 0), 0u) << show(r);
  r = ctl({"--json", "list", ""});
  EXPECT_NE(r.out.find("\"count\":1"), std::string::npos) << show(r);
  r = ctl({"--json", "member", "list"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_NE(r.out.find("\"role\":\"primary\""), std::string::npos) << show(r);
}

TEST_F(Synodctl, MemberListAndStatusShowEveryMember) {
  CtlRun r = ctl({"member", "list"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  for (const char* id : {"n1", "n2", "n3"}) {
    EXPECT_NE(r.out.find(std::string(id) + "\t" + cluster_.endpoint(id)), std::string::npos) << show(r);
  }
  EXPECT_NE(r.out.find("primary"), std::string::npos) << show(r);

  r = ctl({"status"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out.rfind("ID\tADDRESS\tROLE\tVIEW\tLAST\tCOMMIT\tREACHABLE", 0), 0u) << show(r);
  for (const char* id : {"n1", "n2", "n3"}) {
    EXPECT_NE(r.out.find(std::string(id) + "\t" + cluster_.endpoint(id)), std::string::npos) << show(r);
  }
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << "a header and one row per member\n" << show(r);

  // Given one endpoint, status still finds and asks every member.
  r = synodctl({"--endpoints", cluster_.endpoint("n2"), "--json", "status"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out.find("\"reachable\":false"), std::string::npos) << show(r);
  EXPECT_NE(r.out.find("\"id\":\"n3\""), std::string::npos) << show(r);

}

// Waits (bounded) until `member list` shows `line`.
bool member_list_shows(Synodctl* test, const std::string& line) {
  const auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    if (test->ctl({"member", "list"}).out.find(line) != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

TEST_F(Synodctl, TransferPrimaryHandsTheRoleOverAndWritesGoOn) {
  ASSERT_EQ(ctl({"put", "before", "1"}).exit_code, 0);
  CtlRun r = ctl({"transfer-primary", "n2"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_TRUE(member_list_shows(this, "n2\t" + cluster_.endpoint("n2") + "\tprimary")) << show(ctl({"member", "list"}));
  EXPECT_EQ(ctl({"put", "after", "2"}).exit_code, 0);
  r = ctl({"get", "before"});
  EXPECT_EQ(r.out, "1") << show(r);
  r = ctl({"transfer-primary", "n9"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("not a member"), std::string::npos) << show(r);
}

// A fourth node, started with the cluster's initial view and --join, is
// added through synodctl, receives the data, and serves it.
TEST_F(Synodctl, ANodeStartedWithJoinIsAddedAndServesTheData) {
  ASSERT_EQ(ctl({"put", "k", "v"}).exit_code, 0);
  cluster_.start_joiner("n4");
  CtlRun r = ctl({"member", "add", "n4", cluster_.endpoint("n4")});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  ASSERT_TRUE(member_list_shows(this, "n4\t" + cluster_.endpoint("n4") + "\tbackup")) << show(ctl({"member", "list"}));
  ASSERT_EQ(ctl({"put", "k2", "v2"}).exit_code, 0);
  const auto deadline = Clock::now() + 20s;
  do {
    r = synodctl({"--endpoints", cluster_.endpoint("n4"), "--timeout", "5s", "get", "--stale", "k2"});
    if (r.out == "v2") break;
    std::this_thread::sleep_for(100ms);
  } while (Clock::now() < deadline);
  EXPECT_EQ(r.out, "v2") << "n4 never applied what was written after it joined\n" << show(r);
  r = synodctl({"--endpoints", cluster_.endpoint("n4"), "get", "--stale", "k"});
  EXPECT_EQ(r.out, "v") << "n4 lacks what was written before it joined\n" << show(r);
}

TEST_F(Synodctl, UnreachableClusterExitsThreeWithinTheTimeout) {
  cluster_.kill_all();
  const auto started = Clock::now();
  CtlRun r = synodctl({"--endpoints", cluster_.endpoints(), "--timeout", "1s", "put", "k", "v"});
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_EQ(r.exit_code, 3) << show(r);
  EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << show(r);
  r = synodctl({"--endpoints", cluster_.endpoints(), "--timeout", "500ms", "get", "k"});
  EXPECT_EQ(r.exit_code, 3) << show(r);
  r = synodctl({"--endpoints", cluster_.endpoints(), "--timeout", "500ms", "status"});
  EXPECT_EQ(r.exit_code, 3) << show(r);
  EXPECT_NE(r.out.find("\tno\t"), std::string::npos) << "unreachable rows are shown\n" << show(r);
}

// The typed KV client (synod/kv_client.h) on the same daemons.
TEST_F(Synodctl, KvClientFollowsTheStoresVersionRules) {
  KvClient::Created created = KvClient::create(cluster_.endpoint_list());
  ASSERT_TRUE(created) << created.error;
  KvClient& kv = *created.client;
  KvResult r = kv.put("a", "1", std::uint64_t{0}, 10s);  // only if absent
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_TRUE(r.entry.has_value());
  EXPECT_EQ(r.entry->version, 1u);
  r = kv.put("a", "2", std::uint64_t{0}, 10s);
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.status, KvStatus::kConditionFailed);
  ASSERT_TRUE(r.entry.has_value());
  EXPECT_EQ(r.entry->value, "1") << "a failed condition answers the key as it is";
  r = kv.cas("a", "1", "3", 10s);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.entry->version, 2u);
  r = kv.get("a", ReadConsistency::kLinearizable, 10s);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.entry->value, "3");
  EXPECT_GT(r.as_of.seq, 0u);
  std::future<KvResult> pending = kv.put_async("b", "x", std::nullopt, 10s);
  ASSERT_TRUE(pending.get().ok());
  r = kv.list("", 0, ReadConsistency::kLinearizable, 10s);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].key, "a");
  EXPECT_EQ(r.entries[1].key, "b");
  EXPECT_FALSE(r.more);
  r = kv.del("a", std::uint64_t{1}, 10s);
  EXPECT_EQ(r.status, KvStatus::kConditionFailed);
  r = kv.del("a", std::nullopt, 10s);
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(kv.get("a", ReadConsistency::kLinearizable, 10s).status, KvStatus::kNotFound);
  // Refused before sending: an empty key.
  r = kv.put("", "v");
  EXPECT_EQ(r.status, KvStatus::kInvalid);
  EXPECT_FALSE(r.message.empty());
}

// A client idle past --session-timeout loses its session: its next write
// ends kSessionExpired (its outcome unknown), and the client goes on under
// a new session.
TEST(SynodctlSessions, AnExpiredSessionIsReportedThenANewOneStarts) {
  Daemons cluster({"--session-timeout", "500ms"});
  cluster.start_all();
  Client::Created created = Client::create(cluster.endpoint_list());
  ASSERT_TRUE(created) << created.error;
  KvClient kv(std::move(created.client));
  ASSERT_TRUE(kv.put("k", "1", std::nullopt, 10s).ok());
  const std::uint64_t first_id = kv.client().client_id();
  // Idle on purpose (nothing to wait for but time): other clients' writes
  // move the log on, which is what lets the primary expire idle sessions.
  KvClient::Created other = KvClient::create(cluster.endpoint_list());
  ASSERT_TRUE(other);
  KvResult r;
  const auto deadline = Clock::now() + 20s;
  bool expired = false;
  for (int i = 0; !expired && Clock::now() < deadline; ++i) {
    ASSERT_TRUE(other.client->put("tick", std::to_string(i), std::nullopt, 10s).ok());
    std::this_thread::sleep_for(200ms);
    if (i % 10 == 9) {
      r = kv.put("k", "again", std::nullopt, 10s);
      expired = r.outcome == Outcome::kSessionExpired;
      ASSERT_TRUE(expired || r.ok()) << to_string(r.outcome) << ": " << r.message;
    }
  }
  ASSERT_TRUE(expired) << "the session never expired";
  EXPECT_NE(kv.client().client_id(), first_id) << "a new session for later calls";
  r = kv.put("k", "new-session", std::nullopt, 10s);
  EXPECT_TRUE(r.ok()) << to_string(r.outcome) << ": " << r.message;
}

}  // namespace
}  // namespace synod::testing
