#include "rsm/replica.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "common/crc32.h"

namespace synod::rsm {

bool follows(Viewstamp prev, Viewstamp next) {
  if (next.vid == prev.vid) return next.seq == prev.seq + 1;
  return next.vid > prev.vid && next.seq == 1;
}

Replica::Replica(ReplicaConfig config, View view, std::vector<LogEntry> recovered_log, RecoveredSnapshots snapshots)
    : config_(std::move(config)),
      view_(std::move(view)),
      log_(std::move(recovered_log)),
      expiry_clock_(config_.session_idle_ticks),
      sender_(config_.snapshot_chunk_bytes, config_.resend_ticks, 10 * std::uint64_t{config_.resend_ticks}),
      incoming_(std::move(snapshots.partial)) {
  assert(view_.validate().ok());
  assert(config_.heartbeat_ticks > 0 && config_.append_entries_max > 0 && config_.snapshot_chunk_bytes > 0);
  for (std::size_t i = 1; i < log_.size(); ++i) assert(log_[i - 1].vs < log_[i].vs);
  if (snapshots.current) {
    // The host restored its state from the snapshot: everything through it
    // is committed and applied.
    snapshot_through_ = snapshots.current->through;
    snapshot_size_ = snapshots.current->bytes.size();
    snapshot_crc_ = crc32(snapshots.current->bytes);
    commit_ = handed_out_ = snapshot_through_;
    assert(log_.empty() || log_.front().vs > snapshot_through_);
  }
  durable_ = last();
  if (is_primary()) {
    for (const NodeId& b : view_.backups) followers_[b] = Follower{};  // constructed at tick 0: last heard "now"
  }
}

Viewstamp Replica::next_viewstamp() const {
  Viewstamp l = last();
  return l.vid == view_.vid ? Viewstamp{l.vid, l.seq + 1} : Viewstamp{view_.vid, 1};
}

std::vector<LogEntry>::const_iterator Replica::after(Viewstamp vs) const {
  return std::upper_bound(log_.begin(), log_.end(), vs,
                          [](const Viewstamp& v, const LogEntry& e) { return v < e.vs; });
}

void Replica::send(NodeId to, Body body) {
  outbox_.push_back(Message{config_.self, std::move(to), std::move(body)});
}

void Replica::submit(ClientRequest request) {
  if (request.client_id == 0) return;  // reserved for synod's own entries; the runtime refuses it
  if (!is_primary()) {
    notices_.push_back(ClientRedirect{request.client_id, request.request_no, view_.vid, view_.primary});
    return;
  }
  auto key = std::make_pair(request.client_id, request.request_no);
  // A retry of a request being ordered is answered when the first copy
  // applies; ordering it twice would only cost a log entry (the session
  // table would not apply it twice), so it is dropped here.
  if (ordering_.count(key) != 0) return;
  if (pending_.size() >= config_.pending_requests_max) {
    notices_.push_back(ClientBusy{request.client_id, request.request_no});
    return;
  }
  ordering_.insert(key);
  pending_.push_back(std::move(request));
}

void Replica::order_internal(std::uint64_t kind, Bytes op) {
  if (!is_primary()) return;
  // Not in ordering_: that set tells a client's retry from a new request,
  // and synod's own entries are never retried.
  pending_.push_back(ClientRequest{0, kind, std::move(op)});
}

void Replica::submit_read(ReadRequest read) {
  if (read.allow_stale) {
    // Knowingly stale: what this replica has handed out for applying.
    grants_.push_back(ReadGrant{std::move(read), handed_out_});
    return;
  }
  if (!is_primary()) {
    notices_.push_back(ClientRedirect{read.client_id, read.read_no, view_.vid, view_.primary});
    return;
  }
  if (reads_waiting_.size() + reads_in_round_.size() >= config_.pending_requests_max) {
    notices_.push_back(ClientBusy{read.client_id, read.read_no});
    return;
  }
  reads_waiting_.push_back(std::move(read));
}

bool Replica::can_start_read_round() const {
  return is_primary() && !frozen_ && !read_round_open_ && !reads_waiting_.empty() && established();
}

void Replica::start_read_round() {
  ++read_round_;
  read_round_open_ = true;
  read_round_as_of_ = commit_;
  read_round_confirmed_.clear();
  reads_in_round_.assign(std::make_move_iterator(reads_waiting_.begin()),
                         std::make_move_iterator(reads_waiting_.end()));
  reads_waiting_.clear();
  send_read_confirms();
  on_read_confirm_ack(config_.self, ReadConfirmAck{view_.vid, read_round_});  // a one-member view
}

void Replica::send_read_confirms() {
  for (const NodeId& b : view_.backups) {
    if (read_round_confirmed_.count(b) == 0) send(b, ReadConfirm{view_.vid, read_round_});
  }
}

void Replica::on_read_confirm(const NodeId& from, const ReadConfirm& c) {
  // A frozen backup has begun to move to a newer view: it must not confirm;
  // nor may a member that does not vote, whose word proves nothing about views.
  if (c.vid != view_.vid || from != view_.primary || is_primary() || frozen_ || non_voting_) return;
  send(from, ReadConfirmAck{view_.vid, c.round});
}

void Replica::on_read_confirm_ack(const NodeId& from, const ReadConfirmAck& c) {
  if (c.vid != view_.vid || !is_primary() || frozen_ || !read_round_open_ || c.round != read_round_) return;
  if (from != config_.self) {
    if (!view_.contains(from)) return;  // a learner's word counts for nothing
    read_round_confirmed_.insert(from);
  }
  // The primary counts itself: it is not frozen either.
  if (read_round_confirmed_.size() + 1 < view_.majority()) return;
  for (ReadRequest& r : reads_in_round_) grants_.push_back(ReadGrant{std::move(r), read_round_as_of_});
  reads_in_round_.clear();
  read_round_open_ = false;
}

void Replica::tick() {
  ++now_ticks_;
  sender_.tick(now_ticks_);
  if (is_primary() && !frozen_ && !ordering_paused_) {
    if (std::optional<Viewstamp> idle_below = expiry_clock_.on_tick(now_ticks_, last())) {
      // Synod's own request: it bypasses the clients' queue bound.
      ordering_.insert({0, LogEntry::kExpireSessions});
      pending_.push_back(ClientRequest{0, LogEntry::kExpireSessions, encode_expiry(*idle_below)});
    }
  }
  if (!is_primary() || frozen_ || now_ticks_ < next_heartbeat_) return;
  next_heartbeat_ = now_ticks_ + config_.heartbeat_ticks;
  maybe_request_snapshot();  // compaction held back by a transfer may go on now
  if (read_round_open_) send_read_confirms();  // confirmations may have been lost
  for (auto& [id, f] : followers_) {
    // A backup that acknowledged nothing new for a while lost messages or
    // restarted: resend from what it has for sure.
    if (f.sent > f.match && now_ticks_ - f.last_progress_tick >= config_.resend_ticks) {
      f.sent = f.match;
      f.last_progress_tick = now_ticks_;
    }
    if (f.donor && now_ticks_ - f.donor_progress_tick >= 4 * std::uint64_t{config_.resend_ticks}) {
      // The donor is gone, or cannot serve: ask another, or serve it ourselves.
      f.failed_donors.insert(*f.donor);
      f.donor.reset();
    }
    send_entries(id);
  }
}

void Replica::step(const Message& message) {
  if (message.to != config_.self) return;
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Append>) on_append(message.from, body);
        else if constexpr (std::is_same_v<T, AppendAck>) on_ack(message.from, body);
        else if constexpr (std::is_same_v<T, AppendGap>) on_gap(message.from, body);
        else if constexpr (std::is_same_v<T, ReadConfirm>) on_read_confirm(message.from, body);
        else if constexpr (std::is_same_v<T, ReadConfirmAck>) on_read_confirm_ack(message.from, body);
        else if constexpr (std::is_same_v<T, SnapshotChunk>) on_snapshot_chunk(message.from, body);
        else if constexpr (std::is_same_v<T, SnapshotAck>) on_snapshot_ack(message.from, body);
        else if constexpr (std::is_same_v<T, SnapshotServe>) on_snapshot_serve(message.from, body);
        // RebuildRequest and RebuildDone are rsm::Node's, never stepped here.
      },
      message.body);
}

