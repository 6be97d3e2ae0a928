#pragma once
// The key-value store as a replicated state machine: the ops of kv_ops.h
// applied to a KvState (kv_state.h), with etcd's rules for versions and
// revisions (summarised in kv_ops.h).
//
// Two ways in. Replication speaks bytes: apply() and query() decode an op
// (kv_ops.h's codec), run it and encode the reply; a malformed op gets a
// kInvalid reply, the same on every replica, and never an exception. Code in
// the same process (the tests, the coordination layer to come) calls
// execute() and read() with typed requests, no encoding.
//
// Invariant: check_invariants(state()) holds after every op (the tests check
// it after each one, and restore_snapshot refuses a state that breaks it).
// Every change takes the next revision and goes through put_record() or
// erase_record(), the only two members that write the key map.
//
// Room left for what comes next (not built yet, and nothing here pretends):
//   - Keys bound to a session (ephemeral keys, etcd's leases, ZooKeeper's
//     ephemeral nodes): KvRecord gains the owning session id (0 for none) and
//     KvState an index session id -> keys, kept by put_record/erase_record.
//     Ending a session is then an op like the others, proposed by the primary
//     with the time as data (state_machine.h): it deletes the session's keys
//     through erase_record, so each deletion is an ordinary change.
//   - Watches: a bounded history of changes by revision (key, event, and the
//     KvEntry after it), appended by put_record/erase_record and trimmed to a
//     fixed number of revisions, with the revision below which it was
//     trimmed; a watch resumes from a revision it gives, or learns that it
//     must re-read because that revision was trimmed. Revisions already make
//     that resume point: one per change, strictly increasing.
//   Both add fields to the snapshot; its format version (kv_snapshot.h)
//   changes with them, and a node refuses a format it does not know.

#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "kv/kv_ops.h"
#include "kv/kv_state.h"
#include "synod/state_machine.h"

namespace synod::kv {

class KvStateMachine final : public StateMachine {
 public:
  // --- StateMachine

  // Decodes `op`, executes it and returns the encoded KvReply. A read op is
  // answered too (a read through the log is linearizable without asking the
  // backups). The store keeps its own revisions, so `at` is not used.
  std::string apply(std::string_view op, OpPosition at) override;

  // Get and List only; any other op (or bytes that are no op) gets kInvalid.
  std::string query(std::string_view op) const override;

  void write_snapshot(std::ostream& out) const override;
  // On failure the state is exactly what it was, and last_restore_error() says why.
  bool restore_snapshot(std::istream& in) override;

  // --- Typed API

  // Runs any op. An op that validate() refuses gets kInvalid and changes nothing.
  KvReply execute(const KvRequest& request);

  // Runs a read op (Get, List) without changing anything; a write gets kInvalid.
  KvReply read(const KvRequest& request) const;

  const KvState& state() const { return state_; }
  std::uint64_t revision() const { return state_.revision; }
  std::size_t key_count() const { return state_.keys.size(); }
  const std::string& last_restore_error() const { return restore_error_; }

 private:
  using Keys = decltype(KvState::keys);

  KvReply put(const Put& r);
  KvReply get(const Get& r) const;
  KvReply erase(const Delete& r);
  KvReply list(const List& r) const;
  KvReply cas(const Cas& r);

  // The only writers of state_.keys, each taking the next revision. Where
  // the session index and the watch history will be kept (see above).
  Keys::iterator put_record(Keys::iterator at, BytesView key, Bytes value);
  void erase_record(Keys::iterator at);

  KvReply reply(KvStatus status) const;
  KvReply invalid(std::string message) const;

  KvState state_;
  std::string restore_error_;  // why the last restore_snapshot failed; empty after a success
};

}  // namespace synod::kv
