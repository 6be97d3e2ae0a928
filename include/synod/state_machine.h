#pragma once
// The interface an application implements to be replicated by synod.
//
// synod orders operations and hands each committed one to apply() on every
// replica, in the same order. For the replicas to stay identical, apply()
// must be deterministic: its reply and its effect on the state may depend
// only on the state and on the operation (and its position), never on a
// clock, a random number, the host, or I/O that could fail differently on
// another replica. Anything time-based (leases, expiry) enters as an
// operation that the primary proposes, carrying the time as data.
//
// apply() is called on one thread at a time. Snapshots are taken and restored
// between applies.

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

namespace synod {

// Where an operation sits in the replicated order: view id, then the
// sequence number its primary gave it in that view.
struct OpPosition {
  std::uint64_t view = 0;
  std::uint64_t seq = 0;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies one committed operation and returns the reply for its client.
  // Called exactly once per operation on each replica, in order (a client's
  // retry of an applied request is answered from synod's session table and
  // never reaches apply()).
  virtual std::string apply(std::string_view op, OpPosition at) = 0;

  // Answers a read-only operation from the current state, changing nothing.
  // Reads do not go through the log: synod calls query() on the primary once
  // a majority confirmed it is still primary (linearizable), or on any
  // replica for a read that accepts staleness. Called between applies.
  virtual std::string query(std::string_view op) const = 0;

  // Writes the whole state so that restore() on another replica rebuilds it.
  virtual void write_snapshot(std::ostream& out) const = 0;

  // Replaces the whole state with a snapshot. Returns false when the stream
  // is not a snapshot this state machine wrote (the caller reports it).
  virtual bool restore_snapshot(std::istream& in) = 0;
};

}  // namespace synod
