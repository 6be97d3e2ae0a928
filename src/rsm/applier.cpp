#include "rsm/applier.h"

#include <cassert>

namespace synod::rsm {

Applied Applier::apply(const LogEntry& entry) {
  assert(entry.vs > applied_);
  applied_ = entry.vs;
  if (entry.client_id == 0) return Applied{0, 0, {}, false, false, true};
  Session& s = sessions_[entry.client_id];
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

std::optional<Bytes> Applier::reply_for(std::uint64_t client_id, std::uint64_t request_no) const {
  auto it = sessions_.find(client_id);
  if (it == sessions_.end() || it->second.last_request_no != request_no) return std::nullopt;
  return it->second.last_reply;
}

}  // namespace synod::rsm
