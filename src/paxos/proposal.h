#pragma once
// One proposer's attempt to get a value chosen for one instance. It counts
// promises and acceptances from the instance's acceptor set (the members of
// the previous view) and never talks to the network or disk itself: the Node
// sends what it returns, after the round number is durable.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "paxos/messages.h"

namespace synod::paxos {

// Picks the value of a round in which no promise carried an accepted value,
// from the log positions the promising acceptors reported. The replicated
// state machine uses it to make the new primary the member whose log holds
// every committed op. It must return a valid view with vid == instance.
using ChooseValue =
    std::function<View(const View& wanted, const std::map<NodeId, Viewstamp>& log_positions)>;

class Proposal {
 public:
  enum class Phase { kIdle, kPreparing, kAccepting };

  Proposal(Instance instance, View wanted, std::vector<NodeId> acceptors, ChooseValue choose = {});

  // Enters phase 1 under n, forgetting whatever the previous round collected.
  Prepare begin_round(ProposalNumber n);

  // Returns the Accept to send to every acceptor once promises come from a
  // majority. Its value is the v_a with the highest n_a among the promises;
  // only when no promise carried one is it free: the ChooseValue result, or
  // the wanted value. That order is the rule that keeps a chosen value chosen.
  std::optional<Accept> on_promise(const NodeId& from, const Promise& promise);

  // Returns the value once a majority accepted it in this round.
  std::optional<View> on_accepted(const NodeId& from, const Accepted& accepted);

  // True when the rejection is news for the current round: the caller backs
  // off and retries above `reject.promised`. Stale or self-duplicate rejects
  // (promised <= our n) are ignored.
  bool on_reject(const Reject& reject);

  Instance instance() const { return instance_; }
  const View& wanted() const { return wanted_; }
  const std::vector<NodeId>& acceptors() const { return acceptors_; }
  const ProposalNumber& number() const { return n_; }
  Phase phase() const { return phase_; }
  std::size_t majority() const { return acceptors_.size() / 2 + 1; }

 private:
  bool is_acceptor(const NodeId& id) const;

  Instance instance_;
  View wanted_;
  std::vector<NodeId> acceptors_;
  ChooseValue choose_;
  Phase phase_ = Phase::kIdle;
  ProposalNumber n_;
  std::map<NodeId, Promise> promises_;
  std::set<NodeId> accepted_;
  View value_;  // the value of phase 2 in the current round
};

}  // namespace synod::paxos
