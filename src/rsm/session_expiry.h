#pragma once
// Session expiry without a clock in the state machine. The primary remembers
// which viewstamp its log had reached at which tick; once a sample is older
// than session_idle_ticks, every request ordered before that viewstamp is
// at least that old, so it orders an entry "expire the sessions whose last
// request is before V". Every replica applies it the same way. After a
// failover the new primary starts sampling afresh, which only delays expiry.

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "common/bytes.h"
#include "common/ids.h"

namespace synod::rsm {

class ExpiryClock {
 public:
  // idle_ticks 0: sessions never expire.
  explicit ExpiryClock(std::uint32_t idle_ticks) : idle_ticks_(idle_ticks) {}

  // Called on every tick of a serving primary with its log's end. Returns the
  // viewstamp to expire below when an expiry is due (at most one per quarter
  // of idle_ticks, and only for a viewstamp past the last one returned).
  std::optional<Viewstamp> on_tick(std::uint64_t now_ticks, Viewstamp log_end);

  // A new view: what an earlier primary ordered is not in our samples.
  void restart() { samples_.clear(); }

 private:
  std::uint32_t idle_ticks_;
  std::deque<std::pair<std::uint64_t, Viewstamp>> samples_;  // (tick, log end), oldest first; at most 6
  std::uint64_t next_sample_at_ = 0;
  Viewstamp expired_below_;
};

Bytes encode_expiry(Viewstamp below);
std::optional<Viewstamp> decode_expiry(const Bytes& op);

}  // namespace synod::rsm
