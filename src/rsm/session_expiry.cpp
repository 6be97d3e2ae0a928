#include "rsm/session_expiry.h"

#include <charconv>

namespace synod::rsm {

std::optional<Viewstamp> ExpiryClock::on_tick(std::uint64_t now_ticks, Viewstamp log_end) {
  if (idle_ticks_ == 0 || now_ticks < next_sample_at_) return std::nullopt;
  const std::uint64_t step = std::max<std::uint64_t>(1, idle_ticks_ / 4);
  next_sample_at_ = now_ticks + step;
  samples_.emplace_back(now_ticks, log_end);
  // The newest sample at least idle_ticks old names what is idle; older
  // samples are no longer needed.
  std::optional<Viewstamp> idle_below;
  while (!samples_.empty() && samples_.front().first + idle_ticks_ <= now_ticks) {
    idle_below = samples_.front().second;
    samples_.pop_front();
  }
  if (!idle_below || *idle_below <= expired_below_) return std::nullopt;
  expired_below_ = *idle_below;
  return idle_below;
}

Bytes encode_expiry(Viewstamp below) { return std::to_string(below.vid) + ":" + std::to_string(below.seq); }

std::optional<Viewstamp> decode_expiry(const Bytes& op) {
  const std::size_t colon = op.find(':');
  if (colon == Bytes::npos) return std::nullopt;
  Viewstamp vs;
  const char* begin = op.data();
  const char* end = op.data() + op.size();
  auto [p1, e1] = std::from_chars(begin, begin + colon, vs.vid);
  auto [p2, e2] = std::from_chars(begin + colon + 1, end, vs.seq);
  if (e1 != std::errc{} || e2 != std::errc{} || p1 != begin + colon || p2 != end) return std::nullopt;
  return vs;
}

}  // namespace synod::rsm
