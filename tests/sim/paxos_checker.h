#pragma once
// Safety invariants of multi-instance Paxos, checked from the outside against
// what the simulated nodes did. Fed by the simulator after every event.
//
// - Agreement on learning: every node learns the same value for an instance.
// - Delivery order: a node learns instances one by one, in order, no gaps.
// - Validity: a learned value was proposed by someone for that instance.
// - At most one value is chosen: a value is chosen when a majority of the
//   instance's acceptors (members of view i-1) durably accepted it under one
//   proposal number; two chosen values for one instance are a violation even
//   if nobody learned them. One proposal number never carries two values.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/proposal_number.h"
#include "common/view.h"
#include "paxos/node.h"

namespace synod::sim {

class PaxosChecker {
 public:
  explicit PaxosChecker(View initial_view);

  void on_proposed(Instance instance, const View& value);
  void on_start(const NodeId& node, Instance delivered_through);
  void on_learned(const NodeId& node, const paxos::Decision& d);
  void on_durable_accept(const NodeId& acceptor, Instance instance, const ProposalNumber& n,
                         const View& value);
  void on_conflicts(const NodeId& node, std::uint64_t conflicting_decisions);

  const std::optional<std::string>& violation() const { return violation_; }
  std::optional<View> decided(Instance instance) const;
  Instance decided_through() const { return decided_through_; }

 private:
  struct AcceptedUnderN {
    View value;
    std::set<NodeId> acceptors;
  };
  void fail(const std::string& why);
  void evaluate_chosen(Instance instance);

  std::map<Instance, View> decided_;     // first learned value per instance
  Instance decided_through_ = 1;
  std::map<NodeId, Instance> delivered_; // per node, last instance learned
  std::map<Instance, std::set<View>> proposed_;
  std::map<Instance, std::map<ProposalNumber, AcceptedUnderN>> accepted_;
  std::map<Instance, View> chosen_;
  std::optional<std::string> violation_;
};

}  // namespace synod::sim
