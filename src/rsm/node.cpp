#include "rsm/node.h"

#include <algorithm>
#include <cassert>

#include "rsm/applier.h"

namespace synod::rsm {
namespace {

paxos::Config paxos_config(const NodeConfig& c) {
  paxos::Config p = c.paxos;
  p.self = c.replica.self;
  p.initial_view = c.initial_view;
  p.seed = c.seed;
  return p;
}

// splitmix64: the jitter of one node's timeouts, from the run's seed.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t seed_for(std::uint64_t seed, const NodeId& self) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : self) h = (h ^ c) * 1099511628211ull;
  return h;
}

ViewId vid_of(const Body& body) {
  return std::visit([](const auto& b) { return b.vid; }, body);
}

// The rank of a promiser in the choice of a new primary: higher wins.
struct Rank {
  Viewstamp last;
  bool wanted_primary;
  bool proposer;
  auto operator<=>(const Rank&) const = default;
};

}  // namespace

std::string to_string(const MembershipChange& change) {
  switch (change.kind) {
    case MembershipChange::Kind::kAdd: return "adding " + change.node;
    case MembershipChange::Kind::kRemove: return "removing " + change.node;
    case MembershipChange::Kind::kTransfer: return "handing the primary role to " + change.node;
  }
  return change.node;
}

View choose_view(const View& wanted, const NodeId& proposer, const std::map<NodeId, Viewstamp>& log_positions) {
  std::optional<NodeId> best;
  Rank best_rank{};
  // The map iterates ids in ascending order and only a strictly higher rank
  // replaces the best, so equal ranks go to the smallest id.
  for (const auto& [id, last] : log_positions) {
    Rank r{last, id == wanted.primary, id == proposer};
    if (!best || r > best_rank) {
      best = id;
      best_rank = r;
    }
  }
  if (!best) return wanted;
  std::vector<NodeId> backups;
  for (const NodeId& m : wanted.members()) {
    if (m != *best) backups.push_back(m);
  }
  Result<View> v = View::make(wanted.vid, *best, std::move(backups));
  return v.ok() ? std::move(v).value() : wanted;
}

Node::Node(NodeConfig config, Recovered recovered)
    : config_(std::move(config)),
      paxos_(paxos_config(config_), recovered.paxos),
      replica_(config_.replica, paxos_.latest_view(), std::move(recovered.log), std::move(recovered.snapshots)),
      rng_state_(seed_for(config_.seed, config_.replica.self)) {
  assert(config_.primary_timeout_ticks > 0 && config_.view_change_timeout_ticks > 0);
  reset_suspicion();
  if (recovered.votes_after == kRebuilding) {
    rebuilding_ = true;
    rebuild_id_ = recovered.rebuild_id;
    paxos_.stop_voting();
    replica_.set_non_voting(true);
  } else {
    paxos_.vote_after(recovered.votes_after);
  }
  if (recovered.restarted && replica_.is_primary()) {
    // We may have handed out viewstamps that a crash took from our disk but
    // not from the backups'; ordering again in this view could reuse them.
    recovering_ = true;
    update_freeze();
    start_view_change();
  }
  update_freeze();
}

void Node::reset_suspicion() {
  std::uint64_t jitter = config_.primary_timeout_jitter_ticks == 0
                             ? 0
                             : next_random(rng_state_) % (config_.primary_timeout_jitter_ticks + 1);
  suspect_at_ = now_ticks_ + config_.primary_timeout_ticks + jitter;
}

void Node::update_freeze() {
  // A proposer of the next view freezes when it proposes, not when its own
  // Prepare reaches it: that waits for its round to be durable, and entries
  // it acknowledged meanwhile would be missing from the position its own
  // promise reports.
  const ViewId next = view().vid + 1;
  const bool proposing_next = paxos_.proposal() != nullptr && paxos_.proposal()->instance() == next;
  const bool frozen = recovering_ || proposing_next || !paxos_.promised_for(next).is_zero();
  if (frozen && !replica_.frozen()) frozen_since_ = now_ticks_;
  replica_.set_frozen(frozen);
}

void Node::start_view_change() {
  if (rebuilding_) return;  // our proposer round was lost with our state
  // Wanted: the same view, one id later; the chooser moves the primary to
  // whoever holds the highest viewstamp, and an accepted value overrides both.
  const View& current = view();
  if (!current.contains(self())) return;
  View wanted = current;
  wanted.vid = current.vid + 1;
  propose_view(std::move(wanted));
}