std::optional<std::size_t> Replica::index_after(Viewstamp prev) const {
  // Everything up to the snapshot is committed, hence in every primary's log.
  if (prev <= snapshot_through_) return 0;
  auto it = std::lower_bound(log_.begin(), log_.end(), prev,
                             [](const LogEntry& e, const Viewstamp& v) { return e.vs < v; });
  if (it == log_.end() || it->vs != prev) return std::nullopt;
  return static_cast<std::size_t>(it - log_.begin()) + 1;
}

void Replica::on_append(const NodeId& from, const Append& a) {
  // Only the primary of our own view may extend our log, and not while we
  // take part in a view change: our promise reported the log as it is.
  if (a.vid != view_.vid || from != view_.primary || is_primary() || frozen_) return;
  std::optional<std::size_t> index = index_after(a.prev);
  if (!index) {
    // Our log lacks prev: tell the primary the newest entry we hold before it.
    auto before = std::lower_bound(log_.begin(), log_.end(), a.prev,
                                   [](const LogEntry& e, const Viewstamp& v) { return e.vs < v; });
    send(from, AppendGap{view_.vid, before == log_.begin() ? Viewstamp{} : std::prev(before)->vs});
    return;
  }
  // Our log matches the primary's through prev. Walk the entries alongside
  // ours: an equal viewstamp is the same entry (log matching); the first
  // difference means our suffix from there is not in the primary's log.
  Viewstamp end = a.prev;
  for (const LogEntry& e : a.entries) {
    if (!follows(end, e.vs)) return;  // not what a primary sends: ignore it all, before changing anything
    end = e.vs;
  }
  std::size_t i = *index;
  std::vector<LogEntry> fresh;
  for (const LogEntry& e : a.entries) {
    if (e.vs <= snapshot_through_) continue;  // committed, and in our snapshot
    if (fresh.empty() && i < log_.size() && log_[i].vs == e.vs) {
      ++i;
      continue;
    }
    if (fresh.empty() && i < log_.size()) truncate_log(i);
    fresh.push_back(e);
  }
  if (!fresh.empty()) append_to_log(std::move(fresh));
  matched_ = std::max({matched_, end, a.prev <= snapshot_through_ ? snapshot_through_ : Viewstamp{}});
  // The ack leaves once everything written so far is durable, matched_
  // included; it never covers an entry we could still lose.
  if (!acks_withheld()) {
    if (std::optional<Message> ack = gate_.hold(Message{config_.self, from, AppendAck{view_.vid, matched_, snapshot_through_}})) {
      outbox_.push_back(std::move(*ack));
    }
  }
  // What we hold up to the primary's commit point, matching its log, is
  // committed. Entries past matched_ may be ones the primary will replace.
  set_commit(std::min(a.commit, matched_));
}

