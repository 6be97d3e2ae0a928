#include "rsm/snapshot_sender.h"

#include <algorithm>

#include "common/crc32.h"

namespace synod::rsm {

void SnapshotSender::serve(const NodeId& to, const StoredSnapshot& snapshot, std::uint64_t now) {
  now_ = now;
  auto it = transfers_.find(to);
  if (it == transfers_.end() || it->second.snapshot != snapshot) {
    it = transfers_.insert_or_assign(to, Transfer{snapshot, 0, 0, now, now}).first;
  }
  send_next(to, it->second);
}

void SnapshotSender::send_next(const NodeId& to, Transfer& t) {
  if (t.sent > t.acked) return;  // one chunk in flight: backpressure
  const std::uint64_t size = t.snapshot.size;
  if (size != 0 && t.acked >= size) return;  // all of it is there; the receiver installs it
  const std::uint64_t length = std::min(chunk_bytes_, size - t.acked);
  reads_.push_back(SnapshotRead{to, t.snapshot.through, t.acked, length});
  // An empty snapshot still travels as one (empty) chunk, in flight until acknowledged.
  t.sent = t.acked + std::max<std::uint64_t>(length, 1);
  t.last_send = now_;
}

SnapshotSender::AckResult SnapshotSender::on_ack(const NodeId& from, const SnapshotAck& ack, std::uint64_t now) {
  now_ = now;
  auto it = transfers_.find(from);
  if (it == transfers_.end() || ack.through != it->second.snapshot.through) return AckResult::kIgnored;
  if (ack.installed) {
    transfers_.erase(it);
    return AckResult::kInstalled;
  }
  Transfer& t = it->second;
  const std::uint64_t received = std::min(ack.received, t.snapshot.size);
  AckResult result = AckResult::kNoProgress;
  if (received > t.acked) {
    t.acked = received;
    t.sent = std::max(t.sent, t.acked);
    t.last_progress = now;
    result = AckResult::kProgress;
  } else if (received < t.acked) {
    // The receiver holds less than it said (it restarted the transfer): go
    // on from what it holds now.
    t.acked = t.sent = received;
  }
  send_next(from, t);
  return result;
}

std::optional<SnapshotChunk> SnapshotSender::on_read(const SnapshotRead& read, std::optional<Bytes> data, ViewId vid) {
  auto it = transfers_.find(read.to);
  if (it == transfers_.end()) return std::nullopt;
  Transfer& t = it->second;
  // A read the transfer moved past (a resend asked again, or the receiver
  // restarted) is simply not sent.
  if (t.snapshot.through != read.through || read.offset != t.acked || t.sent <= t.acked) return std::nullopt;
  if (!data || data->size() != read.length) {
    // The stored snapshot is gone (replaced by a newer one): this transfer
    // cannot go on. Whoever still needs a snapshot is served again.
    transfers_.erase(it);
    return std::nullopt;
  }
  const std::uint32_t data_crc = crc32(*data);
  return SnapshotChunk{vid, t.snapshot.through, t.snapshot.size, t.snapshot.crc, read.offset, std::move(*data), data_crc};
}

void SnapshotSender::tick(std::uint64_t now) {
  now_ = now;
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    Transfer& t = it->second;
    if (now - t.last_progress >= idle_ticks_) {
      it = transfers_.erase(it);
      continue;
    }
    if (t.sent > t.acked && now - t.last_send >= resend_ticks_) {
      t.sent = t.acked;  // resume where it holds bytes for sure
      send_next(it->first, t);
    }
    ++it;
  }
}

bool SnapshotSender::active(std::uint64_t now) const {
  return std::any_of(transfers_.begin(), transfers_.end(),
                     [&](const auto& entry) { return now - entry.second.last_progress < idle_ticks_; });
}

std::vector<SnapshotRead> SnapshotSender::take_reads() {
  std::vector<SnapshotRead> reads;
  reads.swap(reads_);
  return reads;
}

}  // namespace synod::rsm
