#include "paxos/node.h"

#include <algorithm>
#include <cassert>

#include "paxos/acceptor.h"

namespace synod::paxos {
namespace {

// FNV-1a: a stable hash so a node's random stream depends only on the seed
// and its id, on every build.
std::uint64_t stable_hash(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

Node::Node(Config config, const DurableState& recovered)
    : config_(std::move(config)), rng_(config_.seed ^ stable_hash(config_.self)) {
  assert(config_.initial_view.vid == 1 && config_.initial_view.validate().ok());
  assert(config_.round_timeout_ticks > 0 && config_.backoff_ticks_max > 0);
  acceptors_ = recovered.acceptors;
  decided_ = recovered.decided;
  decided_[1] = config_.initial_view;
  round_ = recovered.round;
  while (decided_.count(known_through_ + 1) != 0) ++known_through_;
  for (const auto& [_, v] : decided_) {
    for (const NodeId& m : v.members()) known_nodes_.insert(m);
  }
  // Decisions found on disk are not delivered again through Ready::learned:
  // the host reads them with decision() when it starts (a crash can fall
  // between on_durable() and the host taking the Ready that delivered them).
  delivered_through_ = known_through_;
  next_learn_at_ = config_.learn_interval_ticks;
}

const View& Node::latest_view() const { return decided_.at(known_through_); }

std::optional<View> Node::decision(Instance instance) const {
  auto it = decided_.find(instance);
  if (it == decided_.end()) return std::nullopt;
  return it->second;
}

void Node::tick() {
  ++now_ticks_;
  if (proposal_ && now_ticks_ >= proposal_retry_at_) start_round();
  if (now_ticks_ >= next_learn_at_) {
    ask_for_missing(std::vector<NodeId>(known_nodes_.begin(), known_nodes_.end()));
    next_learn_at_ = now_ticks_ + config_.learn_interval_ticks;
  }
  drain_local();
}

void Node::step(const Message& message) {
  if (message.to != config_.self) return;
  handle(message);
  drain_local();
}

ProposalNumber Node::promised_for(Instance instance) const {
  auto it = acceptors_.find(instance);
  return it == acceptors_.end() ? ProposalNumber{} : it->second.promised;
}

Status Node::propose(Instance instance, View value, ChooseValue choose) {
  if (auto it = decided_.find(instance); it != decided_.end()) {
    return Error{"instance " + std::to_string(instance) + " is already decided as view " +
                 to_string(it->second)};
  }
  if (instance != known_through_ + 1) {
    return Error{"cannot propose instance " + std::to_string(instance) + ": views are known through " +
                 std::to_string(known_through_) + ", and instance i needs view i-1 (its acceptors)"};
  }
  if (Status s = value.validate(); !s) return s;
  if (value.vid != instance) {
    return Error{"instance " + std::to_string(instance) + " decides view " + std::to_string(instance) +
                 ", not view " + std::to_string(value.vid)};
  }
  if (proposal_) {
    return Error{"already proposing instance " + std::to_string(proposal_->instance()) + "; retry later"};
  }
  proposal_.emplace(instance, std::move(value), acceptors_of(instance), std::move(choose));
  proposal_rounds_ = 0;
  start_round();
  drain_local();
  return Status::Ok();
}

void Node::on_durable(std::uint64_t write_id) {
  for (Message& m : gate_.mark_durable(write_id)) send(std::move(m.to), std::move(m.body));
  deliver_durable_decisions();
  drain_local();
}

bool Node::has_ready() const {
  return !pending_writes_.empty() || !outbox_.empty() || !learned_.empty();
}

Ready Node::take_ready() {
  Ready r;
  if (gate_.has_pending_writes()) {
    r.write_id = gate_.take_batch();
    r.writes = std::move(pending_writes_);
    pending_writes_.clear();
  }
  r.messages = std::move(outbox_);
  outbox_.clear();
  r.learned = std::move(learned_);
  learned_.clear();
  return r;
}

void Node::handle(const Message& m) {
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Prepare>) on_prepare(m.from, body);
        else if constexpr (std::is_same_v<T, Accept>) on_accept(m.from, body);
        else if constexpr (std::is_same_v<T, Promise>) on_promise(m.from, body);
        else if constexpr (std::is_same_v<T, Accepted>) on_accepted(m.from, body);
        else if constexpr (std::is_same_v<T, Reject>) on_reject(body);
        else if constexpr (std::is_same_v<T, Decided>) on_decided(body);
        else if constexpr (std::is_same_v<T, Learn>) on_learn(m.from, body);
      },
      m.body);
}

