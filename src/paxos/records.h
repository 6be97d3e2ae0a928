#pragma once
// What the Paxos core needs to survive a crash, as plain values. The storage
// layer persists these with synced writes; the core emits them and waits for
// the storage completion before any message that depends on them leaves.

#include <cstdint>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "common/ids.h"
#include "common/proposal_number.h"
#include "common/view.h"

namespace synod::paxos {

// n_p, n_a, v_a of one instance.
struct AcceptorState {
  ProposalNumber promised;                 // n_p
  ProposalNumber accepted_n;               // n_a
  std::optional<View> accepted_value;      // v_a
  auto operator<=>(const AcceptorState&) const = default;
};

// Durable record kinds.
struct AcceptorRecord {
  Instance instance = 0;
  AcceptorState state;
  auto operator<=>(const AcceptorRecord&) const = default;
};

struct DecidedRecord {
  Instance instance = 0;
  View value;
  auto operator<=>(const DecidedRecord&) const = default;
};

// The highest proposal round this node has used (or may have used). Persisted
// before a Prepare with that round leaves, so a restarted node never reuses a
// proposal number with another value.
struct RoundRecord {
  std::uint64_t round = 0;
  auto operator<=>(const RoundRecord&) const = default;
};

using Write = std::variant<AcceptorRecord, DecidedRecord, RoundRecord>;

// Everything the core recovers from on restart.
struct DurableState {
  std::map<Instance, AcceptorState> acceptors;
  std::map<Instance, View> decided;
  std::uint64_t round = 0;
  auto operator<=>(const DurableState&) const = default;

  // Folds one write in, the way storage would after it is durable.
  void apply(const Write& w);
};

}  // namespace synod::paxos
