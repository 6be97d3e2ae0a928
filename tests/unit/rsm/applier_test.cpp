// The Applier's rules: every client request reaches the state machine once,
// a repeat gets the first reply back, an older request gets nothing, and the
// state machine sees each operation at its place in the order.

#include "rsm/applier.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm {
namespace {

// Records every call; its replies differ from call to call, so a reply given
// again from the session table is told apart from a second application.
class RecordingMachine : public StateMachine {
 public:
  struct Call {
    std::string op;
    OpPosition at;
  };

  std::string apply(std::string_view op, OpPosition at) override {
    calls.push_back(Call{std::string(op), at});
    return "reply#" + std::to_string(calls.size()) + ":" + std::string(op);
  }
  std::string query(std::string_view op) const override { return "query:" + std::string(op); }
  void write_snapshot(std::ostream&) const override {}
  bool restore_snapshot(std::istream&) override { return true; }

  std::vector<Call> calls;
};

LogEntry entry(ViewId vid, std::uint64_t seq, std::uint64_t client, std::uint64_t request_no, Bytes op) {
  return LogEntry{Viewstamp{vid, seq}, client, request_no, std::move(op)};
}

TEST(Applier, AppliesANewRequestOnceAndReturnsItsReply) {
  RecordingMachine machine;
  Applier applier(machine);
  Applied out = applier.apply(entry(1, 1, 7, 1, "put x"));
  ASSERT_EQ(machine.calls.size(), 1u);
  EXPECT_EQ(machine.calls[0].op, "put x");
  EXPECT_EQ(out.client_id, 7u);
  EXPECT_EQ(out.request_no, 1u);
  EXPECT_EQ(out.reply, "reply#1:put x");
  EXPECT_TRUE(out.fresh);
  EXPECT_FALSE(out.stale);
}

TEST(Applier, RepeatOfTheLastRequestReturnsTheRecordedReplyWithoutApplying) {
  RecordingMachine machine;
  Applier applier(machine);
  Applied first = applier.apply(entry(1, 1, 7, 1, "incr"));
  Applied again = applier.apply(entry(1, 2, 7, 1, "incr"));  // the client's retry, ordered twice
  EXPECT_EQ(machine.calls.size(), 1u) << "a retry reached the state machine";
  EXPECT_EQ(again.reply, first.reply);
  EXPECT_FALSE(again.fresh);
  EXPECT_FALSE(again.stale);
  EXPECT_EQ(again.client_id, 7u);
  EXPECT_EQ(again.request_no, 1u);
}

TEST(Applier, OlderRequestIsStaleAndNotApplied) {
  RecordingMachine machine;
  Applier applier(machine);
  (void)applier.apply(entry(1, 1, 7, 1, "a"));
  (void)applier.apply(entry(1, 2, 7, 2, "b"));
  Applied old = applier.apply(entry(1, 3, 7, 1, "a"));
  EXPECT_EQ(machine.calls.size(), 2u);
  EXPECT_TRUE(old.stale);
  EXPECT_FALSE(old.fresh);
  EXPECT_TRUE(old.reply.empty()) << old.reply;
  EXPECT_EQ(applier.reply_for(7, 2), "reply#2:b") << "a stale entry leaves the session alone";
}

TEST(Applier, AnyNewerRequestIsApplied) {
  RecordingMachine machine;
  Applier applier(machine);
  (void)applier.apply(entry(1, 1, 7, 1, "a"));
  Applied jump = applier.apply(entry(1, 2, 7, 5, "e"));
  EXPECT_TRUE(jump.fresh);
  EXPECT_EQ(machine.calls.size(), 2u);
}

TEST(Applier, ReplyForReturnsTheRecordedReplyOnlyForTheLastRequest) {
  RecordingMachine machine;
  Applier applier(machine);
  EXPECT_EQ(applier.reply_for(7, 1), std::nullopt) << "nothing applied yet";
  Applied one = applier.apply(entry(1, 1, 7, 1, "a"));
  EXPECT_EQ(applier.reply_for(7, 1), one.reply);
  EXPECT_EQ(applier.reply_for(7, 2), std::nullopt) << "not applied yet";
  Applied two = applier.apply(entry(1, 2, 7, 2, "b"));
  EXPECT_EQ(applier.reply_for(7, 2), two.reply);
  EXPECT_EQ(applier.reply_for(7, 1), std::nullopt) << "only the last reply is kept";
  EXPECT_EQ(applier.reply_for(8, 2), std::nullopt) << "another client";
}

TEST(Applier, AppliedThroughAdvancesWithEveryEntry) {
  RecordingMachine machine;
  Applier applier(machine);
  EXPECT_EQ(applier.applied_through(), Viewstamp{});
  (void)applier.apply(entry(1, 1, 7, 2, "new"));
  EXPECT_EQ(applier.applied_through(), (Viewstamp{1, 1}));
  (void)applier.apply(entry(1, 2, 7, 2, "repeat"));
  EXPECT_EQ(applier.applied_through(), (Viewstamp{1, 2}));
  (void)applier.apply(entry(2, 1, 7, 1, "stale"));
  EXPECT_EQ(applier.applied_through(), (Viewstamp{2, 1}));
}

TEST(Applier, ClientsAreIndependent) {
  RecordingMachine machine;
  Applier applier(machine);
  Applied a5 = applier.apply(entry(1, 1, 7, 5, "a5"));
  Applied b1 = applier.apply(entry(1, 2, 8, 1, "b1"));
  EXPECT_TRUE(b1.fresh) << "client 8's first request is not stale because client 7 is at 5";
  EXPECT_FALSE(b1.stale);
  Applied b1_again = applier.apply(entry(1, 3, 8, 1, "b1"));
  EXPECT_FALSE(b1_again.fresh);
  EXPECT_EQ(b1_again.reply, b1.reply);
  Applied a5_again = applier.apply(entry(1, 4, 7, 5, "a5"));
  EXPECT_FALSE(a5_again.fresh);
  EXPECT_EQ(a5_again.reply, a5.reply) << "client 8's requests did not touch client 7's session";
  EXPECT_EQ(machine.calls.size(), 2u);
  EXPECT_EQ(applier.reply_for(7, 5), a5.reply);
  EXPECT_EQ(applier.reply_for(8, 1), b1.reply);
}

TEST(Applier, StateMachineSeesTheEntrysViewstampAsItsPosition) {
  RecordingMachine machine;
  Applier applier(machine);
  (void)applier.apply(entry(3, 7, 1, 1, "a"));
  (void)applier.apply(entry(4, 1, 2, 1, "b"));
  ASSERT_EQ(machine.calls.size(), 2u);
  EXPECT_EQ(machine.calls[0].at.view, 3u);
  EXPECT_EQ(machine.calls[0].at.seq, 7u);
  EXPECT_EQ(machine.calls[1].at.view, 4u);
  EXPECT_EQ(machine.calls[1].at.seq, 1u);
}

}  // namespace
}  // namespace synod::rsm