void Replica::on_ack(const NodeId& from, const AppendAck& a) {
  if (a.vid != view_.vid || !is_primary()) return;
  auto it = followers_.find(from);
  if (it == followers_.end()) return;
  Follower& f = it->second;
  f.heard = true;
  f.last_heard_tick = now_ticks_;
  f.snapshot = a.snapshot;
  if (a.durable > f.match) {
    f.match = std::min(a.durable, last());
    f.last_progress_tick = now_ticks_;
  } else if (a.durable < f.match) {
    // It holds less than it said (a restart, or state lost and rebuilt):
    // count only what it says now. Commit never moves back, so this only
    // delays what it could help commit.
    f.match = a.durable;
  }
  f.sent = std::max(f.sent, f.match);
  // Ack-clocked streaming: a backup that caught up with everything sent gets
  // the next chunk at once, so a burst larger than append_entries_max does
  // not wait for heartbeats.
  if (f.match == f.sent && f.sent < last()) send_entries(from);
  advance_commit();
}

void Replica::on_gap(const NodeId& from, const AppendGap& g) {
  if (g.vid != view_.vid || !is_primary()) return;
  auto it = followers_.find(from);
  if (it == followers_.end()) return;
  it->second.heard = true;
  it->second.last_heard_tick = now_ticks_;
  // Resend from the newest entry we hold at or before the backup's g.last
  // (below our snapshot: from g.last itself, which makes it a snapshot transfer).
  auto at_or_before = after(g.last);
  if (g.last < snapshot_through_) it->second.sent = g.last;
  else it->second.sent = at_or_before == log_.begin() ? snapshot_through_ : std::prev(at_or_before)->vs;
  it->second.last_progress_tick = now_ticks_;
  send_entries(from);
}

