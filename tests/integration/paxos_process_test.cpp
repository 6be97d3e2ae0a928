// Three Paxos nodes as real processes on 127.0.0.1, each with its own RocksDB
// directory, deciding views over TCP while one of them is SIGKILLed.

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <memory>

#include "integration/child_process.h"

namespace synod::testing {
namespace {

class PaxosProcessCluster {
 public:
  PaxosProcessCluster() {
    for (const char* id : {"n1", "n2", "n3"}) {
      ports_[id] = free_port();
      if (!peers_.empty()) peers_ += ",";
      peers_ += std::string(id) + "=127.0.0.1:" + std::to_string(ports_[id]);
    }
  }

  // Starts (or restarts, from the same data dir) a node and waits until it
  // listens. Returns the decisions it recovered from disk, in order.
  std::vector<std::string> start(const std::string& id) {
    auto p = std::make_unique<ChildProcess>(std::vector<std::string>{
        SYNOD_PAXOS_NODE_BIN, "--id", id, "--listen", "127.0.0.1:" + std::to_string(ports_[id]), "--data",
        dir_.path() + "/" + id, "--cluster", "7", "--peers", peers_, "--initial-view", "n1,n2,n3"});
    std::string ready = p->wait_for_prefix("ready ");
    EXPECT_FALSE(ready.empty()) << id << " did not start:\n" << p->transcript();
    std::vector<std::string> recovered;
    while (true) {
      std::string d = p->wait_for_prefix("decided ", std::chrono::milliseconds(0));
      if (d.empty()) break;
      recovered.push_back(d);
    }
    procs_[id] = std::move(p);
    return recovered;
  }

  void kill9(const std::string& id) { procs_.at(id)->kill_now(SIGKILL); }

  ChildProcess& at(const std::string& id) { return *procs_.at(id); }

  void propose(const std::string& at_node, const std::string& instance, const std::string& members) {
    at(at_node).write_line("propose " + instance + " " + members);
    std::string answer = at(at_node).wait_for_prefix("proposed " + instance);
    EXPECT_EQ(answer, "proposed " + instance + " ok") << at(at_node).transcript();
  }

  // Waits until `id` reports exactly this decision.
  void expect_decided(const std::string& id, const std::string& decision) {
    std::string line = at(id).wait_for([&](const std::string& l) { return l.rfind("decided " + decision.substr(0, decision.find(' ')) + " ", 0) == 0; });
    EXPECT_EQ(line, "decided " + decision) << id << ":\n" << at(id).transcript();
  }

 private:
  TempDir dir_;
  std::map<std::string, unsigned short> ports_;
  std::string peers_;
  std::map<std::string, std::unique_ptr<ChildProcess>> procs_;
};

TEST(PaxosProcesses, DecisionsSurviveSigkillAndRestartedNodeLearnsWhatItMissed) {
  PaxosProcessCluster c;
  for (const char* id : {"n1", "n2", "n3"}) EXPECT_TRUE(c.start(id).empty());

  c.propose("n1", "2", "n1 n2 n3");
  for (const char* id : {"n1", "n2", "n3"}) c.expect_decided(id, "2 2{n1*,n2,n3}");

  // n3 dies between instances; the majority goes on without it.
  c.kill9("n3");
  c.propose("n2", "3", "n2 n1 n3");
  for (const char* id : {"n1", "n2"}) c.expect_decided(id, "3 3{n2*,n1,n3}");
  c.propose("n1", "4", "n1 n2");
  for (const char* id : {"n1", "n2"}) c.expect_decided(id, "4 4{n1*,n2}");

  // Restarted from its own data dir, n3 recovers instance 2 from RocksDB and
  // learns 3 and 4 by itself (nobody proposes again).
  std::vector<std::string> recovered = c.start("n3");
  EXPECT_EQ(recovered, std::vector<std::string>{"decided 2 2{n1*,n2,n3}"});
  c.expect_decided("n3", "3 3{n2*,n1,n3}");
  c.expect_decided("n3", "4 4{n1*,n2}");

  // A SIGKILLed member of the newest view comes back with every decision.
  c.kill9("n1");
  recovered = c.start("n1");
  EXPECT_EQ(recovered, (std::vector<std::string>{"decided 2 2{n1*,n2,n3}", "decided 3 3{n2*,n1,n3}",
                                                  "decided 4 4{n1*,n2}"}));
  // Instance 5's acceptors are view 4's members {n1, n2}: both must take part.
  c.propose("n1", "5", "n1 n2 n3");
  for (const char* id : {"n1", "n2", "n3"}) c.expect_decided(id, "5 5{n1*,n2,n3}");
}

TEST(PaxosProcesses, ProposingWithoutTheMajorityDecidesNothingUntilItReturns) {
  PaxosProcessCluster c;
  for (const char* id : {"n1", "n2", "n3"}) c.start(id);
  c.kill9("n2");
  c.kill9("n3");
  c.propose("n1", "2", "n1");
  EXPECT_EQ(c.at("n1").wait_for_prefix("decided 2", std::chrono::milliseconds(1500)), "")
      << "decided without a majority:\n" << c.at("n1").transcript();
  c.start("n2");
  c.expect_decided("n1", "2 2{n1*}");
  c.expect_decided("n2", "2 2{n1*}");
}

}  // namespace
}  // namespace synod::testing
