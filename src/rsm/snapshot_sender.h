#pragma once
// The sending side of snapshot transfers, for a primary serving a follower
// itself and for a backup the primary asked to serve one (SnapshotServe).
//
// The snapshot is not held in memory: for each chunk the sender asks its host
// to read a byte range of the stored snapshot (SnapshotRead, in Ready), and
// turns the bytes the host hands back (on_read) into a SnapshotChunk. One
// chunk per receiver is in flight at a time; the next is read when the
// receiver acknowledges the last (backpressure). A receiver that stays
// silent for resend_ticks is resent from what it acknowledged; one that
// makes no progress for idle_ticks is given up on. Like the rest of the
// core it does no I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "rsm/messages.h"

namespace synod::rsm {

// What a replica knows of the snapshot it stores, without its bytes.
struct StoredSnapshot {
  Viewstamp through;                 // Viewstamp{}: none
  std::uint64_t size = 0;
  std::uint32_t crc = 0;             // CRC-32 of the whole snapshot
  auto operator<=>(const StoredSnapshot&) const = default;
};

// The host reads `length` bytes at `offset` of its stored snapshot, once the
// writes of the Ready that asked are durable, and passes them to
// on_snapshot_read, or nullopt when the stored snapshot no longer ends at
// `through` (a newer one replaced it).
struct SnapshotRead {
  NodeId to;
  Viewstamp through;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  auto operator<=>(const SnapshotRead&) const = default;
};

class SnapshotSender {
 public:
  SnapshotSender(std::uint64_t chunk_bytes, std::uint64_t resend_ticks, std::uint64_t idle_ticks)
      : chunk_bytes_(chunk_bytes), resend_ticks_(resend_ticks), idle_ticks_(idle_ticks) {}

  // Sends `snapshot` to `to`, from where the transfer stands if it is the one
  // in progress, from the start otherwise.
  void serve(const NodeId& to, const StoredSnapshot& snapshot, std::uint64_t now);
  void stop(const NodeId& to) { transfers_.erase(to); }
  void clear() { transfers_.clear(); }

  enum class AckResult { kIgnored, kNoProgress, kProgress, kInstalled };
  AckResult on_ack(const NodeId& from, const SnapshotAck& ack, std::uint64_t now);
  // The chunk to send for a read the host completed, if the transfer still
  // wants it. Bytes missing or of the wrong length end the transfer.
  std::optional<SnapshotChunk> on_read(const SnapshotRead& read, std::optional<Bytes> data, ViewId vid);
  void tick(std::uint64_t now);

  bool serving(const NodeId& to) const { return transfers_.count(to) != 0; }
  // Some transfer progressed within idle_ticks: its snapshot must stay stored.
  bool active(std::uint64_t now) const;
  bool has_reads() const { return !reads_.empty(); }
  std::vector<SnapshotRead> take_reads();

 private:
  struct Transfer {
    StoredSnapshot snapshot;
    std::uint64_t acked = 0;         // the receiver holds these bytes durably
    std::uint64_t sent = 0;          // read or sent up to here; acked < sent: a chunk in flight
    std::uint64_t last_progress = 0;  // when acked last grew (or the transfer began)
    std::uint64_t last_send = 0;      // when the chunk in flight was asked for
  };

  void send_next(const NodeId& to, Transfer& t);

  std::uint64_t chunk_bytes_;
  std::uint64_t resend_ticks_;
  std::uint64_t idle_ticks_;
  std::uint64_t now_ = 0;            // the latest tick the caller passed in
  std::map<NodeId, Transfer> transfers_;
  std::vector<SnapshotRead> reads_;
};

}  // namespace synod::rsm
