#pragma once
// Paxos proposal numbers: unique because the node id breaks ties between equal
// rounds, and totally ordered (round first).

#include <compare>
#include <cstdint>
#include <string>

#include "common/ids.h"

namespace synod {

struct ProposalNumber {
  std::uint64_t round = 0;
  NodeId node;

  auto operator<=>(const ProposalNumber&) const = default;

  // The number no real proposal uses: every promise and accept starts below
  // any real proposal.
  bool is_zero() const { return round == 0; }
};

std::string to_string(const ProposalNumber& n);

}  // namespace synod
