// The Paxos hooks the replicated state machine's view change stands on:
// promises report the host's log position, a free round's value can be
// chosen from those positions, and the host can ask what it promised.

#include <gtest/gtest.h>

#include "paxos/node.h"
#include "paxos/proposal.h"

namespace synod::paxos {
namespace {

View view(ViewId vid, const NodeId& primary, std::vector<NodeId> backups) {
  return View::make(vid, primary, std::move(backups)).value();
}

const std::vector<NodeId> kAcceptors{"n1", "n2", "n3"};

Promise promise(const ProposalNumber& n, Viewstamp position, std::optional<View> accepted = std::nullopt,
                ProposalNumber accepted_n = {}) {
  return Promise{2, n, std::move(accepted_n), std::move(accepted), position};
}

TEST(ViewChangeSupport, ChooserPicksTheValueWhenNoPromiseCarriesOne) {
  std::map<NodeId, Viewstamp> seen;
  Proposal p(2, view(2, "n1", {"n2", "n3"}), kAcceptors, [&](const View&, const std::map<NodeId, Viewstamp>& pos) {
    seen = pos;
    // The member with the highest log position becomes primary.
    auto best = std::max_element(pos.begin(), pos.end(), [](auto& a, auto& b) { return a.second < b.second; });
    std::vector<NodeId> others;
    for (const NodeId& a : kAcceptors) if (a != best->first) others.push_back(a);
    return view(2, best->first, others);
  });
  ProposalNumber n{1, "n2"};
  p.begin_round(n);
  EXPECT_FALSE(p.on_promise("n1", promise(n, {1, 4})));
  std::optional<Accept> a = p.on_promise("n3", promise(n, {1, 9}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, view(2, "n3", {"n1", "n2"}));
  EXPECT_EQ(seen, (std::map<NodeId, Viewstamp>{{"n1", {1, 4}}, {"n3", {1, 9}}}));
}

TEST(ViewChangeSupport, AcceptedValueWinsOverTheChooser) {
  bool called = false;
  Proposal p(2, view(2, "n1", {}), kAcceptors, [&](const View& wanted, const std::map<NodeId, Viewstamp>&) {
    called = true;
    return wanted;
  });
  ProposalNumber n{2, "n1"};
  p.begin_round(n);
  const View accepted = view(2, "n2", {"n3"});
  p.on_promise("n1", promise(n, {1, 1}));
  std::optional<Accept> a = p.on_promise("n2", promise(n, {1, 1}, accepted, ProposalNumber{1, "n3"}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, accepted);
  EXPECT_FALSE(called) << "the chooser must not run when a value was accepted before";
}

TEST(ViewChangeSupport, ChooserBreakingItsContractFallsBackToTheWantedValue) {
  const View wanted = view(2, "n1", {"n2"});
  Proposal p(2, wanted, kAcceptors, [](const View&, const std::map<NodeId, Viewstamp>&) {
    return View{3, "n1", {}};  // wrong vid
  });
  ProposalNumber n{1, "n1"};
  p.begin_round(n);
  p.on_promise("n1", promise(n, {}));
  std::optional<Accept> a = p.on_promise("n2", promise(n, {}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, wanted);
}

Node make_node(const NodeId& self) {
  Config c;
  c.self = self;
  c.initial_view = view(1, "n1", {"n2", "n3"});
  return Node(c, DurableState{});
}

TEST(ViewChangeSupport, PromiseCarriesTheLogPositionTheHostSet) {
  Node node = make_node("n2");
  node.set_log_position(Viewstamp{1, 42});
  node.step(Message{"n1", "n2", Prepare{2, ProposalNumber{3, "n1"}}});
  Ready r = node.take_ready();
  ASSERT_NE(r.write_id, 0u);
  EXPECT_TRUE(r.messages.empty()) << "the promise must wait for its write";
  node.on_durable(r.write_id);
  Ready after = node.take_ready();
  ASSERT_EQ(after.messages.size(), 1u);
  const auto* p = std::get_if<Promise>(&after.messages[0].body);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->log_position, (Viewstamp{1, 42}));
}

TEST(ViewChangeSupport, PromisedForReportsTheHighestPromiseOfAnInstance) {
  Node node = make_node("n2");
  EXPECT_TRUE(node.promised_for(2).is_zero());
  node.step(Message{"n1", "n2", Prepare{2, ProposalNumber{3, "n1"}}});
  node.step(Message{"n3", "n2", Prepare{2, ProposalNumber{5, "n3"}}});
  node.step(Message{"n1", "n2", Prepare{2, ProposalNumber{4, "n1"}}});  // below: refused
  EXPECT_EQ(node.promised_for(2), (ProposalNumber{5, "n3"}));
  EXPECT_TRUE(node.promised_for(3).is_zero());
}

TEST(ViewChangeSupport, NodeProposalUsesTheChooser) {
  // Single-node view 1: n1's own promise completes the majority.
  Config c;
  c.self = "n1";
  c.initial_view = view(1, "n1", {});
  Node node(c, DurableState{});
  node.set_log_position(Viewstamp{1, 3});
  const View chosen = view(2, "n1", {"n4"});
  ASSERT_TRUE(node.propose(2, view(2, "n1", {}), [&](const View&, const std::map<NodeId, Viewstamp>& pos) {
                    EXPECT_EQ(pos, (std::map<NodeId, Viewstamp>{{"n1", {1, 3}}}));
                    return chosen;
                  }).ok());
  for (int i = 0; i < 10 && node.has_ready(); ++i) {
    Ready r = node.take_ready();
    if (r.write_id != 0) node.on_durable(r.write_id);
  }
  EXPECT_EQ(node.decision(2), chosen);
}

}  // namespace
}  // namespace synod::paxos
