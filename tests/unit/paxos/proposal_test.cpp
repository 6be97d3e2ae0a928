// One proposer's round bookkeeping: which promises and acceptances count,
// which value phase 2 carries, and which rejections end the round.

#include "paxos/proposal.h"

#include <gtest/gtest.h>

#include <string>

#include "unit/paxos/paxos_test_util.h"

namespace synod::paxos {
namespace {

using test::pn;
using test::view;

constexpr Instance kInstance = 2;

std::vector<NodeId> acceptor_ids(std::size_t count) {
  std::vector<NodeId> ids;
  for (std::size_t i = 1; i <= count; ++i) ids.push_back("a" + std::to_string(i));
  return ids;
}

// The value the proposer would like: view 2 led by "p".
View wanted() { return view(kInstance, "p", {"a1"}); }

Promise empty_promise(const ProposalNumber& n) { return Promise{kInstance, n, {}, std::nullopt}; }

Promise promise_with(const ProposalNumber& n, ProposalNumber accepted_n, View accepted_value) {
  return Promise{kInstance, n, std::move(accepted_n), std::move(accepted_value)};
}

// A proposal over acceptors a1..a<count>, already in phase 1 of round `n`.
Proposal preparing(std::size_t count, const ProposalNumber& n) {
  Proposal p(kInstance, wanted(), acceptor_ids(count));
  p.begin_round(n);
  return p;
}

// A proposal over a1..a<count> in phase 2 of round `n`, having proposed wanted().
Proposal accepting(std::size_t count, const ProposalNumber& n) {
  Proposal p = preparing(count, n);
  std::optional<Accept> accept;
  for (const NodeId& a : acceptor_ids(count)) {
    accept = p.on_promise(a, empty_promise(n));
    if (accept) break;
  }
  EXPECT_TRUE(accept.has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
  return p;
}

// --- begin_round ----------------------------------------------------------

TEST(Proposal, BeginRoundReturnsPrepareForItsNumber) {
  Proposal p(kInstance, wanted(), acceptor_ids(3));
  Prepare prepare = p.begin_round(pn(4, "p"));
  EXPECT_EQ(prepare, (Prepare{kInstance, pn(4, "p")}));
  EXPECT_EQ(p.number(), pn(4, "p"));
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresPromiseBeforeAnyRound) {
  Proposal p(kInstance, wanted(), acceptor_ids(1));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(ProposalNumber{})).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kIdle);
}

TEST(Proposal, BeginRoundForgetsPromisesOfEarlierRound) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "p"))).has_value());
  p.begin_round(pn(2, "p"));
  // a1's promise was for round 1; one promise of round 2 is not a majority.
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(2, "p"))).has_value());
  EXPECT_TRUE(p.on_promise("a3", empty_promise(pn(2, "p"))).has_value());
}

TEST(Proposal, BeginRoundForgetsAcceptancesOfEarlierRound) {
  Proposal p = accepting(3, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  p.begin_round(pn(2, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(2, "p"))).has_value());
  ASSERT_TRUE(p.on_promise("a2", empty_promise(pn(2, "p"))).has_value());
  // With a1's round-1 acceptance remembered, a2's would make a majority.
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(2, "p")}).has_value());
  EXPECT_TRUE(p.on_accepted("a3", Accepted{kInstance, pn(2, "p")}).has_value());
}

// Phase 1 of a new round starts over even when the last round was in phase 2.
TEST(Proposal, BeginRoundReturnsToPreparing) {
  Proposal p = accepting(3, pn(1, "p"));
  p.begin_round(pn(2, "p"));
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(2, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(2, "p")}).has_value());
}

// --- on_promise -----------------------------------------------------------

TEST(Proposal, SendsNoAcceptBeforeMajorityOfPromises) {
  Proposal p = preparing(5, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(1, "p"))).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, SendsAcceptAtMajorityOfPromises) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "p"))).has_value());
  std::optional<Accept> accept = p.on_promise("a3", empty_promise(pn(1, "p")));
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->instance, kInstance);
  EXPECT_EQ(accept->n, pn(1, "p"));
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
}

TEST(Proposal, IgnoresPromiseFromNonAcceptor) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("x9", empty_promise(pn(1, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("p", empty_promise(pn(1, "p"))).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresPromiseOfStaleRound) {
  Proposal p = preparing(3, pn(1, "p"));
  p.begin_round(pn(2, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(1, "p"))).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

// A promise to another proposer's number is not a promise to us.
TEST(Proposal, IgnoresPromiseForAnotherProposersNumber) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "q"))).has_value());
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(1, "q"))).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresPromiseForAnotherInstance) {
  Proposal p = preparing(3, pn(1, "p"));
  Promise other{kInstance + 1, pn(1, "p"), {}, std::nullopt};
  EXPECT_FALSE(p.on_promise("a1", other).has_value());
  EXPECT_FALSE(p.on_promise("a2", other).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, CountsDuplicatePromiseOnce) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(1, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(1, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(1, "p"))).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, ProposesWantedValueWhenNoPromiseCarriesOne) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(1, "p"))).has_value());
  std::optional<Accept> accept = p.on_promise("a2", empty_promise(pn(1, "p")));
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->value, wanted());
}

