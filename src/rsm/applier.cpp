#include "rsm/applier.h"

#include <cassert>

#include "rsm/session_expiry.h"

namespace synod::rsm {

Applied Applier::apply(const LogEntry& entry) {
  assert(entry.vs > applied_);
  applied_ = entry.vs;
  if (entry.client_id == 0) {
    Applied own{0, entry.request_no, {}, false, false, true};
    if (entry.request_no == LogEntry::kExpireSessions) expire_sessions(entry);
    if (entry.request_no == LogEntry::kSetAddress) {
      // Only a primary writes these; a bad one changes nothing anywhere.
      if (auto address = decode_address(entry.op)) {
        addresses_[address->first] = address->second;
        own.addresses_changed = true;
      }
    }
    return own;
  }
  if (expired_.count(entry.client_id) != 0) {
    return Applied{entry.client_id, entry.request_no, {}, false, false, false, true};
  }
  Session& s = sessions_[entry.client_id];
  s.last_active = entry.vs;
  if (entry.request_no == s.last_request_no) {
    return Applied{entry.client_id, entry.request_no, s.last_reply, false, false};
  }
  if (entry.request_no < s.last_request_no) {
    return Applied{entry.client_id, entry.request_no, {}, false, true};
  }
  Bytes reply = machine_.apply(entry.op, OpPosition{entry.vs.vid, entry.vs.seq});
  s.last_request_no = entry.request_no;
  s.last_reply = reply;
  return Applied{entry.client_id, entry.request_no, std::move(reply), true, false};
}

void Applier::expire_sessions(const LogEntry& entry) {
  std::optional<Viewstamp> below = decode_expiry(entry.op);
  if (!below) return;  // only a primary writes these; a bad one changes nothing anywhere
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.last_active < *below) {
      expired_.insert(it->first);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

Bytes encode_address(const NodeId& id, const std::string& address) { return id + '\n' + address; }

std::optional<std::pair<NodeId, std::string>> decode_address(BytesView op) {
  const std::size_t split = op.find('\n');
  if (split == BytesView::npos || split == 0) return std::nullopt;
  const BytesView address = op.substr(split + 1);
  if (address.find('\n') != BytesView::npos) return std::nullopt;
  return std::make_pair(NodeId(op.substr(0, split)), std::string(address));
}

namespace {

// Format 2 added the address book.
constexpr char kSnapshotMagic[] = "synod-applier-2";

void put_u64(std::ostream& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.put(static_cast<char>((v >> shift) & 0xFF));
}

bool get_u64(std::istream& in, std::uint64_t& v) {
  v = 0;
  for (int i = 0; i < 8; ++i) {
    int c = in.get();
    if (c == std::char_traits<char>::eof()) return false;
    v = (v << 8) | static_cast<unsigned char>(c);
  }
  return true;
}

void put_bytes(std::ostream& out, const Bytes& b) {
  put_u64(out, b.size());
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

bool get_bytes(std::istream& in, Bytes& b, std::uint64_t max_bytes) {
  std::uint64_t n = 0;
  if (!get_u64(in, n) || n > max_bytes) return false;
  b.resize(n);
  return static_cast<bool>(in.read(b.data(), static_cast<std::streamsize>(n)));
}

}  // namespace

void Applier::write_snapshot(std::ostream& out) const {
  out.write(kSnapshotMagic, sizeof kSnapshotMagic);
  put_u64(out, applied_.vid);
  put_u64(out, applied_.seq);
  put_u64(out, sessions_.size());
  for (const auto& [id, s] : sessions_) {
    put_u64(out, id);
    put_u64(out, s.last_request_no);
    put_u64(out, s.last_active.vid);
    put_u64(out, s.last_active.seq);
    put_bytes(out, s.last_reply);
  }
  put_u64(out, expired_.size());
  for (std::uint64_t id : expired_) put_u64(out, id);
  put_u64(out, addresses_.size());
  for (const auto& [id, address] : addresses_) {
    put_bytes(out, id);
    put_bytes(out, address);
  }
  machine_.write_snapshot(out);
}

Status Applier::restore_snapshot(std::istream& in) {
  char magic[sizeof kSnapshotMagic] = {};
  if (!in.read(magic, sizeof magic) || std::string_view(magic, sizeof magic) != std::string_view(kSnapshotMagic, sizeof kSnapshotMagic)) {
    return Error{"not a synod snapshot (bad header)"};
  }
  Viewstamp applied;
  std::uint64_t count = 0;
  std::map<std::uint64_t, Session> sessions;
  std::set<std::uint64_t> expired;
  if (!get_u64(in, applied.vid) || !get_u64(in, applied.seq) || !get_u64(in, count)) {
    return Error{"snapshot is truncated in its header"};
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id = 0;
    Session s;
    // A reply is bounded by what one op may return on the wire.
    if (!get_u64(in, id) || !get_u64(in, s.last_request_no) || !get_u64(in, s.last_active.vid) ||
        !get_u64(in, s.last_active.seq) || !get_bytes(in, s.last_reply, std::uint64_t{64} << 20)) {
      return Error{"snapshot is truncated in its session table"};
    }
    sessions.emplace(id, std::move(s));
  }
  if (!get_u64(in, count)) return Error{"snapshot is truncated in its expired sessions"};
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id = 0;
    if (!get_u64(in, id)) return Error{"snapshot is truncated in its expired sessions"};
    expired.insert(id);
  }
  std::map<NodeId, std::string> addresses;
  if (!get_u64(in, count)) return Error{"snapshot is truncated in its address book"};
  for (std::uint64_t i = 0; i < count; ++i) {
    Bytes id, address;
    if (!get_bytes(in, id, 1024) || !get_bytes(in, address, 1024)) {
      return Error{"snapshot is truncated in its address book"};
    }
    addresses[id] = std::move(address);
  }
  if (!machine_.restore_snapshot(in)) return Error{"the state machine refused its part of the snapshot"};
  applied_ = applied;
  sessions_ = std::move(sessions);
  expired_ = std::move(expired);
  addresses_ = std::move(addresses);
  return Status::Ok();
}

std::optional<Bytes> Applier::reply_for(std::uint64_t client_id, std::uint64_t request_no) const {
  auto it = sessions_.find(client_id);
  if (it == sessions_.end() || it->second.last_request_no != request_no) return std::nullopt;
  return it->second.last_reply;
}

}  // namespace synod::rsm
