#include "paxos/records.h"

#include <algorithm>

namespace synod::paxos {

void DurableState::apply(const Write& w) {
  if (const auto* a = std::get_if<AcceptorRecord>(&w)) {
    acceptors[a->instance] = a->state;
  } else if (const auto* d = std::get_if<DecidedRecord>(&w)) {
    decided[d->instance] = d->value;
  } else if (const auto* r = std::get_if<RoundRecord>(&w)) {
    round = std::max(round, r->round);
  }
}

}  // namespace synod::paxos
