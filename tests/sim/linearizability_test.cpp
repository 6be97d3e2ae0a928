// The linearizability checker: hand-written histories for each rule of the
// key-value model and of real-time order, seeded random histories produced by
// a real sequential store (must pass) and the same with one read corrupted
// (must fail), and a size check against the step budget.
//
// Replay one random case: the failure message prints its seed; the generators
// below are pure functions of the seed.

#include "sim/linearizability.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/sim_random.h"

namespace synod::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

KvOp put(const std::string& key, const std::string& value, std::uint64_t invoked_at, std::uint64_t completed_at,
         std::uint64_t client = 1) {
  KvOp op;
  op.client = client;
  op.kind = KvOpKind::kPut;
  op.key = key;
  op.value = value;
  op.invoked_at = invoked_at;
  op.completed_at = completed_at;
  return op;
}

// read: the value returned, or nothing for "key absent".
KvOp get(const std::string& key, const std::optional<std::string>& read, std::uint64_t invoked_at,
         std::uint64_t completed_at, std::uint64_t client = 2) {
  KvOp op;
  op.client = client;
  op.kind = KvOpKind::kGet;
  op.key = key;
  op.ok = read.has_value();
  op.read_value = read.value_or("");
  op.invoked_at = invoked_at;
  op.completed_at = completed_at;
  return op;
}

// expected: the value required, or nothing for "key must be absent".
KvOp cas(const std::string& key, const std::optional<std::string>& expected, const std::string& value, bool ok,
         std::uint64_t invoked_at, std::uint64_t completed_at, std::uint64_t client = 3) {
  KvOp op;
  op.client = client;
  op.kind = KvOpKind::kCas;
  op.key = key;
  op.expected = expected.value_or("");
  op.expect_absent = !expected.has_value();
  op.value = value;
  op.ok = ok;
  op.invoked_at = invoked_at;
  op.completed_at = completed_at;
  return op;
}

KvOp del(const std::string& key, bool ok, std::uint64_t invoked_at, std::uint64_t completed_at,
         std::uint64_t client = 4) {
  KvOp op;
  op.client = client;
  op.kind = KvOpKind::kDel;
  op.key = key;
  op.ok = ok;
  op.invoked_at = invoked_at;
  op.completed_at = completed_at;
  return op;
}

// The call timed out: no reply, so no completion time and no reply values.
KvOp timed_out(KvOp op) {
  op.outcome_known = false;
  op.completed_at = 0;
  op.ok = true;
  op.read_value.clear();
  return op;
}

void expect_linearizable(const std::vector<KvOp>& history) {
  const LinearizabilityResult r = check_kv_history(history);
  EXPECT_TRUE(r.linearizable) << r.explanation;
  EXPECT_FALSE(r.gave_up) << r.explanation;
}

LinearizabilityResult expect_violation(const std::vector<KvOp>& history) {
  const LinearizabilityResult r = check_kv_history(history);
  EXPECT_FALSE(r.linearizable) << "expected a violation; checker said: " << r.explanation;
  EXPECT_FALSE(r.gave_up) << r.explanation;
  return r;
}

// --- Basic reads and writes -------------------------------------------------

TEST(Linearizability, EmptyHistory_IsLinearizable) { expect_linearizable({}); }

TEST(Linearizability, SequentialHistory_IsLinearizable) {
  expect_linearizable({
      get("a", std::nullopt, 0, 5),
      put("a", "x", 10, 20),
      get("a", "x", 30, 40),
      cas("a", "x", "y", true, 50, 60),
      cas("a", "x", "z", false, 70, 80),
      get("a", "y", 90, 100),
      del("a", true, 110, 120),
      get("a", std::nullopt, 130, 140),
      cas("a", std::nullopt, "w", true, 150, 160),
      get("a", "w", 170, 180),
  });
}

TEST(Linearizability, StaleReadAfterCompletedPut_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), get("a", std::nullopt, 20, 30)});
}

