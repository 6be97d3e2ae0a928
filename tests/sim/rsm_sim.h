#pragma once
// Deterministic simulation of the replicated state machine: real rsm::Node
// cores (Paxos views + replica log) and the real Applier over the simulated
// network and disks, with clients doing put/get/cas/delete on a few keys.
// Any node crashes (losing unsynced writes) and restarts, the primary
// included; messages are lost, duplicated and reordered; any node is cut off.
// Views change through Paxos when a primary fails or restarts.
//
// Checked after every event:
// - every node hands out the one global sequence of committed entries, in
//   order, without gaps or skips, and a committed entry never changes;
// - a committed entry is durable on a majority when it first commits;
// - no node ever drops a committed entry from its log, and Paxos never
//   decides two views for one instance;
// - a request applies at most once per incarnation, with the same reply
//   everywhere.
// At the end: the client history is linearizable, and after healing every
// client finishes and every node converges on one view and one log.
//
// Scenarios drive the same simulator by hand: crash(), restart(), isolate(),
// run_until(), and a hook that sees each Ready before the node acts on it, so
// a crash can happen at an exact protocol point.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "rsm/applier.h"
#include "rsm/node.h"
#include "sim/linearizability.h"
#include "sim/sim_kv.h"
#include "sim/sim_network.h"

namespace synod::sim {

enum class RsmBug {
  kNone,
  // The disk reports a batch durable as soon as it is issued: nodes
  // acknowledge entries and promise log positions they could still lose.
  kAckBeforeDurable,
  // Promises arrive without their log positions, so the view change picks a
  // new primary without regard to who holds the highest viewstamp.
  kIgnoreLogPositions,
  // A node that believes it is primary serves linearizable reads at once,
  // without a confirmation round.
  kReadsWithoutConfirmation,
};

struct RsmSimOptions {
  std::uint64_t seed = 1;
  std::size_t nodes = 3;
  std::size_t initial_members = 0;          // view 1 holds the first this many nodes (0: all)
  std::size_t clients = 4;
  std::size_t keys = 3;
  std::uint64_t fault_ticks = 2000;
  std::uint64_t settle_ticks_max = 4000;
  double request_per_tick = 0.3;            // per idle client
  double read_path_fraction = 0.7;          // gets served as reads, the rest ordered in the log
  double stale_read_per_tick = 0.01;        // a stale read at a random node, checked against its as_of
  // Clients reach every node whatever the partition (so a cut-off primary
  // still hears them); otherwise they stand with side 0. Unset: decided by
  // the seed.
  std::optional<bool> clients_reach_every_side;
  std::uint32_t client_retry_ticks = 40;
  NetworkFaults network;
  std::uint32_t disk_ticks_min = 1;
  std::uint32_t disk_ticks_max = 4;
  double crash_per_tick = 0.004;            // any node crashes
  double primary_crash_per_tick = 0.001;    // the primary crashes (on top of the above)
  std::uint32_t down_ticks_min = 10;
  std::uint32_t down_ticks_max = 150;
  double partition_change_per_tick = 0.004; // a node is cut off, or healed
  double false_suspicion_per_tick = 0.002;  // a live member proposes a view change anyway
  // The admin adds a node that is not a member, or removes one (the primary
  // too), at the current primary; an add pending too long is cancelled.
  double membership_change_per_tick = 0.005;
  std::size_t min_members = 2;              // removals stop at this size
  std::uint32_t session_idle_ticks = 0;     // 0: sessions never expire
  std::size_t snapshot_after_entries = 15;  // compaction (0: never)
  std::size_t snapshot_chunk_bytes = 64;    // small, so transfers take many chunks
  // A crashed node comes back with its state found corrupt: wiped, and
  // rebuilt through the join path (at most one node at a time, never in a
  // view of two). Off by default: with removals down to two members, a
  // rebuilding member can leave a view without a voting majority for good;
  // the corruption profile runs with min_members 3.
  double corrupt_on_restart = 0.0;
  // The optional auto-removal policy (0: off). Unset: with faults on, on in
  // about a third of the seeds, at 150 ticks; otherwise off.
  std::optional<std::uint64_t> auto_remove_after_ticks;
  // Backups may serve snapshots (ReplicaConfig::snapshots_from_backups).
  // Unset: with faults on, in about three seeds of four; otherwise on.
  std::optional<bool> snapshots_from_backups;
  std::uint64_t add_patience_ticks = 400;
  bool faults = true;                       // all random faults, for scripted scenarios
  bool clients_start_ops = true;
  RsmBug bug = RsmBug::kNone;
  std::ostream* log = nullptr;
};

struct RsmSimResult {
  std::optional<std::string> violation;
  std::uint64_t ops_completed = 0;
  std::uint64_t entries_committed = 0;
  std::uint64_t crashes = 0;
  std::uint64_t views_decided = 0;           // highest view any node entered, minus one
  std::uint64_t members_added = 0;
  std::uint64_t snapshots_taken = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t snapshot_chunks_from_backups = 0;  // sent by a node that was not primary
  std::uint64_t rebuilds = 0;                // nodes restarted with their state wiped
  std::uint64_t members_removed = 0;
  std::uint64_t reads_served = 0;            // linearizable reads answered
  std::uint64_t stale_reads_checked = 0;
  bool linearizability_inconclusive = false;
};

class RsmSim {
 public:
  explicit RsmSim(RsmSimOptions options);

