#include "common/ids.h"
#include "common/proposal_number.h"

#include <gtest/gtest.h>

namespace synod {
namespace {

TEST(Viewstamp, OrdersByViewThenSequence) {
  EXPECT_LT((Viewstamp{1, 9}), (Viewstamp{2, 0}));
  EXPECT_LT((Viewstamp{2, 1}), (Viewstamp{2, 2}));
  EXPECT_EQ((Viewstamp{2, 2}), (Viewstamp{2, 2}));
  EXPECT_EQ(to_string(Viewstamp{3, 4}), "(3,4)");
}

TEST(ProposalNumber, OrdersByRoundThenNode) {
  EXPECT_LT((ProposalNumber{1, "n9"}), (ProposalNumber{2, "n1"}));
  EXPECT_LT((ProposalNumber{2, "n1"}), (ProposalNumber{2, "n2"}));
  EXPECT_TRUE(ProposalNumber{}.is_zero());
  EXPECT_LT(ProposalNumber{}, (ProposalNumber{1, "a"}));
}

TEST(NodeId, ValidationExplainsTheProblem) {
  EXPECT_TRUE(validate_node_id("n1").ok());
  EXPECT_TRUE(validate_node_id("node-1.dc_2").ok());
  Status s = validate_node_id("n 1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("' '"), std::string::npos);
  EXPECT_FALSE(validate_node_id(std::string(65, 'a')).ok());
  EXPECT_FALSE(validate_node_id("").ok());
}

}  // namespace
}  // namespace synod