TEST(Linearizability, ConcurrentPutAndGet_GetSeeingOldValue_IsLinearizable) {
  expect_linearizable({put("a", "x", 0, 10), put("a", "y", 20, 40), get("a", "x", 25, 35)});
}

TEST(Linearizability, ConcurrentPutAndGet_GetSeeingNewValue_IsLinearizable) {
  expect_linearizable({put("a", "x", 0, 10), put("a", "y", 20, 40), get("a", "y", 25, 35)});
}

// The get is called before the put and returns after it: it may see the new
// value although the put's call came later.
TEST(Linearizability, GetSpanningAWholePut_MaySeeItsValue) {
  expect_linearizable({get("a", "y", 0, 50), put("a", "y", 10, 20)});
}

TEST(Linearizability, GetSeeingValueNeverWritten_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), put("a", "y", 20, 40), get("a", "z", 25, 35)});
}

TEST(Linearizability, GetSeeingValueBeforeItsPutWasCalled_IsNotLinearizable) {
  expect_violation({get("a", "x", 0, 10), put("a", "x", 20, 30)});
}

TEST(Linearizability, LostUpdate_LaterGetReturnsOlderValue_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), put("a", "y", 20, 30), get("a", "x", 40, 50)});
}

// Two reads after both writes completed must agree on which write was last.
TEST(Linearizability, ReadsAfterConcurrentPutsDisagreeingOnTheLastWrite_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 20, 1), put("a", "y", 5, 25, 2), get("a", "x", 30, 40, 3),
                    get("a", "y", 50, 60, 4)});
}

TEST(Linearizability, ReadsAfterConcurrentPutsAgreeingOnEitherLastWrite_IsLinearizable) {
  expect_linearizable({put("a", "x", 0, 20, 1), put("a", "y", 5, 25, 2), get("a", "x", 30, 40, 3),
                       get("a", "x", 50, 60, 4)});
  expect_linearizable({put("a", "x", 0, 20, 1), put("a", "y", 5, 25, 2), get("a", "y", 30, 40, 3),
                       get("a", "y", 50, 60, 4)});
}

// A reply and a call at the same instant overlap; only a strictly earlier
// reply orders two operations.
TEST(Linearizability, ReplyAndCallAtTheSameTime_Overlap) {
  expect_linearizable({put("a", "x", 0, 10), get("a", std::nullopt, 10, 20)});
  expect_violation({put("a", "x", 0, 10), get("a", std::nullopt, 11, 20)});
}

TEST(Linearizability, EmptyStringValue_IsDistinctFromAbsent) {
  expect_linearizable({put("a", "", 0, 10), get("a", "", 20, 30)});
  expect_violation({put("a", "", 0, 10), get("a", std::nullopt, 20, 30)});
  expect_violation({cas("a", "", "x", true, 0, 10)});  // expects "" present; the key is absent
}

// --- Compare-and-set ----------------------------------------------------------

TEST(Linearizability, TwoSuccessfulCasFromSameExpectedValue_Sequential_IsNotLinearizable) {
  expect_violation({put("a", "v0", 0, 10), cas("a", "v0", "v1", true, 20, 30, 1), cas("a", "v0", "v2", true, 40, 50, 2)});
}

TEST(Linearizability, TwoSuccessfulCasFromSameExpectedValue_Concurrent_IsNotLinearizable) {
  expect_violation({put("a", "v0", 0, 10), cas("a", "v0", "v1", true, 20, 50, 1), cas("a", "v0", "v2", true, 30, 60, 2)});
}

TEST(Linearizability, ConcurrentCasFromSameExpectedValue_OneWinsOneFails_IsLinearizable) {
  expect_linearizable({put("a", "v0", 0, 10), cas("a", "v0", "v1", true, 20, 50, 1),
                       cas("a", "v0", "v2", false, 30, 60, 2), get("a", "v1", 70, 80)});
}

TEST(Linearizability, CasFailingWhileValueMatchesAndNoWriterIsConcurrent_IsNotLinearizable) {
  expect_violation({put("a", "v0", 0, 10), cas("a", "v0", "v1", false, 20, 30)});
}