  // The random run: faults for fault_ticks, then heal and settle, then check.
  RsmSimResult run();

  // ---- Scripting -------------------------------------------------------------
  void step_time();
  // Steps until `done` holds (checked before each step) or `ticks` pass.
  bool run_until(std::uint64_t ticks, const std::function<bool()>& done);
  void run_for(std::uint64_t ticks) { run_until(ticks, [] { return false; }); }
  void crash(const NodeId& id);
  void restart(const NodeId& id);
  // Restarts a crashed node as the runtime would after finding its state
  // corrupt: everything wiped, and marked as not allowed to vote.
  void restart_corrupt(const NodeId& id);
  // Side 0 holds the clients; nodes on different sides hear nothing from each other.
  void set_side(const NodeId& id, int side);
  void set_faults(bool on) { options_.faults = on; }
  void set_clients_start_ops(bool on) { options_.clients_start_ops = on; }
  // Restarts every node, joins every side, stops faults and new ops; then
  // steps until converged() or settle_ticks_max pass (a liveness violation).
  bool heal_and_settle();
  // Every client done, every node up, in one view with one primary that is
  // not frozen, and every node has applied the primary's whole log.
  bool converged() const;
  // Admin requests, sent straight to a node's core (the runtime's admin RPC).
  Status request_add(const NodeId& at, const NodeId& id);
  Status request_remove(const NodeId& at, const NodeId& id);
  Status cancel_add(const NodeId& at, const NodeId& id);
  Status snapshot_now(const NodeId& at);
  Status request_transfer(const NodeId& at, const NodeId& id);
  // Checks the client history; records a violation if it is not linearizable.
  void check_history();

  // Sees every Ready before its node acts on it; returning true crashes the
  // node there, before it persists, sends or applies anything of that Ready.
  using ReadyHook = std::function<bool(const NodeId&, const rsm::NodeReady&)>;
  void set_ready_hook(ReadyHook hook) { ready_hook_ = std::move(hook); }
  // Drops a replica or Paxos message when it returns true.
  using PeerMessage = std::variant<rsm::Message, paxos::Message>;
  using DropFilter = std::function<bool(const PeerMessage&)>;
  void set_drop_filter(DropFilter f) { drop_filter_ = std::move(f); }
  // Called when a node's disk makes a batch durable, before the node hears of
  // it; returning true crashes the node: written, never acknowledged.
  using DurableHook = std::function<bool(const NodeId&, const std::vector<rsm::LogEntry>& appends)>;
  void set_durable_hook(DurableHook hook) { durable_hook_ = std::move(hook); }

