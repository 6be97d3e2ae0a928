// NodeRuntime in this process: what start() refuses, and one node that
// serves, stops cleanly (the destructor) and restarts from its data dir.

#include "server/node_runtime.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "integration/append_register.h"
#include "integration/child_process.h"
#include "integration/test_client.h"

namespace synod::server {
namespace {

using namespace std::chrono_literals;
using testing::AppendRegister;
using testing::TempDir;
using testing::TestClient;

NodeRuntimeOptions single_node(const std::string& dir) {
  NodeRuntimeOptions o;
  o.self = "n1";
  o.cluster = 9;
  o.listen = net::Endpoint{"127.0.0.1", 0};
  o.data_dir = dir;
  o.initial_view = View::make(1, "n1", {}).value();
  return o;
}

std::string refusal(NodeRuntimeOptions o, std::unique_ptr<StateMachine> machine = std::make_unique<AppendRegister>()) {
  Result<std::unique_ptr<NodeRuntime>> r = NodeRuntime::start(std::move(o), std::move(machine));
  return r ? std::string("started") : r.error().message;
}

TEST(NodeRuntime, RefusesOptionsThatCannotWorkAndSaysWhy) {
  TempDir dir;
  EXPECT_NE(refusal(single_node(dir.path()), nullptr).find("state machine"), std::string::npos);

  NodeRuntimeOptions o = single_node(dir.path());
  o.initial_view = View::make(2, "n1", {}).value();
  EXPECT_NE(refusal(o).find("view 1"), std::string::npos);

  o = single_node(dir.path());
  o.initial_view = View::make(1, "n1", {"n2"}).value();
  EXPECT_NE(refusal(o).find("no address for n2"), std::string::npos);

  o = single_node(dir.path());
  o.tick_ms = 0;
  EXPECT_NE(refusal(o).find("tick_ms"), std::string::npos);

  o = single_node(dir.path());
  o.op_bytes_max = net::kClientOpBytesMax + 1;
  EXPECT_NE(refusal(o).find("op_bytes_max"), std::string::npos);
}

TEST(NodeRuntime, ADataDirServesOneNodeAtATime) {
  TempDir dir;
  auto first = NodeRuntime::start(single_node(dir.path()), std::make_unique<AppendRegister>());
  ASSERT_TRUE(first) << first.error().message;
  const std::string second = refusal(single_node(dir.path()));
  EXPECT_NE(second, "started");
  EXPECT_NE(second.find(dir.path()), std::string::npos) << second;
}

TEST(NodeRuntime, ASingleNodeServesStopsCleanlyAndRestartsFromItsDataDir) {
  TempDir dir;
  std::string endpoint;
  {
    auto runtime = NodeRuntime::start(single_node(dir.path()), std::make_unique<AppendRegister>());
    ASSERT_TRUE(runtime) << runtime.error().message;
    endpoint = "127.0.0.1:" + std::to_string((*runtime)->listen_port());
    TestClient client({endpoint}, 11);
    Viewstamp last_op;
    for (int i = 1; i <= 5; ++i) {
      Result<net::ClientReply> r = client.submit("append " + std::to_string(i));
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(r->payload, std::to_string(i));
      last_op = r->as_of;
    }
    NodeRuntimeStatus status = (*runtime)->status();
    EXPECT_EQ(status.self, "n1");
    EXPECT_EQ(status.view.vid, 1u);
    EXPECT_EQ(status.role, net::NodeRole::kPrimary);
    EXPECT_GE(status.commit, last_op);
    EXPECT_GE(status.applied, last_op);
    EXPECT_FALSE(status.fatal.has_value());
    NodeRuntimeStats stats = (*runtime)->stats();
    EXPECT_GE(stats.entries_applied, 5u);
    EXPECT_GE(stats.batches_persisted, 1u);
    EXPECT_GE(stats.client_requests, 5u);
    EXPECT_GE(stats.client_replies, 5u);
  }  // the destructor stops the node

  auto runtime = NodeRuntime::start(single_node(dir.path()), std::make_unique<AppendRegister>());
  ASSERT_TRUE(runtime) << runtime.error().message;
  TestClient client({"127.0.0.1:" + std::to_string((*runtime)->listen_port())}, 12);
  Result<net::ClientReply> all = client.read("all", false);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->payload, "1,2,3,4,5");
  // A restarted primary never orders in its old view again.
  EXPECT_EQ(all->view, 2u);
  Result<net::ClientReply> more = client.submit("append 6");
  ASSERT_TRUE(more) << more.error().message;
  EXPECT_EQ(more->payload, "6");
  Result<net::ClientReply> stale = client.read("count", true);
  ASSERT_TRUE(stale) << stale.error().message;
  EXPECT_EQ(stale->payload, "6");
}

TEST(NodeRuntime, AnswersARetryOfAnAppliedRequestFromTheSessionTable) {
  TempDir dir;
  auto runtime = NodeRuntime::start(single_node(dir.path()), std::make_unique<AppendRegister>());
  ASSERT_TRUE(runtime) << runtime.error().message;
  const std::string endpoint = "127.0.0.1:" + std::to_string((*runtime)->listen_port());
  TestClient client({endpoint}, 21);
  ASSERT_TRUE(client.submit("append a"));
  // The same (client, request_no) again, by hand: the first reply, not a second append.
  TestClient same_session({endpoint}, 21);
  Result<net::ClientReply> retry = same_session.submit("append a");
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->payload, "1");
  Result<net::ClientReply> count = client.read("count", false);
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(count->payload, "1");
}

}  // namespace
}  // namespace synod::server