TEST(Linearizability, CasExpectingAbsent_AppliesOnlyToAbsentKey) {
  expect_linearizable({cas("a", std::nullopt, "x", true, 0, 10), get("a", "x", 20, 30)});
  expect_linearizable({put("a", "x", 0, 10), cas("a", std::nullopt, "y", false, 20, 30)});
  expect_violation({put("a", "x", 0, 10), cas("a", std::nullopt, "y", true, 20, 30)});
}

// --- Delete -------------------------------------------------------------------

TEST(Linearizability, Del_RemovesKeyAndReportsWhetherItExisted) {
  expect_linearizable({put("a", "x", 0, 10), del("a", true, 20, 30), get("a", std::nullopt, 40, 50),
                       del("a", false, 60, 70), put("a", "y", 80, 90), get("a", "y", 100, 110)});
}

TEST(Linearizability, Del_ReportingOkOnAbsentKey_IsNotLinearizable) {
  expect_violation({del("a", true, 0, 10)});
}

TEST(Linearizability, Del_ReportingAbsentAfterCompletedPut_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), del("a", false, 20, 30)});
}

TEST(Linearizability, GetAfterCompletedDel_SeeingOldValue_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), del("a", true, 20, 30), get("a", "x", 40, 50)});
}

// Two concurrent deletes of a present key: exactly one may report it existed.
TEST(Linearizability, ConcurrentDels_BothReportingExisted_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), del("a", true, 20, 40, 1), del("a", true, 25, 45, 2)});
  expect_linearizable({put("a", "x", 0, 10), del("a", true, 20, 40, 1), del("a", false, 25, 45, 2)});
}

// The checker merges values nobody reads into one state; they must still
// count as present, and distinct from every value that is read.
TEST(Linearizability, ValueNobodyReads_StillMakesTheKeyPresent) {
  expect_linearizable({put("a", "unread", 0, 10), del("a", true, 20, 30)});
  expect_linearizable({put("a", "unread", 0, 10), cas("a", std::nullopt, "x", false, 20, 30)});
  expect_violation({put("a", "unread", 0, 10), get("a", std::nullopt, 20, 30)});
  expect_violation({put("a", "x", 0, 10), put("a", "unread", 20, 30), get("a", "x", 40, 50)});
}

// --- Unknown outcomes (timeouts) ------------------------------------------------

TEST(Linearizability, UnknownOutcomePutWhoseValueIsReadLater_IsLinearizable) {
  expect_linearizable({put("a", "x", 0, 10), timed_out(put("a", "y", 20, 0)), get("a", "y", 30, 40)});
}

// No upper bound: a timed-out put may take effect long after the client gave
// up, even after the same client's later operations.
TEST(Linearizability, UnknownOutcomePutTakingEffectLongAfterTimeout_IsLinearizable) {
  expect_linearizable({put("a", "x", 0, 10, 1), timed_out(put("a", "y", 20, 0, 1)), get("a", "x", 100, 110, 1),
                       get("a", "x", 500, 510, 2), get("a", "y", 1000, 1010, 2)});
}

TEST(Linearizability, UnknownOutcomePutNeverObserved_IsLinearizable) {
  expect_linearizable({put("a", "x", 0, 10), timed_out(put("a", "y", 20, 0)), get("a", "x", 30, 40),
                       get("a", "x", 50, 60)});
}

TEST(Linearizability, UnknownOutcomePutObservedThenOldValueAgain_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), timed_out(put("a", "y", 20, 0)), get("a", "y", 30, 40),
                    get("a", "x", 50, 60)});
}

TEST(Linearizability, UnknownOutcomePutObservedBeforeItWasCalled_IsNotLinearizable) {
  expect_violation({put("a", "x", 0, 10), get("a", "y", 20, 30), timed_out(put("a", "y", 40, 0))});
}