TEST(Proposal, AdoptsTheOnlyAcceptedValueAmongPromises) {
  View other = view(kInstance, "a3", {"a1"});
  Proposal p = preparing(3, pn(5, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(5, "p"))).has_value());
  std::optional<Accept> accept = p.on_promise("a2", promise_with(pn(5, "p"), pn(2, "q"), other));
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->value, other);
  EXPECT_EQ(accept->n, pn(5, "p"));
}

// The value with the highest n_a wins whatever the order of arrival and the
// order of acceptor names; a3 (highest) sorts in the middle and arrives last.
TEST(Proposal, AdoptsAcceptedValueWithHighestAcceptedNumber) {
  View v_low = view(kInstance, "x1", {});
  View v_mid = view(kInstance, "x2", {});
  View v_high = view(kInstance, "x3", {});
  Proposal p = preparing(5, pn(9, "p"));
  EXPECT_FALSE(p.on_promise("a5", promise_with(pn(9, "p"), pn(4, "a5"), v_mid)).has_value());
  EXPECT_FALSE(p.on_promise("a1", promise_with(pn(9, "p"), pn(2, "a1"), v_low)).has_value());
  std::optional<Accept> accept = p.on_promise("a3", promise_with(pn(9, "p"), pn(7, "q"), v_high));
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->value, v_high);
}

TEST(Proposal, AdoptsHighestAcceptedValueWhenItArrivesFirst) {
  View v_low = view(kInstance, "x1", {});
  View v_high = view(kInstance, "x3", {});
  Proposal p = preparing(3, pn(9, "p"));
  EXPECT_FALSE(p.on_promise("a3", promise_with(pn(9, "p"), pn(7, "q"), v_high)).has_value());
  std::optional<Accept> accept = p.on_promise("a1", promise_with(pn(9, "p"), pn(3, "q"), v_low));
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->value, v_high);
}

// n_a is a full proposal number: at equal rounds the node id decides.
TEST(Proposal, AdoptsAcceptedValueOrderedByNodeIdWithinARound) {
  View v_a = view(kInstance, "x1", {});
  View v_b = view(kInstance, "x2", {});
  Proposal p = preparing(3, pn(9, "p"));
  EXPECT_FALSE(p.on_promise("a1", promise_with(pn(9, "p"), pn(4, "n7"), v_b)).has_value());
  std::optional<Accept> accept = p.on_promise("a2", promise_with(pn(9, "p"), pn(4, "n2"), v_a));
  ASSERT_TRUE(accept.has_value());
  EXPECT_EQ(accept->value, v_b);
}

// Once phase 2 started, a late promise neither yields a second Accept nor
// changes the value.
TEST(Proposal, LatePromiseAfterMajorityYieldsNoSecondAccept) {
  View other = view(kInstance, "x9", {});
  Proposal p = accepting(3, pn(1, "p"));
  EXPECT_FALSE(p.on_promise("a3", promise_with(pn(1, "p"), pn(1, "q"), other)).has_value());
  // The round's value is still the wanted one: a majority accepting returns it.
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  std::optional<View> chosen = p.on_accepted("a3", Accepted{kInstance, pn(1, "p")});
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(*chosen, wanted());
}

// --- on_accepted ----------------------------------------------------------

TEST(Proposal, ReturnsNoValueBeforeMajorityAccepted) {
  Proposal p = accepting(5, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a4", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
}

TEST(Proposal, ReturnsValueAtMajorityAccepted) {
  Proposal p = accepting(5, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a4", Accepted{kInstance, pn(1, "p")}).has_value());
  std::optional<View> chosen = p.on_accepted("a5", Accepted{kInstance, pn(1, "p")});
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(*chosen, wanted());
}

TEST(Proposal, ReturnsAdoptedValueNotWantedValueWhenChosen) {
  View other = view(kInstance, "x9", {});
  Proposal p = preparing(3, pn(4, "p"));
  EXPECT_FALSE(p.on_promise("a1", promise_with(pn(4, "p"), pn(2, "q"), other)).has_value());
  ASSERT_TRUE(p.on_promise("a2", empty_promise(pn(4, "p"))).has_value());
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(4, "p")}).has_value());
  std::optional<View> chosen = p.on_accepted("a2", Accepted{kInstance, pn(4, "p")});
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(*chosen, other);
}

TEST(Proposal, CountsDuplicateAcceptedOnce) {
  Proposal p = accepting(3, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
}

TEST(Proposal, IgnoresAcceptedFromNonAcceptor) {
  Proposal p = accepting(3, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("x9", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
}

TEST(Proposal, IgnoresAcceptedOfStaleRound) {
  Proposal p = accepting(3, pn(1, "p"));
  p.begin_round(pn(2, "p"));
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(2, "p"))).has_value());
  ASSERT_TRUE(p.on_promise("a2", empty_promise(pn(2, "p"))).has_value());
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
}

