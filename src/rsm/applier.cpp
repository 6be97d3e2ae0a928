#include "rsm/applier.h"

#include <cassert>

#include "rsm/session_expiry.h"

namespace synod::rsm {

Applied Applier::apply(const LogEntry& entry) {
  assert(entry.vs > applied_);
  applied_ = entry.vs;
  if (entry.client_id == 0) {
    if (entry.request_no == LogEntry::kExpireSessions) expire_sessions(entry);
    return Applied{0, entry.request_no, {}, false, false, true};
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

std::optional<Bytes> Applier::reply_for(std::uint64_t client_id, std::uint64_t request_no) const {
  auto it = sessions_.find(client_id);
  if (it == sessions_.end() || it->second.last_request_no != request_no) return std::nullopt;
  return it->second.last_reply;
}

}  // namespace synod::rsm
