#pragma once
// The acceptor's two rules, as pure functions of (durable state, message).
// The caller persists new_state and only then releases the reply: a promise or
// an acceptance that is not on disk must never be visible to anyone.

#include <optional>

#include "paxos/messages.h"
#include "paxos/records.h"

namespace synod::paxos {

struct AcceptorStep {
  std::optional<AcceptorState> new_state;  // set when the state changed and must be persisted
  Body reply;                              // Promise/Accepted, or Reject
};

// Phase 1b: promise only a number strictly above every earlier promise, and
// report the last accepted value so the proposer adopts it.
AcceptorStep on_prepare(const AcceptorState& state, const Prepare& prepare);

// Phase 2b: accept unless a higher number was promised (n >= n_p).
AcceptorStep on_accept(const AcceptorState& state, const Accept& accept);

}  // namespace synod::paxos