void Replica::send_entries(const NodeId& backup) {
  Follower& f = followers_.at(backup);
  // What follows f.sent was compacted away: the follower needs the snapshot.
  if (f.sent < snapshot_through_) return serve_snapshot(backup, f);
  Append a{view_.vid, f.sent, {}, commit_};
  for (auto it = after(f.sent); it != log_.end() && a.entries.size() < config_.append_entries_max; ++it) {
    a.entries.push_back(*it);
  }
  if (!a.entries.empty()) {
    // A backup with nothing outstanding starts its silence clock now, not at
    // its last ack: an idle backup is not a silent one.
    if (f.sent == f.match) f.last_progress_tick = now_ticks_;
    f.sent = a.entries.back().vs;
  }
  send(backup, std::move(a));
}

std::size_t Replica::uncommitted_entries() const {
  return static_cast<std::size_t>(std::distance(after(commit_), log_.cend()));
}

bool Replica::can_order() const {
  return is_primary() && !frozen_ && !ordering_paused_ && !pending_.empty() && uncommitted_entries() < config_.inflight_entries_max;
}

void Replica::order_pending() {
  if (!can_order()) return;
  std::vector<LogEntry> batch;
  Viewstamp vs = next_viewstamp();
  const std::size_t uncommitted = uncommitted_entries();
  while (!pending_.empty() && uncommitted + batch.size() < config_.inflight_entries_max) {
    ClientRequest& r = pending_.front();
    batch.push_back(LogEntry{vs, r.client_id, r.request_no, std::move(r.op)});
    pending_.pop_front();
    vs.seq += 1;
  }
  if (batch.empty()) return;
  const Viewstamp prev = last();
  append_to_log(std::move(batch));
  // Followers that are caught up get the new batch now (pipelining); the
  // others are being repaired and get it through send_entries in turn.
  for (auto& [id, f] : followers_) {
    if (f.sent == prev) send_entries(id);
  }
}

void Replica::append_to_log(std::vector<LogEntry> entries) {
  assert(!entries.empty() && follows(last(), entries.front().vs));
  for (LogEntry& e : entries) {
    appends_.push_back(e);
    log_.push_back(std::move(e));
  }
  gate_.note_write();
  batch_last_.emplace_back(gate_.current_tag(), last());
}

void Replica::truncate_log(std::size_t index) {
  assert(index < log_.size());
  const Viewstamp keep_through = index == 0 ? snapshot_through_ : log_[index - 1].vs;
  for (std::size_t i = index; i < log_.size(); ++i) {
    if (log_[i].vs <= commit_) ++committed_entries_truncated_;
  }
  assert(keep_through >= commit_);
  log_.erase(log_.begin() + static_cast<std::ptrdiff_t>(index), log_.end());
  truncate_after_ = truncate_after_ ? std::min(*truncate_after_, keep_through) : keep_through;
  std::erase_if(appends_, [&](const LogEntry& e) { return e.vs > keep_through; });
  durable_ = std::min(durable_, keep_through);
  for (auto& [_, batch_end] : batch_last_) batch_end = std::min(batch_end, keep_through);
  gate_.note_write();
  batch_last_.emplace_back(gate_.current_tag(), keep_through);
}

Replica::Follower Replica::new_follower(Viewstamp sent) const {
  Follower f;
  f.sent = sent;
  f.last_progress_tick = now_ticks_;
  f.last_heard_tick = now_ticks_;
  return f;
}

void Replica::add_learner(const NodeId& id) {
  if (!is_primary() || view_.contains(id) || followers_.count(id) != 0) return;
  // A learner usually starts empty: send from the start of our log.
  followers_[id] = new_follower(Viewstamp{});
  send_entries(id);
}