// An unknown outcome takes effect at most once: one timed-out put of y cannot
// explain y, then x, then y again.
TEST(Linearizability, UnknownOutcomePutTakesEffectAtMostOnce) {
  expect_violation({put("a", "x", 0, 10), timed_out(put("a", "y", 20, 0)), get("a", "y", 30, 40),
                    put("a", "x", 50, 60), get("a", "y", 70, 80)});
}

TEST(Linearizability, UnknownOutcomeCasAndDel_MayOrMayNotApply) {
  expect_linearizable({timed_out(cas("a", std::nullopt, "x", false, 0, 0)), get("a", "x", 10, 20)});
  expect_linearizable({timed_out(cas("a", std::nullopt, "x", false, 0, 0)), get("a", std::nullopt, 10, 20)});
  expect_linearizable({put("a", "x", 0, 10), timed_out(del("a", false, 20, 0)), get("a", std::nullopt, 30, 40)});
  expect_violation({put("a", "x", 0, 10), timed_out(del("a", false, 20, 0)), get("a", std::nullopt, 30, 40),
                    get("a", "x", 50, 60)});
}

// A timed-out cas applies only where its condition holds, like any cas.
TEST(Linearizability, UnknownOutcomeCasCannotApplyWhenItsConditionNeverHolds) {
  expect_violation({put("a", "x", 0, 10), timed_out(cas("a", "w", "y", true, 20, 0)), get("a", "y", 30, 40)});
}

TEST(Linearizability, UnknownOutcomeGet_ConstrainsNothing) {
  KvOp nonsense = timed_out(get("a", std::nullopt, 20, 0));
  nonsense.ok = true;
  nonsense.read_value = "never written";
  expect_linearizable({put("a", "x", 0, 10), nonsense, get("a", "x", 30, 40)});
}

// --- Keys ----------------------------------------------------------------------

TEST(Linearizability, OpsOnDifferentKeys_DoNotConstrainEachOther) {
  expect_linearizable({put("a", "x", 0, 10), get("b", std::nullopt, 20, 30), get("a", "x", 40, 50)});
}

TEST(Linearizability, ViolationOnOneKey_IsReportedForThatKey) {
  const LinearizabilityResult r = expect_violation({
      put("a", "x", 0, 10), get("a", "x", 20, 30),
      put("b", "x", 0, 10), put("b", "y", 20, 30), get("b", "x", 40, 50),
      put("c", "z", 0, 10), get("c", "z", 60, 70),
  });
  EXPECT_THAT(r.explanation, StartsWith("key \"b\""));
  EXPECT_THAT(r.explanation, Not(HasSubstr("key \"a\"")));
  EXPECT_THAT(r.explanation, HasSubstr("#4"));  // the stale get
}

// The explanation cuts the history at the first reply that cannot be
// explained, not at the end, and names that reply.
TEST(Linearizability, ViolationExplanation_NamesTheShortestFailingPrefix) {
  const LinearizabilityResult r = expect_violation({
      put("a", "x", 0, 10),              // #0
      get("a", std::nullopt, 20, 30),    // #1: the violation, at t=30
      put("a", "y", 40, 50),             // #2
      get("a", "y", 60, 70),             // #3
      put("a", "z", 80, 90),             // #4
  });
  EXPECT_THAT(r.explanation, HasSubstr("t=30"));
  EXPECT_THAT(r.explanation, HasSubstr("#1 c2 get->absent [20,30]"));
  EXPECT_THAT(r.explanation, Not(HasSubstr("#4")));
}

TEST(Linearizability, ReplyBeforeCall_IsReportedAsMalformed) {
  const LinearizabilityResult r = check_kv_history({put("a", "x", 10, 5)});
  EXPECT_FALSE(r.linearizable);
  EXPECT_THAT(r.explanation, StartsWith("malformed history"));
}

// --- Budget ----------------------------------------------------------------------