namespace synod::rsm {
namespace {

TEST(ApplierAddresses, ASetAddressEntryRecordsWhereANodeListensWithoutTheStateMachine) {
  RecordingMachine m;
  Applier a(m);
  Applied r = a.apply(LogEntry{Viewstamp{1, 1}, 0, LogEntry::kSetAddress, encode_address("n4", "127.0.0.1:7004")});
  EXPECT_TRUE(r.noop);
  EXPECT_TRUE(r.addresses_changed);
  EXPECT_TRUE(m.calls.empty());
  a.apply(LogEntry{Viewstamp{1, 2}, 0, LogEntry::kSetAddress, encode_address("n4", "10.0.0.4:7004")});
  EXPECT_EQ(a.addresses(), (std::map<NodeId, std::string>{{"n4", "10.0.0.4:7004"}})) << "the newest address wins";
}

TEST(ApplierAddresses, AMalformedAddressChangesNothing) {
  RecordingMachine m;
  Applier a(m);
  for (const Bytes& op : {Bytes("no line break"), Bytes("\n127.0.0.1:1"), Bytes("n4\na\nb")}) {
    Applied r = a.apply(LogEntry{Viewstamp{1, a.applied_through().seq + 1}, 0, LogEntry::kSetAddress, op});
    EXPECT_FALSE(r.addresses_changed) << op;
  }
  EXPECT_TRUE(a.addresses().empty());
  EXPECT_EQ(decode_address(encode_address("n4", "h:1")), (std::make_pair(NodeId("n4"), std::string("h:1"))));
}

TEST(ApplierAddresses, TheAddressBookTravelsInTheSnapshot) {
  RecordingMachine m;
  Applier a(m);
  a.apply(LogEntry{Viewstamp{1, 1}, 0, LogEntry::kSetAddress, encode_address("n4", "127.0.0.1:7004")});
  a.apply(LogEntry{Viewstamp{1, 2}, 0, LogEntry::kSetAddress, encode_address("n5", "127.0.0.1:7005")});
  std::ostringstream out;
  a.write_snapshot(out);
  RecordingMachine m2;
  Applier b(m2);
  std::istringstream in(out.str());
  ASSERT_TRUE(b.restore_snapshot(in).ok());
  EXPECT_EQ(b.addresses(), a.addresses());
  // Cut inside the address book: refused, nothing changed.
  Applier c(m2);
  const std::string whole = out.str();
  std::istringstream cut(whole.substr(0, whole.size() - 3));
  EXPECT_FALSE(c.restore_snapshot(cut).ok());
  EXPECT_TRUE(c.addresses().empty());
}

}  // namespace
}  // namespace synod::rsm
