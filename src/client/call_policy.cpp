#include "client/call_policy.h"

#include <algorithm>
#include <utility>

namespace synod::client {

using std::chrono::milliseconds;

namespace {
// Redirects in a row that may go without a pause: a view change can leave
// two nodes naming each other for a moment.
constexpr std::size_t kRedirectsWithoutPause = 3;
}  // namespace

Backoff::Backoff(milliseconds initial, milliseconds max, std::uint64_t seed)
    : initial_(std::max(initial, milliseconds(1))), max_(std::max(max, initial_)), delay_(initial_), rng_(seed) {}

milliseconds Backoff::next() {
  const milliseconds delay = delay_;
  delay_ = std::min(max_, delay_ * 2);
  std::uniform_int_distribution<std::int64_t> pick(delay.count() / 2, delay.count());
  return milliseconds(pick(rng_));
}

TargetPlanner::TargetPlanner(std::vector<std::string> endpoints, std::string primary_hint)
    : endpoints_(std::move(endpoints)), target_(std::move(primary_hint)) {}

std::string TargetPlanner::next() {
  if (!target_.empty()) return target_;
  if (endpoints_.empty()) return {};
  target_ = endpoints_[next_endpoint_ % endpoints_.size()];
  ++next_endpoint_;
  return target_;
}

bool TargetPlanner::on_redirect(const std::string& at, const std::string& primary_address) {
  on_answer();
  if (primary_address.empty() || primary_address == at) {
    target_.clear();  // it knows no better: ask the next endpoint, after a pause
    redirects_in_row_ = 0;
    return false;
  }
  target_ = primary_address;
  ++redirects_in_row_;
  if (redirects_in_row_ > kRedirectsWithoutPause) {
    redirects_in_row_ = 0;
    return false;
  }
  return true;
}

bool TargetPlanner::on_failure(const std::string& at) {
  if (target_ == at) target_.clear();
  redirects_in_row_ = 0;
  ++failures_in_row_;
  // One failure per endpoint, plus the primary it was told about.
  if (failures_in_row_ >= endpoints_.size() + 1) {
    failures_in_row_ = 0;
    return true;
  }
  return false;
}

void TargetPlanner::on_answer() { failures_in_row_ = 0; }

Verdict judge(net::ClientStatus status, std::string_view message) {
  switch (status) {
    case net::ClientStatus::kOk:
      return {Step::kDone, Outcome::kOk};
    case net::ClientStatus::kNotPrimary:
      return {Step::kRedirect, Outcome::kOk};
    case net::ClientStatus::kBusy:
      return {Step::kRetryLater, Outcome::kOk};
    case net::ClientStatus::kSessionExpired:
      return {Step::kDone, Outcome::kSessionExpired};
    case net::ClientStatus::kError:
      // A node whose disk failed answers every request with kError "node X
      // has stopped: ..." (server/node_runtime.cpp); the rest of the cluster
      // can still serve, so that one is not the request's fault.
      if (message.rfind("node ", 0) == 0 && message.find(" has stopped") != std::string_view::npos) {
        return {Step::kTryElsewhere, Outcome::kOk};
      }
      return {Step::kDone, Outcome::kRejected};
  }
  return {Step::kDone, Outcome::kRejected};  // unreachable: the decoder checks the range
}

Outcome out_of_time_outcome(bool write, bool sent_in_full_once) {
  return write && sent_in_full_once ? Outcome::kOutcomeUnknown : Outcome::kUnavailable;
}

MemberRole to_public(net::NodeRole role) {
  switch (role) {
    case net::NodeRole::kPrimary: return MemberRole::kPrimary;
    case net::NodeRole::kBackup: return MemberRole::kBackup;
    case net::NodeRole::kLearner: return MemberRole::kLearner;
    case net::NodeRole::kFrozen: return MemberRole::kFrozen;
    case net::NodeRole::kRebuilding: return MemberRole::kRebuilding;
  }
  return MemberRole::kBackup;  // unreachable: the decoder checks the range
}

std::uint64_t random_nonzero_u64() {
  std::random_device device;
  // Ends: a zero comes with probability 2^-64 per draw.
  for (;;) {
    const std::uint64_t n = (std::uint64_t{device()} << 32) ^ device();
    if (n != 0) return n;
  }
}

}  // namespace synod::client