TEST(Linearizability, StepBudgetExceeded_GivesUpAsInconclusive) {
  std::vector<KvOp> history;
  for (std::uint64_t i = 0; i < 10; ++i) history.push_back(put("a", "v" + std::to_string(i), 10 * i, 10 * i + 5));
  const LinearizabilityResult r = check_kv_history(history, 3);
  EXPECT_TRUE(r.linearizable) << r.explanation;
  EXPECT_TRUE(r.gave_up) << r.explanation;
  EXPECT_THAT(r.explanation, HasSubstr("inconclusive"));
  EXPECT_THAT(r.explanation, HasSubstr("\"a\""));

  const LinearizabilityResult enough = check_kv_history(history, 10);
  EXPECT_TRUE(enough.linearizable) << enough.explanation;
  EXPECT_FALSE(enough.gave_up) << enough.explanation;
}

TEST(Linearizability, ViolationOnOneKey_IsReportedEvenWhenAnotherKeyGivesUp) {
  std::vector<KvOp> history;
  for (std::uint64_t i = 0; i < 10; ++i) history.push_back(put("a", "v" + std::to_string(i), 10 * i, 10 * i + 5));
  history.push_back(put("b", "x", 0, 10));
  history.push_back(get("b", std::nullopt, 20, 30));
  const LinearizabilityResult r = check_kv_history(history, 5);
  EXPECT_FALSE(r.linearizable) << r.explanation;
  EXPECT_THAT(r.explanation, StartsWith("key \"b\""));
}

// --- Random histories from a real store -------------------------------------------

struct RandomHistory {
  std::vector<KvOp> ops;
  std::size_t overlapping_neighbours = 0;  // consecutive ops whose intervals overlap
  std::size_t unknown_applied = 0;         // timed-out writes that took effect
};

// One op against a real single-copy store `kv` at its linearization point:
// fills in the reply the store gives, and applies the effect when `applies`.
void run_on_store(std::map<std::string, std::string>& kv, KvOp& op, bool applies) {
  auto it = kv.find(op.key);
  const bool present = it != kv.end();
  switch (op.kind) {
    case KvOpKind::kPut:
      op.ok = true;
      if (applies) kv[op.key] = op.value;
      break;
    case KvOpKind::kGet:
      op.ok = present;
      op.read_value = present ? it->second : "";
      break;
    case KvOpKind::kCas:
      op.ok = op.expect_absent ? !present : present && it->second == op.expected;
      if (applies && op.ok) kv[op.key] = op.value;
      break;
    case KvOpKind::kDel:
      op.ok = present;
      if (applies && present) kv.erase(it);
      break;
  }
}

// A random op on `key`; cas expectations hit the current value half the time.
KvOp random_op(SimRandom& rng, const std::map<std::string, std::string>& kv, const std::string& key,
               const std::string& value) {
  KvOp op;
  op.client = rng.below(5);
  op.key = key;
  op.value = value;
  const std::uint64_t roll = rng.below(10);
  op.kind = roll < 4 ? KvOpKind::kGet : roll < 7 ? KvOpKind::kPut : roll < 9 ? KvOpKind::kCas : KvOpKind::kDel;
  if (op.kind == KvOpKind::kCas) {
    auto it = kv.find(key);
    if (rng.chance(0.5) && it != kv.end()) {
      op.expected = it->second;
    } else if (rng.chance(0.5)) {
      op.expect_absent = true;
    } else {
      op.expected = "v" + std::to_string(rng.below(4));
    }
  }
  return op;
}

