#pragma once
// The simulator's network, for any message type: each message is dropped,
// duplicated or delivered after a random delay (so messages reorder), all
// from the run's one random stream. Partitions are decided by the caller at
// delivery time.

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "sim/sim_random.h"

namespace synod::sim {

struct NetworkFaults {
  double drop = 0.05;
  double duplicate = 0.03;
  std::uint32_t delay_ticks_min = 1;
  std::uint32_t delay_ticks_max = 8;
};

template <typename M>
class SimNetwork {
 public:
  // Returns false when the message was dropped.
  bool send(M message, std::uint64_t now, SimRandom& rng, const NetworkFaults& f, bool faults_on) {
    if (faults_on && rng.chance(f.drop)) return false;
    int copies = faults_on && rng.chance(f.duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      std::uint64_t at = now + rng.between(f.delay_ticks_min, f.delay_ticks_max);
      queue_.push(InFlight{at, next_seq_++, message});
    }
    return true;
  }

  // Takes the next message due at or before `now`, in (time, send order).
  bool pop_due(std::uint64_t now, M& out) {
    if (queue_.empty() || queue_.top().at > now) return false;
    out = queue_.top().message;
    queue_.pop();
    return true;
  }

  bool empty() const { return queue_.empty(); }

 private:
  struct InFlight {
    std::uint64_t at;
    std::uint64_t seq;
    M message;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
  std::uint64_t next_seq_ = 0;
};

// A node's disk: batches become durable in issue order after a random delay;
// a crash loses every batch not yet durable.
template <typename W>
class SimDisk {
 public:
  struct Batch {
    std::uint64_t complete_at;
    std::uint64_t write_id;
    std::vector<W> writes;
  };

  void issue(std::uint64_t write_id, std::vector<W> writes, std::uint64_t now, SimRandom& rng,
             std::uint32_t ticks_min, std::uint32_t ticks_max) {
    std::uint64_t at = now + rng.between(ticks_min, ticks_max);
    if (!pending_.empty() && pending_.back().complete_at > at) at = pending_.back().complete_at;
    pending_.push_back(Batch{at, write_id, std::move(writes)});
  }

  bool pop_durable(std::uint64_t now, Batch& out) {
    if (pending_.empty() || pending_.front().complete_at > now) return false;
    out = std::move(pending_.front());
    pending_.erase(pending_.begin());
    return true;
  }

  std::size_t crash() {
    std::size_t lost = pending_.size();
    pending_.clear();
    return lost;
  }

 private:
  std::vector<Batch> pending_;
};

}  // namespace synod::sim
