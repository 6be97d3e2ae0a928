#pragma once
// Binds the I/O-free Paxos core to the real world: RocksDB for its durable
// writes, the TCP transport for its messages, a steady clock for its ticks.
//
// One protocol thread owns the core and the store. It wakes on an inbound
// message, a local request or the next tick, then runs the Ready loop:
// send what may go now, persist the batch with one synced write, tell the
// core it is durable (which releases the replies that waited), deliver
// decisions. The network thread only decodes frames and queues them.

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/view.h"
#include "net/endpoint.h"
#include "paxos/node.h"

namespace synod::server {

struct PaxosRuntimeOptions {
  NodeId self;
  ClusterId cluster = 0;
  net::Endpoint listen;
  std::string data_dir;
  View initial_view;                               // view 1, identical on every node
  std::map<NodeId, net::Endpoint> peers;           // address book (self may be listed)
  std::uint32_t tick_ms = 10;
  // Timing in ticks; see paxos::Config. The defaults suit a LAN.
  std::uint32_t round_timeout_ticks = 30;
  std::uint32_t backoff_ticks_max = 20;
  std::uint32_t learn_interval_ticks = 20;
};

struct PaxosRuntimeStats {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_undecodable = 0;
  std::uint64_t batches_persisted = 0;
  std::uint64_t writes_persisted = 0;
};

class PaxosRuntime {
 public:
  // Called on the protocol thread for every decision, in instance order, once
  // it is durable. Must not block for long.
  using OnDecision = std::function<void(const paxos::Decision&)>;

  // Opens (or creates) the data directory, recovers the durable state, binds
  // the listen address and starts the threads. Errors say what to fix.
  static Result<std::unique_ptr<PaxosRuntime>> start(PaxosRuntimeOptions options, OnDecision on_decision);
  ~PaxosRuntime();

  PaxosRuntime(const PaxosRuntime&) = delete;
  PaxosRuntime& operator=(const PaxosRuntime&) = delete;

  // Runs propose() on the protocol thread; the future holds its immediate
  // answer (accepted for proposing, or why not), not the decision.
  std::future<Status> propose(Instance instance, View value);

  // The decisions recovered from disk at start, in instance order.
  const std::vector<paxos::Decision>& recovered() const;
  View latest_view() const;
  std::uint16_t listen_port() const;
  PaxosRuntimeStats stats() const;

 private:
  struct Impl;
  explicit PaxosRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::server