// A sequential execution of a real store, op i taking effect at time
// 100 + 10*i, each op's [call, reply] window placed randomly around that
// point (up to `window` either side), so the sequential order is always a
// valid linearization while neighbours overlap in time. Some calls time out:
// they then take effect at their point or never.
RandomHistory random_linearizable_history(std::uint64_t seed) {
  SimRandom rng(seed);
  const std::size_t ops = 20 + rng.below(60);
  const std::uint64_t keys = 1 + rng.below(3);
  const std::uint64_t window = rng.between(0, 45);
  const bool few_values = rng.chance(0.5);  // repeated values make equal states
  RandomHistory h;
  std::map<std::string, std::string> kv;
  for (std::size_t i = 0; i < ops; ++i) {
    const std::uint64_t point = 100 + 10 * i;
    const std::string value = "v" + std::to_string(few_values ? rng.below(4) : i);
    KvOp op = random_op(rng, kv, "k" + std::to_string(rng.below(keys)), value);
    op.invoked_at = point - rng.below(window + 1);
    op.completed_at = point + rng.below(window + 1);
    const bool times_out = rng.chance(0.1);
    const bool applies = !times_out || rng.chance(0.5);
    const std::string before = kv.count(op.key) != 0 ? kv[op.key] : "<absent>";
    run_on_store(kv, op, applies);
    if (times_out) {
      const std::string after = kv.count(op.key) != 0 ? kv[op.key] : "<absent>";
      h.unknown_applied += before != after ? 1 : 0;
      op = timed_out(op);
    }
    if (!h.ops.empty() && h.ops.back().outcome_known && h.ops.back().completed_at >= op.invoked_at) {
      ++h.overlapping_neighbours;
    }
    h.ops.push_back(op);
  }
  return h;
}

constexpr std::uint64_t kRandomSeeds = 400;

TEST(Linearizability, RandomSequentialExecutionsWithOverlap_AreLinearizable) {
  std::size_t overlaps = 0, unknown_applied = 0;
  for (std::uint64_t seed = 0; seed < kRandomSeeds; ++seed) {
    const RandomHistory h = random_linearizable_history(seed);
    const LinearizabilityResult r = check_kv_history(h.ops);
    ASSERT_TRUE(r.linearizable) << "seed " << seed << ": " << r.explanation;
    ASSERT_FALSE(r.gave_up) << "seed " << seed << ": " << r.explanation;
    overlaps += h.overlapping_neighbours;
    unknown_applied += h.unknown_applied;
  }
  // Not vacuous: ops really overlap and timed-out writes really took effect.
  EXPECT_GE(overlaps, kRandomSeeds * 10);
  EXPECT_GE(unknown_applied, kRandomSeeds / 2);
}

TEST(Linearizability, RandomExecutionsWithOneReadMutatedToUnwrittenValue_AreNotLinearizable) {
  std::size_t mutated = 0;
  for (std::uint64_t seed = 0; seed < kRandomSeeds; ++seed) {
    RandomHistory h = random_linearizable_history(seed);
    std::vector<std::size_t> reads;
    for (std::size_t i = 0; i < h.ops.size(); ++i) {
      if (h.ops[i].kind == KvOpKind::kGet && h.ops[i].outcome_known) reads.push_back(i);
    }
    if (reads.empty()) continue;
    SimRandom rng(seed ^ 0x6d757461746531ULL);
    const std::size_t victim = reads[rng.below(reads.size())];
    h.ops[victim].ok = true;
    h.ops[victim].read_value = "never-written";
    ++mutated;
    const LinearizabilityResult r = check_kv_history(h.ops);
    ASSERT_FALSE(r.linearizable) << "seed " << seed << ": mutated #" << victim << " not flagged";
    ASSERT_FALSE(r.gave_up) << "seed " << seed << ": " << r.explanation;
    EXPECT_THAT(r.explanation, HasSubstr("#" + std::to_string(victim) + " ")) << "seed " << seed;
  }
  EXPECT_GE(mutated, kRandomSeeds * 9 / 10);
}

// --- Against brute force ------------------------------------------------------------

