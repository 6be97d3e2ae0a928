#include "paxos/acceptor.h"

namespace synod::paxos {

AcceptorStep on_prepare(const AcceptorState& state, const Prepare& prepare) {
  if (prepare.n > state.promised) {
    AcceptorState next = state;
    next.promised = prepare.n;
    return {next, Promise{prepare.instance, prepare.n, state.accepted_n, state.accepted_value}};
  }
  // Equal is refused too: a duplicate Prepare must not look like a second,
  // independent promise. The proposer ignores a Reject that names its own n.
  return {std::nullopt, Reject{prepare.instance, prepare.n, state.promised}};
}

AcceptorStep on_accept(const AcceptorState& state, const Accept& accept) {
  if (accept.n >= state.promised) {
    AcceptorState next{accept.n, accept.n, accept.value};
    if (next == state) return {std::nullopt, Accepted{accept.instance, accept.n}};
    return {next, Accepted{accept.instance, accept.n}};
  }
  return {std::nullopt, Reject{accept.instance, accept.n, state.promised}};
}

}  // namespace synod::paxos