void Replica::forget_progress(const NodeId& id) {
  auto it = followers_.find(id);
  if (it == followers_.end()) return;
  it->second.match = Viewstamp{};
  it->second.sent = std::min(it->second.sent, Viewstamp{});
}

void Replica::remove_learner(const NodeId& id) {
  if (!view_.contains(id)) followers_.erase(id);
}

std::optional<std::uint64_t> Replica::follower_silent_ticks(const NodeId& id) const {
  auto it = followers_.find(id);
  if (it == followers_.end()) return std::nullopt;
  return now_ticks_ - it->second.last_heard_tick;
}

std::optional<std::size_t> Replica::follower_lag_entries(const NodeId& id) const {
  auto it = followers_.find(id);
  if (it == followers_.end() || !it->second.heard) return std::nullopt;
  // Without our snapshot it is behind by more than any log length.
  if (it->second.match < snapshot_through_) return std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(std::distance(after(it->second.match), log_.cend()));
}

void Replica::enter_view(View next, bool frozen) {
  assert(next.vid > view_.vid && next.validate().ok());
  view_ = std::move(next);
  frozen_ = frozen;
  ordering_paused_ = false;
  expiry_clock_.restart();
  matched_ = Viewstamp{};
  followers_.clear();
  sender_.clear();  // transfers of the old view: their chunks would be refused
  // A confirmation round of the old view proves nothing about the new one:
  // its reads wait for a round of the new view (or go to the new primary).
  for (ReadRequest& r : reads_in_round_) reads_waiting_.push_front(std::move(r));
  reads_in_round_.clear();
  read_round_open_ = false;
  if (!is_primary()) {
    for (const ClientRequest& r : pending_) {
      notices_.push_back(ClientRedirect{r.client_id, r.request_no, view_.vid, view_.primary});
    }
    for (const ReadRequest& r : reads_waiting_) {
      notices_.push_back(ClientRedirect{r.client_id, r.read_no, view_.vid, view_.primary});
    }
    pending_.clear();
    ordering_.clear();
    reads_waiting_.clear();
    return;
  }
  // Requests in the log we carry over are being ordered already: a retry of
  // one must not be ordered again.
  for (auto it = after(commit_); it != log_.end(); ++it) {
    if (it->client_id != 0) ordering_.insert({it->client_id, it->request_no});
  }
  // Every backup starts from our log's end; a backup whose log differs
  // answers AppendGap until the two find their common prefix.
  const Viewstamp carried = last();
  for (const NodeId& b : view_.backups) followers_[b] = new_follower(carried);
  if (frozen_) return;
  append_to_log({LogEntry{Viewstamp{view_.vid, 1}, 0, 0, {}}});
  for (const NodeId& b : view_.backups) send_entries(b);
  next_heartbeat_ = now_ticks_ + config_.heartbeat_ticks;
}

void Replica::on_durable(std::uint64_t write_id) {
  for (Message& m : gate_.mark_durable(write_id)) outbox_.push_back(std::move(m));
  while (!batch_last_.empty() && batch_last_.front().first <= write_id) {
    durable_ = std::max(durable_, batch_last_.front().second);
    batch_last_.pop_front();
  }
  if (is_primary()) advance_commit();
}

void Replica::advance_commit() {
  // The highest viewstamp held durably by a majority: sort the members'
  // durable points and take the majority-th from the top.
  std::vector<Viewstamp> points{durable_};
  for (const NodeId& b : view_.backups) points.push_back(followers_.at(b).match);
  std::sort(points.begin(), points.end(), std::greater<>());
  Viewstamp candidate = points[view_.majority() - 1];
  // Entries of earlier views commit only by being below one of this view.
  if (candidate.vid == view_.vid) set_commit(candidate);
}

void Replica::set_commit(Viewstamp commit) {
  if (commit <= commit_) return;
  commit_ = commit;
  for (auto it = after(handed_out_); it != log_.end() && it->vs <= commit_; ++it) {
    committed_.push_back(*it);
    handed_out_ = it->vs;
    if (is_primary()) ordering_.erase({it->client_id, it->request_no});
  }
  maybe_request_snapshot();
}

