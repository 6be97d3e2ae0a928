#include "sim/rsm_sim.h"

#include "sim/seed_sweep.h"

#include <algorithm>
#include <cassert>

namespace synod::sim {

RsmSim::RsmSim(RsmSimOptions options) : options_(std::move(options)), rng_(options_.seed) {
  assert(options_.nodes >= 1 && options_.clients >= 1 && options_.keys >= 1);
  for (std::size_t i = 1; i <= options_.nodes; ++i) ids_.push_back("n" + std::to_string(i));
  view_ = View::make(1, ids_[0], std::vector<NodeId>(ids_.begin() + 1, ids_.end())).value();
  for (const NodeId& id : ids_) start_replica(id);
  for (std::size_t c = 1; c <= options_.clients; ++c) {
    SimClient client;
    client.id = c;
    clients_.push_back(client);
  }
}

void RsmSim::log(const std::string& line) {
  if (options_.log != nullptr) *options_.log << "t=" << now_ << " " << line << "\n";
}

void RsmSim::fail(const std::string& why) {
  if (!result_.violation) result_.violation = "t=" + std::to_string(now_) + ": " + why;
}

void RsmSim::start_replica(const NodeId& id) {
  SimReplica& r = replicas_[id];
  rsm::ReplicaConfig c;
  c.self = id;
  c.append_entries_max = 64;
  c.pending_requests_max = 1000;
  c.inflight_entries_max = 500;
  r.core = std::make_unique<rsm::Replica>(c, view_, r.durable_log);
  r.machine = std::make_unique<SimKv>();
  r.applier = std::make_unique<rsm::Applier>(*r.machine);
  r.handed_out = Viewstamp{};
  r.fresh_applied.clear();
  r.restart_at = 0;
  log("start " + id + " with " + std::to_string(r.durable_log.size()) + " durable entries");
}

void RsmSim::crash(const NodeId& id) {
  SimReplica& r = replicas_.at(id);
  if (!r.core) return;
  std::size_t lost = r.disk.crash();
  r.core.reset();
  r.applier.reset();
  r.machine.reset();
  ++result_.crashes;
  log("crash " + id + " (" + std::to_string(lost) + " unsynced batches lost)");
}

void RsmSim::drive(const NodeId& id) {
  SimReplica& r = replicas_.at(id);
  for (int rounds = 0; r.core && r.core->has_ready(); ++rounds) {
    if (rounds > 1000) return fail(id + ": Ready loop did not settle");
    rsm::Ready ready = r.core->take_ready();
    for (rsm::Message& m : ready.messages) net_.send(std::move(m), now_, rng_, options_.network, faults_on_);
    for (rsm::ClientNotice& n : ready.notices) {
      std::uint64_t client = std::visit([](const auto& x) { return x.client_id; }, n);
      client_net_.send(ClientPacket{client, id, false, {}, n}, now_, rng_, options_.network, faults_on_);
    }
    if (ready.write_id != 0) {
      if (options_.bug == RsmBug::kAckBeforeDurable) r.core->on_durable(ready.write_id);
      r.disk.issue(ready.write_id, std::move(ready.appends), now_, rng_, options_.disk_ticks_min,
                   options_.disk_ticks_max);
    }
    for (const rsm::LogEntry& e : ready.committed) on_committed(id, e);
  }
}

void RsmSim::on_committed(const NodeId& id, const rsm::LogEntry& e) {
  SimReplica& r = replicas_.at(id);
  if (!rsm::follows(r.handed_out, e.vs)) {
    return fail(id + " handed out " + to_string(e.vs) + " after " + to_string(r.handed_out) + " (gap or reorder)");
  }
  r.handed_out = e.vs;
  auto [it, first] = committed_.emplace(e.vs, e);
  if (!first && it->second != e) return fail("committed entry " + to_string(e.vs) + " changed on " + id);
  if (first) {
    // The commit rule: when an entry first commits, a majority holds it on disk.
    std::size_t holders = 0;
    for (const auto& [_, other] : replicas_) {
      const auto& log = other.durable_log;
      auto pos = std::lower_bound(log.begin(), log.end(), e.vs,
                                  [](const rsm::LogEntry& x, const Viewstamp& v) { return x.vs < v; });
      holders += pos != log.end() && *pos == e ? 1 : 0;
    }
    if (holders < view_.majority()) {
      return fail("entry " + to_string(e.vs) + " committed while durable on only " + std::to_string(holders) +
                  " replicas");
    }
    ++result_.entries_committed;
  }
  rsm::Applied a = r.applier->apply(e);
  auto request = std::make_pair(a.client_id, a.request_no);
  if (a.fresh) {
    if (!r.fresh_applied.insert(request).second) return fail(id + " applied a request twice");
    auto [rep, new_reply] = replies_.emplace(request, a.reply);
    if (!new_reply && rep->second != a.reply) {
      return fail("request " + std::to_string(a.client_id) + "/" + std::to_string(a.request_no) +
                  " got different replies on different replicas");
    }
  }
  if (id == view_.primary && !a.stale) {
    client_net_.send(ClientPacket{a.client_id, id, false, {}, a}, now_, rng_, options_.network, faults_on_);
  }
}

void RsmSim::deliver_replica_message(const rsm::Message& m) {
  SimReplica& to = replicas_.at(m.to);
  if (!to.core || replicas_.at(m.from).partition != to.partition) return;
  to.core->step(m);
  drive(m.to);
}

void RsmSim::deliver_client_packet(const ClientPacket& p) {
  if (p.to_replica) {
    SimReplica& r = replicas_.at(p.node);
    if (!r.core || r.partition != 0) return;  // clients stand with partition 0
    // The runtime's part: an applied request is answered from the session
    // table, without ordering it again.
    if (std::optional<Bytes> reply = r.applier->reply_for(p.request.client_id, p.request.request_no)) {
      rsm::Applied a{p.request.client_id, p.request.request_no, *reply, false, false};
      client_net_.send(ClientPacket{p.client, p.node, false, {}, a}, now_, rng_, options_.network, faults_on_);
      return;
    }
    r.core->submit(p.request);
    drive(p.node);
    return;
  }
  SimClient& c = clients_.at(p.client - 1);
  if (!c.current) return;
  if (const auto* a = std::get_if<rsm::Applied>(&p.answer)) {
    if (a->request_no != c.request.request_no) return;
    KvOp& op = history_[*c.current];
    op.outcome_known = true;
    op.completed_at = now_;
    decode_kv_reply(a->reply, op);
    c.current.reset();
    ++result_.ops_completed;
  } else if (const auto* n = std::get_if<rsm::ClientNotice>(&p.answer)) {
    if (const auto* redirect = std::get_if<rsm::ClientRedirect>(n)) {
      if (redirect->request_no != c.request.request_no) return;
      c.target = redirect->primary;
      send_request(c);
    } else {
      c.retry_at = std::min(c.retry_at, now_ + 10);  // busy: back off a little
    }
  }
}

void RsmSim::send_request(SimClient& c) {
  client_net_.send(ClientPacket{c.id, c.target, true, c.request, {}}, now_, rng_, options_.network, faults_on_);
  c.retry_at = now_ + options_.client_retry_ticks;
}

void RsmSim::clients_act() {
  for (SimClient& c : clients_) {
    if (c.current) {
      if (now_ >= c.retry_at) {
        // No answer: maybe the node is down; any node will redirect.
        c.target = ids_[rng_.below(ids_.size())];
        send_request(c);
      }
      continue;
    }
    if (!clients_start_ops_ || !rng_.chance(options_.request_per_tick)) continue;
    KvOp op;
    op.client = c.id;
    op.key = "k" + std::to_string(rng_.below(options_.keys));
    op.value = "v" + std::to_string(c.id) + "." + std::to_string(c.next_request_no);
    op.kind = static_cast<KvOpKind>(rng_.below(4));
    if (op.kind == KvOpKind::kCas) {
      // Expect a value some client wrote to this key, or absence.
      const std::vector<std::string>& candidates = written_values_[op.key];
      if (candidates.empty() || rng_.chance(0.2)) op.expect_absent = true;
      else op.expected = candidates[rng_.below(candidates.size())];
    }
    op.invoked_at = now_;
    op.outcome_known = false;
    if (op.kind == KvOpKind::kPut || op.kind == KvOpKind::kCas) written_values_[op.key].push_back(op.value);
    history_.push_back(op);
    c.current = history_.size() - 1;
    c.request = rsm::ClientRequest{c.id, c.next_request_no++, encode_kv_op(op)};
    if (c.target.empty()) c.target = ids_[rng_.below(ids_.size())];
    send_request(c);
  }
}

void RsmSim::inject_faults() {
  if (rng_.chance(options_.crash_per_tick)) {
    const NodeId& victim = view_.backups[rng_.below(view_.backups.size())];
    if (replicas_[victim].core) {
      crash(victim);
      replicas_[victim].restart_at = now_ + rng_.between(options_.down_ticks_min, options_.down_ticks_max);
    }
  }
  if (rng_.chance(options_.partition_change_per_tick)) {
    const NodeId& b = view_.backups[rng_.below(view_.backups.size())];
    replicas_[b].partition = 1 - replicas_[b].partition;
    log("partition " + b + " -> side " + std::to_string(replicas_[b].partition));
  }
}

void RsmSim::step_time() {
  ++now_;
  rsm::Message m;
  while (net_.pop_due(now_, m)) deliver_replica_message(m);
  ClientPacket p;
  while (client_net_.pop_due(now_, p)) deliver_client_packet(p);
  for (const NodeId& id : ids_) {
    SimReplica& r = replicas_[id];
    SimDisk<rsm::LogEntry>::Batch b;
    while (r.core && r.disk.pop_durable(now_, b)) {
      for (rsm::LogEntry& e : b.writes) r.durable_log.push_back(std::move(e));
      if (options_.bug != RsmBug::kAckBeforeDurable) r.core->on_durable(b.write_id);
      drive(id);
    }
    if (!r.core && r.restart_at != 0 && r.restart_at <= now_) start_replica(id);
  }
  if (faults_on_ && view_.backups.size() > 0) inject_faults();
  clients_act();
  for (const NodeId& id : ids_) {
    if (!replicas_[id].core) continue;
    replicas_[id].core->tick();
    drive(id);
  }
}

bool RsmSim::all_done() const {
  for (const SimClient& c : clients_) {
    if (c.current) return false;
  }
  const rsm::Replica& primary = *replicas_.at(view_.primary).core;
  for (const auto& [id, r] : replicas_) {
    if (!r.core || r.handed_out != primary.last()) return false;
  }
  return true;
}

RsmSimResult RsmSim::run() {
  while (now_ < options_.fault_ticks && !result_.violation) step_time();
  if (!result_.violation) {
    faults_on_ = false;
    clients_start_ops_ = false;
    for (const NodeId& id : ids_) {
      replicas_[id].partition = 0;
      if (!replicas_[id].core) start_replica(id);
    }
    log("healed");
    std::uint64_t deadline = now_ + options_.settle_ticks_max;
    while (!all_done() && now_ < deadline && !result_.violation) step_time();
    if (!result_.violation && !all_done()) {
      std::string where;
      for (const auto& [id, r] : replicas_) where += " " + id + "@" + to_string(r.handed_out);
      fail("liveness: " + std::to_string(options_.settle_ticks_max) +
           " ticks after healing, clients or replicas are not done; applied:" + where);
    }
  }
  if (!result_.violation) {
    LinearizabilityResult lin = check_kv_history(history_);
    if (!lin.linearizable) fail("client history is not linearizable: " + lin.explanation);
    result_.linearizability_inconclusive = lin.gave_up;
  }
  return result_;
}

std::optional<std::string> run_rsm_seeds(RsmSimOptions base, std::uint64_t first, std::uint64_t count) {
  return sweep_seeds<RsmSim>(std::move(base), first, count, "synod-sim-rsm");
}

}  // namespace synod::sim
