#pragma once
// A minimal blocking client of the synod wire protocol, for tests against
// real processes (the real client library comes later). Plain sockets, one
// connection at a time, every wait bounded.
//
// submit() numbers each op once and retries it with the SAME (client_id,
// request_no) until it is answered or its budget runs out: on a redirect to
// the primary named in the reply, on "busy" after a short pause, and on a
// broken or silent connection at the next endpoint. So an op is applied at
// most once however often it is retried, across failovers.
//
// The client starts without knowing the cluster id (it sends 0) and adopts
// the one in the first reply.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/client_protocol.h"
#include "net/frame.h"

namespace synod::testing {

class TestClient {
 public:
  // endpoints: "host:port" of the nodes, tried in turn.
  TestClient(std::vector<std::string> endpoints, std::uint64_t client_id);
  ~TestClient();

  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // A write; the reply is kOk (with the state machine's answer), or an Error
  // saying what happened last (kError, kSessionExpired, or out of time).
  Result<net::ClientReply> submit(const std::string& op, std::chrono::milliseconds budget = std::chrono::seconds(20));

  // A read. Linearizable ones follow redirects to the primary; a stale one
  // is asked of `at` (an endpoint) when given.
  Result<net::ClientReply> read(const std::string& op, bool allow_stale,
                                std::chrono::milliseconds budget = std::chrono::seconds(20),
                                const std::string& at = "");

  // One admin request to one endpoint, no retries.
  Result<net::AdminReply> admin(const std::string& at, net::AdminRequest request,
                                std::chrono::milliseconds budget = std::chrono::seconds(5));

  ClusterId cluster() const { return cluster_; }
  std::uint64_t next_request_no() const { return next_request_no_; }
  // Attempts that went to another node (redirects and broken connections).
  std::uint64_t redirects() const { return redirects_; }

 private:
  // Sends a request and waits for the reply frame matching `accept`, up to
  // the deadline. Returns nullopt on a broken or silent connection.
  std::optional<net::ClientMessage> exchange(const std::string& at, const net::ClientMessage& request,
                                             std::chrono::steady_clock::time_point deadline,
                                             const std::function<bool(const net::ClientMessage&)>& accept);
  Result<net::ClientReply> call(const net::ClientMessage& request, std::uint64_t number, bool read,
                                std::chrono::milliseconds budget, const std::string& fixed_target);
  bool connect_to(const std::string& at, std::chrono::steady_clock::time_point deadline);
  void disconnect();

  std::vector<std::string> endpoints_;
  std::uint64_t client_id_;
  std::uint64_t next_request_no_ = 1;
  std::uint64_t next_admin_id_ = 1;
  std::uint64_t redirects_ = 0;
  ClusterId cluster_ = 0;
  std::string target_;     // where requests go next
  std::size_t next_endpoint_ = 0;
  int fd_ = -1;
  std::string connected_to_;
  std::string buffer_;     // bytes read before the decoder knows the cluster id
  std::unique_ptr<net::FrameDecoder> decoder_;  // per connection, once the first header arrived
};

}  // namespace synod::testing
