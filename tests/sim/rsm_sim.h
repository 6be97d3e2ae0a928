#pragma once
// Deterministic simulation of the replicated state machine in one view:
// real rsm::Replica cores and the real Applier over the simulated network and
// disks, with clients doing put/get/cas/delete on a few keys. Backups crash
// (losing unsynced writes) and restart; messages are lost, duplicated and
// reordered; backups are partitioned away. The primary stays up: failover
// arrives with the view change.
//
// Checked after every event: a committed entry is durable on a majority when
// it commits; committed entries never change; every replica hands out the
// same entries in order without gaps; a request applies at most once and its
// reply is the same everywhere. At the end: the client history is
// linearizable, and after healing every client finishes and every replica
// applies everything.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "rsm/applier.h"
#include "rsm/replica.h"
#include "sim/linearizability.h"
#include "sim/sim_kv.h"
#include "sim/sim_network.h"

namespace synod::sim {

enum class RsmBug {
  kNone,
  // The disk reports a batch durable as soon as it is issued: backups
  // acknowledge entries they could still lose.
  kAckBeforeDurable,
};

struct RsmSimOptions {
  std::uint64_t seed = 1;
  std::size_t nodes = 3;
  std::size_t clients = 4;
  std::size_t keys = 3;
  std::uint64_t fault_ticks = 2000;
  std::uint64_t settle_ticks_max = 3000;
  double request_per_tick = 0.3;            // per idle client
  std::uint32_t client_retry_ticks = 40;
  NetworkFaults network;
  std::uint32_t disk_ticks_min = 1;
  std::uint32_t disk_ticks_max = 4;
  double crash_per_tick = 0.004;            // a backup crashes
  std::uint32_t down_ticks_min = 10;
  std::uint32_t down_ticks_max = 150;
  double partition_change_per_tick = 0.004; // a backup is cut off, or healed
  RsmBug bug = RsmBug::kNone;
  std::ostream* log = nullptr;
};

struct RsmSimResult {
  std::optional<std::string> violation;
  std::uint64_t ops_completed = 0;
  std::uint64_t entries_committed = 0;
  std::uint64_t crashes = 0;
  bool linearizability_inconclusive = false;
};

class RsmSim {
 public:
  explicit RsmSim(RsmSimOptions options);
  RsmSimResult run();

 private:
  struct ClientPacket {
    std::uint64_t client = 0;
    NodeId node;
    bool to_replica = true;
    rsm::ClientRequest request;                  // to_replica
    std::variant<std::monostate, rsm::Applied, rsm::ClientNotice> answer;  // !to_replica
  };
  struct SimReplica {
    std::unique_ptr<rsm::Replica> core;          // null while crashed
    SimDisk<rsm::LogEntry> disk;
    std::vector<rsm::LogEntry> durable_log;
    std::unique_ptr<SimKv> machine;
    std::unique_ptr<rsm::Applier> applier;
    std::uint64_t restart_at = 0;
    int partition = 0;
    Viewstamp handed_out;                        // last committed entry this incarnation applied
    std::set<std::pair<std::uint64_t, std::uint64_t>> fresh_applied;  // this incarnation
  };
  struct SimClient {
    std::uint64_t id = 0;
    std::uint64_t next_request_no = 1;
    std::optional<std::size_t> current;          // index into history_
    rsm::ClientRequest request;
    NodeId target;
    std::uint64_t retry_at = 0;
  };

  void step_time();
  void start_replica(const NodeId& id);
  void crash(const NodeId& id);
  void drive(const NodeId& id);
  void deliver_replica_message(const rsm::Message& m);
  void deliver_client_packet(const ClientPacket& p);
  void on_committed(const NodeId& id, const rsm::LogEntry& e);
  void clients_act();
  void send_request(SimClient& c);
  void inject_faults();
  bool all_done() const;
  void fail(const std::string& why);
  void log(const std::string& line);

  RsmSimOptions options_;
  SimRandom rng_;
  std::vector<NodeId> ids_;
  View view_;
  std::map<NodeId, SimReplica> replicas_;
  std::vector<SimClient> clients_;
  std::vector<KvOp> history_;
  // Per key, the values put or cas-ed so far, in history order: what a cas
  // may expect. Kept as ops are made so a cas need not scan the history.
  std::map<std::string, std::vector<std::string>> written_values_;
  SimNetwork<rsm::Message> net_;
  SimNetwork<ClientPacket> client_net_;
  std::uint64_t now_ = 0;
  bool faults_on_ = true;
  bool clients_start_ops_ = true;

  std::map<Viewstamp, rsm::LogEntry> committed_;                 // every entry ever committed
  std::map<std::pair<std::uint64_t, std::uint64_t>, Bytes> replies_;  // first reply per request
  RsmSimResult result_;
};

std::optional<std::string> run_rsm_seeds(RsmSimOptions base, std::uint64_t first, std::uint64_t count);

}  // namespace synod::sim
