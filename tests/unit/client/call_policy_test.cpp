// The rules of one client call (src/client/call_policy.h), without a network.

#include "client/call_policy.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace synod::client {
namespace {

using std::chrono::milliseconds;

const std::vector<std::string> kThree = {"a:1", "b:1", "c:1"};

TEST(ClientPolicy, Backoff_DoublesUpToTheMaxWithJitterInTheUpperHalf) {
  Backoff b(milliseconds(10), milliseconds(80), 7);
  const std::vector<long> ceilings = {10, 20, 40, 80, 80, 80};
  for (long ceiling : ceilings) {
    const long pause = b.next().count();
    EXPECT_GE(pause, ceiling / 2);
    EXPECT_LE(pause, ceiling);
  }
  b.reset();
  EXPECT_LE(b.next().count(), 10);
}

TEST(ClientPolicy, Backoff_SameSeedSamePauses) {
  Backoff x(milliseconds(10), milliseconds(500), 42), y(milliseconds(10), milliseconds(500), 42);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(x.next(), y.next());
}

TEST(ClientPolicy, Planner_StartsAtTheKnownPrimaryElseTheFirstEndpoint) {
  EXPECT_EQ(TargetPlanner(kThree, "p:1").next(), "p:1");
  EXPECT_EQ(TargetPlanner(kThree, "").next(), "a:1");
}

TEST(ClientPolicy, Planner_StaysWithANodeThatAnswersUntilItFails) {
  TargetPlanner p(kThree, "");
  EXPECT_EQ(p.next(), "a:1");
  p.on_answer();
  EXPECT_EQ(p.next(), "a:1");  // busy, say: the same node again
  EXPECT_FALSE(p.on_failure("a:1"));
  EXPECT_EQ(p.next(), "b:1");
}

TEST(ClientPolicy, Planner_FollowsARedirectToTheNamedPrimary) {
  TargetPlanner p(kThree, "");
  EXPECT_EQ(p.next(), "a:1");
  EXPECT_TRUE(p.on_redirect("a:1", "c:1"));
  EXPECT_EQ(p.next(), "c:1");
}

TEST(ClientPolicy, Planner_ARedirectNamingNobodyOrItselfPausesAndMovesOn) {
  TargetPlanner p(kThree, "");
  EXPECT_EQ(p.next(), "a:1");
  EXPECT_FALSE(p.on_redirect("a:1", ""));
  EXPECT_EQ(p.next(), "b:1");
  EXPECT_FALSE(p.on_redirect("b:1", "b:1"));
  EXPECT_EQ(p.next(), "c:1");
}

TEST(ClientPolicy, Planner_RedirectPingPongPausesAfterAFew) {
  TargetPlanner p(kThree, "");
  int pauses = 0;
  std::string at = p.next();
  for (int i = 0; i < 12; ++i) {
    const std::string other = at == "a:1" ? "b:1" : "a:1";
    if (!p.on_redirect(at, other)) ++pauses;
    at = p.next();
  }
  EXPECT_GE(pauses, 2) << "two nodes naming each other must not spin without pauses";
}

TEST(ClientPolicy, Planner_AFailedPrimaryFallsBackToTheEndpointsAndPausesAfterARound) {
  TargetPlanner p(kThree, "p:1");
  EXPECT_EQ(p.next(), "p:1");
  EXPECT_FALSE(p.on_failure("p:1"));
  std::set<std::string> tried;
  bool paused = false;
  for (int i = 0; i < 3 && !paused; ++i) {
    const std::string at = p.next();
    tried.insert(at);
    paused = p.on_failure(at);
  }
  EXPECT_TRUE(paused) << "every endpoint failed once: pause before the next round";
  EXPECT_EQ(tried, std::set<std::string>(kThree.begin(), kThree.end()));
}

TEST(ClientPolicy, Judge_MapsEveryStatus) {
  EXPECT_EQ(judge(net::ClientStatus::kOk, "").step, Step::kDone);
  EXPECT_EQ(judge(net::ClientStatus::kOk, "").outcome, Outcome::kOk);
  EXPECT_EQ(judge(net::ClientStatus::kNotPrimary, "").step, Step::kRedirect);
  EXPECT_EQ(judge(net::ClientStatus::kBusy, "busy: retry").step, Step::kRetryLater);
  EXPECT_EQ(judge(net::ClientStatus::kSessionExpired, "").outcome, Outcome::kSessionExpired);
  const Verdict error = judge(net::ClientStatus::kError, "op of 9 bytes exceeds the limit");
  EXPECT_EQ(error.step, Step::kDone);
  EXPECT_EQ(error.outcome, Outcome::kRejected);
}

TEST(ClientPolicy, Judge_AStoppedNodeIsTriedElsewhereNotARejection) {
  EXPECT_EQ(judge(net::ClientStatus::kError, "node n1 has stopped: cannot persist").step, Step::kTryElsewhere);
}

TEST(ClientPolicy, OutOfTime_UnknownOnlyForAWriteThatLeftWhole) {
  EXPECT_EQ(out_of_time_outcome(true, true), Outcome::kOutcomeUnknown);
  EXPECT_EQ(out_of_time_outcome(true, false), Outcome::kUnavailable);
  EXPECT_EQ(out_of_time_outcome(false, true), Outcome::kUnavailable) << "a read changes nothing";
  EXPECT_EQ(out_of_time_outcome(false, false), Outcome::kUnavailable);
}

TEST(ClientPolicy, RandomIdsAreNonZeroAndDiffer) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t id = random_nonzero_u64();
    EXPECT_NE(id, 0u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace synod::client
