#pragma once
// Building blocks shared by the Replica's unit tests: views, configs,
// viewstamps, messages, and readable descriptions for failure output.

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "rsm/replica.h"

namespace synod::rsm::test {

inline View make_view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  Result<View> v = View::make(vid, std::move(primary), std::move(backups));
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  return std::move(v).value();
}

inline ReplicaConfig config(NodeId self) {
  ReplicaConfig c;
  c.self = std::move(self);
  return c;
}

inline Viewstamp vs(ViewId vid, std::uint64_t seq) { return Viewstamp{vid, seq}; }

inline Message message(NodeId from, NodeId to, Body body) { return Message{std::move(from), std::move(to), std::move(body)}; }

inline std::vector<Viewstamp> stamps(const std::vector<LogEntry>& es) {
  std::vector<Viewstamp> out;
  for (const LogEntry& e : es) out.push_back(e.vs);
  return out;
}

inline std::string describe(const std::vector<Viewstamp>& v) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? " " : "") << to_string(v[i]);
  out << "]";
  return out.str();
}

template <typename T>
std::vector<T> bodies_to(const std::vector<Message>& ms, const NodeId& to) {
  std::vector<T> out;
  for (const Message& m : ms) {
    if (m.to != to) continue;
    if (const T* b = std::get_if<T>(&m.body)) out.push_back(*b);
  }
  return out;
}

// Everything the Ready loop produced until it settled.
struct Drained {
  std::vector<LogEntry> appends;
  std::vector<Message> messages;
  std::vector<ClientNotice> notices;
  std::vector<LogEntry> committed;
  std::vector<std::uint64_t> write_ids;
  int rounds = 0;
};

// Runs the Ready loop until the replica has nothing more to say (bounded);
// with `sync`, every write is reported durable at once.
inline Drained drain(Replica& r, bool sync) {
  Drained d;
  for (; d.rounds < 100 && r.has_ready(); ++d.rounds) {
    Ready ready = r.take_ready();
    d.appends.insert(d.appends.end(), ready.appends.begin(), ready.appends.end());
    d.messages.insert(d.messages.end(), ready.messages.begin(), ready.messages.end());
    d.notices.insert(d.notices.end(), ready.notices.begin(), ready.notices.end());
    d.committed.insert(d.committed.end(), ready.committed.begin(), ready.committed.end());
    if (ready.write_id != 0) {
      d.write_ids.push_back(ready.write_id);
      if (sync) r.on_durable(ready.write_id);
    }
  }
  EXPECT_FALSE(r.has_ready()) << r.self() << ": the Ready loop did not settle in " << d.rounds << " rounds";
  return d;
}

}  // namespace synod::rsm::test
