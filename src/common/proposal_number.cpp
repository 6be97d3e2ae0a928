#include "common/proposal_number.h"

namespace synod {

std::string to_string(const ProposalNumber& n) {
  return std::to_string(n.round) + "." + n.node;
}

}  // namespace synod
