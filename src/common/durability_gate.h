#pragma once
// Holds messages until the writes issued before them are durable.
//
// A protocol core batches its writes: all writes issued between two
// take_batch() calls form one batch, persisted with one synced write and
// reported back with mark_durable(batch id) in order. A message that depends
// on what the core has written so far (a promise, an acknowledgement) is
// passed through hold(): it comes back at once if nothing it depends on is
// still in flight, otherwise from release() once its batch is durable.
//
// This is the rule that makes crashes safe: a crash loses only writes whose
// dependent messages never left.

#include <cassert>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace synod {

template <typename Message>
class DurabilityGate {
 public:
  // A write was issued; it joins the batch the next take_batch() returns.
  void note_write() { pending_ = true; }
  bool has_pending_writes() const { return pending_; }

  // Closes the current batch and returns its id (ids are 1, 2, 3...).
  std::uint64_t take_batch() {
    assert(pending_);
    pending_ = false;
    return ++issued_;
  }

  // The id of the batch holding the newest write so far.
  std::uint64_t current_tag() const { return pending_ ? issued_ + 1 : issued_; }
  bool is_durable(std::uint64_t tag) const { return tag <= durable_; }

  // Returns the message when it may go now; keeps it otherwise.
  std::optional<Message> hold(Message m) {
    std::uint64_t tag = current_tag();
    if (is_durable(tag)) return m;
    held_.emplace_back(tag, std::move(m));
    return std::nullopt;
  }

  // Batch `id` (and every earlier one) is durable; returns what may go now,
  // in the order it was held.
  std::vector<Message> mark_durable(std::uint64_t id) {
    assert(id > durable_ && id <= issued_);
    durable_ = id;
    std::vector<Message> out;
    while (!held_.empty() && held_.front().first <= durable_) {
      out.push_back(std::move(held_.front().second));
      held_.pop_front();
    }
    return out;
  }

 private:
  bool pending_ = false;
  std::uint64_t issued_ = 0;
  std::uint64_t durable_ = 0;
  std::deque<std::pair<std::uint64_t, Message>> held_;  // (batch tag, message), tags ascending
};

}  // namespace synod
