#pragma once
// Runs one member of the replicated state machine for real: the I/O-free
// rsm::Node bound to RocksDB (its data dir), TCP (one port for peers and
// clients) and a steady clock (its ticks), applying committed operations to
// the application's StateMachine and answering clients.
//
// Threads: one protocol thread owns the node, the store, the applier and the
// state machine. It wakes on an inbound message, a client request or the
// next tick, then runs the Ready loop as rsm/node.h documents it:
//   send the messages (safe at once); answer redirects and "busy";
//   persist the batch with ONE synced write, then on_durable(write_id);
//   restore an installed snapshot; apply the committed entries and answer
//   the clients waiting here; serve the granted reads; take a due snapshot.
// The network thread only decodes frames and queues them.
//
// Invariants:
// - Nothing is acknowledged before it is durable: the core releases acks and
//   promises only on on_durable(), which follows a successful synced write.
//   So a SIGKILL loses nothing acknowledged, to a peer or to a client.
// - A client hears the result of a write only once it has been applied here,
//   i.e. committed (durable on a majority of its view).
// - A failed write is fatal: the node stops taking part (no more sends, no
//   more on_durable) and says why; restarting it recovers from the disk.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/view.h"
#include "net/client_protocol.h"
#include "net/endpoint.h"
#include "synod/state_machine.h"

namespace synod::server {

struct NodeRuntimeOptions {
  NodeId self;
  ClusterId cluster = 0;
  net::Endpoint listen;                            // port 0: any free port (see listen_port())
  std::string data_dir;
  View initial_view;                               // view 1, identical on every node
  // The address book: every member of the initial view but ourselves must be
  // here; other nodes that may join can be too. Our own entry, when present,
  // is the address clients are told to use for us (else the listen address).
  // Admin kAddMember adds the new node's address on the primary that takes
  // it, and only there. LIMITATION: the other members do not learn it (it is
  // not replicated), so a later primary cannot reach a node added at runtime
  // unless its address is in that primary's peers; list every node that may
  // ever join in every node's peers until addresses travel with the views.
  std::map<NodeId, net::Endpoint> peers;

  std::uint32_t tick_ms = 10;
  // Timing in ticks of tick_ms. The defaults fail over in well under a
  // second on a LAN: a backup suspects a silent primary after 300-500 ms
  // (heartbeats every 50 ms), and a Paxos round of a few round trips follows.
  std::uint32_t heartbeat_ticks = 5;
  std::uint32_t resend_ticks = 20;
  std::uint32_t primary_timeout_ticks = 30;
  std::uint32_t primary_timeout_jitter_ticks = 20;
  std::uint32_t view_change_timeout_ticks = 100;
  std::uint32_t paxos_round_timeout_ticks = 30;
  std::uint32_t paxos_backoff_ticks_max = 20;
  std::uint32_t paxos_learn_interval_ticks = 20;
  std::uint32_t session_idle_ticks = 0;            // 0: sessions never expire
  std::size_t snapshot_after_entries = 0;          // 0: never snapshot, never compact
  std::size_t pending_requests_max = 10000;        // requests queued at the primary, and clients waiting here
  // Largest op a client may submit. One Append carries up to
  // append_entries_max entries and must fit one 4 MiB frame.
  std::size_t op_bytes_max = 64 * 1024;
  std::size_t append_entries_max = 32;
  std::uint64_t seed = 0;                          // jitter and backoff; 0: drawn at start

  // Called once, on the protocol thread, when a fatal error stopped the node
  // (a failed write). The node has stopped by then; a daemon typically exits.
  std::function<void(const std::string& why)> on_fatal;
};

// A consistent picture of the node, for other threads.
struct NodeRuntimeStatus {
  NodeId self;
  View view;
  net::NodeRole role = net::NodeRole::kBackup;
  Viewstamp last;       // the last entry of its log (or snapshot)
  Viewstamp commit;     // its commit point
  Viewstamp applied;    // applied to the state machine
  std::optional<std::string> fatal;  // why the node stopped, once it has
};

// Monotonic counters since start().
struct NodeRuntimeStats {
  std::uint64_t peer_messages_in = 0;
  std::uint64_t messages_undecodable = 0;     // frames refused (their connection closed)
  std::uint64_t messages_dropped = 0;         // the protocol thread's queue was full
  std::uint64_t client_requests = 0;          // ops, reads and admin requests taken
  std::uint64_t client_replies = 0;           // answers handed to the transport
  std::uint64_t batches_persisted = 0;
  std::uint64_t entries_applied = 0;
  std::uint64_t reads_served = 0;
  std::uint64_t snapshots_taken = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t views_entered = 0;
  // From the transport: connections closed for a bad frame, and answers to
  // clients that never left (their connection had closed, or its queue was full).
  std::uint64_t frames_rejected = 0;
  std::uint64_t replies_dropped = 0;
};

class NodeRuntime {
 public:
  // Opens (or creates) the data dir and recovers the node from it. A node
  // whose stored state fails its checks is wiped and restarted empty, to be
  // rebuilt by the cluster (it votes again only once re-added); that is
  // logged. Then binds the listen address and starts the threads. Errors
  // say what to fix.
  static Result<std::unique_ptr<NodeRuntime>> start(NodeRuntimeOptions options,
                                                    std::unique_ptr<StateMachine> machine);
  // Stops the protocol thread, then the transport; returns promptly.
  ~NodeRuntime();

  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  std::uint16_t listen_port() const;
  NodeRuntimeStatus status() const;
  NodeRuntimeStats stats() const;

 private:
  struct Impl;
  explicit NodeRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::server
