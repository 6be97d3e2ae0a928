#pragma once
// What replicas of the replicated state machine say to each other, and what
// clients ask of them. Plain values: the net layer encodes them, the
// simulator passes them as they are.

#include <cstdint>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"

namespace synod::rsm {

// A client's request. (client_id, request_no) names it across retries: a
// client numbers its requests 1, 2, 3... and has one outstanding at a time.
struct ClientRequest {
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;
  Bytes op;
  auto operator<=>(const ClientRequest&) const = default;
};

// One ordered operation. The viewstamp is its place in the total order.
// client_id 0 marks an entry of synod's own: request_no kNoop is the first
// entry of every view after view 1, which the new primary orders to commit
// what it carries over; kExpireSessions ends the sessions idle since the
// viewstamp in its op (see session_expiry.h); kSetAddress records where a
// node listens (op: encode_address), so that every replica, and a node that
// joins later from a snapshot, can reach the members it did not start with.
struct LogEntry {
  static constexpr std::uint64_t kNoop = 0;
  static constexpr std::uint64_t kExpireSessions = 1;
  static constexpr std::uint64_t kSetAddress = 2;

  Viewstamp vs;
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;
  Bytes op;
  auto operator<=>(const LogEntry&) const = default;
};

// Primary -> backup: entries that follow `prev` in the primary's log (none:
// a heartbeat), and the primary's commit point. Sent for new batches, to
// repair gaps, and on every heartbeat.
struct Append {
  ViewId vid = 0;
  Viewstamp prev;
  std::vector<LogEntry> entries;
  Viewstamp commit;
  auto operator<=>(const Append&) const = default;
};

// Backup -> primary: "every entry of your log up to `durable` is on my disk".
// Sent only after that is true.
struct AppendAck {
  ViewId vid = 0;
  Viewstamp durable;
  // The backup's stored snapshot ends here: the primary asks a backup whose
  // snapshot covers its own compaction point to serve a follower that needs
  // one (SnapshotServe).
  Viewstamp snapshot;
  auto operator<=>(const AppendAck&) const = default;
};

// Backup -> primary: "my log lacks the `prev` of your Append; `last` is the
// newest entry I hold before it". The primary resends from the newest entry
// of its own log at or before `last`; if the backup lacks that one too (its
// entry there came from another view), it answers again with an older one,
// so the two find the end of their common prefix.
struct AppendGap {
  ViewId vid = 0;
  Viewstamp last;
  auto operator<=>(const AppendGap&) const = default;
};

// Primary -> backup: "confirm you are still in view `vid` and have not begun
// to move to a newer one". One round serves every read waiting when it
// starts (linearizable reads).
struct ReadConfirm {
  ViewId vid = 0;
  std::uint64_t round = 0;
  auto operator<=>(const ReadConfirm&) const = default;
};

// Backup -> primary: the confirmation, sent only while not frozen.
struct ReadConfirmAck {
  ViewId vid = 0;
  std::uint64_t round = 0;
  auto operator<=>(const ReadConfirmAck&) const = default;
};

// Sender -> follower whose next entries the primary compacted away: one
// chunk of the snapshot of the replicated state through `through`. The
// sender is the primary or a backup it asked to serve (SnapshotServe): any
// snapshot is of committed state, so any member's will do if it reaches the
// primary's compaction point. Chunks go one at a time, each on the ack of
// the one before (backpressure), and resume from the follower's acknowledged
// offset after a loss or a broken connection.
struct SnapshotChunk {
  ViewId vid = 0;
  Viewstamp through;                 // the snapshot holds every op up to here
  std::uint64_t total_bytes = 0;
  std::uint32_t snapshot_crc = 0;    // CRC-32 of the whole snapshot
  std::uint64_t offset = 0;
  Bytes data;
  std::uint32_t data_crc = 0;        // CRC-32 of data
  auto operator<=>(const SnapshotChunk&) const = default;
};

// Follower -> sender (and a copy to the primary when the sender is a
// backup, so that it sees the transfer progress): "I hold the first
// `received` bytes of the snapshot through `through` durably", or that it
// installed it (or already holds everything through it).
struct SnapshotAck {
  ViewId vid = 0;
  Viewstamp through;
  std::uint64_t received = 0;
  bool installed = false;            // the snapshot is in place, durably
  auto operator<=>(const SnapshotAck&) const = default;
};

// Primary -> backup: "send your snapshot to `to`, which needs one". The
// primary resends it while the transfer shows no progress, and serves the
// follower itself (or asks another backup) when this one stays silent.
struct SnapshotServe {
  ViewId vid = 0;
  NodeId to;
  auto operator<=>(const SnapshotServe&) const = default;
};

// Member -> primary: "my state was found corrupt and I started over empty;
// remove me and add me again". Sent until it happens.
struct RebuildRequest {
  ViewId vid = 0;
  std::uint64_t rebuild_id = 0;      // names this loss: a node may lose its state more than once
  auto operator<=>(const RebuildRequest&) const = default;
};

// Primary of view `vid` -> rebuilt member: "view `readmitted_in`, decided
// after your removal, added you back: you may vote in the instances after
// it". A node that lost its state cannot tell on its own which views came
// after the loss.
struct RebuildDone {
  ViewId vid = 0;
  ViewId readmitted_in = 0;
  std::uint64_t rebuild_id = 0;      // the request it answers
  auto operator<=>(const RebuildDone&) const = default;
};

using Body = std::variant<Append, AppendAck, AppendGap, ReadConfirm, ReadConfirmAck, SnapshotChunk, SnapshotAck,
                          RebuildRequest, RebuildDone, SnapshotServe>;

struct Message {
  NodeId from;
  NodeId to;
  Body body;
  auto operator<=>(const Message&) const = default;
};

// A read-only request: never ordered, never in the log. (client_id, read_no)
// names it across retries. With allow_stale any replica serves it at once
// from what it has applied; otherwise only the primary, after a majority of
// the view confirmed that no newer view has begun.
struct ReadRequest {
  std::uint64_t client_id = 0;
  std::uint64_t read_no = 0;
  Bytes op;
  bool allow_stale = false;
  auto operator<=>(const ReadRequest&) const = default;
};

// The core's permission to serve a read: the host runs it against the state
// machine once it has applied every committed entry handed out so far (those
// of the same Ready included), and tells the client the state reflects at
// least every op up to `as_of` (its applied point when it serves is exact).
struct ReadGrant {
  ReadRequest request;
  Viewstamp as_of;
  auto operator<=>(const ReadGrant&) const = default;
};

// Answers the core gives a client itself (the results of operations come
// from applying them, outside the core).
struct ClientRedirect {
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;
  ViewId vid = 0;
  NodeId primary;  // where to send it instead
  auto operator<=>(const ClientRedirect&) const = default;
};

struct ClientBusy {
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;
  auto operator<=>(const ClientBusy&) const = default;
};

using ClientNotice = std::variant<ClientRedirect, ClientBusy>;

const char* type_name(const Body& body);

}  // namespace synod::rsm
