#include "sim/paxos_sim.h"

#include "sim/seed_sweep.h"

#include <algorithm>
#include <cassert>

namespace synod::sim {

PaxosFaults PaxosFaults::none() {
  PaxosFaults f;
  f.drop = 0;
  f.duplicate = 0;
  f.crash_per_tick = 0;
  f.partition_change_per_tick = 0;
  return f;
}

PaxosSim::PaxosSim(PaxosSimOptions options)
    : options_(std::move(options)), rng_(options_.seed), checker_(View{}) {
  assert(options_.nodes >= 1);
  for (std::size_t i = 1; i <= options_.nodes; ++i) ids_.push_back("n" + std::to_string(i));
  std::size_t members = options_.initial_members == 0 ? ids_.size() : options_.initial_members;
  assert(members <= ids_.size());
  std::vector<NodeId> backups(ids_.begin() + 1, ids_.begin() + static_cast<std::ptrdiff_t>(members));
  initial_view_ = View::make(1, ids_[0], backups).value();
  checker_ = PaxosChecker(initial_view_);
  for (const NodeId& id : ids_) {
    SimNode& n = nodes_[id];
    n.core = std::make_unique<paxos::Node>(config_for(id, 0), n.disk);
    checker_.on_start(id, n.core->delivered_through());
  }
}

paxos::Config PaxosSim::config_for(const NodeId& id, std::uint64_t incarnation) const {
  paxos::Config c;
  c.self = id;
  c.initial_view = initial_view_;
  c.seed = options_.seed * 1000003 + incarnation;
  // A round trip is at most 2 * delay_ticks_max + 2 * disk_ticks_max ticks.
  c.round_timeout_ticks = 60;
  c.backoff_ticks_max = 40;
  c.learn_interval_ticks = 30;
  return c;
}

void PaxosSim::log(const std::string& line) {
  if (options_.log != nullptr) *options_.log << "t=" << now_ << " " << line << "\n";
}

namespace {
std::string describe(const paxos::Message& m) {
  std::string s = m.from + "->" + m.to + " " + paxos::type_name(m.body) +
                  " i=" + std::to_string(paxos::instance_of(m.body));
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, paxos::Accept>) s += " n=" + to_string(b.n) + " v=" + to_string(b.value);
        else if constexpr (std::is_same_v<T, paxos::Decided>) s += " v=" + to_string(b.value);
        else if constexpr (std::is_same_v<T, paxos::Learn>) {}
        else if constexpr (std::is_same_v<T, paxos::Reject>) s += " n=" + to_string(b.n) + " promised=" + to_string(b.promised);
        else s += " n=" + to_string(b.n);
      },
      m.body);
  return s;
}
}  // namespace

Status PaxosSim::propose(const NodeId& node, View value) {
  SimNode& n = nodes_.at(node);
  if (!n.core) return Error{node + " is down"};
  checker_.on_proposed(value.vid, value);
  log("propose " + node + " " + to_string(value));
  Status s = n.core->propose(value.vid, value);
  drive(node);
  return s;
}

void PaxosSim::crash(const NodeId& node) {
  SimNode& n = nodes_.at(node);
  if (!n.core) return;
  std::size_t lost = n.unsynced.crash();
  log("crash " + node + " (" + std::to_string(lost) + " unsynced batches lost)");
  n.core.reset();
  n.restart_at = 0;
  ++stats_.crashes;
}

void PaxosSim::restart(const NodeId& node) {
  SimNode& n = nodes_.at(node);
  if (n.core) return;
  if (options_.bug == PaxosBug::kForgetPromiseOnCrash) {
    for (auto& [_, st] : n.disk.acceptors) st.promised = st.accepted_n;
  }
  ++n.incarnation;
  n.restart_at = 0;
  n.core = std::make_unique<paxos::Node>(config_for(node, n.incarnation), n.disk);
  log("restart " + node + " delivered_through=" + std::to_string(n.core->delivered_through()));
  checker_.on_start(node, n.core->delivered_through());
  drive(node);
}

void PaxosSim::drive(const NodeId& id) {
  SimNode& n = nodes_.at(id);
  // Bounded: a Ready loop that never empties is itself a bug.
  for (int rounds = 0; n.core && n.core->has_ready(); ++rounds) {
    if (rounds > 1000) {
      stats_.violation = id + ": Ready loop did not settle";
      return;
    }
    paxos::Ready r = n.core->take_ready();
    for (paxos::Message& m : r.messages) {
      if (!network_.send(m, now_, rng_, options_.faults.network(), faults_on_)) log("drop " + describe(m));
    }
    if (r.write_id != 0) {
      n.unsynced.issue(r.write_id, std::move(r.writes), now_, rng_, options_.faults.disk_ticks_min,
                       options_.faults.disk_ticks_max);
      if (options_.bug == PaxosBug::kAckBeforeDurable) n.core->on_durable(r.write_id);
    }
    for (const paxos::Decision& d : r.learned) {
      log("learn " + id + " " + to_string(d.value));
      checker_.on_learned(id, d);
    }
    checker_.on_conflicts(id, n.core->conflicting_decisions());
  }
}

void PaxosSim::complete_disk_writes(const NodeId& id) {
  SimNode& n = nodes_.at(id);
  SimDisk<paxos::Write>::Batch b;
  while (n.core && n.unsynced.pop_durable(now_, b)) {
    for (const paxos::Write& w : b.writes) {
      n.disk.apply(w);
      if (const auto* a = std::get_if<paxos::AcceptorRecord>(&w); a && a->state.accepted_value) {
        checker_.on_durable_accept(id, a->instance, a->state.accepted_n, *a->state.accepted_value);
      }
    }
    if (options_.bug != PaxosBug::kAckBeforeDurable) n.core->on_durable(b.write_id);
    drive(id);
  }
}

