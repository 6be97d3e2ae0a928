#pragma once
// Small builders, filters and printers shared by the Paxos core unit tests.

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "common/proposal_number.h"
#include "common/view.h"
#include "paxos/messages.h"
#include "paxos/node.h"
#include "paxos/records.h"

namespace synod::paxos::test {

inline ProposalNumber pn(std::uint64_t round, NodeId node) { return ProposalNumber{round, std::move(node)}; }

// A valid view, or a test failure naming what was wrong with it.
inline View view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  Result<View> v = View::make(vid, std::move(primary), std::move(backups));
  EXPECT_TRUE(v.ok()) << v.error().message;
  return v.ok() ? v.value() : View{};
}

inline std::string describe(const std::optional<View>& v) { return v ? to_string(*v) : "none"; }

inline std::string describe(const Body& body) {
  struct Describer {
    std::string operator()(const Prepare& m) const { return to_string(m.n); }
    std::string operator()(const Promise& m) const {
      return to_string(m.n) + " a=" + to_string(m.accepted_n) + ":" + describe(m.accepted_value);
    }
    std::string operator()(const Accept& m) const { return to_string(m.n) + " " + to_string(m.value); }
    std::string operator()(const Accepted& m) const { return to_string(m.n); }
    std::string operator()(const Reject& m) const { return to_string(m.n) + " promised=" + to_string(m.promised); }
    std::string operator()(const Decided& m) const { return to_string(m.value); }
    std::string operator()(const Learn&) const { return ""; }
  };
  return std::string(type_name(body)) + "(" + std::to_string(instance_of(body)) + " " +
         std::visit(Describer{}, body) + ")";
}

inline std::string describe(const Message& m) { return m.from + "->" + m.to + " " + describe(m.body); }

inline std::string describe(const std::vector<Message>& ms) {
  std::string out = "[";
  for (const Message& m : ms) out += "\n  " + describe(m);
  return out + "]";
}

inline std::string describe(const Write& w) {
  if (const auto* a = std::get_if<AcceptorRecord>(&w)) {
    return "AcceptorRecord(" + std::to_string(a->instance) + " p=" + to_string(a->state.promised) +
           " a=" + to_string(a->state.accepted_n) + ":" + describe(a->state.accepted_value) + ")";
  }
  if (const auto* d = std::get_if<DecidedRecord>(&w)) {
    return "DecidedRecord(" + std::to_string(d->instance) + " " + to_string(d->value) + ")";
  }
  return "RoundRecord(" + std::to_string(std::get<RoundRecord>(w).round) + ")";
}

inline std::string describe(const std::vector<Write>& ws) {
  std::string out = "[";
  for (const Write& w : ws) out += " " + describe(w);
  return out + " ]";
}

// Bodies of type T among `messages`, in order.
template <typename T>
std::vector<T> bodies_of(const std::vector<Message>& messages) {
  std::vector<T> out;
  for (const Message& m : messages) {
    if (const T* b = std::get_if<T>(&m.body)) out.push_back(*b);
  }
  return out;
}

// Messages whose body is a T, in order.
template <typename T>
std::vector<Message> messages_of(const std::vector<Message>& messages) {
  std::vector<Message> out;
  for (const Message& m : messages) {
    if (std::holds_alternative<T>(m.body)) out.push_back(m);
  }
  return out;
}

// Who the T messages among `messages` went to.
template <typename T>
std::set<NodeId> recipients_of(const std::vector<Message>& messages) {
  std::set<NodeId> out;
  for (const Message& m : messages) {
    if (std::holds_alternative<T>(m.body)) out.insert(m.to);
  }
  return out;
}

// Records of type T among `writes`, in order.
template <typename T>
std::vector<T> records_of(const std::vector<Write>& writes) {
  std::vector<T> out;
  for (const Write& w : writes) {
    if (const T* r = std::get_if<T>(&w)) out.push_back(*r);
  }
  return out;
}

}  // namespace synod::paxos::test

// gtest finds these by argument-dependent lookup, so failures print protocol
// values instead of raw bytes.
namespace synod {
inline void PrintTo(const View& v, std::ostream* os) { *os << to_string(v); }
inline void PrintTo(const ProposalNumber& n, std::ostream* os) { *os << to_string(n); }
}  // namespace synod

namespace synod::paxos {
inline void PrintTo(const Message& m, std::ostream* os) { *os << test::describe(m); }
inline void PrintTo(const Prepare& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const Promise& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const Accept& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const Accepted& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const Reject& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const Decided& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const Learn& b, std::ostream* os) { *os << test::describe(Body{b}); }
inline void PrintTo(const AcceptorRecord& w, std::ostream* os) { *os << test::describe(Write{w}); }
inline void PrintTo(const DecidedRecord& w, std::ostream* os) { *os << test::describe(Write{w}); }
inline void PrintTo(const RoundRecord& w, std::ostream* os) { *os << test::describe(Write{w}); }
inline void PrintTo(const Decision& d, std::ostream* os) {
  *os << "Decision(" << d.instance << " " << to_string(d.value) << ")";
}
}  // namespace synod::paxos
