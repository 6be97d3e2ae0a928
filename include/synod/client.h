#pragma once
// The synod client: sends operations to a synod cluster and reads from it,
// following the primary across failovers. Only the standard library here;
// the networking stays in the library.
//
// A Client speaks for one client session, named by a 64-bit client id. Its
// writes are numbered 1, 2, 3... and each write is retried with the SAME
// (client id, number) until the cluster answers or the call's deadline
// passes: on a redirect to the primary, on "busy", and on a broken or silent
// connection at another node. The cluster's session table answers a retry of
// an applied write with the first reply, so each write applies at most once,
// whatever the failovers.
//
// How a call ends (Outcome):
//   kOk              the cluster answered: `payload` is the state machine's reply.
//   kOutcomeUnknown  a write was sent (in full) to some node and no kOk came in
//                    time: it may or may not have applied, and may still apply.
//                    (Refusals do not rule it out: a primary that took the
//                    write and then lost its primacy answers "not the
//                    primary", yet the write may be ordered in the next view.)
//                    Never reported as a failure: read the state to find out.
//   kUnavailable     nothing that could apply was sent: no node was reachable
//                    (or, for a queued write, its time ran out before its turn).
//                    A read that gets no answer ends here too: reads change nothing.
//   kSessionExpired  the cluster ended this client's session (it was idle too
//                    long): the outcome of this write is unknown. The Client
//                    starts a fresh session (a new client id) for later calls.
//   kRejected        the cluster refused the request (`message` says why);
//                    retrying the same request will not help.
//
// Threads: every member function may be called from any thread. Writes are
// carried out one at a time, in the order they were called (the protocol
// allows one outstanding write per session): a write queues behind the
// earlier ones, and its deadline counts from the call, queueing included.
// Reads likewise queue among themselves, beside the writes. Admin calls run on
// the calling thread.
//
// Bounds: every call ends by its deadline (plus the time to close a socket);
// at most ClientOptions::queued_calls_max calls wait at once.

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace synod {

enum class Outcome : std::uint8_t {
  kOk = 0,
  kOutcomeUnknown,
  kUnavailable,
  kSessionExpired,
  kRejected,
};
// "ok", "outcome_unknown", "unavailable", "session_expired", "rejected".
const char* to_string(Outcome outcome);

// A place in the replicated order: the view, then the sequence number its
// primary gave the op. Compares in that order.
struct LogPosition {
  std::uint64_t view = 0;
  std::uint64_t seq = 0;
  auto operator<=>(const LogPosition&) const = default;
};

struct ClientOptions {
  // A call's deadline when it names none. At least 1 ms.
  std::chrono::milliseconds default_timeout{5000};
  // One attempt at one node: with no answer by then, the call tries another
  // node (a write with the same number). At least 1 ms.
  std::chrono::milliseconds attempt_timeout{1000};
  // 0: a random non-zero id. Give one only to resume a session on purpose;
  // two live clients with the same id break each other's exactly-once.
  std::uint64_t client_id = 0;
  // 0: learn it from the first reply (nodes accept cluster id 0 from clients).
  // Otherwise a node of another cluster is treated as unreachable.
  std::uint64_t cluster_id = 0;
  // Calls queued at once (writes and reads each); beyond it a call ends at
  // once with kUnavailable, nothing sent.
  std::size_t queued_calls_max = 1024;
  // Seeds the retry jitter; 0: drawn at random.
  std::uint64_t seed = 0;
};

// The end of a write or a read.
struct CallResult {
  Outcome outcome = Outcome::kUnavailable;
  std::string payload;          // kOk: the state machine's reply (bytes)
  std::string message;          // otherwise: what happened, for a person
  // From the last answer of any node (0 / empty when none answered):
  std::uint64_t view = 0;       // the answering node's view
  std::string primary;          // the primary it names
  std::string primary_address;  // where that primary listens ("host:port")
  // kOk write: the op's place in the order. kOk read: the state read reflects
  // every op up to here.
  LogPosition as_of;
  std::string answered_by;      // the endpoint of the last answer
  bool ok() const { return outcome == Outcome::kOk; }
};

enum class MemberRole : std::uint8_t {
  kPrimary = 0,
  kBackup,
  kLearner,     // follows the log but does not vote: being added (or removed)
  kFrozen,      // takes no part in its view: a view change is in progress
  kRebuilding,  // lost its state and is being re-added
};
// "primary", "backup", "learner", "frozen", "rebuilding".
const char* to_string(MemberRole role);

struct MemberInfo {
  std::string id;
  std::string address;  // empty when the answering node does not know it
  MemberRole role = MemberRole::kBackup;
  bool operator==(const MemberInfo&) const = default;
};

// One node's own account of itself.
struct NodeStatus {
  std::string id;
  MemberRole role = MemberRole::kBackup;
  std::uint64_t view = 0;
  LogPosition last;    // the last entry of its log (or of its snapshot)
  LogPosition commit;  // its commit point
  bool operator==(const NodeStatus&) const = default;
};

// The end of an admin call.
struct AdminResult {
  Outcome outcome = Outcome::kUnavailable;
  std::string message;          // kOk: what the node did (may be empty); otherwise what happened
  std::uint64_t view = 0;
  std::string primary;
  std::string primary_address;
  std::string answered_by;      // the endpoint that answered
  std::vector<MemberInfo> members;  // status, list_members: the view's members and a learner being added
  std::optional<NodeStatus> node;   // status: the answering node
  bool ok() const { return outcome == Outcome::kOk; }
};

class Client {
 public:
  struct Created;

  // Makes a client for the nodes at `endpoints` ("host:port", e.g.
  // "127.0.0.1:7001", "[::1]:7001"); any member will do, the client finds the
  // primary. Sends nothing. Fails (Created::error says why) on an empty list,
  // an address that does not parse, or an option out of range.
  static Created create(std::vector<std::string> endpoints, ClientOptions options = {});

  // create(), then waits until some node answers (a member list), within
  // `timeout` (default: options.default_timeout). Fails when none does.
  static Created connect(std::vector<std::string> endpoints, ClientOptions options = {},
                         std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Ends every queued call with kUnavailable (nothing sent) and a call in
  // flight with kOutcomeUnknown (a write that was sent) or kUnavailable,
  // then returns. Do not destroy a Client while another thread is inside a
  // blocking admin call on it.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Timeout = std::optional<std::chrono::milliseconds>;  // nullopt: options.default_timeout
  using Done = std::function<void(CallResult)>;

  // A write: `op` is handed to the state machine's apply() once, at the
  // primary's place in the order. Blocks until the outcome is known or the
  // timeout passes. See Outcome for what each ending means.
  CallResult submit(std::string op, Timeout timeout = std::nullopt);
  // The same, without blocking: the future is ready when submit() would return.
  std::future<CallResult> submit_async(std::string op, Timeout timeout = std::nullopt);
  // The same with a callback, called once, on a thread of the client (keep it
  // short; it must not destroy the Client).
  void submit_async(std::string op, Timeout timeout, Done done);

  // A read: `op` goes to the state machine's query(), never into the log.
  // Linearizable by default: only the primary answers, after a majority
  // confirmed it still is; the answer reflects every write acknowledged
  // before the call. With allow_stale any node answers at once from what it
  // has applied (as_of says how far), which may be behind. A read that gets
  // no answer ends kUnavailable: it changed nothing.
  CallResult read(std::string op, bool allow_stale = false, Timeout timeout = std::nullopt);
  std::future<CallResult> read_async(std::string op, bool allow_stale = false, Timeout timeout = std::nullopt);
  void read_async(std::string op, bool allow_stale, Timeout timeout, Done done);

  // --- Admin calls (on the calling thread).
  // Membership changes go to the primary (following redirects, retrying
  // "busy"). Unlike writes they carry no session number, so one that was
  // sent and not answered is NOT retried: it ends kOutcomeUnknown (check with
  // list_members). A change the primary refuses ends kRejected.

  // The node at `endpoint` (any node, not necessarily a member): its role,
  // view, log and commit point, and the members it knows. One node, no
  // redirects; kUnavailable when it does not answer.
  AdminResult status(const std::string& endpoint, Timeout timeout = std::nullopt);
  // The members of the current view (and a learner being added), as the
  // primary knows them when it answers, else as the first node that answers does.
  AdminResult list_members(Timeout timeout = std::nullopt);
  // Starts adding node `id`, listening at `address` ("host:port"; may be
  // empty when the primary already knows it): it follows the log as a
  // learner and joins the view once caught up. kOk means the change started,
  // not that it is done: watch list_members.
  AdminResult add_member(const std::string& id, const std::string& address, Timeout timeout = std::nullopt);
  // Cancels an add that has not completed.
  AdminResult cancel_add(const std::string& id, Timeout timeout = std::nullopt);
  // Starts removing member `id` (a new view without it).
  AdminResult remove_member(const std::string& id, Timeout timeout = std::nullopt);
  // Asks the primary to hand over to member `id`. (Servers of this version
  // refuse it: kRejected.)
  AdminResult transfer_primary(const std::string& id, Timeout timeout = std::nullopt);
  // Asks the node at `endpoint` to take a snapshot now. (Servers of this
  // version refuse it: kRejected.)
  AdminResult snapshot_now(const std::string& endpoint, Timeout timeout = std::nullopt);

  // The session's id (changes after kSessionExpired), the cluster id learned
  // so far (0 before any answer), the endpoints given.
  std::uint64_t client_id() const;
  std::uint64_t cluster_id() const;
  const std::vector<std::string>& endpoints() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Client::Created {
  std::unique_ptr<Client> client;  // null on failure
  std::string error;               // why, when client is null
  explicit operator bool() const { return client != nullptr; }
};

}  // namespace synod
