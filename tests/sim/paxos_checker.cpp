#include "sim/paxos_checker.h"

namespace synod::sim {

PaxosChecker::PaxosChecker(View initial_view) { decided_[1] = std::move(initial_view); }

void PaxosChecker::fail(const std::string& why) {
  if (!violation_) violation_ = why;
}

std::optional<View> PaxosChecker::decided(Instance instance) const {
  auto it = decided_.find(instance);
  if (it == decided_.end()) return std::nullopt;
  return it->second;
}

void PaxosChecker::on_proposed(Instance instance, const View& value) {
  proposed_[instance].insert(value);
}

void PaxosChecker::on_start(const NodeId& node, Instance delivered_through) {
  delivered_[node] = delivered_through;
  for (Instance i = 2; i <= delivered_through; ++i) {
    if (decided_.count(i) == 0) fail(node + " recovered instance " + std::to_string(i) + " nobody learned");
  }
}

void PaxosChecker::on_learned(const NodeId& node, const paxos::Decision& d) {
  Instance& last = delivered_[node];
  if (d.instance != last + 1) {
    fail(node + " learned instance " + std::to_string(d.instance) + " after " + std::to_string(last) +
         " (gap or reorder)");
  }
  last = d.instance;
  if (proposed_[d.instance].count(d.value) == 0) {
    fail(node + " learned " + to_string(d.value) + " for instance " + std::to_string(d.instance) +
         ", which nobody proposed");
  }
  auto [it, inserted] = decided_.emplace(d.instance, d.value);
  if (!inserted && it->second != d.value) {
    fail("instance " + std::to_string(d.instance) + ": " + node + " learned " + to_string(d.value) +
         " but another node learned " + to_string(it->second));
  }
  while (decided_.count(decided_through_ + 1) != 0) ++decided_through_;
  evaluate_chosen(d.instance);
  evaluate_chosen(d.instance + 1);
}

void PaxosChecker::on_durable_accept(const NodeId& acceptor, Instance instance, const ProposalNumber& n,
                                     const View& value) {
  auto [it, inserted] = accepted_[instance].emplace(n, AcceptedUnderN{value, {}});
  if (!inserted && it->second.value != value) {
    fail("instance " + std::to_string(instance) + ": proposal " + to_string(n) + " carried two values " +
         to_string(it->second.value) + " and " + to_string(value));
  }
  it->second.acceptors.insert(acceptor);
  evaluate_chosen(instance);
}

void PaxosChecker::on_conflicts(const NodeId& node, std::uint64_t conflicting_decisions) {
  if (conflicting_decisions != 0) fail(node + " was told two different values for one instance");
}

void PaxosChecker::evaluate_chosen(Instance instance) {
  auto prev = decided_.find(instance - 1);
  auto acc = accepted_.find(instance);
  if (prev == decided_.end() || acc == accepted_.end()) return;
  const View& acceptor_view = prev->second;
  for (const auto& [n, under_n] : acc->second) {
    std::size_t votes = 0;
    for (const NodeId& a : under_n.acceptors) votes += acceptor_view.contains(a) ? 1 : 0;
    if (votes < acceptor_view.majority()) continue;
    auto [it, inserted] = chosen_.emplace(instance, under_n.value);
    if (!inserted && it->second != under_n.value) {
      fail("instance " + std::to_string(instance) + ": two values chosen, " + to_string(it->second) +
           " and " + to_string(under_n.value) + " (the latter under " + to_string(n) + ")");
    }
  }
  auto chosen = chosen_.find(instance);
  auto learned = decided_.find(instance);
  if (chosen != chosen_.end() && learned != decided_.end() && chosen->second != learned->second) {
    fail("instance " + std::to_string(instance) + ": learned " + to_string(learned->second) +
         " but " + to_string(chosen->second) + " was chosen");
  }
}

}  // namespace synod::sim