void PaxosSim::deliver(const paxos::Message& m) {
  auto it = nodes_.find(m.to);
  if (it == nodes_.end() || !it->second.core) return;
  if (nodes_.at(m.from).partition != it->second.partition) {
    log("partitioned " + describe(m));
    return;
  }
  log("deliver " + describe(m));
  ++stats_.messages_delivered;
  it->second.core->step(m);
  if (crash_hook_ && crash_hook_(m.to, m)) {
    crash(m.to);
    return;
  }
  drive(m.to);
}

View PaxosSim::random_view(Instance instance) {
  std::vector<NodeId> members;
  for (const NodeId& id : ids_) {
    if (rng_.chance(0.7)) members.push_back(id);
  }
  if (members.empty()) members.push_back(ids_[rng_.below(ids_.size())]);
  std::size_t p = rng_.below(members.size());
  NodeId primary = members[p];
  members.erase(members.begin() + static_cast<std::ptrdiff_t>(p));
  return View::make(instance, primary, members).value();
}

void PaxosSim::maybe_inject_faults() {
  const PaxosFaults& f = options_.faults;
  if (f.crash_per_tick > 0 && rng_.chance(f.crash_per_tick)) {
    std::vector<NodeId> up;
    for (const NodeId& id : ids_) if (nodes_[id].core) up.push_back(id);
    if (ids_.size() - up.size() < f.down_nodes_max && !up.empty()) {
      NodeId victim = up[rng_.below(up.size())];
      crash(victim);
      nodes_[victim].restart_at = now_ + rng_.between(f.down_ticks_min, f.down_ticks_max);
    }
  }
  if (f.partition_change_per_tick > 0 && rng_.chance(f.partition_change_per_tick)) {
    bool heal = rng_.chance(0.5);
    std::string sides;
    for (const NodeId& id : ids_) {
      nodes_[id].partition = heal ? 0 : static_cast<int>(rng_.below(2));
      sides += " " + id + ":" + std::to_string(nodes_[id].partition);
    }
    log("partition" + sides);
  }
}

void PaxosSim::maybe_propose() {
  if (!rng_.chance(options_.propose_per_tick)) return;
  const NodeId& id = ids_[rng_.below(ids_.size())];
  SimNode& n = nodes_[id];
  if (!n.core || n.core->proposing()) return;
  Instance next = n.core->latest_view().vid + 1;
  (void)propose(id, random_view(next));
}

void PaxosSim::step_time() {
  ++now_;
  paxos::Message m;
  while (network_.pop_due(now_, m)) deliver(m);
  for (const NodeId& id : ids_) complete_disk_writes(id);
  if (faults_on_) {
    maybe_inject_faults();
    maybe_propose();
  }
  for (const NodeId& id : ids_) {
    SimNode& n = nodes_[id];
    if (!n.core && n.restart_at != 0 && n.restart_at <= now_) restart(id);
  }
  for (const NodeId& id : ids_) {
    if (!nodes_[id].core) continue;
    nodes_[id].core->tick();
    drive(id);
  }
}

bool PaxosSim::run_for(std::uint64_t ticks, const std::function<bool()>& until) {
  for (std::uint64_t i = 0; i < ticks; ++i) {
    if (until && until()) return true;
    if (checker_.violation() || stats_.violation) return false;
    step_time();
  }
  return until && until();
}

PaxosSimResult PaxosSim::run() {
  run_for(options_.fault_ticks);
  if (!checker_.violation() && !stats_.violation) {
    // Heal: no more loss, partitions or crashes; everyone comes back.
    faults_on_ = false;
    for (const NodeId& id : ids_) {
      nodes_[id].partition = 0;
      restart(id);
    }
    log("healed");
    Instance known = 1;
    for (const NodeId& id : ids_) known = std::max(known, nodes_[id].core->latest_view().vid);
    const Instance target = known + 1;
    const NodeId& driver = ids_[0];
    bool converged = run_for(options_.settle_ticks_max, [&] {
      paxos::Node& d = *nodes_[driver].core;
      if (!d.proposing() && d.latest_view().vid < target) {
        (void)propose(driver, random_view(d.latest_view().vid + 1));
      }
      for (const NodeId& id : ids_) {
        if (nodes_[id].core->delivered_through() < target) return false;
      }
      return true;
    });
    if (!converged && !checker_.violation() && !stats_.violation) {
      std::string where;
      for (const NodeId& id : ids_) where += " " + id + "@" + std::to_string(nodes_[id].core->delivered_through());
      stats_.violation = "liveness: " + std::to_string(options_.settle_ticks_max) +
                         " ticks after healing, not every node learned instance " + std::to_string(target) +
                         ":" + where;
    }
  }
  PaxosSimResult r = stats_;
  if (checker_.violation()) r.violation = checker_.violation();
  r.ticks = now_;
  r.decided_through = checker_.decided_through();
  return r;
}

std::optional<std::string> run_seeds(PaxosSimOptions base, std::uint64_t first, std::uint64_t count) {
  return sweep_seeds<PaxosSim>(std::move(base), first, count, "synod-sim-paxos");
}

}  // namespace synod::sim