// The definition, executed literally: some subset of the timed-out ops plus
// all completed ops, in some order that respects real time, replays on a
// single-copy store with exactly the observed replies. Exponential; for
// histories of a few ops only.
bool linearizable_by_brute_force(const std::vector<KvOp>& history) {
  std::vector<std::size_t> known, unknown;
  for (std::size_t i = 0; i < history.size(); ++i) (history[i].outcome_known ? known : unknown).push_back(i);
  for (std::uint64_t subset = 0; subset < (std::uint64_t{1} << unknown.size()); ++subset) {
    std::vector<std::size_t> order = known;
    for (std::size_t u = 0; u < unknown.size(); ++u) {
      if ((subset >> u & 1) != 0) order.push_back(unknown[u]);
    }
    std::sort(order.begin(), order.end());
    do {
      bool fits = true;
      for (std::size_t a = 0; a < order.size() && fits; ++a) {
        for (std::size_t b = a + 1; b < order.size() && fits; ++b) {
          const KvOp& later = history[order[b]];
          fits = !(later.outcome_known && later.completed_at < history[order[a]].invoked_at);
        }
      }
      std::map<std::string, std::string> kv;
      for (std::size_t n = 0; n < order.size() && fits; ++n) {
        const KvOp& seen = history[order[n]];
        KvOp replayed = seen;
        run_on_store(kv, replayed, true);
        if (seen.outcome_known) {
          fits = replayed.ok == seen.ok && (seen.kind != KvOpKind::kGet || !seen.ok || replayed.read_value == seen.read_value);
        }
      }
      if (fits) return true;
    } while (std::next_permutation(order.begin(), order.end()));
  }
  return false;
}

// Small random histories on one key, replies invented at random, so roughly
// half are violations: the checker must agree with brute force on every one.
TEST(Linearizability, SmallRandomHistories_AgreeWithBruteForce) {
  std::size_t violations = 0, timeouts = 0;
  for (std::uint64_t seed = 0; seed < 3000; ++seed) {
    SimRandom rng(seed);
    std::vector<KvOp> history;
    const std::size_t ops = 2 + rng.below(6);
    std::map<std::string, std::string> none;
    for (std::size_t i = 0; i < ops; ++i) {
      KvOp op = random_op(rng, none, "a", "v" + std::to_string(rng.below(3)));
      if (op.kind == KvOpKind::kCas && !op.expect_absent) op.expected = "v" + std::to_string(rng.below(3));
      op.invoked_at = rng.below(40);
      op.completed_at = op.invoked_at + rng.below(15);
      op.ok = rng.chance(0.6);
      if (op.kind == KvOpKind::kPut) op.ok = true;
      if (op.kind == KvOpKind::kGet && op.ok) op.read_value = "v" + std::to_string(rng.below(3));
      if (rng.chance(0.2)) {
        op = timed_out(op);
        ++timeouts;
      }
      history.push_back(op);
    }
    const bool expected = linearizable_by_brute_force(history);
    const LinearizabilityResult r = check_kv_history(history);
    ASSERT_FALSE(r.gave_up) << "seed " << seed;
    ASSERT_EQ(r.linearizable, expected) << "seed " << seed << ": " << r.explanation;
    violations += expected ? 0 : 1;
  }
  EXPECT_GE(violations, 3000u / 4);
  EXPECT_LE(violations, 3000u * 3 / 4);
  EXPECT_GE(timeouts, 2000u);  // ~0.2 of ~13,500 ops
}

// --- Size ---------------------------------------------------------------------------

// Clients run one op at a time, as in the simulator: a client calls, the op
// takes effect a little later, the reply comes a little after that. Some
// calls time out after kTimeout and may take effect any time later, or never.
std::vector<KvOp> concurrent_clients_history(std::uint64_t seed, std::size_t ops, std::uint64_t clients,
                                             std::uint64_t keys) {
  constexpr std::uint64_t kTimeout = 40;
  SimRandom rng(seed);
  struct Planned {
    KvOp op;
    std::uint64_t point;  // when it takes effect
    bool applies;
  };
  std::vector<Planned> planned;
  std::vector<std::uint64_t> next_call_at(clients, 0);
  std::map<std::string, std::string> guess;  // for cas expectations only
  for (std::size_t i = 0; i < ops; ++i) {
    const auto c = static_cast<std::uint64_t>(
        std::min_element(next_call_at.begin(), next_call_at.end()) - next_call_at.begin());
    KvOp op = random_op(rng, guess, "k" + std::to_string(rng.below(keys)), "v" + std::to_string(rng.below(50)));
    op.client = c;
    op.invoked_at = next_call_at[c];
    const std::uint64_t point = op.invoked_at + rng.between(1, 20);
    op.completed_at = point + rng.between(1, 20);
    bool applies = true;
    if (rng.chance(0.03)) {
      op.outcome_known = false;
      applies = rng.chance(0.5);
      next_call_at[c] = op.invoked_at + kTimeout;
      planned.push_back({op, op.invoked_at + rng.between(1, 200), applies});
    } else {
      next_call_at[c] = op.completed_at + rng.below(6);
      planned.push_back({op, point, applies});
    }
    if (op.kind == KvOpKind::kPut) guess[op.key] = op.value;
  }
  std::vector<std::size_t> order(planned.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return planned[a].point < planned[b].point; });
  std::map<std::string, std::string> kv;
  for (std::size_t i : order) run_on_store(kv, planned[i].op, planned[i].applies);
  std::vector<KvOp> history;
  for (Planned& p : planned) history.push_back(p.op.outcome_known ? p.op : timed_out(p.op));
  return history;
}