bool Replica::snapshot_transfer_active() const {
  if (sender_.active(now_ticks_)) return true;
  if (!is_primary()) return false;
  // A follower a donor serves continues from our log after the donor's
  // snapshot: compacting past that would send it round again.
  for (const auto& [_, f] : followers_) {
    if (f.donor && now_ticks_ - f.donor_progress_tick < 10 * std::uint64_t{config_.resend_ticks}) return true;
  }
  return false;
}

void Replica::maybe_request_snapshot() {
  if (config_.snapshot_after_entries == 0 || snapshot_requested_ || snapshot_transfer_active()) return;
  const auto since = static_cast<std::size_t>(std::distance(log_.cbegin(), after(handed_out_)));
  if (since < config_.snapshot_after_entries) return;
  snapshot_requested_ = true;
  snapshot_due_ = handed_out_;
}

Status Replica::snapshot_now() {
  if (snapshot_transfer_active()) return Error{"busy, retry: a snapshot transfer from this node is in progress"};
  if (snapshot_requested_ || handed_out_ <= snapshot_through_) return Status::Ok();  // one is coming, or nothing to add
  snapshot_requested_ = true;
  snapshot_due_ = handed_out_;
  return Status::Ok();
}

void Replica::on_snapshot_taken(SnapshotImage image) {
  snapshot_requested_ = false;
  if (image.through <= snapshot_through_ || image.through > handed_out_ || snapshot_transfer_active()) return;
  log_.erase(log_.begin(), after(image.through));
  snapshot_through_ = image.through;
  snapshot_size_ = image.bytes.size();
  snapshot_crc_ = crc32(image.bytes);
  save_snapshot_ = std::move(image);
  compact_through_ = snapshot_through_;
  gate_.note_write();
  maybe_request_snapshot();
}

std::optional<NodeId> Replica::choose_donor(const NodeId& id, const Follower& f) const {
  if (!config_.snapshots_from_backups) return std::nullopt;
  for (const NodeId& b : view_.backups) {
    if (b == id || f.failed_donors.count(b) != 0) continue;
    const Follower& candidate = followers_.at(b);
    // Its snapshot must reach our compaction point, so that the follower can
    // go on from our log, and it must be answering.
    if (!candidate.heard || now_ticks_ - candidate.last_heard_tick >= config_.resend_ticks) continue;
    if (candidate.snapshot == Viewstamp{} || candidate.snapshot < snapshot_through_) continue;
    return b;
  }
  return std::nullopt;
}

void Replica::serve_snapshot(const NodeId& id, Follower& f) {
  if (f.donor) {
    // Remind it while the transfer shows no progress: SnapshotServe may be lost.
    if (now_ticks_ - f.donor_progress_tick >= config_.resend_ticks) send(*f.donor, SnapshotServe{view_.vid, id});
    return;
  }
  if (!sender_.serving(id)) {
    if (std::optional<NodeId> donor = choose_donor(id, f)) {
      f.donor = donor;
      f.donor_through = Viewstamp{};
      f.donor_received = 0;
      f.donor_progress_tick = now_ticks_;
      send(*donor, SnapshotServe{view_.vid, id});
      return;
    }
  }
  sender_.serve(id, stored_snapshot(), now_ticks_);
}

std::optional<NodeId> Replica::snapshot_donor(const NodeId& follower) const {
  auto it = followers_.find(follower);
  if (it == followers_.end()) return std::nullopt;
  return it->second.donor;
}

void Replica::on_snapshot_serve(const NodeId& from, const SnapshotServe& s) {
  if (s.vid != view_.vid || from != view_.primary || is_primary() || frozen_ || s.to == config_.self) return;
  if (snapshot_through_ == Viewstamp{}) return;  // nothing to serve: the primary will turn elsewhere
  sender_.serve(s.to, stored_snapshot(), now_ticks_);
}

void Replica::on_snapshot_read(const SnapshotRead& read, std::optional<Bytes> data) {
  if (std::optional<SnapshotChunk> chunk = sender_.on_read(read, std::move(data), view_.vid)) {
    send(read.to, std::move(*chunk));
  }
}

