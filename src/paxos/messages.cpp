#include "paxos/messages.h"

namespace synod::paxos {

Instance instance_of(const Body& body) {
  return std::visit([](const auto& m) { return m.instance; }, body);
}

const char* type_name(const Body& body) {
  struct Namer {
    const char* operator()(const Prepare&) const { return "Prepare"; }
    const char* operator()(const Promise&) const { return "Promise"; }
    const char* operator()(const Accept&) const { return "Accept"; }
    const char* operator()(const Accepted&) const { return "Accepted"; }
    const char* operator()(const Reject&) const { return "Reject"; }
    const char* operator()(const Decided&) const { return "Decided"; }
    const char* operator()(const Learn&) const { return "Learn"; }
  };
  return std::visit(Namer{}, body);
}

}  // namespace synod::paxos