void Node::on_prepare(const NodeId& from, const Prepare& p) {
  if (p.instance <= 1) return;  // view 1 is configuration, never proposed
  if (!votes_for(p.instance) && decided_.count(p.instance) == 0) return;
  if (auto it = decided_.find(p.instance); it != decided_.end()) {
    send(from, Decided{p.instance, it->second});
    return;
  }
  if (!within_window(p.instance)) {
    ask_for_missing({from});
    return;
  }
  if (p.instance > known_through_ + 1) ask_for_missing({from});
  round_ = std::max(round_, p.n.round);
  AcceptorStep s = paxos::on_prepare(acceptors_[p.instance], p);
  if (auto* promise = std::get_if<Promise>(&s.reply)) promise->log_position = log_position_;
  if (s.new_state) {
    acceptors_[p.instance] = *s.new_state;
    persist(AcceptorRecord{p.instance, *s.new_state});
  }
  send_after_durable(from, std::move(s.reply));
}

void Node::on_accept(const NodeId& from, const Accept& a) {
  if (a.instance <= 1 || a.value.vid != a.instance || !a.value.validate().ok()) return;
  if (!votes_for(a.instance) && decided_.count(a.instance) == 0) return;
  if (auto it = decided_.find(a.instance); it != decided_.end()) {
    send(from, Decided{a.instance, it->second});
    return;
  }
  if (!within_window(a.instance)) {
    ask_for_missing({from});
    return;
  }
  if (a.instance > known_through_ + 1) ask_for_missing({from});
  round_ = std::max(round_, a.n.round);
  AcceptorStep s = paxos::on_accept(acceptors_[a.instance], a);
  if (s.new_state) {
    acceptors_[a.instance] = *s.new_state;
    persist(AcceptorRecord{a.instance, *s.new_state});
  }
  send_after_durable(from, std::move(s.reply));
}

void Node::extend_round_on_progress(Instance instance, const ProposalNumber& n) {
  if (proposal_ && proposal_->instance() == instance && proposal_->number() == n) {
    proposal_retry_at_ = std::max(proposal_retry_at_, now_ticks_ + config_.round_timeout_ticks);
  }
}

void Node::on_promise(const NodeId& from, const Promise& p) {
  if (!proposal_) return;
  extend_round_on_progress(p.instance, p.n);
  if (std::optional<Accept> accept = proposal_->on_promise(from, p)) {
    // The round is durable (the Prepare waited for it), so Accepts go now.
    for (const NodeId& a : proposal_->acceptors()) send(a, *accept);
  }
}

void Node::on_accepted(const NodeId& from, const Accepted& a) {
  if (!proposal_) return;
  extend_round_on_progress(a.instance, a.n);
  std::optional<View> chosen = proposal_->on_accepted(from, a);
  if (!chosen) return;
  Instance instance = proposal_->instance();
  std::vector<NodeId> tell = proposal_->acceptors();
  for (const NodeId& m : chosen->members()) {
    if (std::find(tell.begin(), tell.end(), m) == tell.end()) tell.push_back(m);
  }
  learn(instance, *chosen);
  for (const NodeId& n : tell) {
    if (n != config_.self) send(n, Decided{instance, *chosen});
  }
}