void Replica::on_snapshot_ack(const NodeId& from, const SnapshotAck& a) {
  if (a.vid != view_.vid) return;
  if (!is_primary()) {
    sender_.on_ack(from, a, now_ticks_);  // as a donor
    return;
  }
  auto it = followers_.find(from);
  if (it == followers_.end()) return;
  Follower& f = it->second;
  f.heard = true;
  f.last_heard_tick = now_ticks_;
  if (a.installed) {
    // It holds everything through a.through: go on from there (entries, or
    // a newer snapshot if we compacted further meanwhile).
    f.match = std::max(f.match, std::min(a.through, last()));
    f.sent = std::max(f.sent, f.match);
    sender_.stop(from);
    f.donor.reset();
    f.failed_donors.clear();
    f.last_progress_tick = now_ticks_;
    advance_commit();
    send_entries(from);
    return;
  }
  if (f.donor) {
    // The follower's copy of what it told the donor.
    if (a.through != f.donor_through) {
      f.donor_through = a.through;
      f.donor_received = 0;
    }
    if (a.received > f.donor_received) {
      f.donor_received = a.received;
      f.donor_progress_tick = now_ticks_;
    }
    return;
  }
  if (sender_.on_ack(from, a, now_ticks_) == SnapshotSender::AckResult::kProgress) f.last_progress_tick = now_ticks_;
}

void Replica::ack_snapshot(const NodeId& to, Viewstamp through, std::uint64_t received, bool installed) {
  if (acks_withheld()) return;
  // Like an AppendAck: it leaves once what it reports is durable. A donor's
  // primary gets a copy: it watches the transfer, and must learn the install.
  const SnapshotAck ack{view_.vid, through, received, installed};
  auto hold = [&](const NodeId& receiver) {
    if (std::optional<Message> m = gate_.hold(Message{config_.self, receiver, ack})) outbox_.push_back(std::move(*m));
  };
  hold(to);
  if (to != view_.primary && !is_primary()) hold(view_.primary);
}

void Replica::on_snapshot_chunk(const NodeId& from, const SnapshotChunk& c) {
  // From the primary or a donor it asked: any snapshot is committed state.
  if (c.vid != view_.vid || from == config_.self || is_primary() || frozen_) return;
  if (c.through <= commit_) {
    // We hold everything through it already (committed entries are the same
    // everywhere): no need for the snapshot.
    matched_ = std::max(matched_, std::min(c.through, last()));
    return ack_snapshot(from, c.through, c.total_bytes, true);
  }
  if (crc32(c.data) != c.data_crc || c.offset + c.data.size() > c.total_bytes) return;  // damaged: resent later
  const bool same = incoming_ && incoming_->through == c.through && incoming_->total_bytes == c.total_bytes &&
                    incoming_->snapshot_crc == c.snapshot_crc;
  if (!same) {
    // Stick to the transfer in progress unless this one is newer or that one
    // stalled: two senders must not keep restarting each other.
    if (incoming_ && c.through <= incoming_->through &&
        now_ticks_ - incoming_progress_tick_ < 2 * std::uint64_t{config_.resend_ticks}) {
      return;
    }
    if (c.offset != 0) return ack_snapshot(from, c.through, 0, false);  // start from the beginning
    incoming_ = SnapshotPiece{c.through, c.total_bytes, c.snapshot_crc, 0, {}};
    incoming_progress_tick_ = now_ticks_;
  }
  if (c.offset != incoming_->data.size()) return ack_snapshot(from, c.through, incoming_->data.size(), false);
  incoming_->data += c.data;
  incoming_progress_tick_ = now_ticks_;
  pieces_.push_back(SnapshotPiece{c.through, c.total_bytes, c.snapshot_crc, c.offset, c.data});
  gate_.note_write();
  if (incoming_->data.size() < incoming_->total_bytes) {
    return ack_snapshot(from, c.through, incoming_->data.size(), false);
  }
  if (crc32(incoming_->data) != incoming_->snapshot_crc) {
    // Every chunk passed its own check, yet the whole does not: start over.
    incoming_.reset();
    return ack_snapshot(from, c.through, 0, false);
  }
  install_snapshot();
  ack_snapshot(from, c.through, c.total_bytes, true);
}