void Node::propose_view(View wanted, std::map<NodeId, Viewstamp> known) {
  if (rebuilding_) return;
  paxos_.set_log_position(replica_.last());
  const ViewId vid = wanted.vid;
  // Fails harmlessly when already proposing or when the instance is decided
  // (the decision is then on its way to us through Ready::learned).
  (void)paxos_.propose(vid, std::move(wanted),
                       [me = self(), known = std::move(known)](const View& w, std::map<NodeId, Viewstamp> p) {
                         for (const auto& [id, last] : known) p.emplace(id, last);
                         return choose_view(w, me, p);
                       });
  update_freeze();
}

Status Node::check_can_change_membership() const {
  const View& v = view();
  if (!is_primary()) {
    return Error{"not the primary of view " + std::to_string(v.vid) + ": send it to " + v.primary};
  }
  if (frozen()) return Error{"busy: a view change is in progress; retry"};
  if (pending_change_) return Error{"busy: " + to_string(*pending_change_) + " is in progress; retry"};
  if (!replica_.established()) {
    return Error{"busy: view " + std::to_string(v.vid) + " has not finished starting; retry"};
  }
  return Status::Ok();
}

Status Node::request_add(const NodeId& id, const std::string& address) {
  if (Status s = check_can_change_membership(); !s) return s;
  if (Status s = validate_node_id(id); !s) return s;
  if (view().contains(id)) return Error{id + " is already a member of view " + to_string(view())};
  if (address.find('\n') != std::string::npos) return Error{"an address holds no line break"};
  if (!address.empty()) replica_.order_internal(LogEntry::kSetAddress, encode_address(id, address));
  pending_change_ = MembershipChange{MembershipChange::Kind::kAdd, id, false};
  replica_.add_learner(id);
  return Status::Ok();
}

Status Node::cancel_add(const NodeId& id) {
  if (!pending_change_ || pending_change_->kind != MembershipChange::Kind::kAdd || pending_change_->node != id) {
    return Error{"no add of " + id + " is pending"};
  }
  if (pending_change_->proposed) {
    return Error{"too late to cancel: the view adding " + id + " is being decided"};
  }
  replica_.remove_learner(id);
  pending_change_.reset();
  return Status::Ok();
}

std::size_t Node::live_members(const std::vector<NodeId>& members) const {
  std::size_t live = 0;
  for (const NodeId& m : members) {
    if (rebuilding_members_.count(m) != 0) continue;  // answers, but cannot vote
    std::optional<std::uint64_t> silent = replica_.follower_silent_ticks(m);
    live += m == self() || (silent && *silent < config_.primary_timeout_ticks) ? 1 : 0;
  }
  return live;
}

Status Node::request_remove(const NodeId& id) {
  if (Status s = check_can_change_membership(); !s) return s;
  if (!view().contains(id)) return Error{id + " is not a member of view " + to_string(view())};
  if (view().size() == 1) return Error{"cannot remove " + id + ": it is the only member"};
  // Like etcd's strict reconfiguration check: refuse a removal after which
  // the members we hear from would not be a majority of the next view.
  std::vector<NodeId> remaining = view().members();
  std::erase(remaining, id);
  const std::size_t live = live_members(remaining);
  const std::size_t majority = remaining.size() / 2 + 1;
  if (live < majority) {
    return Error{"refusing to remove " + id + ": of the " + std::to_string(remaining.size()) +
                 " members left, only " + std::to_string(live) + " answer, fewer than the majority of " +
                 std::to_string(majority) + " the next view would need; bring members back first"};
  }
  pending_change_ = MembershipChange{MembershipChange::Kind::kRemove, id, false};
  pending_since_ = now_ticks_;
  if (id == self()) {
    // Hand the role to a backup once it holds everything we have: stop
    // ordering so that one can get there.
    replica_.set_ordering_paused(true);
  }
  advance_membership_change();
  return Status::Ok();
}

Status Node::request_transfer(const NodeId& id) {
  if (Status s = check_can_change_membership(); !s) return s;
  if (id == self()) return Error{id + " is the primary already"};
  if (!view().contains(id)) return Error{id + " is not a member of view " + to_string(view())};
  if (rebuilding_members_.count(id) != 0) return Error{id + " is rebuilding lost state and cannot be primary yet"};
  pending_change_ = MembershipChange{MembershipChange::Kind::kTransfer, id, false};
  pending_since_ = now_ticks_;
  replica_.set_ordering_paused(true);  // so that it can catch up with our whole log
  advance_membership_change();
  return Status::Ok();
}

