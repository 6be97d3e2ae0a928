// The acceptor's two rules (phase 1b and 2b) as pure functions: each test
// feeds one state and one message and checks the state to persist and the
// reply.

#include "paxos/acceptor.h"

#include <gtest/gtest.h>

#include "unit/paxos/paxos_test_util.h"

namespace synod::paxos {
namespace {

using test::pn;
using test::view;

constexpr Instance kInstance = 2;

AcceptorState promised_at(ProposalNumber n) { return AcceptorState{std::move(n), {}, std::nullopt}; }

// --- Prepare (phase 1b) ---------------------------------------------------

TEST(Acceptor, PromisesPrepareAboveNothing) {
  AcceptorStep s = on_prepare(AcceptorState{}, Prepare{kInstance, pn(1, "n1")});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(s.new_state->promised, pn(1, "n1"));
  const auto* promise = std::get_if<Promise>(&s.reply);
  ASSERT_NE(promise, nullptr) << type_name(s.reply);
  EXPECT_EQ(promise->instance, kInstance);
  EXPECT_EQ(promise->n, pn(1, "n1"));
  EXPECT_TRUE(promise->accepted_n.is_zero());
  EXPECT_FALSE(promise->accepted_value.has_value());
}

TEST(Acceptor, PromisesPrepareAbovePromise) {
  AcceptorStep s = on_prepare(promised_at(pn(3, "n1")), Prepare{kInstance, pn(4, "n2")});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(s.new_state->promised, pn(4, "n2"));
  ASSERT_TRUE(std::holds_alternative<Promise>(s.reply)) << type_name(s.reply);
}

// Equal rounds are ordered by node id: a higher id at the same round is a
// higher number and must be promised.
TEST(Acceptor, PromisesSameRoundWithHigherNodeId) {
  AcceptorStep s = on_prepare(promised_at(pn(3, "n1")), Prepare{kInstance, pn(3, "n2")});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(s.new_state->promised, pn(3, "n2"));
  EXPECT_TRUE(std::holds_alternative<Promise>(s.reply)) << type_name(s.reply);
}

TEST(Acceptor, RejectsPrepareEqualToPromise) {
  AcceptorStep s = on_prepare(promised_at(pn(3, "n2")), Prepare{kInstance, pn(3, "n2")});
  EXPECT_FALSE(s.new_state.has_value());
  const auto* reject = std::get_if<Reject>(&s.reply);
  ASSERT_NE(reject, nullptr) << type_name(s.reply);
  EXPECT_EQ(*reject, (Reject{kInstance, pn(3, "n2"), pn(3, "n2")}));
}

TEST(Acceptor, RejectsPrepareBelowPromiseNamingThePromise) {
  AcceptorStep s = on_prepare(promised_at(pn(5, "n3")), Prepare{kInstance, pn(4, "n9")});
  EXPECT_FALSE(s.new_state.has_value());
  const auto* reject = std::get_if<Reject>(&s.reply);
  ASSERT_NE(reject, nullptr) << type_name(s.reply);
  EXPECT_EQ(*reject, (Reject{kInstance, pn(4, "n9"), pn(5, "n3")}));
}

TEST(Acceptor, RejectsPrepareSameRoundLowerNodeId) {
  AcceptorStep s = on_prepare(promised_at(pn(3, "n2")), Prepare{kInstance, pn(3, "n1")});
  EXPECT_FALSE(s.new_state.has_value());
  const auto* reject = std::get_if<Reject>(&s.reply);
  ASSERT_NE(reject, nullptr) << type_name(s.reply);
  EXPECT_EQ(reject->promised, pn(3, "n2"));
}

TEST(Acceptor, PromiseReportsPreviouslyAcceptedNumberAndValue) {
  View v = view(kInstance, "n2", {"n1"});
  AcceptorState state{pn(4, "n2"), pn(4, "n2"), v};
  AcceptorStep s = on_prepare(state, Prepare{kInstance, pn(6, "n3")});
  const auto* promise = std::get_if<Promise>(&s.reply);
  ASSERT_NE(promise, nullptr) << type_name(s.reply);
  EXPECT_EQ(promise->accepted_n, pn(4, "n2"));
  ASSERT_TRUE(promise->accepted_value.has_value());
  EXPECT_EQ(*promise->accepted_value, v);
}

// Promising changes n_p only: what was accepted stays accepted.
TEST(Acceptor, PromiseKeepsAcceptedNumberAndValue) {
  View v = view(kInstance, "n2", {"n1"});
  AcceptorState state{pn(4, "n2"), pn(4, "n2"), v};
  AcceptorStep s = on_prepare(state, Prepare{kInstance, pn(6, "n3")});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(*s.new_state, (AcceptorState{pn(6, "n3"), pn(4, "n2"), v}));
}

TEST(Acceptor, RejectOfPrepareCarriesTheInstance) {
  AcceptorStep s = on_prepare(promised_at(pn(5, "n3")), Prepare{7, pn(1, "n1")});
  EXPECT_EQ(instance_of(s.reply), 7u);
}

// --- Accept (phase 2b) ----------------------------------------------------

TEST(Acceptor, AcceptsAtEqualToPromise) {
  View v = view(kInstance, "n1", {"n2"});
  AcceptorStep s = on_accept(promised_at(pn(3, "n1")), Accept{kInstance, pn(3, "n1"), v});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(*s.new_state, (AcceptorState{pn(3, "n1"), pn(3, "n1"), v}));
  const auto* accepted = std::get_if<Accepted>(&s.reply);
  ASSERT_NE(accepted, nullptr) << type_name(s.reply);
  EXPECT_EQ(*accepted, (Accepted{kInstance, pn(3, "n1")}));
}

TEST(Acceptor, AcceptsAboveAndRaisesPromise) {
  View v = view(kInstance, "n1", {"n2"});
  AcceptorStep s = on_accept(promised_at(pn(3, "n1")), Accept{kInstance, pn(5, "n2"), v});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(s.new_state->promised, pn(5, "n2"));
  EXPECT_EQ(s.new_state->accepted_n, pn(5, "n2"));
  EXPECT_EQ(s.new_state->accepted_value, v);
  EXPECT_TRUE(std::holds_alternative<Accepted>(s.reply)) << type_name(s.reply);
}

// Once n_p was raised by an Accept, a Prepare at that number is no longer new.
TEST(Acceptor, PrepareAtAcceptedNumberIsRejectedAfterAccept) {
  View v = view(kInstance, "n1", {"n2"});
  AcceptorStep a = on_accept(AcceptorState{}, Accept{kInstance, pn(5, "n2"), v});
  ASSERT_TRUE(a.new_state.has_value());
  AcceptorStep p = on_prepare(*a.new_state, Prepare{kInstance, pn(5, "n2")});
  EXPECT_TRUE(std::holds_alternative<Reject>(p.reply)) << type_name(p.reply);
}

TEST(Acceptor, AcceptReplacesOlderAcceptedValue) {
  View old_v = view(kInstance, "n1", {"n2"});
  View new_v = view(kInstance, "n3", {"n2"});
  AcceptorState state{pn(4, "n1"), pn(2, "n1"), old_v};
  AcceptorStep s = on_accept(state, Accept{kInstance, pn(4, "n1"), new_v});
  ASSERT_TRUE(s.new_state.has_value());
  EXPECT_EQ(s.new_state->accepted_n, pn(4, "n1"));
  EXPECT_EQ(s.new_state->accepted_value, new_v);
}

TEST(Acceptor, RejectsAcceptBelowPromiseNamingThePromise) {
  View v = view(kInstance, "n1", {"n2"});
  AcceptorState state = promised_at(pn(5, "n3"));
  AcceptorStep s = on_accept(state, Accept{kInstance, pn(4, "n1"), v});
  EXPECT_FALSE(s.new_state.has_value());
  const auto* reject = std::get_if<Reject>(&s.reply);
  ASSERT_NE(reject, nullptr) << type_name(s.reply);
  EXPECT_EQ(*reject, (Reject{kInstance, pn(4, "n1"), pn(5, "n3")}));
}

TEST(Acceptor, RejectsAcceptSameRoundLowerNodeId) {
  View v = view(kInstance, "n1", {"n2"});
  AcceptorStep s = on_accept(promised_at(pn(5, "n3")), Accept{kInstance, pn(5, "n1"), v});
  EXPECT_FALSE(s.new_state.has_value());
  EXPECT_TRUE(std::holds_alternative<Reject>(s.reply)) << type_name(s.reply);
}

TEST(Acceptor, RepeatedIdenticalAcceptPersistsNothingButRepliesAccepted) {
  View v = view(kInstance, "n1", {"n2"});
  Accept accept{kInstance, pn(3, "n1"), v};
  AcceptorStep first = on_accept(promised_at(pn(3, "n1")), accept);
  ASSERT_TRUE(first.new_state.has_value());
  AcceptorStep again = on_accept(*first.new_state, accept);
  EXPECT_FALSE(again.new_state.has_value());
  const auto* accepted = std::get_if<Accepted>(&again.reply);
  ASSERT_NE(accepted, nullptr) << type_name(again.reply);
  EXPECT_EQ(*accepted, (Accepted{kInstance, pn(3, "n1")}));
}

}  // namespace
}  // namespace synod::paxos
