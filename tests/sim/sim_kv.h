#pragma once
// A small key-value state machine for the simulator, and the encoding of the
// simulated clients' operations and replies. Deterministic, in memory.

#include <map>
#include <sstream>
#include <string>

#include "sim/linearizability.h"
#include "synod/state_machine.h"

namespace synod::sim {

// "P|key|value", "G|key", "C|key|expected|new" ("C!|key||new": key must be
// absent), "D|key". Keys and values never contain '|'.
std::string encode_kv_op(const KvOp& op);

// Fills op.ok and op.read_value from a reply of SimKv.
void decode_kv_reply(const std::string& reply, KvOp& op);

class SimKv : public StateMachine {
 public:
  std::string apply(std::string_view op, OpPosition at) override;
  // Only "G|key"; anything else is refused as not read-only.
  std::string query(std::string_view op) const override;
  void write_snapshot(std::ostream& out) const override;
  bool restore_snapshot(std::istream& in) override;
  const std::map<std::string, std::string>& data() const { return data_; }

 private:
  std::map<std::string, std::string> data_;
};

}  // namespace synod::sim
