#pragma once
// Deterministic simulation of a cluster of Paxos cores: a fake network that
// loses, duplicates, delays (and so reorders) messages and partitions nodes; a
// fake disk per node whose batches become durable after a delay and are lost
// when the node crashes first; a clock of ticks. Everything random comes from
// one seed. The checker runs after every event.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "paxos/node.h"
#include "sim/paxos_checker.h"
#include "sim/sim_network.h"
#include "sim/sim_random.h"

namespace synod::sim {

struct PaxosFaults {
  double drop = 0.05;
  double duplicate = 0.03;
  std::uint32_t delay_ticks_min = 1;
  std::uint32_t delay_ticks_max = 8;        // a wide range reorders messages
  std::uint32_t disk_ticks_min = 1;
  std::uint32_t disk_ticks_max = 4;
  double crash_per_tick = 0.003;            // per cluster, not per node
  std::uint32_t down_ticks_min = 20;
  std::uint32_t down_ticks_max = 200;
  double partition_change_per_tick = 0.005;
  std::size_t down_nodes_max = 2;           // how many may be down at once

  static PaxosFaults none();
  NetworkFaults network() const { return {drop, duplicate, delay_ticks_min, delay_ticks_max}; }
};

// Deliberately broken variants, to show the checker can fail.
enum class PaxosBug {
  kNone,
  // On restart an acceptor has forgotten every promise it did not accept
  // (n_p falls back to n_a): a lost write of n_p.
  kForgetPromiseOnCrash,
  // The disk reports a batch durable as soon as it is issued, but the data
  // only reaches the platter later: replies go out before the write is safe.
  kAckBeforeDurable,
};

struct PaxosSimOptions {
  std::uint64_t seed = 1;
  std::size_t nodes = 3;
  std::size_t initial_members = 0;          // members of view 1: n1..nK; 0 = all nodes
  std::uint64_t fault_ticks = 3000;         // faults and new proposals happen in here
  std::uint64_t settle_ticks_max = 4000;    // then: all healed, must converge within this
  double propose_per_tick = 0.02;
  PaxosFaults faults;
  PaxosBug bug = PaxosBug::kNone;
  std::ostream* log = nullptr;              // event log for replaying one seed
};

// The outcome of a run: empty violation means every check held.
struct PaxosSimResult {
  std::optional<std::string> violation;
  std::uint64_t ticks = 0;
  Instance decided_through = 1;             // highest instance decided on every node
  std::uint64_t crashes = 0;
  std::uint64_t messages_delivered = 0;
};

class PaxosSim {
 public:
  explicit PaxosSim(PaxosSimOptions options);

  // Random run: faults and proposals for fault_ticks, then heal and require
  // convergence. Stops at the first violation.
  PaxosSimResult run();

  // --- Scripted control, for scenario tests -------------------------------
  // Called after a node stepped a message and before its output is taken:
  // returning true crashes the node right there, so its outgoing messages
  // and unsynced writes are lost ("crash at protocol point X").
  using CrashHook = std::function<bool(const NodeId& node, const paxos::Message& delivered)>;
  void set_crash_hook(CrashHook hook) { crash_hook_ = std::move(hook); }
  void set_faults(const PaxosFaults& faults) { options_.faults = faults; }
  Status propose(const NodeId& node, View value);
  void crash(const NodeId& node);
  void restart(const NodeId& node);
  // Advances time by up to `ticks`, stopping early when `until` holds.
  // Returns true when `until` held.
  bool run_for(std::uint64_t ticks, const std::function<bool()>& until = {});
  // The checker's verdict so far.
  const std::optional<std::string>& violation() const { return checker_.violation(); }

  bool is_up(const NodeId& node) const { return nodes_.at(node).core != nullptr; }
  const paxos::Node& core(const NodeId& node) const { return *nodes_.at(node).core; }
  // What the node's disk holds durably (survives crashes).
  const paxos::DurableState& disk(const NodeId& node) const { return nodes_.at(node).disk; }
  const std::vector<NodeId>& node_ids() const { return ids_; }
  std::uint64_t now() const { return now_; }

 private:
  struct SimNode {
    std::unique_ptr<paxos::Node> core;      // null while crashed
    paxos::DurableState disk;
    SimDisk<paxos::Write> unsynced;         // batches issued, not yet durable
    std::uint64_t restart_at = 0;
    std::uint64_t incarnation = 0;
    int partition = 0;
  };

  paxos::Config config_for(const NodeId& id, std::uint64_t incarnation) const;
  void step_time();
  void drive(const NodeId& id);
  void deliver(const paxos::Message& m);
  void complete_disk_writes(const NodeId& id);
  void maybe_inject_faults();
  void maybe_propose();
  View random_view(Instance instance);
  void check();
  void log(const std::string& line);

  PaxosSimOptions options_;
  SimRandom rng_;
  std::vector<NodeId> ids_;
  View initial_view_;
  std::map<NodeId, SimNode> nodes_;
  SimNetwork<paxos::Message> network_;
  std::uint64_t now_ = 0;
  bool faults_on_ = true;
  CrashHook crash_hook_;
  PaxosChecker checker_;
  PaxosSimResult stats_;
};

// Runs seeds [first, first+count) and returns the first failing seed's result
// description, or nothing when all passed.
std::optional<std::string> run_seeds(PaxosSimOptions base, std::uint64_t first, std::uint64_t count);

}  // namespace synod::sim