TEST(Proposal, IgnoresAcceptedForAnotherInstance) {
  Proposal p = accepting(3, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance + 1, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance + 1, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kAccepting);
}

// An Accepted for our number while we still collect promises cannot be ours.
TEST(Proposal, IgnoresAcceptedWhilePreparing) {
  Proposal p = preparing(3, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, ReportsChosenValueOnce) {
  Proposal p = accepting(3, pn(1, "p"));
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(1, "p")}).has_value());
  ASSERT_TRUE(p.on_accepted("a2", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a3", Accepted{kInstance, pn(1, "p")}).has_value());
  EXPECT_EQ(p.phase(), Proposal::Phase::kIdle);
}

// --- on_reject ------------------------------------------------------------

TEST(Proposal, RejectAboveOwnNumberEndsPreparingRound) {
  Proposal p = preparing(3, pn(2, "p"));
  EXPECT_TRUE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(3, "q")}));
  EXPECT_EQ(p.phase(), Proposal::Phase::kIdle);
  // An ended round collects nothing more.
  EXPECT_FALSE(p.on_promise("a1", empty_promise(pn(2, "p"))).has_value());
  EXPECT_FALSE(p.on_promise("a2", empty_promise(pn(2, "p"))).has_value());
}

TEST(Proposal, RejectAboveOwnNumberEndsAcceptingRound) {
  Proposal p = accepting(3, pn(2, "p"));
  EXPECT_TRUE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(2, "q")}));
  EXPECT_EQ(p.phase(), Proposal::Phase::kIdle);
  EXPECT_FALSE(p.on_accepted("a1", Accepted{kInstance, pn(2, "p")}).has_value());
  EXPECT_FALSE(p.on_accepted("a2", Accepted{kInstance, pn(2, "p")}).has_value());
}

// A duplicate Prepare is refused by an acceptor that already promised us;
// that Reject names our own number and is no news.
TEST(Proposal, IgnoresRejectPromisingOwnNumber) {
  Proposal p = preparing(3, pn(2, "p"));
  EXPECT_FALSE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(2, "p")}));
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresRejectPromisingBelowOwnNumber) {
  Proposal p = preparing(3, pn(2, "p"));
  EXPECT_FALSE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(1, "z")}));
  EXPECT_FALSE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(2, "a")}));
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresRejectOfEarlierRound) {
  Proposal p = preparing(3, pn(1, "p"));
  p.begin_round(pn(2, "p"));
  EXPECT_FALSE(p.on_reject(Reject{kInstance, pn(1, "p"), pn(9, "q")}));
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresRejectForAnotherInstance) {
  Proposal p = preparing(3, pn(2, "p"));
  EXPECT_FALSE(p.on_reject(Reject{kInstance + 1, pn(2, "p"), pn(9, "q")}));
  EXPECT_EQ(p.phase(), Proposal::Phase::kPreparing);
}

TEST(Proposal, IgnoresRejectWhenIdle) {
  Proposal p = preparing(3, pn(2, "p"));
  ASSERT_TRUE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(3, "q")}));
  EXPECT_FALSE(p.on_reject(Reject{kInstance, pn(2, "p"), pn(4, "q")}));
}

// --- majority -------------------------------------------------------------

TEST(Proposal, MajorityIsMoreThanHalfOfOneToFiveAcceptors) {
  const std::size_t expected[] = {0, 1, 2, 2, 3, 3};
  for (std::size_t count = 1; count <= 5; ++count) {
    Proposal p(kInstance, wanted(), acceptor_ids(count));
    EXPECT_EQ(p.majority(), expected[count]) << count << " acceptors";
  }
}

// The Accept appears exactly at the majority-th distinct promise, and the
// value exactly at the majority-th distinct acceptance.
TEST(Proposal, PhasesCompleteExactlyAtMajorityOfOneToFiveAcceptors) {
  const std::size_t expected[] = {0, 1, 2, 2, 3, 3};
  for (std::size_t count = 1; count <= 5; ++count) {
    SCOPED_TRACE(std::to_string(count) + " acceptors");
    Proposal p = preparing(count, pn(1, "p"));
    std::vector<NodeId> ids = acceptor_ids(count);
    std::size_t promises_to_accept = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (p.on_promise(ids[i], empty_promise(pn(1, "p")))) {
        promises_to_accept = i + 1;
        break;
      }
    }
    EXPECT_EQ(promises_to_accept, expected[count]);
    std::size_t accepted_to_choose = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (p.on_accepted(ids[count - 1 - i], Accepted{kInstance, pn(1, "p")})) {
        accepted_to_choose = i + 1;
        break;
      }
    }
    EXPECT_EQ(accepted_to_choose, expected[count]);
  }
}

}  // namespace
}  // namespace synod::paxos