void Replica::install_snapshot() {
  const Viewstamp through = incoming_->through;
  // The snapshot replaces our state and the log up to it. Entries after it
  // stay if our log holds `through` itself: they may be durable copies that
  // an earlier view counted towards a commit, so dropping them could leave a
  // committed op on less than a majority (the simulator found that); the
  // primary's Appends will replace any that differ from its log. If our log
  // does not reach `through`, nothing after it can be in it.
  if (index_after(through)) {
    log_.erase(log_.begin(), after(through));
    compact_through_ = through;
  } else {
    log_.clear();
    truncate_after_ = Viewstamp{};
    durable_ = std::min(durable_, through);
    for (auto& [_, batch_end] : batch_last_) batch_end = std::min(batch_end, through);
  }
  std::erase_if(appends_, [&](const LogEntry& e) { return e.vs <= through; });
  std::erase_if(committed_, [&](const LogEntry& e) { return e.vs <= through; });
  snapshot_through_ = through;
  snapshot_size_ = incoming_->total_bytes;
  snapshot_crc_ = incoming_->snapshot_crc;
  install_ = SnapshotImage{through, std::move(incoming_->data)};
  incoming_.reset();
  sender_.clear();  // what we were serving is no longer what we store
  save_snapshot_.reset();  // an older one of our own: the install supersedes it
  snapshot_due_.reset();
  snapshot_requested_ = false;
  commit_ = std::max(commit_, through);
  handed_out_ = std::max(handed_out_, through);
  matched_ = std::max(matched_, through);
  gate_.note_write();
  batch_last_.emplace_back(gate_.current_tag(), through);
}

bool Replica::has_ready() const {
  return can_order() || can_start_read_round() || !grants_.empty() || gate_.has_pending_writes() ||
         !outbox_.empty() || !notices_.empty() || !committed_.empty() || snapshot_due_.has_value() ||
         sender_.has_reads();
}

Ready Replica::take_ready() {
  order_pending();
  if (can_start_read_round()) start_read_round();
  Ready r;
  if (gate_.has_pending_writes()) {
    r.write_id = gate_.take_batch();
    r.install = std::exchange(install_, std::nullopt);
    r.save_snapshot = std::exchange(save_snapshot_, std::nullopt);
    r.snapshot_pieces = std::exchange(pieces_, {});
    r.compact_through = std::exchange(compact_through_, std::nullopt);
    r.truncate_after = std::exchange(truncate_after_, std::nullopt);
    r.appends = std::exchange(appends_, {});
  }
  r.messages = std::exchange(outbox_, {});
  r.notices = std::exchange(notices_, {});
  r.committed = std::exchange(committed_, {});
  r.reads = std::exchange(grants_, {});
  // Through everything handed out, in this Ready or before: the host
  // snapshots after applying all of it (more may have committed since the
  // snapshot was asked for).
  if (std::exchange(snapshot_due_, std::nullopt)) r.snapshot_due = handed_out_;
  r.snapshot_reads = sender_.take_reads();
  return r;
}

const char* type_name(const Body& body) {
  struct Namer {
    const char* operator()(const Append&) const { return "Append"; }
    const char* operator()(const AppendAck&) const { return "AppendAck"; }
    const char* operator()(const AppendGap&) const { return "AppendGap"; }
    const char* operator()(const ReadConfirm&) const { return "ReadConfirm"; }
    const char* operator()(const ReadConfirmAck&) const { return "ReadConfirmAck"; }
    const char* operator()(const SnapshotChunk&) const { return "SnapshotChunk"; }
    const char* operator()(const SnapshotAck&) const { return "SnapshotAck"; }
    const char* operator()(const RebuildRequest&) const { return "RebuildRequest"; }
    const char* operator()(const RebuildDone&) const { return "RebuildDone"; }
    const char* operator()(const SnapshotServe&) const { return "SnapshotServe"; }
  };
  return std::visit(Namer{}, body);
}

}  // namespace synod::rsm
