#include "common/view.h"

#include <gtest/gtest.h>

namespace synod {
namespace {

TEST(View, MakeSortsBackups) {
  auto v = View::make(3, "n2", {"n3", "n1"});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->backups, (std::vector<NodeId>{"n1", "n3"}));
  EXPECT_EQ(v->members(), (std::vector<NodeId>{"n2", "n1", "n3"}));
  EXPECT_EQ(to_string(*v), "3{n2*,n1,n3}");
}

TEST(View, RejectsPrimaryAmongBackups) {
  auto v = View::make(1, "n1", {"n2", "n1"});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("both primary and backup"), std::string::npos);
}

TEST(View, RejectsDuplicateBackup) {
  auto v = View::make(1, "n1", {"n2", "n2"});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("listed twice"), std::string::npos);
}

TEST(View, RejectsViewIdZeroAndBadNames) {
  EXPECT_FALSE(View::make(0, "n1", {}).ok());
  EXPECT_FALSE(View::make(1, "", {}).ok());
  EXPECT_FALSE(View::make(1, "n1", {"a b"}).ok());
}

TEST(View, ValidateCatchesUnsortedBackups) {
  View v{1, "n1", {"n3", "n2"}};
  EXPECT_FALSE(v.validate().ok());
}

TEST(View, MajorityIsMoreThanHalf) {
  EXPECT_EQ(View::make(1, "a", {}).value().majority(), 1u);
  EXPECT_EQ(View::make(1, "a", {"b"}).value().majority(), 2u);
  EXPECT_EQ(View::make(1, "a", {"b", "c"}).value().majority(), 2u);
  EXPECT_EQ(View::make(1, "a", {"b", "c", "d"}).value().majority(), 3u);
  EXPECT_EQ(View::make(1, "a", {"b", "c", "d", "e"}).value().majority(), 3u);
}

TEST(View, ContainsOnlyMembers) {
  View v = View::make(1, "n1", {"n2", "n3"}).value();
  EXPECT_TRUE(v.contains("n1"));
  EXPECT_TRUE(v.contains("n3"));
  EXPECT_FALSE(v.contains("n4"));
}

}  // namespace
}  // namespace synod