  // A client op submitted by the script (clients otherwise act on their own).
  // Returns the history index; the op completes like any other.
  std::size_t submit_put(std::uint64_t client, const std::string& key, const std::string& value);
  bool op_completed(std::size_t history_index) const { return history_.at(history_index).outcome_known; }

  // ---- Inspection ------------------------------------------------------------
  const std::vector<NodeId>& node_ids() const { return ids_; }
  bool is_up(const NodeId& id) const { return replicas_.at(id).core != nullptr; }
  const rsm::Node& core(const NodeId& id) const { return *replicas_.at(id).core; }
  const std::vector<rsm::LogEntry>& durable_log(const NodeId& id) const { return replicas_.at(id).durable_log; }
  const paxos::DurableState& durable_paxos(const NodeId& id) const { return replicas_.at(id).durable_paxos; }
  // The primary of the highest view any live node is in, if that node is up.
  std::optional<NodeId> current_primary() const;
  const std::map<Viewstamp, rsm::LogEntry>& committed() const { return committed_; }
  // Every view some node entered, by id: the one durable view history.
  const std::map<ViewId, View>& views() const { return views_; }
  // The session table of a node (up).
  const rsm::Applier& applier(const NodeId& id) const { return *replicas_.at(id).applier; }
  // Sends client `client`'s current request again, to `node` (a late retry).
  void resend_current(std::uint64_t client, const NodeId& node);
  // True once the client was told its session expired (its op's outcome is unknown).
  bool told_expired(std::uint64_t client) const { return clients_.at(client - 1).told_expired; }
  // The snapshot a node has on disk, and the part of one it is receiving.
  const std::optional<rsm::SnapshotImage>& durable_snapshot(const NodeId& id) const {
    return replicas_.at(id).durable_snapshot;
  }
  const std::optional<rsm::SnapshotPiece>& durable_partial(const NodeId& id) const {
    return replicas_.at(id).durable_partial;
  }
  // The state machine's data on a node (up).
  const std::map<std::string, std::string>& kv_data(const NodeId& id) const { return replicas_.at(id).machine->data(); }
  // Linearizable reads each node has served so far.
  std::uint64_t reads_served_by(const NodeId& id) const { return replicas_.at(id).reads_served; }
  // Hands a linearizable read of `key` straight to a node, as if from a
  // client of its own side; its answer is counted, not checked.
  void inject_read(const NodeId& id, const std::string& key);
  std::uint64_t now() const { return now_; }
  const std::optional<std::string>& violation() const { return result_.violation; }
  const RsmSimResult& result() const { return result_; }

