#pragma once
// The messages of multi-instance Paxos. Instance i decides view i; its
// acceptors are the members of view i-1 (view 1 is static configuration).
// Plain values: the net layer encodes them, the simulator passes them as is.

#include <optional>
#include <variant>

#include "common/ids.h"
#include "common/proposal_number.h"
#include "common/view.h"

namespace synod::paxos {

// Phase 1a: "promise to ignore proposals below n for this instance".
struct Prepare {
  Instance instance = 0;
  ProposalNumber n;
  auto operator<=>(const Prepare&) const = default;
};

// Phase 1b: the promise, with the value this acceptor accepted last (if any).
struct Promise {
  Instance instance = 0;
  ProposalNumber n;
  ProposalNumber accepted_n;               // zero when nothing was accepted
  std::optional<View> accepted_value;
  // The last entry of the promising node's op log, as its host set it
  // (Node::set_log_position). The view change picks the new primary by it.
  Viewstamp log_position{};
  auto operator<=>(const Promise&) const = default;
};

// Phase 2a: "accept value under number n".
struct Accept {
  Instance instance = 0;
  ProposalNumber n;
  View value;
  auto operator<=>(const Accept&) const = default;
};

// Phase 2b.
struct Accepted {
  Instance instance = 0;
  ProposalNumber n;
  auto operator<=>(const Accepted&) const = default;
};

// Refusal of a Prepare or an Accept numbered n, because the acceptor promised
// a higher number; the proposer learns it and retries above it.
struct Reject {
  Instance instance = 0;
  ProposalNumber n;
  ProposalNumber promised;
  auto operator<=>(const Reject&) const = default;
};

// The value of an instance is chosen. Sent by the proposer that saw a
// majority accept, and by anyone who knows the decision and is asked.
struct Decided {
  Instance instance = 0;
  View value;
  auto operator<=>(const Decided&) const = default;
};

// Catch-up: "tell me the decision of this instance if you know it".
struct Learn {
  Instance instance = 0;
  auto operator<=>(const Learn&) const = default;
};

using Body = std::variant<Prepare, Promise, Accept, Accepted, Reject, Decided, Learn>;

struct Message {
  NodeId from;
  NodeId to;
  Body body;
  auto operator<=>(const Message&) const = default;
};

Instance instance_of(const Body& body);
const char* type_name(const Body& body);

}  // namespace synod::paxos