// 2,000 ops, 10 keys, 5 clients, 3% timeouts decide inside a budget of 100
// placement attempts per op of a key. A linearizable history needs about 2;
// with one corrupted read near the end the search must exhaust every
// alternative first: up to ~30 per op in these seeds.
TEST(Linearizability, TwoThousandOpsTenKeysFiveClients_DecideWithinBudget) {
  constexpr std::uint64_t kBudgetPerKey = 20'000;  // ~200 ops per key
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    std::vector<KvOp> history = concurrent_clients_history(seed, 2000, 5, 10);
    const LinearizabilityResult r = check_kv_history(history, kBudgetPerKey);
    ASSERT_TRUE(r.linearizable) << "seed " << seed << ": " << r.explanation;
    ASSERT_FALSE(r.gave_up) << "seed " << seed << ": " << r.explanation;

    // The last successful read of key k0 returns a value nobody wrote.
    auto stale = std::find_if(history.rbegin(), history.rend(), [](const KvOp& op) {
      return op.key == "k0" && op.kind == KvOpKind::kGet && op.outcome_known && op.ok;
    });
    ASSERT_NE(stale, history.rend());
    stale->read_value = "never-written";
    const LinearizabilityResult bad = check_kv_history(history, kBudgetPerKey);
    ASSERT_FALSE(bad.gave_up) << "seed " << seed << ": " << bad.explanation;
    ASSERT_FALSE(bad.linearizable) << "seed " << seed << ": corrupted read not flagged";
  }
}

// Timed-out writes stay candidates forever. Without pruning configurations
// that differ only by extra timed-out ops placed, the 20 here would make 2^20
// subsets to refute before the final read is found impossible.
TEST(Linearizability, ManyTimedOutWrites_DoNotBlowUpTheSearch) {
  constexpr std::uint64_t kBudget = 20'000;
  std::vector<KvOp> history{put("a", "x", 0, 10)};
  for (std::uint64_t i = 0; i < 20; ++i) history.push_back(timed_out(put("a", "u" + std::to_string(i), 20 + i, 0, 10 + i)));
  for (std::uint64_t i = 0; i < 10; ++i) history.push_back(get("a", "x", 100 + 10 * i, 105 + 10 * i));
  std::vector<KvOp> reads_some = history;
  reads_some.push_back(get("a", "u7", 300, 310));
  reads_some.push_back(get("a", "u3", 320, 330));
  reads_some.push_back(get("a", "u12", 340, 350));
  const LinearizabilityResult ok = check_kv_history(reads_some, kBudget);
  EXPECT_TRUE(ok.linearizable) << ok.explanation;
  EXPECT_FALSE(ok.gave_up) << ok.explanation;

  history.push_back(get("a", "never-written", 300, 310));
  const LinearizabilityResult bad = check_kv_history(history, kBudget);
  EXPECT_FALSE(bad.gave_up) << bad.explanation;
  EXPECT_FALSE(bad.linearizable) << bad.explanation;
}

}  // namespace
}  // namespace synod::sim
