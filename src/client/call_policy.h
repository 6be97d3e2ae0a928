#pragma once
// The rules of one client call, apart from the network so that unit tests
// check them with no sockets and no sleeps: where the next attempt goes, what
// an answer means, how long to pause, and how a call that ran out of time
// ends. client.cpp drives them with real connections.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "net/client_protocol.h"
#include "synod/client.h"

namespace synod::client {

// Pauses before a retry: after "busy", after a redirect that leads nowhere
// new, after every endpoint failed in a row. Doubles from `initial` up to
// `max`; each pause is drawn in [delay/2, delay] so that clients retrying
// together spread out.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed);
  std::chrono::milliseconds next();
  void reset() { delay_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds delay_;
  std::mt19937_64 rng_;
};

inline constexpr std::chrono::milliseconds kBackoffInitial{10};
inline constexpr std::chrono::milliseconds kBackoffMax{500};

// Where the attempts of one call go. Starts at the primary when one is known
// (`primary_hint`), else at the endpoints in turn; follows redirects; after a
// node fails, goes on with the next endpoint.
class TargetPlanner {
 public:
  TargetPlanner(std::vector<std::string> endpoints, std::string primary_hint);

  // The address for the next attempt.
  std::string next();

  // `at` answered kNotPrimary naming `primary_address` (maybe empty). True
  // when the next attempt may go at once (to the named primary); false when
  // the caller should pause first: nobody named, the node named itself, or
  // too many redirects in a row (two nodes naming each other during a view
  // change).
  bool on_redirect(const std::string& at, const std::string& primary_address);

  // `at` gave no usable answer (unreachable, broken, silent, stopped). True
  // when every endpoint has failed since the last answer: pause before the
  // next round.
  bool on_failure(const std::string& at);

  // Any answer: the round of failures starts over.
  void on_answer();

 private:
  std::vector<std::string> endpoints_;
  std::string target_;             // where the next attempt goes; empty: the next endpoint
  std::size_t next_endpoint_ = 0;
  std::size_t failures_in_row_ = 0;
  std::size_t redirects_in_row_ = 0;
};

// What an answer tells the call to do.
enum class Step : std::uint8_t {
  kDone,          // the call ends with `outcome`
  kRedirect,      // not the primary: go where it says
  kRetryLater,    // busy: pause, then the same node again
  kTryElsewhere,  // that node cannot serve at all (it stopped): another one
};
struct Verdict {
  Step step = Step::kDone;
  Outcome outcome = Outcome::kOk;  // for kDone
};
Verdict judge(net::ClientStatus status, std::string_view message);

// How a call that ran out of time ends. A write whose frame left whole at
// least once may have been ordered (even one answered "not the primary" by a
// node that had taken it and then lost its primacy), so its outcome is
// unknown; a write never sent in full, and any read, changed nothing.
Outcome out_of_time_outcome(bool write, bool sent_in_full_once);

// Converts the protocol's values to the public ones.
MemberRole to_public(net::NodeRole role);

// A random non-zero 64-bit number (client ids, seeds).
std::uint64_t random_nonzero_u64();

}  // namespace synod::client