void Node::advance_membership_change() {
  if (!pending_change_ || pending_change_->proposed || !is_primary() || frozen() || paxos_.proposing()) return;
  const View& v = view();
  const NodeId& id = pending_change_->node;
  std::vector<NodeId> members = v.members();
  NodeId primary = v.primary;
  std::map<NodeId, Viewstamp> known;
  if (pending_change_->kind == MembershipChange::Kind::kAdd) {
    std::optional<std::size_t> lag = replica_.follower_lag_entries(id);
    if (!lag || *lag > config_.learner_lag_entries_max) return;
    members.push_back(id);
  } else if (pending_change_->kind == MembershipChange::Kind::kTransfer) {
    if (replica_.follower_lag_entries(id) != std::optional<std::size_t>{0}) {
      if (now_ticks_ - pending_since_ >= config_.handover_timeout_ticks) {
        pending_change_.reset();
        replica_.set_ordering_paused(false);
      }
      return;
    }
    // As for a removal of the primary: it acknowledged our whole log as
    // durable, and we order nothing more.
    primary = id;
    known[primary] = replica_.last();
  } else {
    if (id == self()) {
      // The successor is whichever backup first holds our whole log (the
      // first we picked may stop answering). None within the timeout: give
      // up, order again, and let the admin retry.
      std::optional<NodeId> successor;
      for (const NodeId& b : v.backups) {
        if (replica_.follower_lag_entries(b) == std::optional<std::size_t>{0}) {
          successor = b;
          break;
        }
      }
      if (!successor) {
        if (now_ticks_ - pending_since_ >= config_.handover_timeout_ticks) {
          pending_change_.reset();
          replica_.set_ordering_paused(false);
        }
        return;
      }
      primary = *successor;
      // It acknowledged our whole log as durable, and we order nothing more:
      // it holds every committed op even if its promise comes too late.
      known[primary] = replica_.last();
    }
    std::erase(members, id);
    // Members may have stopped answering since the request: do not propose a
    // view that could not commit; wait, then give up.
    if (live_members(members) < members.size() / 2 + 1) {
      if (now_ticks_ - pending_since_ >= config_.handover_timeout_ticks) {
        pending_change_.reset();
        replica_.set_ordering_paused(false);
      }
      return;
    }
  }
  std::erase(members, primary);
  // Our own position, durable, for when our promise is not among the first
  // majority: without it the chooser might move the primary role to a tied
  // backup, or keep a member being removed.
  known.emplace(self(), replica_.durable());
  Result<View> wanted = View::make(v.vid + 1, primary, std::move(members));
  if (!wanted.ok()) {
    pending_change_.reset();
    return;
  }
  pending_change_->proposed = true;
  propose_view(std::move(wanted).value(), std::move(known));
}

void Node::tick() {
  ++now_ticks_;
  paxos_.set_log_position(replica_.last());
  paxos_.tick();
  update_freeze();
  replica_.tick();
  if (replica_.frozen()) {
    if (!paxos_.proposing() && now_ticks_ - frozen_since_ >= config_.view_change_timeout_ticks) {
      frozen_since_ = now_ticks_;
      start_view_change();
    }
  } else if (!replica_.is_primary() && view().contains(self()) && now_ticks_ >= suspect_at_) {
    reset_suspicion();
    start_view_change();
  }
  apply_auto_removal();
  advance_membership_change();
  if (rebuilding_ && view().contains(self()) && !is_primary() && now_ticks_ >= next_rebuild_request_at_) {
    next_rebuild_request_at_ = now_ticks_ + config_.rebuild_request_ticks;
    staged_.messages.push_back(Message{self(), view().primary, RebuildRequest{view().vid, rebuild_id_}});
  }
}

void Node::on_rebuild_request(const NodeId& from, const RebuildRequest& request) {
  // Remove it, then watch it as a learner and add it back once it answers
  // (the same path as auto-removal's re-add). Busy now: it asks again.
  if (!is_primary() || !view().contains(from) || from == self()) return;
  // Re-admitted for this very loss: tell it (again; the answer may be lost).
  // A new loss, with another id, starts over.
  if (auto it = readmitted_.find(from); it != readmitted_.end() && it->second.first == request.rebuild_id) {
    staged_.messages.push_back(Message{self(), from, RebuildDone{view().vid, it->second.second, request.rebuild_id}});
    return;
  }
  readmitted_.erase(from);
  rebuilding_members_.insert(from);
  replica_.forget_progress(from);
  if (request_remove(from).ok()) {
    auto_removed_.insert(from);
    removed_for_rebuild_[from] = request.rebuild_id;
  }
}

