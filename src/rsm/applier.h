#pragma once
// Applies committed log entries to the application's state machine exactly
// once per client request (and synod's own entries: no-ops, session expiry), and remembers each client's last reply so that a
// retry (after a timeout or a failover) gets the first answer instead of a
// second application. The session table is replicated state: every replica
// builds the same one from the same entries.

#include <cstdint>
#include <istream>
#include <ostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "common/bytes.h"
#include "common/result.h"
#include "rsm/messages.h"
#include "synod/state_machine.h"

namespace synod::rsm {

struct Applied {
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;
  Bytes reply;
  // False when the entry repeated a request already applied: nothing changed
  // and `reply` is the one recorded the first time.
  bool fresh = true;
  // True for a request older than the client's last one: its reply is gone
  // and `reply` is empty. A correct client never waits for one.
  bool stale = false;
  // The entry was synod's own (a no-op or a session expiry): no client, no reply.
  bool noop = false;
  // The client's session had expired: nothing was applied, and the client
  // must learn that its earlier requests' outcomes are unknown.
  bool expired = false;
  // A kSetAddress entry changed addresses().
  bool addresses_changed = false;
};

// The op of a kSetAddress entry, and its inverse (nullopt for bytes that are
// not one: no id, or a line break in either part).
Bytes encode_address(const NodeId& id, const std::string& address);
std::optional<std::pair<NodeId, std::string>> decode_address(BytesView op);

class Applier {
 public:
  explicit Applier(StateMachine& machine) : machine_(machine) {}

  // Entries must come in viewstamp order, each exactly once.
  Applied apply(const LogEntry& entry);

  // The recorded reply when this request was already applied.
  std::optional<Bytes> reply_for(std::uint64_t client_id, std::uint64_t request_no) const;
  Viewstamp applied_through() const { return applied_; }
  bool has_session(std::uint64_t client_id) const { return sessions_.count(client_id) != 0; }

  // The replicated state as one snapshot: the session table, then the
  // state machine's own snapshot. restore_snapshot replaces everything and
  // fails (changing nothing it could not restore) on a snapshot it cannot
  // read; `through` is the last entry the snapshot reflects.
  void write_snapshot(std::ostream& out) const;
  Status restore_snapshot(std::istream& in);
  bool session_expired(std::uint64_t client_id) const { return expired_.count(client_id) != 0; }
  // Where nodes listen ("host:port"), as kSetAddress entries recorded it:
  // replicated state, in snapshots too.
  const std::map<NodeId, std::string>& addresses() const { return addresses_; }

 private:
  struct Session {
    std::uint64_t last_request_no = 0;
    Bytes last_reply;
    Viewstamp last_active;           // the viewstamp of its last request
  };

  void expire_sessions(const LogEntry& entry);

  StateMachine& machine_;
  std::map<std::uint64_t, Session> sessions_;
  // Clients whose session expired: a request of theirs is refused, never
  // applied, since its session can no longer tell a retry from a new one.
  // Grows by one id per expired session.
  std::set<std::uint64_t> expired_;
  std::map<NodeId, std::string> addresses_;
  Viewstamp applied_;
};

}  // namespace synod::rsm
