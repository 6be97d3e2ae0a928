#pragma once
// Blocking request/reply exchanges with synod nodes over TCP, every wait
// bounded by a deadline. Asio stays in connection.cpp: each wait runs the
// owning thread's io_context until the operation completes or the deadline
// passes; on a timeout the socket is closed and the aborted operation is run
// to completion before the wait returns, so no handler outlives its call.
//
// One ConnectionPool belongs to one thread (a client lane, or the thread of
// an admin call); only interrupt() may be called from another thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "net/client_protocol.h"

namespace synod::client {

using Clock = std::chrono::steady_clock;
using Accept = std::function<bool(const net::ClientMessage&)>;

// One attempt at one node.
struct Exchange {
  std::optional<net::ClientMessage> reply;  // the accepted answer, when one came
  // The request's frame left whole: the node may have acted on it even if no
  // answer came (only then can a write's outcome be unknown).
  bool sent_in_full = false;
  std::string error;  // no answer: why, for a person
};

class ConnectionPool {
 public:
  // `cluster` is shared by every pool of a client: 0 until the first valid
  // frame from a node names it; frames go out with it.
  explicit ConnectionPool(std::atomic<std::uint64_t>& cluster);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Connects to `at` if needed (reusing an open connection), sends `request`
  // and waits for a message that `accept` takes (others, such as late answers
  // to earlier attempts, are dropped), all by `deadline`. Any failure closes
  // that connection.
  Exchange exchange(const std::string& at, const net::ClientMessage& request, const Accept& accept,
                    Clock::time_point deadline);

  // From any thread: every wait in progress or to come returns at once, failed.
  void interrupt();
  bool interrupted() const { return interrupted_.load(); }

  // Closes every connection.
  void close_all();

 private:
  struct Loop;
  class Connection;
  Connection& connection(const std::string& at);
  void drop(const std::string& at);

  std::atomic<std::uint64_t>& cluster_;
  std::atomic<bool> interrupted_{false};
  std::unique_ptr<Loop> loop_;
  std::map<std::string, std::unique_ptr<Connection>> connections_;
};

}  // namespace synod::client