void Node::on_reject(const Reject& r) {
  round_ = std::max(round_, r.promised.round);
  if (proposal_ && proposal_->on_reject(r)) {
    // Randomised so that two duelling proposers stop colliding.
    proposal_retry_at_ = now_ticks_ + 1 + rng_() % config_.backoff_ticks_max;
  }
}

void Node::on_decided(const Decided& d) {
  if (d.instance <= 1 || d.value.vid != d.instance || !d.value.validate().ok()) return;
  learn(d.instance, d.value);
}

void Node::on_learn(const NodeId& from, const Learn& l) {
  for (Instance i = l.instance; i < l.instance + config_.learn_batch_max; ++i) {
    auto it = decided_.find(i);
    if (it == decided_.end()) break;
    send(from, Decided{i, it->second});
  }
}

void Node::learn(Instance instance, const View& value) {
  if (auto it = decided_.find(instance); it != decided_.end()) {
    if (it->second != value) ++conflicting_decisions_;
    return;
  }
  decided_[instance] = value;
  for (const NodeId& m : value.members()) known_nodes_.insert(m);
  persist(DecidedRecord{instance, value});
  decided_write_tag_[instance] = gate_.current_tag();
  while (decided_.count(known_through_ + 1) != 0) ++known_through_;
  if (proposal_ && proposal_->instance() <= known_through_) proposal_.reset();
  if (instance > known_through_ + 1) {
    ask_for_missing(std::vector<NodeId>(known_nodes_.begin(), known_nodes_.end()));
  }
}

void Node::start_round() {
  assert(proposal_);
  ++round_;
  persist(RoundRecord{round_});
  Prepare p = proposal_->begin_round(ProposalNumber{round_, config_.self});
  for (const NodeId& a : proposal_->acceptors()) send_after_durable(a, p);
  const std::uint32_t doublings = std::min<std::uint32_t>(proposal_rounds_++, 3);
  proposal_retry_at_ = now_ticks_ + (std::uint64_t{config_.round_timeout_ticks} << doublings);
}

void Node::catch_up() {
  ask_for_missing(std::vector<NodeId>(known_nodes_.begin(), known_nodes_.end()));
  drain_local();
}

void Node::ask_for_missing(const std::vector<NodeId>& peers) {
  for (const NodeId& p : peers) {
    if (p != config_.self) send(p, Learn{known_through_ + 1});
  }
}

std::vector<NodeId> Node::acceptors_of(Instance instance) const {
  return decided_.at(instance - 1).members();
}

bool Node::within_window(Instance instance) const {
  return instance <= known_through_ + config_.instance_window;
}

void Node::send(NodeId to, Body body) {
  Message m{config_.self, std::move(to), std::move(body)};
  if (m.to == config_.self) {
    local_.push_back(std::move(m));
  } else {
    outbox_.push_back(std::move(m));
  }
}

void Node::send_after_durable(NodeId to, Body body) {
  if (std::optional<Message> now = gate_.hold(Message{config_.self, std::move(to), std::move(body)})) {
    send(std::move(now->to), std::move(now->body));
  }
}

void Node::persist(Write w) {
  pending_writes_.push_back(std::move(w));
  gate_.note_write();
}

void Node::drain_local() {
  while (!local_.empty()) {
    Message m = std::move(local_.front());
    local_.pop_front();
    handle(m);
  }
}

void Node::deliver_durable_decisions() {
  while (true) {
    Instance next = delivered_through_ + 1;
    auto it = decided_.find(next);
    if (it == decided_.end()) return;
    auto tag = decided_write_tag_.find(next);
    if (tag != decided_write_tag_.end()) {
      if (!gate_.is_durable(tag->second)) return;
      decided_write_tag_.erase(tag);
    }
    learned_.push_back(Decision{next, it->second});
    delivered_through_ = next;
  }
}

}  // namespace synod::paxos