 private:
  struct DiskBatch {
    std::vector<paxos::Write> paxos_writes;
    std::vector<rsm::SnapshotPiece> snapshot_pieces;
    std::optional<rsm::SnapshotImage> install;
    std::optional<rsm::SnapshotImage> save_snapshot;
    std::optional<Viewstamp> compact_through;
    std::optional<Instance> votes_after;
    std::optional<Viewstamp> truncate_after;
    std::vector<rsm::LogEntry> appends;
  };
  struct ReadAnswer {
    std::uint64_t read_no = 0;
    Bytes reply;
  };
  struct ClientPacket {
    std::uint64_t client = 0;
    NodeId node;
    bool to_replica = true;
    std::variant<rsm::ClientRequest, rsm::ReadRequest> request;            // to_replica
    std::variant<std::monostate, rsm::Applied, rsm::ClientNotice, ReadAnswer> answer;  // !to_replica
  };
  struct SimReplica {
    std::unique_ptr<rsm::Node> core;             // null while crashed
    SimDisk<DiskBatch> disk;
    paxos::DurableState durable_paxos;
    std::vector<rsm::LogEntry> durable_log;
    std::optional<rsm::SnapshotImage> durable_snapshot;
    // The snapshot as the writes issued so far leave it, durable or not:
    // what the runtime's store would answer a read with.
    std::optional<rsm::SnapshotImage> stored_snapshot;
    std::optional<rsm::SnapshotPiece> durable_partial;   // offset 0, every byte received
    Instance durable_votes_after = 0;
    // What a wipe took: acknowledged before the loss, so it counted for
    // commits that may surface only now (the commit check accepts it).
    std::vector<rsm::LogEntry> wiped_log;
    Viewstamp wiped_snapshot_through;
    std::uint64_t durable_rebuild_id = 0;
    bool ever_started = false;
    std::unique_ptr<SimKv> machine;
    std::unique_ptr<rsm::Applier> applier;
    std::uint64_t restart_at = 0;
    int side = 0;
    Viewstamp handed_out;                        // last committed entry this incarnation applied
    std::set<std::pair<std::uint64_t, std::uint64_t>> fresh_applied;  // this incarnation
    std::uint64_t reads_served = 0;
  };
  struct SimClient {
    std::uint64_t id = 0;
    std::uint64_t next_request_no = 1;
    std::optional<std::size_t> current;          // index into history_
    std::variant<rsm::ClientRequest, rsm::ReadRequest> request;
    NodeId target;
    std::uint64_t retry_at = 0;
    bool told_expired = false;
  };

  void start_replica(const NodeId& id);
  void drive(const NodeId& id);
  void make_durable(const NodeId& id, DiskBatch batch);
  void send_peer(PeerMessage m);
  void deliver_peer_message(const PeerMessage& m);
  void deliver_client_packet(const ClientPacket& p);
  void on_committed(const NodeId& id, const rsm::LogEntry& e);
  void serve_read(const NodeId& id, const rsm::ReadGrant& g);
  void restore_snapshot(const NodeId& id, const rsm::SnapshotImage& image);
  void take_snapshot(const NodeId& id, Viewstamp through);
  // The KV state and sessions after applying the committed sequence through `through`.
  std::string canonical_snapshot(Viewstamp through) const;
  std::size_t durable_holders(const rsm::LogEntry& e, const std::vector<NodeId>& among) const;
  void stale_read_at_random_node();
  bool client_reaches(const SimReplica& r) const { return clients_reach_every_side_ || r.side == 0; }
  void on_view_entered(const NodeId& id, const View& v);
  void check_node(const NodeId& id);
  void start_op(SimClient& c, KvOp op);
  void clients_act();
  void send_request(SimClient& c);
  void inject_faults();
  void change_membership_at_random();
  void fail(const std::string& why);
  void log(const std::string& line);

  RsmSimOptions options_;
  SimRandom rng_;
  std::vector<NodeId> ids_;
  View initial_view_;
  std::map<NodeId, SimReplica> replicas_;
  std::vector<SimClient> clients_;
  std::vector<KvOp> history_;
  // Per key, the values put or cas-ed so far, in history order: what a cas
  // may expect. Kept as ops are made so a cas need not scan the history.
  std::map<std::string, std::vector<std::string>> written_values_;
  SimNetwork<PeerMessage> net_;
  SimNetwork<ClientPacket> client_net_;
  std::uint64_t now_ = 0;
  bool clients_reach_every_side_ = false;
  std::uint64_t next_stale_read_no_ = 1;
  std::uint64_t add_requested_at_ = 0;

  ReadyHook ready_hook_;
  DropFilter drop_filter_;
  DurableHook durable_hook_;

  std::map<Viewstamp, rsm::LogEntry> committed_;                 // the global committed sequence
  std::map<ViewId, View> views_;                                 // every view any node entered
  std::map<std::pair<std::uint64_t, std::uint64_t>, Bytes> replies_;  // first reply per request
  RsmSimResult result_;
};

std::optional<std::string> run_rsm_seeds(RsmSimOptions base, std::uint64_t first, std::uint64_t count);

}  // namespace synod::sim
