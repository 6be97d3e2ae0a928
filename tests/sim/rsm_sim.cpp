#include "sim/rsm_sim.h"

#include "sim/seed_sweep.h"

#include <algorithm>
#include <cassert>
#include <sstream>

namespace synod::sim {
namespace {

const NodeId& sender(const RsmSim::PeerMessage& m) {
  return std::visit([](const auto& x) -> const NodeId& { return x.from; }, m);
}
const NodeId& receiver(const RsmSim::PeerMessage& m) {
  return std::visit([](const auto& x) -> const NodeId& { return x.to; }, m);
}

std::uint64_t number_of(const std::variant<rsm::ClientRequest, rsm::ReadRequest>& r) {
  if (const auto* w = std::get_if<rsm::ClientRequest>(&r)) return w->request_no;
  return std::get<rsm::ReadRequest>(r).read_no;
}

}  // namespace

RsmSim::RsmSim(RsmSimOptions options) : options_(std::move(options)), rng_(options_.seed) {
  assert(options_.nodes >= 1 && options_.clients >= 1 && options_.keys >= 1);
  for (std::size_t i = 1; i <= options_.nodes; ++i) ids_.push_back("n" + std::to_string(i));
  const std::size_t members = options_.initial_members == 0 ? ids_.size() : options_.initial_members;
  assert(members <= ids_.size());
  initial_view_ = View::make(1, ids_[0], std::vector<NodeId>(ids_.begin() + 1, ids_.begin() + members)).value();
  views_[1] = initial_view_;
  clients_reach_every_side_ = options_.clients_reach_every_side.value_or(rng_.chance(0.5));
  if (!options_.auto_remove_after_ticks) {
    options_.auto_remove_after_ticks = options_.faults && rng_.chance(0.3) ? 150 : 0;
  }
  if (!options_.snapshots_from_backups) options_.snapshots_from_backups = !options_.faults || rng_.chance(0.75);
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
  rsm::NodeConfig c;
  c.replica.self = id;
  c.replica.append_entries_max = 64;
  c.replica.pending_requests_max = 1000;
  c.replica.inflight_entries_max = 500;
  c.replica.session_idle_ticks = options_.session_idle_ticks;
  c.replica.snapshot_after_entries = options_.snapshot_after_entries;
  c.replica.snapshot_chunk_bytes = options_.snapshot_chunk_bytes;
  c.replica.snapshots_from_backups = *options_.snapshots_from_backups;
  c.auto_remove_after_ticks = *options_.auto_remove_after_ticks;
  c.auto_remove_min_members = options_.min_members;
  c.initial_view = initial_view_;
  c.seed = options_.seed;
  // What the runtime does at start: restore the state from the snapshot,
  // and skip log entries it covers (compaction may not have reached the disk).
  r.machine = std::make_unique<SimKv>();
  r.applier = std::make_unique<rsm::Applier>(*r.machine);
  r.handed_out = Viewstamp{};
  r.fresh_applied.clear();
  std::vector<rsm::LogEntry> recovered_log = r.durable_log;
  if (r.durable_snapshot) {
    restore_snapshot(id, *r.durable_snapshot);
    const Viewstamp through = r.durable_snapshot->through;
    std::erase_if(recovered_log, [&](const rsm::LogEntry& e) { return e.vs <= through; });
  }
  r.stored_snapshot = r.durable_snapshot;
  rsm::Recovered recovered{r.durable_paxos, std::move(recovered_log), r.ever_started,
                           rsm::RecoveredSnapshots{r.durable_snapshot, r.durable_partial}, r.durable_votes_after,
                           r.durable_rebuild_id};
  r.core = std::make_unique<rsm::Node>(c, std::move(recovered));
  r.ever_started = true;
  r.restart_at = 0;
  log("start " + id + " in view " + to_string(r.core->view()) + " with " + std::to_string(r.durable_log.size()) +
      " durable entries");
  drive(id);
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

void RsmSim::restart(const NodeId& id) {
  if (!is_up(id)) start_replica(id);
}

void RsmSim::restart_corrupt(const NodeId& id) {
  if (is_up(id)) return;
  SimReplica& r = replicas_.at(id);
  r.durable_paxos = paxos::DurableState{};
  r.wiped_log.insert(r.wiped_log.end(), r.durable_log.begin(), r.durable_log.end());
  std::sort(r.wiped_log.begin(), r.wiped_log.end());
  if (r.durable_snapshot) r.wiped_snapshot_through = std::max(r.wiped_snapshot_through, r.durable_snapshot->through);
  r.durable_log.clear();
  r.durable_snapshot.reset();
  r.durable_partial.reset();
  r.durable_votes_after = rsm::kRebuilding;
  r.durable_rebuild_id = rng_.between(1, ~std::uint64_t{0} - 1);
  ++result_.rebuilds;
  log(id + "'s state is found corrupt: wiped, to be rebuilt");
  start_replica(id);
}

void RsmSim::set_side(const NodeId& id, int side) {
  replicas_.at(id).side = side;
  log("partition " + id + " -> side " + std::to_string(side));
}

void RsmSim::send_peer(PeerMessage m) {
  if (drop_filter_ && drop_filter_(m)) return;
  if (const auto* rm = std::get_if<rsm::Message>(&m); rm && std::holds_alternative<rsm::SnapshotChunk>(rm->body)) {
    const SimReplica& sender = replicas_.at(rm->from);
    if (sender.core && !sender.core->is_primary()) ++result_.snapshot_chunks_from_backups;
  }
  net_.send(std::move(m), now_, rng_, options_.network, options_.faults);
}

void RsmSim::drive(const NodeId& id) {
  SimReplica& r = replicas_.at(id);
  for (int rounds = 0; r.core && r.core->has_ready(); ++rounds) {
    if (rounds > 1000) return fail(id + ": Ready loop did not settle");
    rsm::NodeReady ready = r.core->take_ready();
    if (ready_hook_ && ready_hook_(id, ready)) {
      log("scripted crash of " + id + " at a Ready");
      crash(id);
      return;
    }
    for (const View& v : ready.views_entered) on_view_entered(id, v);
    if (ready.install) {
      restore_snapshot(id, *ready.install);
      ++result_.snapshots_installed;
    }
    for (rsm::Message& m : ready.messages) send_peer(std::move(m));
    for (const paxos::Message& m : ready.paxos_messages) {
      const bool vote = std::holds_alternative<paxos::Promise>(m.body) || std::holds_alternative<paxos::Accepted>(m.body);
      if (vote && r.core && r.core->rebuilding()) {
        return fail(id + " voted (" + paxos::type_name(m.body) + ") while rebuilding lost state");
      }
    }
    for (paxos::Message& m : ready.paxos_messages) {
      if (auto* p = std::get_if<paxos::Promise>(&m.body); p && options_.bug == RsmBug::kIgnoreLogPositions) {
        p->log_position = Viewstamp{};
      }
      send_peer(std::move(m));
    }
    for (rsm::ClientNotice& n : ready.notices) {
      std::uint64_t client = std::visit([](const auto& x) { return x.client_id; }, n);
      if (client == 0) continue;  // a read the simulator injected itself
      client_net_.send(ClientPacket{client, id, false, {}, n}, now_, rng_, options_.network, options_.faults);
    }
    if (ready.truncate_after && !ready.install) {
      // A node may drop only entries that never committed anywhere: every
      // committed entry is in every later primary's log. (Installing a
      // snapshot replaces the whole log; the snapshot itself is checked.)
      for (const rsm::LogEntry& e : r.durable_log) {
        auto c = committed_.find(e.vs);
        if (e.vs > *ready.truncate_after && c != committed_.end() && c->second == e) {
          return fail(id + " truncates its log after " + to_string(*ready.truncate_after) + ", dropping " +
                      to_string(e.vs) + ", which committed");
        }
      }
    }
    if (ready.save_snapshot) r.stored_snapshot = ready.save_snapshot;
    else if (ready.install) r.stored_snapshot = ready.install;
    if (ready.write_id != 0) {
      if (options_.bug == RsmBug::kAckBeforeDurable) r.core->on_durable(ready.write_id);
      DiskBatch b{std::move(ready.paxos_writes), std::move(ready.snapshot_pieces), std::move(ready.install),
                  std::move(ready.save_snapshot), ready.compact_through, ready.votes_after,
                  ready.truncate_after, std::move(ready.appends)};
      std::vector<DiskBatch> one;
      one.push_back(std::move(b));
      r.disk.issue(ready.write_id, std::move(one), now_, rng_, options_.disk_ticks_min, options_.disk_ticks_max);
    }
    for (const rsm::LogEntry& e : ready.committed) on_committed(id, e);
    for (const rsm::ReadGrant& g : ready.reads) serve_read(id, g);
    if (ready.snapshot_due) take_snapshot(id, *ready.snapshot_due);
    for (const rsm::SnapshotRead& read : ready.snapshot_reads) {
      std::optional<Bytes> data;
      if (r.stored_snapshot && r.stored_snapshot->through == read.through &&
          read.offset + read.length <= r.stored_snapshot->bytes.size()) {
        data = r.stored_snapshot->bytes.substr(read.offset, read.length);
      }
      r.core->on_snapshot_read(read, std::move(data));
    }
    check_node(id);
  }
}

std::string RsmSim::canonical_snapshot(Viewstamp through) const {
  SimKv kv;
  rsm::Applier replay(kv);
  for (const auto& [vs, e] : committed_) {
    if (vs > through) break;
    replay.apply(e);
  }
  std::ostringstream out;
  replay.write_snapshot(out);
  return out.str();
}

void RsmSim::restore_snapshot(const NodeId& id, const rsm::SnapshotImage& image) {
  SimReplica& r = replicas_.at(id);
  if (image.through != Viewstamp{} && committed_.count(image.through) == 0) {
    return fail(id + " holds a snapshot through " + to_string(image.through) + ", which never committed");
  }
  if (image.bytes != canonical_snapshot(image.through)) {
    return fail(id + " holds a snapshot through " + to_string(image.through) +
                " that differs from the state after the committed entries up to it");
  }
  r.machine = std::make_unique<SimKv>();
  r.applier = std::make_unique<rsm::Applier>(*r.machine);
  std::istringstream in(image.bytes);
  if (Status st = r.applier->restore_snapshot(in); !st) return fail(id + " cannot restore its snapshot: " + st.error().message);
  r.handed_out = image.through;
  log(id + " restored the state through " + to_string(image.through));
}

void RsmSim::take_snapshot(const NodeId& id, Viewstamp through) {
  SimReplica& r = replicas_.at(id);
  if (!r.core) return;
  if (r.handed_out != through) {
    return fail(id + " was asked to snapshot through " + to_string(through) + " having applied " +
                to_string(r.handed_out));
  }
  std::ostringstream out;
  r.applier->write_snapshot(out);
  rsm::SnapshotImage image{through, out.str()};
  if (image.bytes != canonical_snapshot(through)) {
    return fail(id + "'s snapshot through " + to_string(through) + " differs from the committed prefix");
  }
  ++result_.snapshots_taken;
  r.core->on_snapshot_taken(std::move(image));
}

std::size_t RsmSim::durable_holders(const rsm::LogEntry& e, const std::vector<NodeId>& among) const {
  std::size_t holders = 0;
  for (const NodeId& m : among) {
    const SimReplica& other = replicas_.at(m);
    if ((other.durable_snapshot && other.durable_snapshot->through >= e.vs) || other.wiped_snapshot_through >= e.vs ||
        std::binary_search(other.wiped_log.begin(), other.wiped_log.end(), e)) {
      ++holders;
      continue;
    }
    const auto& log = other.durable_log;
    auto pos = std::lower_bound(log.begin(), log.end(), e.vs,
                                [](const rsm::LogEntry& x, const Viewstamp& v) { return x.vs < v; });
    holders += pos != log.end() && *pos == e ? 1 : 0;
  }
  return holders;
}

void RsmSim::make_durable(const NodeId& id, DiskBatch batch) {
  SimReplica& r = replicas_.at(id);
  for (const paxos::Write& w : batch.paxos_writes) r.durable_paxos.apply(w);
  if (batch.install) {
    if (r.durable_snapshot && batch.install->through <= r.durable_snapshot->through) {
      return fail(id + " installs a snapshot through " + to_string(batch.install->through) + " over one through " +
                  to_string(r.durable_snapshot->through));
    }
    r.durable_snapshot = batch.install;
    r.durable_partial.reset();
  }
  for (rsm::SnapshotPiece& p : batch.snapshot_pieces) {
    if (batch.install && p.through == batch.install->through) continue;  // consumed by the install
    if (p.offset == 0) {
      r.durable_partial = std::move(p);
    } else if (r.durable_partial && r.durable_partial->through == p.through &&
               r.durable_partial->data.size() == p.offset) {
      r.durable_partial->data += p.data;
    } else {
      return fail(id + " persisted snapshot bytes at " + std::to_string(p.offset) + " that do not follow its partial snapshot");
    }
  }
  if (batch.save_snapshot) {
    // A snapshot of our own leaves a transfer in progress alone.
    if (r.durable_snapshot && batch.save_snapshot->through <= r.durable_snapshot->through) {
      return fail(id + " stores a snapshot through " + to_string(batch.save_snapshot->through) +
                  " over one through " + to_string(r.durable_snapshot->through));
    }
    r.durable_snapshot = std::move(batch.save_snapshot);
  }
  if (batch.votes_after) r.durable_votes_after = *batch.votes_after;
  if (batch.compact_through) {
    const Viewstamp t = *batch.compact_through;
    std::erase_if(r.durable_log, [&](const rsm::LogEntry& e) { return e.vs <= t; });
  }
  if (batch.truncate_after) {
    const Viewstamp t = *batch.truncate_after;
    std::erase_if(r.durable_log, [&](const rsm::LogEntry& e) { return e.vs > t; });
  }
  for (rsm::LogEntry& e : batch.appends) {
    const Viewstamp base = r.durable_snapshot ? r.durable_snapshot->through : Viewstamp{};
    Viewstamp last = r.durable_log.empty() ? base : r.durable_log.back().vs;
    if (!rsm::follows(last, e.vs)) {
      return fail(id + " persisted " + to_string(e.vs) + " after " + to_string(last) + " (gap in its durable log)");
    }
    r.durable_log.push_back(std::move(e));
  }
}

void RsmSim::on_view_entered(const NodeId& id, const View& v) {
  auto [it, first] = views_.emplace(v.vid, v);
  if (!first && it->second != v) {
    return fail(id + " entered " + to_string(v) + " but another node entered " + to_string(it->second));
  }
  if (first && views_.count(v.vid - 1) != 0) {
    const View& before = views_.at(v.vid - 1);
    for (const NodeId& m : v.members()) result_.members_added += before.contains(m) ? 0 : 1;
    for (const NodeId& m : before.members()) result_.members_removed += v.contains(m) ? 0 : 1;
    if (v.size() + 1 < before.size() || v.size() > before.size() + 1) {
      fail("view " + to_string(v) + " changes more than one member of " + to_string(before));
    }
  }
  result_.views_decided = std::max<std::uint64_t>(result_.views_decided, v.vid - 1);
  log(id + " enters view " + to_string(v));
}

void RsmSim::check_node(const NodeId& id) {
  const SimReplica& r = replicas_.at(id);
  if (!r.core) return;
  if (r.core->paxos().conflicting_decisions() != 0) fail(id + " was told two different views for one instance");
  if (r.core->replica().committed_entries_truncated() != 0) fail(id + " dropped a committed entry from its log");
}

void RsmSim::on_committed(const NodeId& id, const rsm::LogEntry& e) {
  SimReplica& r = replicas_.at(id);
  const Viewstamp prev = r.handed_out;
  auto it = committed_.find(e.vs);
  if (it != committed_.end()) {
    if (it->second != e) return fail("committed entry " + to_string(e.vs) + " changed on " + id);
    auto successor = prev == Viewstamp{} ? committed_.begin() : std::next(committed_.find(prev));
    if (successor == committed_.end() || successor->first != e.vs) {
      return fail(id + " handed out " + to_string(e.vs) + " after " + to_string(prev) +
                  ", which is not the next committed entry");
    }
  } else {
    const Viewstamp global_end = committed_.empty() ? Viewstamp{} : committed_.rbegin()->first;
    if (prev != global_end) {
      return fail(id + " handed out a new committed entry " + to_string(e.vs) + " after " + to_string(prev) +
                  " while the committed sequence ends at " + to_string(global_end) + " (divergence)");
    }
    committed_.emplace(e.vs, e);
    // The commit rule: when an entry first commits, a majority of the view
    // that committed it holds it on disk. The first node to hand an entry out
    // is in that view.
    const View& v = r.core->view();
    const std::size_t member_holders = durable_holders(e, v.members());
    if (member_holders < v.majority()) {
      return fail("entry " + to_string(e.vs) + " committed while durable on only " +
                  std::to_string(member_holders) + " members of " + to_string(v));
    }
    ++result_.entries_committed;
  }
  r.handed_out = e.vs;
  rsm::Applied a = r.applier->apply(e);
  if (a.noop) return;
  auto request = std::make_pair(a.client_id, a.request_no);
  if (a.fresh) {
    if (!r.fresh_applied.insert(request).second) return fail(id + " applied a request twice");
    auto [rep, new_reply] = replies_.emplace(request, a.reply);
    if (!new_reply && rep->second != a.reply) {
      return fail("request " + std::to_string(a.client_id) + "/" + std::to_string(a.request_no) +
                  " got different replies on different nodes");
    }
  }
  if (r.core->is_primary() && !a.stale && !a.noop) {
    client_net_.send(ClientPacket{a.client_id, id, false, {}, a}, now_, rng_, options_.network, options_.faults);
  }
}

void RsmSim::serve_read(const NodeId& id, const rsm::ReadGrant& g) {
  SimReplica& r = replicas_.at(id);
  if (!r.machine) return;
  const Bytes reply = r.machine->query(g.request.op);
  if (g.request.client_id == 0 && g.request.allow_stale) {
    // A stale read reflects exactly the committed prefix it names.
    if (g.as_of != r.handed_out) {
      return fail(id + " granted a stale read as of " + to_string(g.as_of) + " but had applied " +
                  to_string(r.handed_out));
    }
    SimKv canonical;
    rsm::Applier replay(canonical);
    for (const auto& [vs, e] : committed_) {
      if (vs > g.as_of) break;
      replay.apply(e);
    }
    if (canonical.query(g.request.op) != reply) {
      return fail(id + " answered a stale read as of " + to_string(g.as_of) + " with \"" + reply +
                  "\", which is not the state after the committed entries up to it");
    }
    ++result_.stale_reads_checked;
    return;
  }
  if (!g.request.allow_stale) {
    ++r.reads_served;
    ++result_.reads_served;
  }
  if (g.request.client_id == 0) return;
  client_net_.send(ClientPacket{g.request.client_id, id, false, {}, ReadAnswer{g.request.read_no, reply}}, now_,
                   rng_, options_.network, options_.faults);
}

void RsmSim::stale_read_at_random_node() {
  const NodeId& id = ids_[rng_.below(ids_.size())];
  if (!is_up(id)) return;
  const std::string key = "k" + std::to_string(rng_.below(options_.keys));
  replicas_.at(id).core->submit_read(rsm::ReadRequest{0, next_stale_read_no_++, "G|" + key, true});
  drive(id);
}

void RsmSim::inject_read(const NodeId& id, const std::string& key) {
  if (!is_up(id)) return;
  replicas_.at(id).core->submit_read(rsm::ReadRequest{0, next_stale_read_no_++, "G|" + key, false});
  drive(id);
}

void RsmSim::deliver_peer_message(const PeerMessage& m) {
  SimReplica& to = replicas_.at(receiver(m));
  if (!to.core || replicas_.at(sender(m)).side != to.side) return;
  std::visit([&](const auto& x) { to.core->step(x); }, m);
  drive(receiver(m));
}

void RsmSim::deliver_client_packet(const ClientPacket& p) {
  if (p.to_replica) {
    SimReplica& r = replicas_.at(p.node);
    if (!r.core || !client_reaches(r)) return;
    if (const auto* read = std::get_if<rsm::ReadRequest>(&p.request)) {
      rsm::ReadRequest q = *read;
      if (options_.bug == RsmBug::kReadsWithoutConfirmation && r.core->is_primary()) q.allow_stale = true;
      r.core->submit_read(std::move(q));
      drive(p.node);
      return;
    }
    const auto& request = std::get<rsm::ClientRequest>(p.request);
    // The runtime's part: a request of an expired session is refused, and an
    // applied one is answered from the session table, without ordering it again.
    if (r.applier->session_expired(request.client_id)) {
      rsm::Applied a{request.client_id, request.request_no, {}, false, false, false, true};
      client_net_.send(ClientPacket{p.client, p.node, false, {}, a}, now_, rng_, options_.network, options_.faults);
      return;
    }
    if (std::optional<Bytes> reply = r.applier->reply_for(request.client_id, request.request_no)) {
      rsm::Applied a{request.client_id, request.request_no, *reply, false, false};
      client_net_.send(ClientPacket{p.client, p.node, false, {}, a}, now_, rng_, options_.network, options_.faults);
      return;
    }
    r.core->submit(request);
    drive(p.node);
    return;
  }
  SimClient& c = clients_.at(p.client - 1);
  if (!c.current) return;
  const std::uint64_t current_no = number_of(c.request);
  const bool reading = std::holds_alternative<rsm::ReadRequest>(c.request);
  auto complete = [&](const Bytes& reply) {
    KvOp& op = history_[*c.current];
    op.outcome_known = true;
    op.completed_at = now_;
    decode_kv_reply(reply, op);
    c.current.reset();
    ++result_.ops_completed;
  };
  if (const auto* a = std::get_if<rsm::Applied>(&p.answer)) {
    if (reading || a->request_no != current_no) return;
    if (a->expired) {
      // The op may or may not have applied before the session ended: its
      // outcome stays unknown in the history.
      c.told_expired = true;
      c.current.reset();
      return;
    }
    complete(a->reply);
  } else if (const auto* ra = std::get_if<ReadAnswer>(&p.answer)) {
    if (reading && ra->read_no == current_no) complete(ra->reply);
  } else if (const auto* n = std::get_if<rsm::ClientNotice>(&p.answer)) {
    if (const auto* redirect = std::get_if<rsm::ClientRedirect>(n)) {
      if (redirect->request_no != current_no) return;
      c.target = redirect->primary;
      send_request(c);
    } else {
      c.retry_at = std::min(c.retry_at, now_ + 10);  // busy: back off a little
    }
  }
}

void RsmSim::send_request(SimClient& c) {
  client_net_.send(ClientPacket{c.id, c.target, true, c.request, {}}, now_, rng_, options_.network, options_.faults);
  c.retry_at = now_ + options_.client_retry_ticks;
}

void RsmSim::start_op(SimClient& c, KvOp op) {
  assert(!c.current);
  op.client = c.id;
  op.invoked_at = now_;
  op.outcome_known = false;
  if (op.kind == KvOpKind::kPut || op.kind == KvOpKind::kCas) written_values_[op.key].push_back(op.value);
  history_.push_back(op);
  c.current = history_.size() - 1;
  if (op.kind == KvOpKind::kGet && rng_.chance(options_.read_path_fraction)) {
    c.request = rsm::ReadRequest{c.id, c.next_request_no++, encode_kv_op(op), false};
  } else {
    c.request = rsm::ClientRequest{c.id, c.next_request_no++, encode_kv_op(op)};
  }
  if (c.target.empty()) c.target = ids_[rng_.below(ids_.size())];
  send_request(c);
}

void RsmSim::resend_current(std::uint64_t client, const NodeId& node) {
  SimClient& c = clients_.at(client - 1);
  c.target = node;
  send_request(c);
}

std::size_t RsmSim::submit_put(std::uint64_t client, const std::string& key, const std::string& value) {
  SimClient& c = clients_.at(client - 1);
  KvOp op;
  op.kind = KvOpKind::kPut;
  op.key = key;
  op.value = value;
  start_op(c, op);
  return *c.current;
}

void RsmSim::clients_act() {
  if (options_.clients_start_ops && rng_.chance(options_.stale_read_per_tick)) stale_read_at_random_node();
  for (SimClient& c : clients_) {
    if (c.current) {
      if (now_ >= c.retry_at) {
        // No answer: maybe the node is down; any node will redirect.
        c.target = ids_[rng_.below(ids_.size())];
        send_request(c);
      }
      continue;
    }
    if (!options_.clients_start_ops || !rng_.chance(options_.request_per_tick)) continue;
    KvOp op;
    op.key = "k" + std::to_string(rng_.below(options_.keys));
    op.value = "v" + std::to_string(c.id) + "." + std::to_string(c.next_request_no);
    op.kind = static_cast<KvOpKind>(rng_.below(4));
    if (op.kind == KvOpKind::kCas) {
      // Expect a value some client wrote to this key, or absence.
      const std::vector<std::string>& candidates = written_values_[op.key];
      if (candidates.empty() || rng_.chance(0.2)) op.expect_absent = true;
      else op.expected = candidates[rng_.below(candidates.size())];
    }
    start_op(c, op);
  }
}

std::optional<NodeId> RsmSim::current_primary() const {
  const View* best = nullptr;
  for (const auto& [id, r] : replicas_) {
    if (r.core && (!best || r.core->view().vid > best->vid)) best = &r.core->view();
  }
  if (!best || !is_up(best->primary)) return std::nullopt;
  return best->primary;
}

void RsmSim::inject_faults() {
  if (rng_.chance(options_.crash_per_tick)) {
    const NodeId& victim = ids_[rng_.below(ids_.size())];
    if (is_up(victim)) {
      crash(victim);
      replicas_[victim].restart_at = now_ + rng_.between(options_.down_ticks_min, options_.down_ticks_max);
    }
  }
  if (rng_.chance(options_.primary_crash_per_tick)) {
    if (std::optional<NodeId> p = current_primary()) {
      crash(*p);
      replicas_[*p].restart_at = now_ + rng_.between(options_.down_ticks_min, options_.down_ticks_max);
    }
  }
  if (rng_.chance(options_.partition_change_per_tick)) {
    const NodeId& n = ids_[rng_.below(ids_.size())];
    set_side(n, 1 - replicas_[n].side);
  }
  if (rng_.chance(options_.membership_change_per_tick)) change_membership_at_random();
  if (rng_.chance(options_.false_suspicion_per_tick)) {
    const NodeId& n = ids_[rng_.below(ids_.size())];
    if (is_up(n)) {
      log(n + " suspects its primary falsely");
      replicas_[n].core->suspect_primary();
      drive(n);
    }
  }
}

Status RsmSim::request_transfer(const NodeId& at, const NodeId& id) {
  if (!is_up(at)) return Error{at + " is down"};
  Status s = replicas_.at(at).core->request_transfer(id);
  log("admin at " + at + ": transfer the primary role to " + id + " -> " + (s ? "ok" : s.error().message));
  drive(at);
  return s;
}

Status RsmSim::snapshot_now(const NodeId& at) {
  if (!is_up(at)) return Error{at + " is down"};
  Status s = replicas_.at(at).core->snapshot_now();
  log("admin at " + at + ": snapshot now -> " + (s ? "ok" : s.error().message));
  drive(at);
  return s;
}

Status RsmSim::request_add(const NodeId& at, const NodeId& id) {
  if (!is_up(at)) return Error{at + " is down"};
  // With an address, as the runtime's admin RPC does: the address book is
  // replicated state that snapshots must carry too.
  Status s = replicas_.at(at).core->request_add(id, "sim-" + id + ":7000");
  log("admin at " + at + ": add " + id + " -> " + (s ? "ok" : s.error().message));
  if (s) add_requested_at_ = now_;
  drive(at);
  return s;
}

Status RsmSim::request_remove(const NodeId& at, const NodeId& id) {
  if (!is_up(at)) return Error{at + " is down"};
  Status s = replicas_.at(at).core->request_remove(id);
  log("admin at " + at + ": remove " + id + " -> " + (s ? "ok" : s.error().message));
  drive(at);
  return s;
}

Status RsmSim::cancel_add(const NodeId& at, const NodeId& id) {
  if (!is_up(at)) return Error{at + " is down"};
  Status s = replicas_.at(at).core->cancel_add(id);
  log("admin at " + at + ": cancel add " + id + " -> " + (s ? "ok" : s.error().message));
  drive(at);
  return s;
}

void RsmSim::change_membership_at_random() {
  std::optional<NodeId> p = current_primary();
  if (!p) return;
  const rsm::Node& primary = *replicas_.at(*p).core;
  if (const auto& change = primary.pending_change()) {
    if (change->kind == rsm::MembershipChange::Kind::kAdd && now_ - add_requested_at_ > options_.add_patience_ticks) {
      (void)cancel_add(*p, change->node);
    }
    return;
  }
  const View& v = primary.view();
  std::vector<NodeId> outside;
  for (const NodeId& id : ids_) {
    if (!v.contains(id)) outside.push_back(id);
  }
  if (!v.backups.empty() && rng_.chance(0.2)) {
    (void)request_transfer(*p, v.backups[rng_.below(v.backups.size())]);
  } else if (!outside.empty() && (v.size() <= options_.min_members || rng_.chance(0.7))) {
    (void)request_add(*p, outside[rng_.below(outside.size())]);
  } else if (v.size() > options_.min_members) {
    std::vector<NodeId> members = v.members();
    (void)request_remove(*p, members[rng_.below(members.size())]);
  }
}

void RsmSim::step_time() {
  ++now_;
  PeerMessage m;
  while (net_.pop_due(now_, m)) deliver_peer_message(m);
  ClientPacket p;
  while (client_net_.pop_due(now_, p)) deliver_client_packet(p);
  for (const NodeId& id : ids_) {
    SimReplica& r = replicas_[id];
    SimDisk<DiskBatch>::Batch b;
    while (r.core && r.disk.pop_durable(now_, b)) {
      std::vector<rsm::LogEntry> appended = b.writes.front().appends;
      make_durable(id, std::move(b.writes.front()));
      if (durable_hook_ && durable_hook_(id, appended)) {
        log("scripted crash of " + id + " after a durable write, before it is reported");
        crash(id);
        break;
      }
      if (options_.bug != RsmBug::kAckBeforeDurable) r.core->on_durable(b.write_id);
      drive(id);
    }
    if (!r.core && r.restart_at != 0 && r.restart_at <= now_) {
      // Losing one member's state is survivable when the others are a
      // majority of voters: one at a time, and never in a view of two.
      bool someone_rebuilding = false;
      for (const auto& [_, other] : replicas_) someone_rebuilding |= other.durable_votes_after == rsm::kRebuilding;
      const bool big_enough = views_.rbegin()->second.size() >= 3;
      if (options_.faults && !someone_rebuilding && big_enough && rng_.chance(options_.corrupt_on_restart)) {
        restart_corrupt(id);
      } else {
        start_replica(id);
      }
    }
  }
  if (options_.faults) inject_faults();
  clients_act();
  for (const NodeId& id : ids_) {
    if (!replicas_[id].core) continue;
    replicas_[id].core->tick();
    drive(id);
  }
}

bool RsmSim::run_until(std::uint64_t ticks, const std::function<bool()>& done) {
  const std::uint64_t deadline = now_ + ticks;
  while (!done()) {
    if (now_ >= deadline || result_.violation) return false;
    step_time();
  }
  return true;
}

bool RsmSim::converged() const {
  for (const SimClient& c : clients_) {
    if (c.current) return false;
  }
  std::optional<NodeId> p = current_primary();
  if (!p) return false;
  const rsm::Node& primary = *replicas_.at(*p).core;
  if (primary.frozen() || !primary.is_primary()) return false;
  // Members only: a removed node may stay behind.
  for (const NodeId& m : primary.view().members()) {
    const SimReplica& r = replicas_.at(m);
    if (!r.core || r.core->view() != primary.view()) return false;
    if (r.handed_out != primary.replica().last() || r.core->replica().last() != primary.replica().last()) return false;
  }
  return true;
}

bool RsmSim::heal_and_settle() {
  options_.faults = false;
  options_.clients_start_ops = false;
  ready_hook_ = nullptr;
  drop_filter_ = nullptr;
  durable_hook_ = nullptr;
  for (const NodeId& id : ids_) {
    replicas_[id].side = 0;
    restart(id);
  }
  log("healed");
  if (run_until(options_.settle_ticks_max, [&] { return converged(); })) return true;
  if (!result_.violation) {
    std::string where;
    for (const auto& [id, r] : replicas_) {
      where += " " + id + (r.core ? "@" + to_string(r.handed_out) + " in " + to_string(r.core->view()) +
                                         (r.core->frozen() ? " frozen" : "")
                                   : " down");
    }
    std::size_t waiting = 0;
    for (const SimClient& c : clients_) waiting += c.current ? 1 : 0;
    fail("liveness: " + std::to_string(options_.settle_ticks_max) + " ticks after healing, " +
         std::to_string(waiting) + " clients wait; nodes:" + where);
  }
  return false;
}

void RsmSim::check_history() {
  if (result_.violation) return;
  LinearizabilityResult lin = check_kv_history(history_);
  if (!lin.linearizable) fail("client history is not linearizable: " + lin.explanation);
  result_.linearizability_inconclusive = lin.gave_up;
}

RsmSimResult RsmSim::run() {
  while (now_ < options_.fault_ticks && !result_.violation) step_time();
  if (!result_.violation) heal_and_settle();
  check_history();
  return result_;
}

std::optional<std::string> run_rsm_seeds(RsmSimOptions base, std::uint64_t first, std::uint64_t count) {
  return sweep_seeds<RsmSim>(std::move(base), first, count, "synod-sim-rsm");
}

}  // namespace synod::sim
