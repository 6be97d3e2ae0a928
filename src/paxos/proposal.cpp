#include "paxos/proposal.h"

#include <algorithm>
#include <cassert>

namespace synod::paxos {

Proposal::Proposal(Instance instance, View wanted, std::vector<NodeId> acceptors, ChooseValue choose)
    : instance_(instance), wanted_(std::move(wanted)), acceptors_(std::move(acceptors)), choose_(std::move(choose)) {
  assert(!acceptors_.empty());
  assert(wanted_.vid == instance_);
}

Prepare Proposal::begin_round(ProposalNumber n) {
  assert(n > n_);
  n_ = std::move(n);
  phase_ = Phase::kPreparing;
  promises_.clear();
  accepted_.clear();
  return Prepare{instance_, n_};
}

bool Proposal::is_acceptor(const NodeId& id) const {
  return std::find(acceptors_.begin(), acceptors_.end(), id) != acceptors_.end();
}

std::optional<Accept> Proposal::on_promise(const NodeId& from, const Promise& promise) {
  if (phase_ != Phase::kPreparing || promise.instance != instance_ || promise.n != n_) return {};
  if (!is_acceptor(from)) return {};
  promises_.emplace(from, promise);
  if (promises_.size() < majority()) return {};

  const Promise* highest = nullptr;
  for (const auto& [_, p] : promises_) {
    if (p.accepted_value && (highest == nullptr || p.accepted_n > highest->accepted_n)) highest = &p;
  }
  if (highest != nullptr) {
    value_ = *highest->accepted_value;
  } else if (choose_) {
    std::map<NodeId, Viewstamp> positions;
    for (const auto& [from_node, p] : promises_) positions[from_node] = p.log_position;
    value_ = choose_(wanted_, positions);
    // A chooser that breaks its contract must not put a bad view on the wire.
    if (value_.vid != instance_ || !value_.validate().ok()) value_ = wanted_;
  } else {
    value_ = wanted_;
  }
  phase_ = Phase::kAccepting;
  return Accept{instance_, n_, value_};
}

std::optional<View> Proposal::on_accepted(const NodeId& from, const Accepted& accepted) {
  if (phase_ != Phase::kAccepting || accepted.instance != instance_ || accepted.n != n_) return {};
  if (!is_acceptor(from)) return {};
  accepted_.insert(from);
  if (accepted_.size() < majority()) return {};
  phase_ = Phase::kIdle;
  return value_;
}

bool Proposal::on_reject(const Reject& reject) {
  if (phase_ == Phase::kIdle || reject.instance != instance_ || reject.n != n_) return false;
  if (reject.promised <= n_) return false;
  phase_ = Phase::kIdle;
  return true;
}

}  // namespace synod::paxos