void Node::on_rebuild_done(const NodeId& from, const RebuildDone& done) {
  // Only our primary's word, and only for a view we are in and have entered.
  if (!rebuilding_ || from != view().primary || done.readmitted_in > view().vid || done.rebuild_id != rebuild_id_) {
    return;
  }
  std::optional<View> readmitting = paxos_.decision(done.readmitted_in);
  if (!readmitting || !readmitting->contains(self())) return;
  rebuilding_ = false;
  paxos_.vote_after(done.readmitted_in);
  replica_.set_non_voting(false);
  staged_.votes_after = done.readmitted_in;
  promise_gate_.note_write();
}

void Node::apply_auto_removal() {
  if (!is_primary() || frozen()) return;
  for (const NodeId& id : auto_removed_) {
    if (view().contains(id)) continue;
    replica_.add_learner(id);  // watch it; no-op if already watched
    std::optional<std::size_t> lag = replica_.follower_lag_entries(id);
    if (lag && *lag <= config_.learner_lag_entries_max && request_add(id).ok()) {
      auto_removed_.erase(id);
      return;
    }
  }
  if (config_.auto_remove_after_ticks == 0 || view().size() <= config_.auto_remove_min_members ||
      !check_can_change_membership().ok()) {
    return;
  }
  for (const NodeId& b : view().backups) {
    std::optional<std::uint64_t> silent = replica_.follower_silent_ticks(b);
    if (silent && *silent >= config_.auto_remove_after_ticks && request_remove(b).ok()) {
      auto_removed_.insert(b);
      return;
    }
  }
}

bool Node::stale_or_newer(const Message& m) {
  const ViewId vid = vid_of(m.body);
  if (vid < view().vid) {
    // Tell the sender the view it missed; its Paxos node learns the
    // decision and asks for any before it.
    staged_.paxos_messages.push_back(paxos::Message{self(), m.from, paxos::Decided{view().vid, view()}});
    return true;
  }
  if (vid > view().vid) {
    if (now_ticks_ >= next_catch_up_at_) {
      next_catch_up_at_ = now_ticks_ + config_.catch_up_interval_ticks;
      paxos_.catch_up();
    }
    return true;
  }
  return false;
}

void Node::step(const Message& message) {
  if (message.to != self() || stale_or_newer(message)) return;
  // Anything from the primary of our view shows it alive: Appends, and the
  // snapshot chunks a lagging follower gets instead of them.
  if (message.from == view().primary) reset_suspicion();
  if (const auto* request = std::get_if<RebuildRequest>(&message.body)) {
    return on_rebuild_request(message.from, *request);
  }
  if (const auto* done = std::get_if<RebuildDone>(&message.body)) return on_rebuild_done(message.from, *done);
  replica_.step(message);
}

void Node::step(const paxos::Message& message) {
  if (message.to != self()) return;
  // A promise reports the log as it is now; the freeze below keeps it so.
  paxos_.set_log_position(replica_.last());
  paxos_.step(message);
  update_freeze();
}

void Node::submit(ClientRequest request) { replica_.submit(std::move(request)); }

void Node::submit_read(ReadRequest read) { replica_.submit_read(std::move(read)); }

void Node::enter_view(const View& next) {
  if (next.vid <= view().vid) return;
  // View `next` begins here: Paxos delivered its decision durably, so a
  // restart finds us in it. From now on only messages of `next` count.
  assert(next.vid == view().vid + 1);
  // A node rebuilding lost state never serves as primary: a view learned
  // again after the wipe may name it, and its empty log would be taken for
  // the cluster's (its Appends would make backups drop committed entries).
  // It enters frozen and waits for the others to move past it.
  recovering_ = rebuilding_ && next.primary == self();
  replica_.enter_view(next, recovering_);
  // Members removed to be rebuilt and now back: the view that re-added them
  // is what they may vote after.
  for (auto it = removed_for_rebuild_.begin(); it != removed_for_rebuild_.end();) {
    if (next.contains(it->first)) {
      readmitted_[it->first] = {it->second, next.vid};
      it = removed_for_rebuild_.erase(it);
    } else {
      ++it;
    }
  }
  // A change in progress ends with any new view: it is in it, or it was
  // overtaken (a failover) and the admin retries.
  pending_change_.reset();
  pending_since_ = 0;
  // Members that asked to be rebuilt and are no longer in the view are done
  // with (they come back through the learner path as voters).
  std::erase_if(rebuilding_members_, [&](const NodeId& m) { return !next.contains(m); });
  reset_suspicion();
  update_freeze();
  staged_.views_entered.push_back(next);
}

