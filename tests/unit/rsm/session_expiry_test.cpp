// Session expiry: the primary's ExpiryClock names what is idle by viewstamp,
// and the Applier ends exactly the sessions idle before it, refusing their
// later requests. No clock reaches the state machine.

#include "rsm/session_expiry.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "rsm/applier.h"
#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm {
namespace {

Viewstamp vs(ViewId vid, std::uint64_t seq) { return Viewstamp{vid, seq}; }

class CountingMachine : public StateMachine {
 public:
  std::string apply(std::string_view op, OpPosition) override {
    ++applied;
    return "r:" + std::string(op);
  }
  std::string query(std::string_view) const override { return {}; }
  void write_snapshot(std::ostream&) const override {}
  bool restore_snapshot(std::istream&) override { return true; }
  int applied = 0;
};

TEST(ExpiryClock, NeverExpiresWithZeroIdleTicks) {
  ExpiryClock clock(0);
  for (std::uint64_t t = 1; t <= 1000; ++t) EXPECT_FALSE(clock.on_tick(t, vs(1, t)));
}

TEST(ExpiryClock, NamesTheLogEndOfASampleAtLeastIdleTicksOld) {
  ExpiryClock clock(100);  // samples every 25 ticks
  std::optional<Viewstamp> first;
  std::uint64_t at = 0;
  for (std::uint64_t t = 1; t <= 300 && !first; ++t) {
    first = clock.on_tick(t, vs(1, t));  // the log grows one entry per tick
    at = t;
  }
  ASSERT_TRUE(first);
  // The log end it names was sampled at least 100 ticks before now.
  EXPECT_LE(first->seq + 100, at);
  EXPECT_GE(first->seq + 100 + 25, at) << "expiry came much later than needed";
}

TEST(ExpiryClock, NamesEachViewstampOnceAndOnlyWhenTheLogMoved) {
  ExpiryClock clock(40);
  std::optional<Viewstamp> last;
  int expiries = 0;
  for (std::uint64_t t = 1; t <= 200; ++t) {
    if (auto v = clock.on_tick(t, vs(1, 5))) {  // an idle log: its end never moves
      ++expiries;
      EXPECT_TRUE(!last || *v > *last);
      last = v;
    }
  }
  EXPECT_EQ(expiries, 1) << "the same viewstamp was named again";
}

TEST(ExpiryClock, RestartForgetsThePreviousViewsSamples) {
  ExpiryClock clock(40);
  for (std::uint64_t t = 1; t <= 30; ++t) EXPECT_FALSE(clock.on_tick(t, vs(1, t)));
  clock.restart();
  // Only samples from tick 31 on count: nothing is 40 ticks old before tick 71.
  for (std::uint64_t t = 31; t < 71; ++t) EXPECT_FALSE(clock.on_tick(t, vs(2, t))) << t;
}

TEST(ExpiryEncoding, RoundTripsAndRejectsGarbage) {
  EXPECT_EQ(decode_expiry(encode_expiry(vs(7, 42))), vs(7, 42));
  EXPECT_EQ(decode_expiry(encode_expiry(vs(~0ull, ~0ull))), vs(~0ull, ~0ull));
  for (const char* bad : {"", "7", "7:", ":4", "7:4x", "a:1", "1:2:3", "-1:2"}) {
    EXPECT_FALSE(decode_expiry(bad)) << bad;
  }
}

LogEntry request(ViewId vid, std::uint64_t seq, std::uint64_t client, std::uint64_t no) {
  return LogEntry{vs(vid, seq), client, no, "op" + std::to_string(client) + "." + std::to_string(no)};
}

LogEntry expiry(ViewId vid, std::uint64_t seq, Viewstamp below) {
  return LogEntry{vs(vid, seq), 0, LogEntry::kExpireSessions, encode_expiry(below)};
}

TEST(ApplierExpiry, EndsExactlyTheSessionsWhoseLastRequestIsBeforeTheViewstamp) {
  CountingMachine m;
  Applier a(m);
  a.apply(request(1, 1, 10, 1));
  a.apply(request(1, 2, 20, 1));
  a.apply(request(1, 3, 10, 2));  // client 10 active again
  Applied e = a.apply(expiry(1, 4, vs(1, 3)));
  EXPECT_TRUE(e.noop);
  EXPECT_FALSE(a.has_session(20));
  EXPECT_TRUE(a.session_expired(20));
  EXPECT_TRUE(a.has_session(10)) << "its last request is at (1,3), not before it";
  EXPECT_FALSE(a.session_expired(10));
}

TEST(ApplierExpiry, RequestsOfAnExpiredSessionAreRefusedNotApplied) {
  CountingMachine m;
  Applier a(m);
  a.apply(request(1, 1, 20, 1));
  a.apply(expiry(1, 2, vs(1, 2)));
  const int before = m.applied;
  Applied retry = a.apply(request(1, 3, 20, 1));  // a late retry
  Applied next = a.apply(request(1, 4, 20, 2));   // or a new request
  EXPECT_TRUE(retry.expired);
  EXPECT_TRUE(next.expired);
  EXPECT_FALSE(retry.fresh);
  EXPECT_EQ(m.applied, before);
  EXPECT_FALSE(a.reply_for(20, 1));
}

TEST(ApplierExpiry, AMalformedExpiryChangesNothing) {
  CountingMachine m;
  Applier a(m);
  a.apply(request(1, 1, 20, 1));
  Applied e = a.apply(LogEntry{vs(1, 2), 0, LogEntry::kExpireSessions, "garbage"});
  EXPECT_TRUE(e.noop);
  EXPECT_TRUE(a.has_session(20));
}

TEST(ApplierExpiry, NoopIsNotASessionAndAppliesNothing) {
  CountingMachine m;
  Applier a(m);
  Applied n = a.apply(LogEntry{vs(2, 1), 0, LogEntry::kNoop, {}});
  EXPECT_TRUE(n.noop);
  EXPECT_EQ(m.applied, 0);
  EXPECT_FALSE(a.has_session(0));
  EXPECT_EQ(a.applied_through(), vs(2, 1));
}

}  // namespace
}  // namespace synod::rsm