void Node::collect() {
  for (int rounds = 0; replica_.has_ready() || paxos_.has_ready(); ++rounds) {
    assert(rounds < 1000);
    // The replica first: its writes must be counted in the batch before a
    // promise is held against it.
    while (replica_.has_ready()) {
      Ready r = replica_.take_ready();
      if (r.write_id != 0) {
        open_batch_.replica = r.write_id;
        promise_gate_.note_write();
        for (SnapshotPiece& piece : r.snapshot_pieces) staged_.snapshot_pieces.push_back(std::move(piece));
        if (r.install) {
          // The snapshot replaces the state: entries it covers must not be
          // applied on top of it.
          const Viewstamp through = r.install->through;
          std::erase_if(staged_.committed, [&](const LogEntry& e) { return e.vs <= through; });
          staged_.install = std::move(r.install);
        }
        if (r.save_snapshot) staged_.save_snapshot = std::move(r.save_snapshot);
        if (r.compact_through) {
          staged_.compact_through = std::max(staged_.compact_through.value_or(Viewstamp{}), *r.compact_through);
        }
        if (r.truncate_after) {
          const Viewstamp t = *r.truncate_after;
          staged_.truncate_after = staged_.truncate_after ? std::min(*staged_.truncate_after, t) : t;
          std::erase_if(staged_.appends, [&](const LogEntry& e) { return e.vs > t; });
        }
        for (LogEntry& e : r.appends) staged_.appends.push_back(std::move(e));
      }
      for (Message& m : r.messages) staged_.messages.push_back(std::move(m));
      for (ClientNotice& n : r.notices) staged_.notices.push_back(std::move(n));
      for (LogEntry& e : r.committed) staged_.committed.push_back(std::move(e));
      for (ReadGrant& g : r.reads) staged_.reads.push_back(std::move(g));
      if (r.snapshot_due) staged_.snapshot_due = r.snapshot_due;
      for (SnapshotRead& read : r.snapshot_reads) staged_.snapshot_reads.push_back(std::move(read));
    }
    while (paxos_.has_ready()) {
      paxos::Ready r = paxos_.take_ready();
      if (r.write_id != 0) {
        open_batch_.paxos = r.write_id;
        promise_gate_.note_write();
        for (paxos::Write& w : r.writes) staged_.paxos_writes.push_back(std::move(w));
      }
      for (paxos::Message& m : r.messages) {
        if (std::holds_alternative<paxos::Promise>(m.body)) {
          if (std::optional<paxos::Message> now = promise_gate_.hold(std::move(m))) {
            staged_.paxos_messages.push_back(std::move(*now));
          }
        } else {
          staged_.paxos_messages.push_back(std::move(m));
        }
      }
      for (const paxos::Decision& d : r.learned) enter_view(d.value);
    }
  }
}

bool Node::has_ready() const {
  return replica_.has_ready() || paxos_.has_ready() || promise_gate_.has_pending_writes() ||
         !staged_.messages.empty() || !staged_.paxos_messages.empty() || !staged_.notices.empty() ||
         !staged_.committed.empty() || !staged_.reads.empty() || !staged_.views_entered.empty() ||
         staged_.snapshot_due.has_value() || !staged_.snapshot_reads.empty();
}

NodeReady Node::take_ready() {
  collect();
  NodeReady r = std::move(staged_);
  staged_ = NodeReady{};
  // The host snapshots after applying `committed`: through its last entry.
  if (r.snapshot_due && !r.committed.empty()) r.snapshot_due = std::max(*r.snapshot_due, r.committed.back().vs);
  if (promise_gate_.has_pending_writes()) {
    r.write_id = promise_gate_.take_batch();
    open_batch_.combined = r.write_id;
    in_flight_.push_back(open_batch_);
    open_batch_ = BatchParts{};
  }
  return r;
}

void Node::on_durable(std::uint64_t write_id) {
  for (paxos::Message& m : promise_gate_.mark_durable(write_id)) staged_.paxos_messages.push_back(std::move(m));
  while (!in_flight_.empty() && in_flight_.front().combined <= write_id) {
    const BatchParts parts = in_flight_.front();
    in_flight_.pop_front();
    if (parts.paxos != 0) {
      // Our own Prepare may be handled now: its promise reports the log as it is.
      paxos_.set_log_position(replica_.last());
      paxos_.on_durable(parts.paxos);
      update_freeze();
    }
    if (parts.replica != 0) replica_.on_durable(parts.replica);
  }
}

}  // namespace synod::rsm
